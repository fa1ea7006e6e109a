"""Output to object storage and other fsspec filesystems: local build, remote commit.

An output given as a URL (``s3://bucket/ds``, ``gs://...``, ``memory://...``: anything
fsspec resolves that is not a local path) is published through a local working copy,
the *mirror* (``<cache>/remote/<hash of the URL>/``, cache ``$NEWSMILL_CACHE`` or
``~/.cache/newsmill``; ``[output] mirror`` in newsmill.toml). The mirror is an ordinary
output folder, so the tested local machinery (versions, upsert, lock, manifest, card,
ledger) builds every version exactly as it does locally. Around it:

- :func:`attach` (before planning): if the mirror's current version is not the one the
  remote committed (fresh machine, another writer, a push that failed), the remote's
  version is pulled into the mirror, every file checked against its manifest's SHA-256,
  and the mirror's input ledger forgets the runs that version does not contain, so their
  inputs are processed again (the upsert keeps rows unique).
- :func:`push` (after the local commit): the run's quarantine and reject files, then
  the new version's files (carried partitions as server-side copies of the remote's
  previous version, the rest uploaded; content-hash names make a retried push
  idempotent), its card and manifest, then ONE small object is written: the pointer
  ``<url>/_current.json`` naming the version folder and its manifest's SHA-256. That write
  is the commit. Readers resolve the pointer (:func:`read_tables`, :func:`current_version_url`);
  a version folder never changes once the pointer names it. Versions outside the newest two
  are deleted after the commit, so a reader holding the previous pointer keeps working.

Concurrency. Object stores have no ``flock``. The pointer is replaced with a
compare-and-swap: on S3 a conditional PUT (``If-Match`` the ETag read, ``If-None-Match: *``
for the first commit), and only if it names a version the mirror's new version was built
upon; otherwise the commit is refused with :class:`RemoteConflict` and nothing of the run
stays visible. Pushes also take a lease object ``<url>/_lock.json`` (conditional create;
expires ``lease`` seconds after its last refresh, so a writer that died does not block
others for longer), so two writers do not upload at once and garbage collection never
runs beside another push. Filesystems without conditional writes (memory://, most
non-S3 ones through fsspec) get the same protocol with read-compare-write, which leaves
a window of milliseconds between two writers: there, use one writer at a time. The
conditional writes, the lease and the error messages are in ``newsmill.store.objstore``.

Identity: ``comment_id`` and ``author_id`` are keyed with the author key, so every writer
of one remote dataset needs the same key, given as ``NEWSMILL_AUTHOR_KEY`` (a key file is
never stored next to shared data). The pointer records the key's fingerprint and the
authors mode, and a writer with another key or mode is refused before it reads any input.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsmill import ids, schema as schemas
from newsmill.config import ConfigError, is_url
from newsmill.runtime import failpoints
from newsmill.store import author_key, layout, ledger, manifest, versions
from newsmill.store.lock import OutputLock
from newsmill.store.objstore import (Conflict, Lease, Objects, RemoteError, RemoteLockTimeout,  # noqa: F401 (API)
                               display_url, filesystem, normalize, objects, storage_errors)

log = logging.getLogger(__name__)

POINTER = "_current.json"
LOCK = "_lock.json"
VERSIONS = versions.VERSIONS
POINTER_FORMAT = "newsmill.store.remote-pointer/1"
MIRROR_KEEP_VERSIONS = 2  # in the local mirror: the committed version and the one before (history stays remote)
CHUNK = 64  # files per upload/copy call: the lease is refreshed between chunks

_VERSION_NAME = re.compile(r"^v(\d{6,})-([A-Za-z0-9][A-Za-z0-9._-]*)$")
_FILE_PATH = re.compile(r"^(?:[A-Za-z0-9_]+=[^/\\\x00]+/)*part-[0-9a-f]{16}\.parquet$")


class RemoteConflict(RemoteError):
    """Another writer committed since this run's version was built: nothing of this run was committed."""


@dataclass(frozen=True)
class Target:
    """Where a remote output lives and how it is reached; travels in the run context (secrets not shown)."""

    url: str
    mirror: str
    storage_options: dict = field(default_factory=dict, repr=False)
    lock_timeout: float | None = 300.0
    lease: float = 600.0

    def filesystem(self):
        return filesystem(self.url, self.storage_options)


