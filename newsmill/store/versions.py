"""Versioned copy-on-write layout of an output folder, switched by one atomic rename.

::

    output/
      articles      -> current/articles        stable symlinks: what readers open
      comments      -> current/comments
      manifest.json -> current/manifest.json
      README.md     -> current/README.md
      current       -> _versions/v000007-<run>  the ONLY thing a publish changes for readers
      _versions/v000007-<run>/{articles,comments}/year=../part-<sha>.parquet (several a year),
                              manifest.json, README.md, croissant.json
      _versions/v000006-<run>/...part-<sha>.pq  older versions: the same files, named so that no
                                                ``*.parquet`` glob matches them (``layout.KEPT_SUFFIX``)
      _building/    versions under construction, trash being deleted (never read)
      _state/lock   see ``newsmill.store.lock``

Why: a dataset of two linked tables spread over many files cannot be replaced
file by file without readers seeing a mix. Here a run builds a complete new
version next to the old one (unchanged partition files are hard links, so this
costs only the changed partitions), makes it durable, renames it into
``_versions/`` and then replaces the ``current`` symlink with ``os.replace``
(rename(2): atomic). Before that rename every reader sees the old version, after
it the new one, both tables and the manifest and card together. A run killed at
any point leaves either an unreferenced directory, which the next run deletes
under the lock, or a committed version.

Files are never modified after they are written (they are hard-linked into later
versions, so an in-place write would alter history): they are made read-only.

Part files are named by their content hash. A reader that lists files in one
version and opens them after a swap (e.g. a lazy Polars scan) opens them by path
through ``current``: an unchanged file has the same name and bytes in the new
version, a changed one no longer exists (FileNotFoundError) instead of silently
reading another version's rows under the old name. A reader that needs both
tables from one version resolves ``current`` once (``newsmill.store.reading.read_tables``).

POSIX only (symlinks, hard links, rename over a symlink, directory fsync). On a
filesystem without hard links, unchanged files are copied instead.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsmill.runtime import failpoints
from newsmill.store import layout, manifest

CURRENT = "current"
VERSIONS = "_versions"
BUILDING = "_building"
LEGACY_TABLES = ("articles", "comments")
# croissant.json has no stable link: Croissant tools resolve its paths from the folder they found it in
# and walk that folder without following the table links, so it is read as current/croissant.json
STABLE = (*LEGACY_TABLES, manifest.NAME, layout.CARD)
_VERSION_RE = re.compile(r"^v(\d{6,})-")


class LayoutError(RuntimeError):
    """The output folder is not in a state this code wrote; the message says what to check."""


@dataclass(frozen=True)
class Build:
    name: str
    path: Path
    seq: int


class Store:
    def __init__(self, output_dir: Path):
        self.out = Path(output_dir)
        self.versions = self.out / VERSIONS
        self.building = self.out / BUILDING

    # --- reading the state ---------------------------------------------------------

    def current(self) -> Path | None:
        link = self.out / CURRENT
        if not link.is_symlink():
            if link.exists():
                raise LayoutError(f"{link} should be a symlink to {VERSIONS}/<version>; move it away")
            return None
        target = Path(os.readlink(link))
        path = self.out / target
        if target.parent != Path(VERSIONS) or not path.is_dir():
            raise LayoutError(f"{link} points to {target}, which is not a version in {self.versions}; "
                              f"point it at the newest complete version there")
        return path

    def legacy_tables(self) -> list[str]:
        """Tables still in the pre-version layout: a real folder where the stable symlink belongs."""
        return [n for n in LEGACY_TABLES if (self.out / n).is_dir() and not (self.out / n).is_symlink()]

    def chain(self, keep: int) -> list[str]:
        """The current version and its predecessors, newest first, at most ``keep``."""
        names, v = [], self.current()
        while v is not None and len(names) < keep:
            names.append(v.name)
            try:
                prev = (manifest.read(v) or {}).get("previous")
            except manifest.CorruptManifest:  # the current one is rebuilt by newsmill.store.integrity
                prev = None
            v = self.versions / prev if prev and (self.versions / prev).is_dir() else None
        return names

    def retained(self, keep: int, keep_days: float = 0.0, now: datetime | None = None) -> list[str]:
        """What the ``[history]`` policy keeps: the current chain's newest ``keep`` versions and, with
        ``keep_days``, only those committed within that many days; the current version and the one
        before it stay whatever their age (a reader may be half-way through the older one)."""
        names = self.chain(keep)
        if not keep_days:
            return names
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days)
        kept = names[:2]
        for name in names[2:]:  # newest first: once one is too old, the rest are older still
            try:
                created = (manifest.read(self.versions / name) or {}).get("created_at")
                when = datetime.fromisoformat(created) if created else None
            except (manifest.CorruptManifest, ValueError, TypeError):
                when = None
            if when is None or when.tzinfo is None or when < cutoff:
                break
            kept.append(name)
        return kept

    # --- building --------------------------------------------------------------------

    def discard_incomplete(self) -> None:
        """What a killed run left behind: half-built versions, temporary links, half-deleted trash."""
        if self.building.is_dir():
            for p in sorted(self.building.iterdir()):
                failpoints.hit("discard")
                _remove(p)

    def begin(self, run_id: str, seq: int) -> Build:
        name = f"v{seq:06d}-{run_id}"[:240]
        path = self.building / name
        for d in (self.building, self.versions):
            d.mkdir(parents=True, exist_ok=True)
        if not path.resolve().is_relative_to(self.out.resolve()):
            raise LayoutError(f"refusing to build in {path.resolve()}: outside the output folder {self.out}")
        path.mkdir()
        return Build(name, path, seq)

    def commit(self, build: Build) -> Path:
        """Make the build durable, then visible in one rename: the commit point."""
        _fsync_tree(build.path)
        failpoints.hit("build_synced")
        final = self.versions / build.name
        os.rename(build.path, final)
        fsync_dir(self.versions)
        fsync_dir(self.building)
        failpoints.hit("version_renamed")
        self._make_current(build.name)
        return final

    def switch(self, name: str) -> Path:
        """Make an existing complete version current again (a mirror going back to the version
        its remote committed, ``newsmill.store.remote``); the same atomic swap as a commit."""
        path = self.versions / name
        if not _VERSION_RE.match(name) or path.parent != self.versions or not path.is_dir():
            raise LayoutError(f"{path} is not a version in {self.versions}")
        self._make_current(name)
        return path

    def _make_current(self, name: str) -> None:
        """Name the version's part files ``.parquet``, swap ``current`` to it, then rename every other
        version's to ``.pq`` (``layout.KEPT_SUFFIX``): a ``**/*.parquet`` glob over the output folder
        matches the current version alone. Killed in between, :meth:`settle` finishes it."""
        _name_parts(self.versions / name, current=True)
        failpoints.hit("parts_named")
        self._point(CURRENT, f"{VERSIONS}/{name}")
        failpoints.hit("swapped")
        self.settle()

    def settle(self) -> None:
        """Part files named by role: ``.parquet`` in the current version, ``.pq`` in every other
        (after a kill between a swap and the renames, or in an output an older newsmill wrote)."""
        cur = self.current()
        if cur is not None:
            _name_parts(cur, current=True)
        if self.versions.is_dir():
            for d in sorted(self.versions.iterdir()):
                if d.is_dir() and (cur is None or d.name != cur.name):
                    _name_parts(d, current=False)

    def abort(self, build: Build) -> None:
        """After an error (not a kill): remove the build unless it already became current."""
        cur = self.current()
        for p in (build.path, self.versions / build.name):
            if p.exists() and (cur is None or p.resolve() != cur.resolve()):
                _remove(p)

    # --- links, migration, garbage ------------------------------------------------

    def ensure_links(self) -> None:
        """Stable names point into ``current``; created before the first commit (dangling
        until then) so that the swap is the only moment anything becomes visible."""
        for name in STABLE:
            link, want = self.out / name, f"{CURRENT}/{name}"
            if link.is_symlink() and os.readlink(link) == want:
                continue
            if link.is_dir() and not link.is_symlink():
                continue  # a legacy table folder: replaced by retire_legacy after migration
            self._point(name, want)
            failpoints.hit("link_created")

    def retire_legacy(self, name: str) -> None:
        """Swap a migrated legacy folder for its stable symlink (same rows on both sides).

        A directory cannot be renamed over, so this uses Linux's atomic exchange of two
        names; elsewhere the folder is moved away first, and ``output/<name>`` is missing
        until the link is made (if killed in between: until the next run).
        """
        self.building.mkdir(parents=True, exist_ok=True)
        tmp = self.building / f".link-{uuid.uuid4().hex}"
        os.symlink(f"{CURRENT}/{name}", tmp)
        if _exchange(tmp, self.out / name):  # tmp is now the legacy folder
            fsync_dir(self.out)
            failpoints.hit("legacy_swapped")
            _remove(tmp)
            return
        tmp.unlink()
        trash = self.building / f"legacy-{name}-{uuid.uuid4().hex[:8]}"
        os.rename(self.out / name, trash)
        failpoints.hit("legacy_moved")
        self._point(name, f"{CURRENT}/{name}")
        _remove(trash)

    def collect_garbage(self, keep: int, keep_days: float = 0.0) -> list[str]:
        """Delete the versions :meth:`retained` does not keep (and never-committed ones). A version is
        first renamed into ``_building`` so none is ever half there."""
        if keep < 1:
            raise ValueError(f"keep_versions must be at least 1, got {keep}")
        if not self.versions.is_dir():
            return []
        kept, removed = set(self.retained(keep, keep_days)), []
        for d in sorted(self.versions.iterdir()):
            if d.name in kept:
                continue
            trash = self.building / f"trash-{d.name}"[:240]
            self.building.mkdir(parents=True, exist_ok=True)
            os.rename(d, trash)
            failpoints.hit("gc_moved")
            _remove(trash)
            removed.append(d.name)
        return removed

    def _point(self, name: str, target: str) -> None:
        """``output/<name>`` -> ``target``, replaced atomically (temporary link made in ``_building``)."""
        self.building.mkdir(parents=True, exist_ok=True)
        tmp = self.building / f".link-{uuid.uuid4().hex}"
        os.symlink(target, tmp)
        failpoints.hit("link_prepared")
        os.replace(tmp, self.out / name)
        fsync_dir(self.out)


def seq_of(name: str) -> int | None:
    """The number of a version folder's name (``v000007-<run id>`` -> 7); None for anything else."""
    m = _VERSION_RE.match(name)
    return int(m.group(1)) if m else None


