"""The dataset card (``output/README.md``), rendered from a version's manifest.

Generated, never edited by hand: it is written into each version next to the
data it describes and switches with it, so the card cannot describe rows the
reader does not see. Everything in it comes from the manifest and ``schemas/``,
hence it can be re-rendered from any version.
"""
from __future__ import annotations

from newsmill.schema import data_dictionary_markdown

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
articles = pd.read_parquet("output/articles")          # source/year come back as categoricals
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

A publish switches both tables at once, but a reader that opens `articles` and later
`comments` can straddle a switch. To join the two from exactly one version, read through the
resolved version folder: `Path("output/current").resolve()` (or `read_tables`), whose files
never change.

Published to object storage (`s3://...`): this folder is `<url>/_versions/<version>/`, and
`<url>/_current.json` names the committed version; `newsmill.read_tables("s3://...")` resolves it.
'''


def render(m: dict) -> str:
    """Markdown for one version's manifest."""
    out = [
        "# newsmill dataset: news articles and their reader comments",
        "",
        f"Version {m['version']} (`{m['version_dir']}`), published {m['created_at']} by run `{m['run_id']}` "
        f"with newsmill {m['pipeline_version']}. Generated file: do not edit; `manifest.json` lists every "
        "file with its SHA-256 checksum.",
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
    return [
        "- The texts (articles, comments, names) remain the copyright of their publishers and of the "
        "commenters. This dataset is a research collection (text and data mining): it grants no licence "
        "to republish the texts; ask the rights holders for anything beyond research use.",
        f"- Authors: {m.get('pseudonymisation') or DEFAULT_PSEUDONYMISATION}. `author_id` is a keyed "
        "pseudonym (HMAC, key kept outside the dataset), stable across runs with the same key.",
        "- Comments are personal data of their authors: keep copies access-controlled, and delete "
        "records on request by removing them at the source and republishing.",
    ]


def _validation(run: dict) -> list[str]:
    v = run.get("validation")
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
