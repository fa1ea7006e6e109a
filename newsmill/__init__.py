"""newsmill: news pages in, validated article and comment datasets out.

Public API (stable):

- :func:`newsmill.pipeline.run` - run the whole pipeline without Prefect.
- :func:`newsmill.extract.extract_page` - one page's bytes to records.
- :mod:`newsmill.schema` - the record schemas from ``schemas/``.
- :func:`read_table`, :func:`read_tables` - a published dataset, from an output folder or a
  remote output URL (``s3://...``), typed as the schemas say; the current version, or an older
  one the output keeps (``version=``, ``as_of=``; :func:`list_versions`, ``newsmill versions``).
"""
__all__ = ["__version__", "list_versions", "read_table", "read_tables"]


def read_table(name: str, location, *, storage_options: dict | None = None, version=None, as_of=None):
    """One table (``"articles"`` or ``"comments"``) of the current version as a pyarrow Table.

    ``location``: an output folder, or a URL such as ``s3://bucket/ds`` (its committed
    version, found through its pointer; ``storage_options`` as for fsspec/pandas).
    ``version`` (a number, folder name or run id) or ``as_of`` (a date or time: the newest
    version committed by then) read an older version the output keeps.
    Imported on use: ``import newsmill`` stays cheap.
    """
    from newsmill.store import reading

    return reading.read_table(name, location, storage_options=storage_options, version=version, as_of=as_of)


def read_tables(location, *, storage_options: dict | None = None, version=None, as_of=None) -> dict:
    """Both tables from one and the same version: ``{"articles": Table, "comments": Table}``
    (the current version, or the one ``version``/``as_of`` name, as for :func:`read_table`)."""
    from newsmill.store import reading

    return reading.read_tables(location, storage_options=storage_options, version=version, as_of=as_of)


def list_versions(location, *, storage_options: dict | None = None) -> list:
    """The versions an output keeps, newest first (``newsmill.store.history.VersionInfo``)."""
    from newsmill.store import history

    return history.list_versions(location, storage_options=storage_options)


def __getattr__(name: str):
    """``newsmill.__version__``, read from the installed package's metadata on first use (importing
    importlib.metadata costs every ``newsmill`` command ~50 ms at start)."""
    if name == "__version__":
        from newsmill.version import __version__

        return __version__
    raise AttributeError(f"module 'newsmill' has no attribute {name!r}")
