"""The run report: what a person checks after a run, as JSON, Markdown, one self-contained HTML page
(``summary.html``, the report that opens offline) and GX Data Docs.

A failure is shown by the records it concerns (their ids, URL or input, position: the suite's
``meta.record`` columns), the value that failed and the rule's reason from the suite, never by a
derived ``_chk_*`` column or a chunk's row number: those mean nothing to the person looking.
GX Data Docs load their CSS and scripts from CDNs (Bootstrap, jQuery, bootstrap-table, Vega, Font
Awesome; its site index is filled in by script), so without network they show an empty page, and
GX has no option to bundle them. So the index gets a plain list of its pages (:func:`_static_index`),
readable offline (unstyled), and ``summary.html`` has the same failures and the quarantined records,
with nothing to load.
"""
from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path

from newsmill.text import shown
from newsmill.text import shown_markdown as md

log = logging.getLogger(__name__)


def not_captured_line(counts: dict[str, int] | None) -> str:
    """'pages with script-loaded comments not in the capture: N (disqus 12, spotim 3)': published articles
    whose comment section a script fills (comments_in_capture false), so the dataset lacks their comments."""
    counts = counts or {}
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"pages with script-loaded comments not in the capture: {total}" + (f" ({detail})" if detail else "")


def _labels() -> dict[str, dict[str, str]]:
    from newsmill import schema
    from newsmill.validate import gx_run

    return {n: gx_run.shown_columns(n) for n in schema.TABLES}


def _column(o: dict, labels: dict) -> str:
    """The checked column as a person reads it: a derived check's label, not its ``_chk_*`` name."""
    col = o.get("column") or ""
    return labels.get(o["table"], {}).get(col, col)


def record_text(rec: dict, value_label: str | None = None) -> str:
    """'comment_id a2-c1, article_id a2, position 1, input_uri file:///x.html: hours ... = -108.37' (plain text;
    escape it for where it goes)."""
    ids = ", ".join(f"{k} {'null' if v is None else v}" for k, v in rec.items() if k != "value")
    if "value" not in rec:
        return ids
    v = rec["value"]
    v = "null" if v is None else json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else v
    return f"{ids}: {value_label} = {v}" if value_label else f"{ids}: {v}"


def _examples(o: dict, labels: dict, samples: dict) -> list[str]:
    """Plain-text lines naming the failing records of a failed expectation: its own records, else (a
    uniqueness failure seen only across chunks) the quarantined records with its reason, else GX's values."""
    if o.get("records"):
        return [record_text(r, _column(o, labels) or "value") for r in o["records"]]
    quarantined = samples.get(o["table"], {}).get(o["reason"])
    if quarantined:
        return [record_text(r) for r in quarantined["records"]]
    return [str(v) for v in o.get("sample") or []]


