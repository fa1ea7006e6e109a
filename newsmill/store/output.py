"""An output: a local folder, or an object-store URL published through its local mirror.

The rest of newsmill hands a run's results to an :class:`Output` and gets a summary back;
what happens to them, and in which order, is decided here:

- :meth:`Output.open` (before planning): a URL output's mirror is brought to what the remote
  committed (``newsmill.store.remote.attach``); the folder exists afterwards; the current version
  is verified against its manifest and repaired, or the run stops before it plans anything
  (``newsmill.store.integrity``: the ledger must not skip inputs whose rows are gone).
- :meth:`Output.work_area`: the run's staging area (``newsmill.store.staging``), locked for it.
- :meth:`Output.commit`: publish (both tables as one new version, under the output lock), then
  the input ledger (still under that lock, so runs record their inputs in the order of their
  commits), then the remote commit (a URL output), then the report, which so knows everything
  the run did. Nothing calls back into the caller.
- :meth:`Output.read_tables`: both tables of the committed version.

Where each of these lives inside the folder is ``newsmill.store.layout``'s business.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from newsmill.store import integrity, layout, partfile, publish, reading, remote, staging
from newsmill.store.ledger import StagedInputs


@dataclass
class Output:
    path: Path  # the local folder; for a URL output, its mirror
    remote: remote.Target | None = None

    @classmethod
    def open(cls, settings, run_id: str) -> "Output":
        """The output of ``settings`` for run ``run_id``: a URL output's mirror synced with the remote."""
        target = remote.attach(settings, run_id)
        path = Path(target.mirror if target else settings.output_dir)
        path.mkdir(parents=True, exist_ok=True)
        # --full (no ledger) rebuilds damaged partitions from the inputs; otherwise damage left stops the run
        integrity.ensure_sound(path, run_id, rebuild=not getattr(settings, "incremental", True))
        return cls(path.resolve(), target)

    @classmethod
    def of(cls, ctx) -> "Output":
        """The output a run context (``newsmill.pipeline.RunContext``) was opened on."""
        return cls(Path(ctx.output_dir), getattr(ctx, "remote", None))

    def work_area(self, run_id: str):
        """The run's staging area, as a context manager (nested opens in one process share it)."""
        return staging.area(self.path, run_id)

    def report_dir(self, run_id: str) -> Path:
        return layout.report_dir(self.path, run_id)

    def read_tables(self) -> dict:
        return reading.read_tables(self.remote.url if self.remote else self.path,
                                   storage_options=self.remote.storage_options if self.remote else None)

    def commit(self, rows: dict, *, ctx, summary, outcome, run_info: dict, pseudonymisation: str,
               inputs: StagedInputs | None, started: float):
        """Publish ``rows``, record ``inputs`` in the ledger, push to the remote, write the report.

        ``summary`` (a ``newsmill.pipeline.RunSummary`` without its publish statistics) is
        completed here and returned; ``outcome`` is the run's validation outcome, for the report.
        A remote commit that fails still leaves the local report, then raises ``RemoteError``.
        """
        committed = publish.publish_run(rows, self.path, run_id=ctx.run_id, pipeline_version=ctx.pipeline_version,
                                        run_info=run_info, pseudonymisation=pseudonymisation, inputs=inputs,
                                        keep_versions=ctx.keep_versions, keep_days=ctx.keep_days,
                                        target_file_bytes=getattr(ctx, "target_file_bytes", partfile.TARGET_FILE_BYTES),
                                        threads=True)
        summary.publish = [asdict(s) for s in committed.stats]
        summary.seconds = round(time.monotonic() - started, 3)
        report_dir = Path(summary.report_dir)
        if self.remote is not None:
            try:
                summary.remote = remote.push(self.remote, ctx)
            except BaseException:
                self._report(summary, outcome, report_dir, ctx.run_id)
                raise
        self._report(summary, outcome, report_dir, ctx.run_id)
        if self.remote is not None:
            remote.upload_report(self.remote, self.path, report_dir, ctx.run_id)
        return summary

    def _report(self, summary, outcome, report_dir: Path, run_id: str) -> None:
        from newsmill.validate import report

        report.write_report(summary, outcome, report_dir)
        layout.latest_report(self.path).write_text(run_id + "\n", encoding="utf-8")
