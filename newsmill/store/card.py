"""The dataset card (``output/README.md``), rendered from a version's manifest.

Generated, never edited by hand: it is written into each version next to the
data it describes and switches with it, so the card cannot describe rows the
reader does not see. Everything in it comes from the manifest and ``schemas/``,
hence it can be re-rendered from any version.

It opens with Hugging Face dataset-card front matter (YAML): one config per table whose
``data_files`` glob is that table's part files, so a version folder uploaded as it is loads with
``datasets.load_dataset`` as two tables. The licence and personal-data sentences are shared with
``croissant.json`` (``newsmill.store.croissant``): the two never say different things.
"""
from __future__ import annotations

import json

from newsmill import schema as schemas
from newsmill.schema import data_dictionary_markdown
from newsmill.store import layout

DEFAULT_PSEUDONYMISATION = "pseudonymize ids, names kept"

# How each --authors mode shows in the card (the mode is recorded per output; runs cannot mix modes).
AUTHORS_MODES = {
    "keep": "names as shown on the page, plus a keyed author_id",
    "pseudonymize": "names replaced by `user-<author_id>` in author, reply_to_name, @mentions and wherever a "
                    "commenter of the page is named in a comment's text or posted_raw; no raw page capture kept",
    "drop": "authors removed (author and author_id null; reply_to_name, @mentions and commenters' names written "
            "in comments replaced by '[author]'); no raw page capture kept; threading kept",
}
KEY_SOURCES = {
    "environment": "key from NEWSMILL_AUTHOR_KEY: ids comparable across outputs made with the same key",
    "output": "random key kept in this output's _state/: ids only comparable within this dataset",
}


def pseudonymisation(authors_mode: str, key_source: str) -> str:
    """The card's sentence for an output's author handling."""
    return f"mode '{authors_mode}': {AUTHORS_MODES.get(authors_mode, authors_mode)}; {KEY_SOURCES.get(key_source, key_source)}"

LOADING = '''\
Paths below are relative to the folder that contains `output/`. Every reader follows the
`articles` / `comments` symlinks into the current version.

```python
import pandas as pd
articles = pd.read_parquet("output/articles")          # year comes back as a categorical, source as text
comments = pd.read_parquet("output/comments")
thread = comments.merge(articles[["article_id", "title"]], on="article_id")
```

```python
import pyarrow.dataset as ds
comments = ds.dataset("output/comments", format="parquet", partitioning="hive").to_table()
```

```sql
-- DuckDB
SELECT a.title, c.position, c.author, c.posted_at, c.text
FROM read_parquet('output/comments/**/*.parquet', hive_partitioning = 1) c
JOIN read_parquet('output/articles/**/*.parquet', hive_partitioning = 1) a USING (article_id)
ORDER BY a.article_id, c.position;
```

```python
import polars as pl
comments = pl.scan_parquet("output/comments/**/*.parquet", hive_partitioning=True).collect()
```

```python
from pathlib import Path
from newsmill import read_tables
tables = read_tables(Path("output"))   # both tables from one version, schema types exact
```

```python
import mlcroissant as mlc                              # Croissant 1.1: the version's croissant.json
ds = mlc.Dataset(jsonld="output/current/croissant.json")
comments = list(ds.records("comments"))                # text as bytes; year read from the path
```

The version folder (`output/current/`) is also a Hugging Face dataset as it is: its card's front
matter gives one config per table, e.g. `datasets.load_dataset("output/current", "comments")`
(`year` is a folder name there, not a column of the files; `source` is a column).

A publish switches both tables at once, but a reader that opens `articles` and later
`comments` can straddle a switch. To join the two from exactly one version, read through the
resolved version folder: `Path("output/current").resolve()` (or `read_tables`), whose files
never change.

Published to object storage (`s3://...`): this folder is `<url>/_versions/<version>/`, and
`<url>/_current.json` names the committed version; `newsmill.read_tables("s3://...")` resolves it.

Older versions are kept by the output's `[history]` policy: `newsmill versions output` lists
them, `newsmill.read_tables("output", version=N)` or `as_of="YYYY-MM-DD"` reads one.
'''


TITLE = "newsmill dataset: news articles and their reader comments"
LICENCE_NAME = "texts-copyright-of-publishers-and-commenters"
COPYRIGHT = ("The texts (articles, comments, names) remain the copyright of their publishers and of the "
             "commenters. This dataset is a research collection (text and data mining): it grants no licence "
             "to republish the texts; ask the rights holders for anything beyond research use.")
USE = ("Research on news and on reader comments (text and data mining): discourse and moderation studies, "
       "classification and language modelling evaluated on news comments.")
COLLECTION = ("Captured news pages (HTML files, web archives, text dumps, or pages fetched from live sources "
              "that allow it) are parsed by newsmill: article metadata and body, and every reader comment with "
              "its author, time, position and threading; records that fail validation are quarantined, not "
              "published. Provenance (input, extractor, pipeline version) is kept on every row.")
MAINTENANCE = ("Each newsmill run publishes a new version of the whole dataset (both tables switch at once); "
               "part files never change once written and are named by their content hash, and manifest.json "
               "lists each with its SHA-256. Older versions are kept by the output's retention policy.")
# Hugging Face front matter: what the hub shows and filters on.
HF_TASKS = ("text-classification", "text-generation")
HF_TAGS = ("news", "comments", "reader-comments", "croissant", "newsmill")


