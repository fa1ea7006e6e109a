"""newsmill: news pages in, validated article and comment datasets out.

Public API (stable):

- :func:`newsmill.pipeline.run` - run the whole pipeline without Prefect.
- :func:`newsmill.extract.extract_page` - one page's bytes to records.
- :mod:`newsmill.schema` - the record schemas from ``schemas/``.
- :func:`read_table`, :func:`read_tables` - a published dataset, from an output folder or a
  remote output URL (``s3://...``), typed as the schemas say.
"""
from newsmill.version import __version__

__all__ = ["__version__", "read_table", "read_tables"]


def read_table(name: str, location, *, storage_options: dict | None = None):
    """One table (``"articles"`` or ``"comments"``) of the current version as a pyarrow Table.

    ``location``: an output folder, or a URL such as ``s3://bucket/ds`` (its committed
    version, found through its pointer; ``storage_options`` as for fsspec/pandas).
    Imported on use: ``import newsmill`` stays cheap.
    """
    from newsmill.store import reading

    return reading.read_table(name, location, storage_options=storage_options)


def read_tables(location, *, storage_options: dict | None = None) -> dict:
    """Both tables from one and the same version: ``{"articles": Table, "comments": Table}``."""
    from newsmill.store import reading

    return reading.read_tables(location, storage_options=storage_options)