def default_mirror(url: str) -> Path:
    cache = os.environ.get("NEWSMILL_CACHE") or str(Path.home() / ".cache" / "newsmill")
    return Path(cache).expanduser() / "remote" / hashlib.sha256(url.encode()).hexdigest()[:16]


def target(settings, *, need_key: bool = True) -> Target:
    """The remote output of ``settings`` (``output_dir`` a URL), checked before anything runs."""
    url = normalize(settings.output_dir)
    if need_key and not settings.author_key:
        raise ConfigError(
            f"a remote output ({display_url(url)}) needs NEWSMILL_AUTHOR_KEY: comment_id and author_id are keyed with "
            f"it, so every machine writing this dataset must use the same secret, and a key file is never stored "
            f"next to shared data. Set it on every writer (e.g. to the output of `openssl rand -hex 32`).")
    filesystem(url, settings.output.storage_options)  # a bad URL or a missing package fails here
    mirror = settings.output.mirror or str(default_mirror(url))
    return Target(url=url, mirror=str(Path(mirror).expanduser().resolve()),
                  storage_options=dict(settings.output.storage_options), lock_timeout=settings.output.lock_timeout,
                  lease=settings.output.lease)


# --- the pointer --------------------------------------------------------------------------

def read_pointer(obj: Objects) -> tuple[dict | None, str | None]:
    """The committed version (None for an empty output) and the token to replace it with."""
    got = obj.read(POINTER)
    if got is None:
        return None, None
    try:
        ptr = json.loads(got[0])
        ok = ptr.get("format") == POINTER_FORMAT and _VERSION_NAME.match(ptr.get("version_dir", "")) \
            and re.fullmatch(r"[0-9a-f]{64}", ptr.get("manifest_sha256", ""))
    except (ValueError, AttributeError, TypeError):
        ok = False
    if not ok:
        raise RemoteError(f"{display_url(obj.url)}/{POINTER} is not a newsmill pointer ({POINTER_FORMAT}): this URL "
                          f"holds something else; choose another output URL")
    return ptr, got[1]


def _read_manifest(obj: Objects, ptr: dict) -> tuple[dict, bytes]:
    rel = f"{VERSIONS}/{ptr['version_dir']}/{manifest.NAME}"
    got = obj.read(rel)
    if got is None or hashlib.sha256(got[0]).hexdigest() != ptr["manifest_sha256"]:
        what = "missing" if got is None else "not the manifest the pointer names"
        raise RemoteError(f"{display_url(obj.url)}/{rel} is {what}: the committed version is damaged (was it edited "
                          f"or deleted by hand?)")
    return json.loads(got[0]), got[0]


def _table_files(m: dict) -> list[tuple[str, dict]]:
    """(table, file entry) of a manifest, with paths checked: they come from shared storage."""
    out = []
    for name, t in m.get("tables", {}).items():
        if name not in schemas.TABLES:
            raise RemoteError(f"manifest of {m.get('version_dir')} lists an unknown table {name!r}")
        for f in t.get("files", []):
            if not _FILE_PATH.match(f.get("path", "")) or ".." in f["path"]:
                raise RemoteError(f"manifest of {m.get('version_dir')} lists an unsafe path {f.get('path')!r}")
            out.append((name, f))
    return out


# --- pull: the mirror follows the remote ------------------------------------------------

def attach(settings, run_id: str) -> Target | None:
    """For a URL output: check it, bring its mirror to the remote's committed version, and return
    the target (None for a local output folder). Runs before planning, so the ledger and the
    upsert both see what the remote holds."""
    if not is_url(settings.output_dir):
        return None
    t = target(settings)
    pull(t, run_id, authors=settings.authors, key=settings.author_key)
    return t


