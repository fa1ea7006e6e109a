"""Reading a published dataset: the current version of a local output folder, or the committed
version of a remote output URL (found through its pointer), typed as the schemas say.

Apart from publishing (``newsmill.store.publish``) and the remote commit (``newsmill.store.remote``),
which only write: readers need neither, and neither needs the readers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from newsmill import schema as schemas
from newsmill.config import is_url
from newsmill.store import history, layout, remote, versions
from newsmill.store.checks import check_compatible, checked_name

if TYPE_CHECKING:
    import pyarrow.dataset as ds


def dataset_path(name: str, output_dir: Path) -> Path:
    return Path(output_dir) / checked_name(name)


def hive_partitioning(name: str) -> ds.Partitioning:
    """Typed hive partitioning: pass it to pyarrow or ``pandas.read_parquet(..., partitioning=)``
    so that partition columns get the schema's types and the null-year marker reads as null."""
    import pyarrow.dataset as ds  # imported on use: it pulls in pandas (~0.5 s), publishing does not need it

    return ds.partitioning(schemas.load(checked_name(name)).partitioning_arrow(), flavor="hive")


def current_version(output_dir: Path) -> Path | None:
    """The current version's folder: its files never change, so reading from it is a snapshot."""
    return versions.Store(Path(output_dir)).current()


def read_table(name: str, output_dir: Path | str, *, storage_options: dict | None = None, version=None,
               as_of=None) -> pa.Table:
    """The whole dataset with the full schema, partition columns typed as declared.

    The table's folder is resolved once, so the read sees one version even if a
    publish commits meanwhile. Every file's schema is checked first, so an
    incompatible file fails with a clear message instead of a reader error;
    files that lack a newer nullable column read it as null. ``output_dir`` may
    be a remote output URL (``s3://...``, see ``newsmill.store.remote``). ``version`` or ``as_of``
    read an older version the output keeps (see :func:`read_tables`).
    """
    if version is not None or as_of is not None:
        return read_tables(output_dir, storage_options=storage_options, version=version, as_of=as_of,
                           names=(checked_name(name),))[name]
    if is_url(output_dir):
        return _read_remote(output_dir, storage_options, names=(checked_name(name),))[name]
    return _read_root(name, Path(os.path.realpath(dataset_path(name, output_dir))))


def read_tables(output_dir: Path | str, *, storage_options: dict | None = None, version=None, as_of=None,
                names: tuple[str, ...] = schemas.TABLES) -> dict[str, pa.Table]:
    """Both tables from the same version (reading them one after the other could straddle a publish).

    By default the current version; ``version`` (its number, folder name or the run id that committed
    it) or ``as_of`` (a date, datetime or ISO text: the newest version committed by then) read one of
    the older versions the output keeps (``newsmill versions`` lists them; the ``[history]`` policy
    says how many). ``newsmill.store.history.VersionNotFound`` names the kept ones otherwise.
    """
    if version is not None or as_of is not None:
        v = history.find(output_dir, version=version, as_of=as_of, storage_options=storage_options)
        if is_url(output_dir):
            return _read_remote_version(output_dir, v.name, storage_options, names)
        return {n: _read_root(n, versions.Store(Path(output_dir)).versions / v.name / n) for n in names}
    if is_url(output_dir):
        return _read_remote(output_dir, storage_options)
    v = current_version(output_dir)
    if v is None:
        return {n: read_table(n, output_dir) for n in schemas.TABLES}
    return {n: _read_root(n, v / n) for n in schemas.TABLES}


def _read_root(name: str, root: Path) -> pa.Table:
    return read_files(name, str(root), [str(f) for f in _data_files(root)])


def read_files(name: str, root: str, files: list[str], *, filesystem=None, check: bool = True) -> pa.Table:
    """Part files under ``root`` (local, or on a pyarrow ``filesystem``) as one typed table.
    ``check=False`` when the manifest already says the files have the current schema."""
    s = schemas.load(checked_name(name))
    if not files:
        return s.arrow().empty_table()
    in_path = folder_columns(root, files[0])
    if check:
        for f in files:
            check_compatible(pq.read_schema(f, filesystem=filesystem), s, f, in_path=in_path)
    import pyarrow.dataset as ds

    dataset = ds.dataset(
        list(files),
        schema=s.arrow(),
        format="parquet",
        partitioning=folder_partitioning(name, in_path),
        partition_base_dir=root,
        filesystem=filesystem,
    )
    return dataset.to_table()


