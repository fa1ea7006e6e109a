"""The ``newsmill`` command."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from newsmill.config import AUTHOR_MODES, ConfigError, load_settings


def _quiet_telemetry() -> None:
    """Before Prefect/GX are imported: keep their state local and their telemetry off."""
    os.environ.setdefault("PREFECT_HOME", str(Path(".prefect").resolve()))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _print_summary(s: dict) -> None:
    out = Path(s["output_dir"])
    print()
    print(f"newsmill run {s['run_id']}: {s['inputs']} pages read in {s['seconds']} s")
    print(f"  articles   published {s['articles_published']:>7}   quarantined {s['articles_quarantined']}")
    print(f"  comments   published {s['comments_published']:>7}   quarantined {s['comments_quarantined']}")
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(s["reject_reasons"].items()))
    print(f"  rejected inputs      {s['rejected']:>7}" + (f"   ({reasons})" if reasons else ""))
    if s.get("skipped_records"):
        print("  skipped archive records (not pages): " + ", ".join(f"{k}: {v}" for k, v in sorted(s["skipped_records"].items())))
    print(f"  accounting: inputs = published + quarantined + rejected: "
          f"{s['inputs']} = {s['articles_published']} + {s['articles_quarantined']} + {s['rejected']}: "
          f"{'ok' if s['accounting_ok'] else 'BROKEN'}")
    if "authors_mode" in s:
        key = {"environment": "NEWSMILL_AUTHOR_KEY", "output": "random per-output key in _state/"}.get(
            s.get("author_key_source"), s.get("author_key_source"))
        print(f"  authors:    {s['authors_mode']} (author ids keyed with {key})")
    for o in s["failed_expectations"]:
        print(f"  [{o['severity']}] {o['table']}: {o['reason']} ({o['unexpected_count']} rows)")
    print(f"  data:       {out / 'articles'}  and  {out / 'comments'}")
    print(f"  quarantine: {out / 'quarantine'}")
    print(f"  report:     {Path(s['report_dir']) / 'summary.md'}")
    if s.get("data_docs"):
        print(f"  data docs:  {s['data_docs']}")
    if s["critical_failed"]:
        print("  a CRITICAL expectation failed: exit code 1")


def cmd_run(args) -> int:
    try:
        settings = load_settings(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"newsmill: configuration error: {exc}", file=sys.stderr)
        return 2
    paths = args.paths or list(settings.inputs)
    if not paths:
        print("newsmill: no inputs: give PATH arguments or 'inputs' in newsmill.toml", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else settings.output_dir
    try:
        if args.no_prefect:
            from newsmill import pipeline

            summary = pipeline.run(paths, settings.with_overrides(output_dir=output, batch_size=args.batch_size,
                                                                  authors=args.authors)).to_dict()
        else:
            from flows.newsmill_flow import newsmill_flow

            before = os.environ.get("NEWSMILL_AUTHORS")
            if args.authors:  # the flow reads its settings itself; the environment outranks newsmill.toml
                os.environ["NEWSMILL_AUTHORS"] = args.authors
            try:
                summary = newsmill_flow(paths=paths, output_dir=str(output), batch_size=args.batch_size,
                                        project_file=args.config)
            finally:
                if before is None:
                    os.environ.pop("NEWSMILL_AUTHORS", None)
                else:
                    os.environ["NEWSMILL_AUTHORS"] = before
    except ConfigError as exc:  # e.g. an author key or authors mode that does not match the output's data
        print(f"newsmill: {exc}", file=sys.stderr)
        return 2
    report = Path(summary["report_dir"]) / "summary.json"
    if report.exists():
        summary = json.loads(report.read_text(encoding="utf-8"))
    _print_summary(summary)
    return summary["exit_code"]


def cmd_schema(args) -> int:
    from newsmill import schema

    print(schema.data_dictionary_markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    _quiet_telemetry()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="newsmill", description="News pages -> validated article and comment datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="extract, clean, validate and publish pages")
    run.add_argument("paths", nargs="*", help="files, folders or globs (.txt, .txt.gz, ...)")
    run.add_argument("--output", "-o", help="output folder (default: output/ or newsmill.toml)")
    run.add_argument("--batch-size", type=int, help="pages per task")
    run.add_argument("--config", help="project file (default: ./newsmill.toml if present)")
    run.add_argument("--no-prefect", action="store_true", help="run in this process without Prefect")
    run.add_argument("--authors", choices=AUTHOR_MODES,
                     help="comment authors: keep names (default), pseudonymize them ('user-<author_id>', also in "
                          "@mentions and reply_to_name) or drop them; reply links are kept in every mode")
    run.set_defaults(func=cmd_run)
    sch = sub.add_parser("schema", help="print the data dictionary (Markdown) generated from schemas/")
    sch.set_defaults(func=cmd_schema)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