def pull(t: Target, run_id: str, *, authors: str, key: bytes) -> dict | None:
    fs, root = t.filesystem()
    obj = objects(fs, root, t.url)
    mirror = Path(t.mirror)
    mirror.mkdir(parents=True, exist_ok=True)
    with storage_errors(t.url, "read"):
        ptr, _ = read_pointer(obj)
    if ptr is not None:
        _check_identity(ptr, t.url, authors, key)
    with OutputLock(mirror, run_id):
        store = versions.Store(mirror)
        store.discard_incomplete()
        cur = store.current()
        if ptr is None:
            if cur is not None or os.path.lexists(mirror / versions.CURRENT):
                log.warning("%s holds no dataset: the mirror %s is emptied (its versions were never committed there)",
                            display_url(t.url), mirror)
                _empty_mirror(store)
                ledger.Ledger(mirror).keep_runs(())
            return None
        if cur is None or cur.name != ptr["version_dir"] or _sha(cur / manifest.NAME) != ptr["manifest_sha256"]:
            with storage_errors(t.url, "pull the committed version from"):
                m = _install(obj, store, ptr)
            store.ensure_links()
            store.collect_garbage(MIRROR_KEEP_VERSIONS)
            forgotten = ledger.Ledger(mirror).keep_runs(r["run_id"] for r in m.get("runs", []))
            if forgotten:
                log.warning("%d inputs recorded by runs that %s does not contain will be processed again",
                            forgotten, display_url(t.url))
        _sync_state(mirror, ptr)
    return ptr


def _check_identity(ptr: dict, url: str, authors: str, key: bytes) -> None:
    mode, fp = ptr.get("authors_mode"), ptr.get("author_key_fingerprint")
    if mode and mode != authors:
        raise author_key.AuthorsModeError(f"{display_url(url)} was written with authors = {mode!r}; a run with {authors!r} "
                                   f"would mix both in one dataset: use --authors {mode}, or another output URL")
    if fp and fp != ids.key_fingerprint(key):
        raise author_key.AuthorKeyError(
            f"NEWSMILL_AUTHOR_KEY differs from the key {display_url(url)} was written with (fingerprint "
            f"{ids.key_fingerprint(key)}, recorded {fp}): author_id and comment_id would not match the data there. "
            f"Use the same key as the other writers, or another output URL")


def _sync_state(mirror: Path, ptr: dict) -> None:
    """The mirror's records of mode and key fingerprint are those of the remote (checked by ``ids``)."""
    state = layout.state_dir(mirror)
    state.mkdir(parents=True, exist_ok=True)
    for name, value in ((author_key.MODE_FILE, ptr.get("authors_mode")),
                        (author_key.FINGERPRINT_FILE, ptr.get("author_key_fingerprint"))):
        if value and (not (state / name).exists() or (state / name).read_text().strip() != value):
            tmp = state / f".{name}.{uuid.uuid4().hex}"
            tmp.write_text(value)
            os.replace(tmp, state / name)


def _empty_mirror(store: versions.Store) -> None:
    for name in (versions.CURRENT, *versions.STABLE):
        p = store.out / name
        if p.is_symlink():
            p.unlink()
    if store.versions.is_dir():
        trash = store.building / f"trash-mirror-{uuid.uuid4().hex[:8]}"
        store.building.mkdir(parents=True, exist_ok=True)
        os.rename(store.versions, trash)
        shutil.rmtree(trash)