def personal_data(m: dict) -> str:
    """The personal-data note of a version (card and croissant.json)."""
    return (f"Comments and author names are personal data of their authors. Authors: "
            f"{m.get('pseudonymisation') or DEFAULT_PSEUDONYMISATION}. author_id is a keyed pseudonym (HMAC, key "
            "kept outside the dataset), stable across runs with the same key. Keep copies access-controlled. "
            "A comment removed at the source is kept as a record (removed_at_source), so removing it there "
            "erases nothing here. To erase records on request, run `newsmill forget <output> --author NAME` "
            "(or --author-id, --comment-id, --article-id, --from-file): they leave this version, every kept "
            "version, the quarantine files and the raw captures, later runs never publish them again, and "
            "manifest.json lists each erasure under `erasures` (ids and counts, no names).")


def front_matter(m: dict, languages: list[str] | None = None) -> str:
    """Hugging Face dataset-card YAML (JSON is YAML: no YAML writer needed, and every value is quoted)."""
    lines = ["---", f"pretty_name: {json.dumps(TITLE)}", "license: other",
             f"license_name: {LICENCE_NAME}", f"license_link: {layout.CARD}"]
    if languages:
        lines.append(f"language: {json.dumps(sorted(languages))}")
    lines += [f"task_categories: {json.dumps(list(HF_TASKS))}", f"tags: {json.dumps(list(HF_TAGS))}",
              f"size_categories: {json.dumps([_size_category(sum(t['rows'] for t in m['tables'].values()))])}",
              "configs:"]
    for i, name in enumerate(schemas.TABLES):
        glob = layout.table_glob(name, layout.folder_columns(m["tables"].get(name), schemas.load(name).partition_by))
        lines += [f"- config_name: {name}", *(["  default: true"] if i == 0 else []),
                  "  data_files:", "  - split: train", f"    path: {json.dumps(glob)}"]
    return "\n".join([*lines, "---", ""])


def _size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if rows < limit:
            return label
    return "n>100M"


def render(m: dict, languages: list[str] | None = None) -> str:
    """Markdown for one version's manifest; ``languages``: the articles' languages, for the front matter."""
    out = [
        front_matter(m, languages),
        f"# {TITLE}",
        "",
        f"Version {m['version']} (`{m['version_dir']}`), published {m['created_at']} by run `{m['run_id']}` "
        f"with newsmill {m['pipeline_version']}. Generated file: do not edit; `manifest.json` lists every "
        f"file with its SHA-256 checksum. `{layout.CROISSANT}`, next to this card in the version folder "
        f"(`output/current/{layout.CROISSANT}`), describes the same files and fields as Croissant 1.1 metadata "
        "(mlcroissant, TFDS, dataset search); with the front matter above, the version folder can be uploaded "
        "to the Hugging Face hub as it is (one config per table).",
        "",
        "| table | rows | files | schema version | schema hash |",
        "|---|---:|---:|---:|---|",
    ]
    for name, t in m["tables"].items():
        out.append(f"| `{name}` | {t['rows']} | {len(t['files'])} | {t['schema_version']} | `{t['schema_hash']}` |")
    out += ["", "## Loading", "", LOADING, "## Licence and personal data", "", *_licence(m), ""]
    out += ["## Last run: validation", "", *_validation(m["runs"][-1] if m.get("runs") else {}), ""]
    out += ["## Provenance", "", *_provenance(m.get("runs", [])), ""]
    out += ["## Data dictionary", "", data_dictionary_markdown()]
    return "\n".join(out).rstrip() + "\n"


def _licence(m: dict) -> list[str]:
    lines = [f"- {COPYRIGHT}", f"- {personal_data(m)}"]
    if m.get("erasures"):
        n = len(m["erasures"])
        lines.append(f"- {n} erasure{'s' if n > 1 else ''} (`newsmill forget`) applied to this version: "
                     f"see `erasures` in manifest.json.")
    return lines


def _validation(run: dict) -> list[str]:
    v = run.get("validation")
    if not v and run.get("erasure"):
        r = run["erasure"].get("rows", {})
        return [f"This version was made by `newsmill forget` (an erasure: "
                f"{', '.join(f'{n} {t}' for t, n in sorted(r.items())) or 'nothing'} removed), not by a run: "
                "nothing was validated; see `erasures` in manifest.json."]
    if not v:
        return ["No validation summary was recorded for this run (published through the library API)."]
    lines = [f"{v['expectations']} expectations checked; critical failure: {'YES' if v['critical_failed'] else 'no'}; "
             f"{len(v['failed'])} failed."]
    if v["failed"]:
        lines += ["", "| table | severity | expectation | column | failing rows | reason |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {f['table']} | {f['severity']} | {f['expectation']} | {f.get('column') or ''} | "
                  f"{f['unexpected_count']} of {f['element_count']} | {f['reason']} |" for f in v["failed"]]
    return lines


def _provenance(runs: list[dict]) -> list[str]:
    lines = ["Runs that produced this version and its predecessors, newest first (counts are per run).", "",
             "| run | created | newsmill | inputs | articles published / quarantined | "
             "comments published / quarantined | rejected | rows inserted / updated / unchanged |",
             "|---|---|---|---:|---|---|---:|---|"]
    for r in reversed(runs):
        pub, quar = r.get("published", {}), r.get("quarantined", {})
        ch = [c for c in (r.get("changes") or {}).values() if c]
        changes = " / ".join(str(sum(c[k] for c in ch)) for k in ("inserted", "updated", "unchanged")) if ch else ""
        inputs = f"{r.get('inputs', '')}" + (f" ({r['unchanged_inputs']} unchanged)" if r.get("unchanged_inputs") else "")
        lines.append(f"| `{r['run_id']}` | {r['created_at']} | {r['pipeline_version']} | {inputs} | "
                     f"{pub.get('articles', '')} / {quar.get('articles', 0) if pub else ''} | "
                     f"{pub.get('comments', '')} / {quar.get('comments', 0) if pub else ''} | "
                     f"{r.get('rejected', '')} | {changes} |")
    return lines