def next_seq(previous_manifest: dict | None, current: Path | None) -> int:
    if previous_manifest and isinstance(previous_manifest.get("version"), int):
        return previous_manifest["version"] + 1
    m = _VERSION_RE.match(current.name) if current else None
    return int(m.group(1)) + 1 if m else 1


def write_new(path: Path, data: bytes) -> None:
    """A new, durable, read-only file; refuses to overwrite (it may be hard-linked elsewhere)."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        os.fchmod(fh.fileno(), 0o444)


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
            raise
        write_new(dst, src.read_bytes())


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two names atomically; False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _name_parts(version_dir: Path, *, current: bool) -> int:
    """Rename a version's part files to ``.parquet`` (``current``) or ``.pq``; returns how many changed.
    Each rename is atomic; readers that listed the old name get FileNotFoundError, never other rows."""
    src, dst = (layout.KEPT_SUFFIX, layout.PART_SUFFIX) if current else (layout.PART_SUFFIX, layout.KEPT_SUFFIX)
    renamed = 0
    for table in LEGACY_TABLES:
        for d, _, files in os.walk(version_dir / table):
            here = False
            for fn in files:
                if fn.startswith("part-") and fn.endswith(src):
                    os.rename(os.path.join(d, fn), os.path.join(d, fn[: -len(src)] + dst))
                    failpoints.hit("part_renamed")
                    renamed += 1
                    here = True
            if here:
                fsync_dir(Path(d))
    return renamed


def _fsync_tree(root: Path) -> None:
    """Files were fsynced when written; new directory entries (incl. hard links) need their folders'."""
    for d, _, _ in os.walk(root, topdown=False):
        fsync_dir(Path(d))


def _remove(p: Path) -> None:
    if p.is_symlink() or p.is_file():
        p.unlink(missing_ok=True)
    elif p.exists():
        shutil.rmtree(p)