def _install(obj: Objects, store: versions.Store, ptr: dict) -> dict:
    """The remote's committed version as the mirror's current one: files the mirror has are
    hard-linked, the others downloaded, all checked against the manifest before the switch."""
    name = ptr["version_dir"]
    m, raw = _read_manifest(obj, ptr)
    files = _table_files(m)
    existing = store.versions / name
    if existing.is_dir():
        if _sha(existing / manifest.NAME) == ptr["manifest_sha256"] and not manifest.verify(existing):
            store.switch(name)
            return m
        versions._remove(existing)  # noqa: SLF001 (a damaged copy of a version: fetched again)
    seq, label = _VERSION_NAME.match(name).groups()
    build = store.begin(label, int(seq))
    try:
        local = _local_files(store)
        gets = []
        for table, f in files:
            dst = build.path / table / f["path"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            if f["sha256"] in local:
                versions.link_or_copy(local[f["sha256"]], dst)
            else:
                gets.append((obj.key(f"{VERSIONS}/{name}/{table}/{f['path']}"), dst))
        for i in range(0, len(gets), CHUNK):
            part = gets[i : i + CHUNK]
            obj.fs.get([r for r, _ in part], [str(d) for _, d in part])
        for _, d in gets:
            os.chmod(d, 0o444)
        for table in schemas.TABLES:
            (build.path / table).mkdir(exist_ok=True)
        versions.write_new(build.path / manifest.NAME, raw)
        for doc in (layout.CARD, layout.CROISSANT):  # generated from the manifest: not in it
            doc_file = obj.read(f"{VERSIONS}/{name}/{doc}")
            if doc_file is not None:
                versions.write_new(build.path / doc, doc_file[0])
        problems = manifest.verify(build.path)
        if problems:
            raise RemoteError(f"version {name} of {display_url(obj.url)} does not match its manifest: "
                              f"{'; '.join(problems[:5])}")
        failpoints.hit("remote_pulled")
        store.commit(build)
    except BaseException:
        store.abort(build)
        raise
    return m


def _local_files(store: versions.Store) -> dict[str, Path]:
    """sha256 -> a file of the mirror's versions with those bytes (hard-linked instead of downloaded)."""
    out = {}
    if not store.versions.is_dir():
        return out
    for v in sorted(store.versions.iterdir()):
        try:
            m = manifest.read(v) if v.is_dir() else None
        except manifest.CorruptManifest:
            continue  # its files are not offered as copies (the installed version is verified anyway)
        for name, t in (m or {}).get("tables", {}).items():
            for f in t.get("files", []):
                p = layout.stored_part(v / name, f["path"])
                if p.is_file():
                    out.setdefault(f["sha256"], p)
    return out


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


# --- push: the remote follows the mirror ------------------------------------------------

def upload_report(t: Target, mirror: Path, report: Path, run_id: str) -> None:
    """The run's report (written after the commit) to the remote, and ``reports/LATEST``. A failure
    only warns: the data is committed and the report stays in the mirror."""
    fs, root = t.filesystem()
    obj = objects(fs, root, t.url)
    rels = [p.relative_to(mirror).as_posix() for p in sorted(report.rglob("*")) if p.is_file()]
    try:
        with storage_errors(t.url, "upload the report to"):
            _upload(obj, mirror, rels)
            obj.put_bytes(layout.latest_report_rel(), f"{run_id}\n".encode())
    except RemoteError as exc:
        log.warning("%s; the report is in %s", exc, report)


def push(t: Target, ctx) -> dict:
    """Upload the mirror's current version and commit it with one conditional write of the pointer."""
    mirror, run_id = Path(ctx.output_dir), ctx.run_id
    fs, root = t.filesystem()
    obj = objects(fs, root, t.url)
    with OutputLock(mirror, run_id):  # the mirror's versions stay put while they are uploaded
        store = versions.Store(mirror)
        cur = store.current()
        if cur is None:
            raise RemoteError(f"the mirror {mirror} has no committed version to publish")
        raw = (cur / manifest.NAME).read_bytes()
        m = json.loads(raw)
        built_on = _lineage(store, cur)
        with storage_errors(t.url, "publish to"), Lease(obj, LOCK, run_id, lease=t.lease,
                                                                   timeout=t.lock_timeout) as lease:
            ptr, token = read_pointer(obj)
            sides = [rel for rel in layout.side_files(run_id) if (mirror / rel).is_file()]
            if ptr is not None and ptr["version_dir"] == cur.name:  # another run of this mirror pushed it
                _upload(obj, mirror, sides)
                return _info(t, m, cur.name, run_id, mirror, stats={"uploaded": 0, "copied": 0}, removed=[])
            if ptr is not None and ptr["version_dir"] not in built_on:
                raise RemoteConflict(
                    f"{display_url(t.url)} moved to version {ptr['version_dir']} (run {ptr.get('run_id')}, "
                    f"{ptr.get('committed_at')}) since this run's copy was pulled: another writer committed. Nothing "
                    f"of this run was committed; run it again (it pulls that version first; its inputs are "
                    f"processed again and the upsert keeps rows unique)")
            try:
                _upload(obj, mirror, sides)  # before the commit: a committed run always has its side files
                failpoints.hit("remote_side_uploaded")
                stats = _upload_version(obj, cur, m, raw, ptr, lease)
                failpoints.hit("remote_uploaded")
                new = {"format": POINTER_FORMAT, "version": m["version"], "version_dir": cur.name,
                       "manifest_sha256": hashlib.sha256(raw).hexdigest(), "run_id": run_id,
                       "committed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "previous": ptr["version_dir"] if ptr else None, "authors_mode": ctx.authors_mode,
                       "author_key_fingerprint": ids.key_fingerprint(ctx.author_key)}
                data = json.dumps(new, indent=1).encode()
                try:
                    obj.replace(POINTER, data, token) if ptr is not None else obj.create(POINTER, data)
                except (Conflict, FileExistsError):
                    raise RemoteConflict(f"{display_url(t.url)}: another writer committed while this run uploaded "
                                         f"(the pointer changed): nothing of this run was committed; run it again") \
                        from None
            except BaseException:
                _forget(obj, cur.name, sides)
                raise
            failpoints.hit("remote_committed")
            removed = _collect_garbage(obj, keep={cur.name, *(ptr and [ptr["version_dir"]] or [])},
                                       upto=m["version"], keep_versions=getattr(ctx, "keep_versions", 2),
                                       keep_days=getattr(ctx, "keep_days", 0.0))
    return _info(t, m, cur.name, run_id, mirror, stats=stats, removed=removed)


def _lineage(store: versions.Store, cur: Path) -> set[str]:
    """Versions the current one was built upon, as far as the mirror remembers (each manifest names its
    predecessor): the remote may be at any of them, e.g. after two local runs and one push."""
    names, v = {cur.name}, cur
    while v is not None:
        try:
            prev = (manifest.read(v) or {}).get("previous")
        except manifest.CorruptManifest:
            break
        if not prev or prev in names:
            break
        names.add(prev)
        v = store.versions / prev if (store.versions / prev).is_dir() else None
    return names


def _upload(obj: Objects, local_root: Path, rels: list[str]) -> None:
    for i in range(0, len(rels), CHUNK):
        part = rels[i : i + CHUNK]
        obj.fs.put([str(local_root / r) for r in part], [obj.key(r) for r in part])


def _upload_version(obj: Objects, cur: Path, m: dict, raw: bytes, ptr: dict | None, lease: Lease) -> dict:
    """The version folder, complete: data files first, then the card, then the manifest."""
    base = f"{VERSIONS}/{cur.name}"
    parent = {}
    if ptr is not None:  # a file unchanged since the committed version: copied inside the store
        pm, _ = _read_manifest(obj, ptr)
        parent = {f["sha256"]: obj.key(f"{VERSIONS}/{ptr['version_dir']}/{t}/{f['path']}") for t, f in _table_files(pm)}
    copies, uploads = [], []
    for table, f in _table_files(m):
        rel = f"{table}/{f['path']}"
        key = obj.key(f"{base}/{rel}")
        if f["sha256"] in parent:
            copies.append((parent[f["sha256"]], key))
        else:
            uploads.append((str(layout.stored_part(cur / table, f["path"])), key))
    for i in range(0, len(copies), CHUNK):
        part = copies[i : i + CHUNK]
        obj.fs.copy([s for s, _ in part], [d for _, d in part])
        lease.refresh()
    for i in range(0, len(uploads), CHUNK):
        part = uploads[i : i + CHUNK]
        obj.fs.put([s for s, _ in part], [d for _, d in part])
        lease.refresh()
    for doc in (layout.CARD, layout.CROISSANT):
        if (cur / doc).is_file():
            obj.put_bytes(f"{base}/{doc}", (cur / doc).read_bytes())
    obj.put_bytes(f"{base}/{manifest.NAME}", raw)
    return {"uploaded": len(uploads), "copied": len(copies)}


def _forget(obj: Objects, version: str, sides: list[str]) -> None:
    """After a refused or failed commit: what this run uploaded goes (best effort; the next
    push's garbage collection removes what a killed run left)."""
    try:
        ptr, _ = read_pointer(obj)
        if ptr is not None and ptr["version_dir"] == version:
            return  # committed after all
        if obj.fs.exists(obj.key(f"{VERSIONS}/{version}")):
            obj.fs.rm(obj.key(f"{VERSIONS}/{version}"), recursive=True)
        for rel in sides:
            if obj.fs.exists(obj.key(rel)):
                obj.fs.rm_file(obj.key(rel))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not remove the uploads of version %s from %s: %s", version, display_url(obj.url), exc)


def _collect_garbage(obj: Objects, *, keep: set[str], upto: int, keep_versions: int = 2,
                     keep_days: float = 0.0) -> list[str]:
    """Delete versions numbered up to the committed one that the ``[history]`` policy does not keep.
    ``keep`` (the committed version and the one before) always stays; then the committed chain (each
    manifest names its predecessor) back to ``keep_versions`` versions, with ``keep_days`` only those
    committed within that many days. An upload that was never committed is in no chain and goes. A
    higher number may be a push in progress elsewhere (its commit will be refused, and a later
    collection removes it)."""
    removed = []
    try:
        obj.fs.invalidate_cache(obj.key(VERSIONS))
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in obj.fs.ls(obj.key(VERSIONS), detail=False)]
        keep = keep | set(_kept_chain(obj, max(keep, key=_seq_of), set(names), keep_versions, keep_days))
        for name in sorted(names):
            mt = _VERSION_NAME.match(name)
            if name in keep or mt is None or int(mt.group(1)) > upto:
                continue
            obj.fs.rm(obj.key(f"{VERSIONS}/{name}"), recursive=True)
            removed.append(name)
    except Exception as exc:  # noqa: BLE001 (the commit is done; leftovers go next time)
        log.warning("could not delete old versions of %s: %s", display_url(obj.url), exc)
    return removed