def failure_table(s: dict, examples: int = 3) -> dict[str, list]:
    """The failed expectations of summary ``s`` (``summary.json``) as columns of a table, one row each: table,
    severity, the rule's reason, failing rows, and the first ``examples`` records that failed (ids, URL or
    input, position, value), as the report names them (the Prefect run's table artifact)."""
    labels = _labels()
    cols: dict[str, list] = {"table": [], "severity": [], "rule": [], "column": [], "failing_rows": [], "examples": []}
    for o in s.get("failed_expectations") or []:
        cols["table"].append(o["table"])
        cols["severity"].append(o["severity"])
        cols["rule"].append(o["reason"])
        cols["column"].append(_column(o, labels) or None)
        cols["failing_rows"].append(f"{o['unexpected_count']} of {o['element_count']}")
        cols["examples"].append("; ".join(_examples(o, labels, s.get("quarantine_samples") or {})[:examples]))
    return cols


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _markdown(s: dict) -> str:
    labels = _labels()
    lines = [
        f"# newsmill run {s['run_id']}",
        "",
        f"- inputs: {s['inputs']}",
        f"- articles published: {s['articles_published']}, quarantined: {s['articles_quarantined']}",
        f"- comments published: {s['comments_published']}, quarantined: {s['comments_quarantined']}",
        f"- rejected inputs: {s['rejected']}" + (f" ({', '.join(f'{md(k)}: {v}' for k, v in sorted(s['reject_reasons'].items()))})" if s["reject_reasons"] else ""),
        f"- skipped archive records (not pages): {', '.join(f'{md(k)}: {v}' for k, v in sorted(s.get('skipped_records', {}).items())) or 'none'}",
        f"- {not_captured_line(s.get('comments_not_captured'))}",
        *([f"- suppressed (erased by newsmill forget, not published): {s['articles_suppressed']} articles, "
           f"{s.get('comments_suppressed', 0)} comments"] if s.get("articles_suppressed") or s.get("comments_suppressed") else []),
        f"- accounting (inputs = published + quarantined + rejected articles"
        f"{' + suppressed' if s.get('articles_suppressed') else ''}): {'ok' if s['accounting_ok'] else 'BROKEN'}",
        f"- critical expectation failed: {'YES' if s['critical_failed'] else 'no'}",
        f"- exit code: {s['exit_code']}; {s['seconds']} s",
        "",
        "## Failed expectations",
        "",
    ]
    if not s["failed_expectations"]:
        lines.append("None: every expectation passed.")
    else:
        lines += ["| table | severity | expectation | column | failing rows | reason |", "|---|---|---|---|---|---|"]
        for o in s["failed_expectations"]:
            lines.append(f"| {o['table']} | {o['severity']} | {o['expectation']} | {md(_column(o, labels))} | "
                         f"{o['unexpected_count']} of {o['element_count']} | {md(o['reason'])} |")
        lines += ["", "### Failing records", ""]
        for o in s["failed_expectations"]:
            lines.append(f"- {o['table']} ({o['severity']}, {_rows(o['unexpected_count'])}): {md(o['reason'])}")
            lines += [f"  - {md(e)}" for e in _examples(o, labels, s.get("quarantine_samples") or {})]
    lines += ["", "## Quarantined records", ""]
    quarantined = s.get("quarantine_samples") or {}
    if not any(quarantined.values()):
        lines.append("None.")
    for table, reasons in sorted(quarantined.items()):
        for reason, e in sorted(reasons.items(), key=lambda kv: (-kv[1]["rows"], kv[0])):
            lines.append(f"- {table} ({e['severity']}, {_rows(e['rows'])}): {md(reason)}")
            lines += [f"  - {md(record_text(r))}" for r in e["records"]]
    lines += ["", "## Published", ""]
    for p in s["publish"]:
        lines.append(f"- {p['table']}: {p['rows_in']} rows in; {p['inserted']} inserted, {p['updated']} updated, "
                     f"{p['unchanged']} unchanged; {p['partitions_written']} partition files written")
    lines += ["", "Quarantined rows and rejected inputs: `quarantine/` in the output folder, by table and run id.", ""]
    if r := s.get("remote"):  # a URL output: where the run was committed
        lines += ["## Remote output", "",
                  f"- committed version {r['version_dir']} to {r['url']} (pointer `{r['pointer']}`)",
                  f"- files uploaded: {r['uploaded']}, copied inside the store: {r['copied']}", ""]
    return "\n".join(lines)


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;padding:0 1em;
color:#1d1d1f;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.critical{background:#fde2e2}.error{background:#fff1d6}.warning{background:#f5f5dc}
.ok{color:#176b2c}.bad{color:#a40e0e;font-weight:bold}
ul.records{margin:.2em 0 .6em;padding-left:1.2em;min-width:24em}ul.records li{font-family:ui-monospace,monospace;font-size:.9em;
overflow-wrap:anywhere}
.note{color:#555;font-size:.9em}
@media (prefers-color-scheme:dark){body{background:#161616;color:#e6e6e6}th{background:#2a2a2a}
td,th{border-color:#444}.critical{background:#4a1f1f}.error{background:#4a3a1a}.warning{background:#3a3a22}
.note{color:#aaa}.ok{color:#7fd18f}.bad{color:#ff8a8a}}
"""


def _h(text) -> str:
    """Untrusted text (page text, URLs, file names) as inert HTML: controls shown, markup escaped."""
    return html.escape(shown(text), quote=True)


def _html(s: dict, report_dir: Path) -> str:
    """``summary.md`` as one HTML page: inline style, no script, nothing loaded from anywhere."""
    labels = _labels()
    ok = lambda good, yes, no: f'<span class="{"ok" if good else "bad"}">{yes if good else no}</span>'  # noqa: E731
    counts = [
        ("inputs", s["inputs"]), ("unchanged inputs (skipped)", s.get("unchanged_inputs", 0)),
        ("articles published", s["articles_published"]), ("articles quarantined", s["articles_quarantined"]),
        ("comments published", s["comments_published"]), ("comments quarantined", s["comments_quarantined"]),
        ("rejected inputs", s["rejected"]),
    ]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           f"<title>newsmill run {_h(s['run_id'])}</title><style>{_CSS}</style></head><body>",
           f"<h1>newsmill run {_h(s['run_id'])}</h1>", "<table>"]
    out += [f'<tr><th>{_h(k)}</th><td class="n">{int(v)}</td></tr>' for k, v in counts]
    out.append("</table><ul>")
    if s.get("reject_reasons"):
        out.append("<li>rejected inputs by reason: " + ", ".join(
            f"{_h(k)}: {v}" for k, v in sorted(s["reject_reasons"].items())) + "</li>")
    if s.get("skipped_records"):
        out.append("<li>skipped archive records (not pages): " + ", ".join(
            f"{_h(k)}: {v}" for k, v in sorted(s["skipped_records"].items())) + "</li>")
    out += [f"<li>{_h(not_captured_line(s.get('comments_not_captured')))}</li>",
            "<li>accounting (inputs = published + quarantined + rejected articles"
            + (" + unchanged" if "unchanged_inputs" in s else "") + (" + suppressed" if s.get("articles_suppressed") else "")
            + f"): {ok(s['accounting_ok'], 'ok', 'BROKEN')}</li>",
            f"<li>critical expectation failed: {ok(not s['critical_failed'], 'no', 'YES')}</li>",
            f"<li>exit code: {_h(s['exit_code'])}; {_h(s['seconds'])} s</li></ul>"]

    out.append("<h2>Failed expectations</h2>")
    if not s["failed_expectations"]:
        out.append("<p>None: every expectation passed.</p>")
    else:
        from newsmill import schema
        from newsmill.validate import gx_run

        checks = {n: gx_run.shown_checks(n) for n in schema.TABLES}
        out.append("<table><tr><th>table</th><th>severity</th><th>rule</th><th>checked</th><th>failing rows</th>"
                   "<th>records (the first few)</th></tr>")
        for o in s["failed_expectations"]:
            checked = checks.get(o["table"], {}).get(o.get("column")) or \
                o["expectation"] + (f" on {_column(o, labels)}" if o.get("column") else "")
            rows = "".join(f"<li>{_h(e)}</li>" for e in _examples(o, labels, s.get("quarantine_samples") or {}))
            out.append(f'<tr class="{_h(o["severity"])}"><td>{_h(o["table"])}</td><td>{_h(o["severity"])}</td>'
                       f'<td>{_h(o["reason"])}</td><td>{_h(checked)}</td>'
                       f'<td class="n">{int(o["unexpected_count"])} of {int(o["element_count"])}</td>'
                       f'<td><ul class="records">{rows}</ul></td></tr>')
        out.append("</table>")

    out.append("<h2>Quarantined records</h2>")
    quarantined = s.get("quarantine_samples") or {}
    if not any(quarantined.values()):
        out.append("<p>None.</p>")
    for table, reasons in sorted(quarantined.items()):
        out.append(f"<h3>{_h(table)}</h3><table><tr><th>reason</th><th>severity</th><th>rows</th>"
                   "<th>records (the first few)</th></tr>")
        for reason, e in sorted(reasons.items(), key=lambda kv: (-kv[1]["rows"], kv[0])):
            rows = "".join(f"<li>{_h(record_text(r))}</li>" for r in e["records"])
            out.append(f'<tr class="{_h(e["severity"])}"><td>{_h(reason)}</td><td>{_h(e["severity"])}</td>'
                       f'<td class="n">{int(e["rows"])}</td><td><ul class="records">{rows}</ul></td></tr>')
        out.append("</table>")
    out.append('<p class="note">Every quarantined row and rejected input, with all its reasons: '
               "<code>quarantine/</code> in the output folder, by table and run id.</p>")

    out.append("<h2>Published</h2><ul>")
    out += [f"<li>{_h(p['table'])}: {p['rows_in']} rows in; {p['inserted']} inserted, {p['updated']} updated, "
            f"{p['unchanged']} unchanged; {p['partitions_written']} partition files written</li>" for p in s["publish"]]
    out.append("</ul>")
    if r := s.get("remote"):
        out.append(f"<h2>Remote output</h2><ul><li>committed version {_h(r['version_dir'])} to {_h(r['url'])} "
                   f"(pointer {_h(r['pointer'])})</li><li>files uploaded: {_h(r['uploaded'])}, copied inside the "
                   f"store: {_h(r['copied'])}</li></ul>")
    out.append("<h2>Other files of this report</h2><ul>"
               '<li><a href="summary.md">summary.md</a>, <a href="summary.json">summary.json</a>, '
               '<a href="validation.json">validation.json</a> (GX results without per-row lists)</li>')
    if s.get("data_docs"):
        try:
            link = Path(os.path.relpath(s["data_docs"], report_dir)).as_posix()
        except ValueError:  # another drive
            link = Path(s["data_docs"]).as_uri()
        out.append(f'<li><a href="{_h(link)}">GX Data Docs</a>: every expectation with its result. They load '
                   "their styles and scripts from CDNs: without network access they show an empty page; this "
                   "page has the same failures.</li>")
    out.append("</ul></body></html>\n")
    return "\n".join(out)


# Full per-row lists (one entry per failing row) belong in quarantine/, not in the report:
# on a million-row run they would make validation.json larger than the data.
_ROW_LISTS = ("unexpected_list", "unexpected_index_list", "unexpected_index_query")


def _summarised(gx_results: dict) -> dict:
    out = {}
    for suite, res in gx_results.items():
        res = dict(res)
        res["results"] = [
            {**r, "result": {k: v for k, v in (r.get("result") or {}).items() if k not in _ROW_LISTS}}
            for r in res.get("results", [])
        ]
        out[suite] = res
    return out


_STATIC_INDEX = "newsmill-static-index"


def _static_index(index: Path) -> None:
    """Put a plain list of the site's pages at the top of GX's ``index.html``: GX fills its own list by
    script from CDNs, so offline the index would be blank; these links need nothing."""
    if not index.is_file():
        return
    site = index.parent
    pages = [(f"validation results: {p.relative_to(site).parts[1]}", p)
             for p in sorted((site / "validations").rglob("*.html"))]
    pages += [(f"expectation suite: {p.stem}", p) for p in sorted((site / "expectations").glob("*.html"))]
    items = "".join(f'<li><a href="{html.escape(p.relative_to(site).as_posix())}">{html.escape(label)}</a></li>'
                    for label, p in pages)
    block = (f'<nav id="{_STATIC_INDEX}" style="margin:1em;font:15px system-ui,sans-serif">'
             f"<p>This run's pages (offline they open unstyled; the self-contained report is "
             f'<a href="../summary.html">summary.html</a>):</p><ul>{items}</ul></nav>')
    text = index.read_text(encoding="utf-8")
    if _STATIC_INDEX not in text and "<body>" in text:
        index.write_text(text.replace("<body>", "<body>" + block, 1), encoding="utf-8")


_OFFLINE_MARKS = "newsmill-offline-marks"
# GX marks each expectation's outcome on a validation page by a Font Awesome icon alone, and the icons' font
# comes from a CDN: offline every mark is blank and a page of results does not say which rule failed. A word
# after each icon (``::after``: Font Awesome draws with ``::before``, so the two do not clash online) reads
# without it.
OUTCOME_MARKS = {"fa-check-circle": ("passed", "#198754"), "fa-times": ("failed", "#dc3545"),
                 "fa-exclamation-triangle": ("error", "#b35900")}


def _offline_marks(site: Path) -> None:
    """The outcome words (:data:`OUTCOME_MARKS`) in every validation page of the Data Docs ``site``."""
    rules = "".join(f'i.{cls}::after{{content:" {word}";font:bold 0.85em system-ui,sans-serif;color:{color}}}'
                    for cls, (word, color) in OUTCOME_MARKS.items())
    block = f'<style id="{_OFFLINE_MARKS}">{rules}</style>'
    for page in (site / "validations").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _OFFLINE_MARKS not in text and "</head>" in text:
            page.write_text(text.replace("</head>", block + "</head>", 1), encoding="utf-8")


def _quarantine_samples(outcome) -> dict:
    from newsmill import schema
    from newsmill.validate import gx_run, quarantine

    if outcome.quarantine_samples is not None:
        return outcome.quarantine_samples
    return quarantine.samples(outcome.quarantine or {}, {n: gx_run.record_columns(n) for n in schema.TABLES})


def write_report(summary, outcome, report_dir: Path) -> Path:
    """summary.json, summary.md, summary.html and Data Docs under ``report_dir``; returns the Markdown path."""
    from newsmill.validate import gx_run

    report_dir.mkdir(parents=True, exist_ok=True)
    s = summary.to_dict()
    s["quarantine_samples"] = _quarantine_samples(outcome)
    try:
        index = gx_run.build_data_docs(outcome, report_dir)
        _static_index(Path(index))
        _offline_marks(Path(index).parent)
        s["data_docs"] = str(index)
    except Exception as exc:  # the report must still be written if GX cannot render its pages
        log.error("could not build GX Data Docs: %s", exc)
        s["data_docs"] = None
    (report_dir / "summary.json").write_text(json.dumps(s, indent=2, default=str), encoding="utf-8")
    (report_dir / "validation.json").write_text(json.dumps(_summarised(outcome.gx_results), indent=1, default=str), encoding="utf-8")
    md = report_dir / "summary.md"
    md.write_text(_markdown(s), encoding="utf-8")
    (report_dir / "summary.html").write_text(_html(s, report_dir), encoding="utf-8")
    return md
