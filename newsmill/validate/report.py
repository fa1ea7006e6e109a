"""The run report: what a person checks after a run, as JSON, Markdown and GX Data Docs."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from newsmill.text import shown_markdown as md

log = logging.getLogger(__name__)


def not_captured_line(counts: dict[str, int] | None) -> str:
    """'pages with script-loaded comments not in the capture: N (disqus 12, spotim 3)': published articles
    whose comment section a script fills (comments_in_capture false), so the dataset lacks their comments."""
    counts = counts or {}
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"pages with script-loaded comments not in the capture: {total}" + (f" ({detail})" if detail else "")


def _markdown(s: dict) -> str:
    lines = [
        f"# newsmill run {s['run_id']}",
        "",
        f"- inputs: {s['inputs']}",
        f"- articles published: {s['articles_published']}, quarantined: {s['articles_quarantined']}",
        f"- comments published: {s['comments_published']}, quarantined: {s['comments_quarantined']}",
        f"- rejected inputs: {s['rejected']}" + (f" ({', '.join(f'{md(k)}: {v}' for k, v in sorted(s['reject_reasons'].items()))})" if s["reject_reasons"] else ""),
        f"- skipped archive records (not pages): {', '.join(f'{md(k)}: {v}' for k, v in sorted(s.get('skipped_records', {}).items())) or 'none'}",
        f"- {not_captured_line(s.get('comments_not_captured'))}",
        f"- accounting (inputs = published + quarantined + rejected articles): {'ok' if s['accounting_ok'] else 'BROKEN'}",
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
            lines.append(f"| {o['table']} | {o['severity']} | {o['expectation']} | {md(o.get('column') or '')} | "
                         f"{o['unexpected_count']} of {o['element_count']} | {md(o['reason'])} |")
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


def write_report(summary, outcome, report_dir: Path) -> Path:
    """summary.json, summary.md and Data Docs under ``report_dir``; returns the Markdown path."""
    from newsmill.validate import gx_run

    report_dir.mkdir(parents=True, exist_ok=True)
    s = summary.to_dict()
    try:
        s["data_docs"] = str(gx_run.build_data_docs(outcome, report_dir))
    except Exception as exc:  # the report must still be written if GX cannot render its pages
        log.error("could not build GX Data Docs: %s", exc)
        s["data_docs"] = None
    (report_dir / "summary.json").write_text(json.dumps(s, indent=2, default=str), encoding="utf-8")
    (report_dir / "validation.json").write_text(json.dumps(_summarised(outcome.gx_results), indent=1, default=str), encoding="utf-8")
    md = report_dir / "summary.md"
    md.write_text(_markdown(s), encoding="utf-8")
    return md