def folder_columns(root: str, file: str) -> tuple[str, ...]:
    """The columns a file's folder names carry (``year=2020/...``: ``('year',)``). A version written
    before issue 15's compaction also has ``source=<site>/`` folders: it reads the same way."""
    rel = str(file)[len(str(root).rstrip("/")) + 1:].split("/")[:-1]
    return tuple(seg.split("=", 1)[0] for seg in rel if "=" in seg)


def folder_partitioning(name: str, columns: tuple[str, ...]) -> ds.Partitioning:
    """Typed hive partitioning of the given folder columns (see :func:`hive_partitioning`)."""
    import pyarrow.dataset as ds

    s = schemas.load(checked_name(name))
    return ds.partitioning(pa.schema([pa.field(c, s.arrow().field(c).type) for c in columns]), flavor="hive")


def _data_files(root: Path) -> list[Path]:
    """Parquet files readers would see (pyarrow skips names starting with '.' or '_')."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("part-*") if layout.is_part(p.name)
                  and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts))



# --- a remote output ------------------------------------------------------------------

def current_version_url(url: str, storage_options: dict | None = None) -> str | None:
    """``<url>/_versions/<committed version>``: a folder whose files never change, for any reader
    (pandas, pyarrow, DuckDB, Polars); None while nothing is committed."""
    url = remote.normalize(url)
    fs, root = remote.filesystem(url, storage_options)
    with remote.storage_errors(url, "read"):
        ptr, _ = remote.read_pointer(remote.objects(fs, root, url))
    return None if ptr is None else f"{url}/{remote.VERSIONS}/{ptr['version_dir']}"


def _read_remote(url: str, storage_options: dict | None = None,
                names: tuple[str, ...] = schemas.TABLES) -> dict[str, "pa.Table"]:
    """Tables of the committed version (one pointer read, so all from the same version), typed as schemas/ says.

    A version is deleted two commits after it stopped being current; a read that loses a file
    that way starts again from the new pointer.
    """
    url = remote.normalize(url)
    fs, root = remote.filesystem(url, storage_options)
    obj = remote.objects(fs, root, url)
    for attempt in range(3):
        with remote.storage_errors(url, "read"):
            ptr, _ = remote.read_pointer(obj)
            if ptr is None:
                return {n: schemas.load(n).arrow().empty_table() for n in names}
            try:
                return _read_version(obj, ptr, names)
            except (FileNotFoundError, remote.RemoteError):
                moved = remote.read_pointer(obj)[0]
                if attempt == 2 or moved is None or moved["version_dir"] == ptr["version_dir"]:
                    raise
    raise AssertionError("unreachable")


def _read_remote_version(url: str, name: str, storage_options: dict | None,
                         names: tuple[str, ...]) -> dict[str, "pa.Table"]:
    """A kept, no longer current version of a remote output (its manifest is checked by the paths it lists)."""
    import json

    url = remote.normalize(url)
    fs, root = remote.filesystem(url, storage_options)
    obj = remote.objects(fs, root, url)
    with remote.storage_errors(url, "read"):
        got = obj.read(f"{remote.VERSIONS}/{name}/manifest.json")
        if got is None:
            raise FileNotFoundError(f"{remote.display_url(url)}/{remote.VERSIONS}/{name}: removed meanwhile")
        return _read_version(obj, {"version_dir": name}, names, m=json.loads(got[0]))


def _read_version(obj: remote.Objects, ptr: dict, names: tuple[str, ...], m: dict | None = None) -> dict[str, "pa.Table"]:
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    if m is None:
        m, _ = remote._read_manifest(obj, ptr)
    files = remote._table_files(m)
    pafs = PyFileSystem(FSSpecHandler(obj.fs))
    out = {}
    for n in names:
        base = obj.key(f"{remote.VERSIONS}/{ptr['version_dir']}/{n}")
        same = m["tables"].get(n, {}).get("schema_hash") == schemas.load(n).fingerprint
        out[n] = read_files(n, base, [f"{base}/{f['path']}" for t, f in files if t == n],
                                    filesystem=pafs, check=not same)
    return out