def _seq_of(name: str) -> int:
    mt = _VERSION_NAME.match(name)
    return int(mt.group(1)) if mt else -1


def _kept_chain(obj: Objects, head: str, present: set[str], keep_versions: int, keep_days: float) -> list[str]:
    """The committed chain from ``head`` back through each manifest's predecessor: at most
    ``keep_versions`` versions, and with ``keep_days`` none committed before then (the first two stay)."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=keep_days) if keep_days else None
    chain, name = [], head
    while name and name in present and name not in chain and len(chain) < keep_versions:
        got = obj.read(f"{VERSIONS}/{name}/{manifest.NAME}")
        try:
            m = json.loads(got[0]) if got else {}
            created = datetime.fromisoformat(m["created_at"]) if m.get("created_at") else None
        except (ValueError, KeyError, TypeError, AttributeError):
            m, created = {}, None
        if len(chain) >= 2 and cutoff is not None and (created is None or created.tzinfo is None or created < cutoff):
            break  # newest first: the rest are older still
        chain.append(name)
        name = m.get("previous") if isinstance(m, dict) else None
    return chain


def _info(t: Target, m: dict, version: str, run_id: str, mirror: Path, *, stats: dict, removed: list) -> dict:
    url = display_url(t.url)
    return {"url": url, "version": m["version"], "version_dir": version, "pointer": f"{url}/{POINTER}",
            "articles": f"{url}/{VERSIONS}/{version}/articles", "comments": f"{url}/{VERSIONS}/{version}/comments",
            "quarantine": f"{url}/{layout.QUARANTINE}", "report": f"{url}/{layout.report_rel(run_id)}/summary.md",
            "data_docs": f"{url}/{layout.report_rel(run_id)}/data_docs/index.html", "mirror": str(mirror),
            "atomic_commit": t.url.split("://", 1)[0].lower() in ("s3", "s3a"), **stats, "removed_versions": removed}


def upload_side_file(t: Target, rel: str) -> str:
    """One file of the mirror (e.g. ``raw/<run id>.warc.gz`` of ``newsmill fetch``) to the same place remotely."""
    fs, root = t.filesystem()
    obj = objects(fs, root, t.url)
    with storage_errors(t.url, "upload to"):
        _upload(obj, Path(t.mirror), [rel])
    return f"{display_url(t.url)}/{rel}"


# --- reading ----------------------------------------------------------------------------

