"""newsmill: news pages in, validated article and comment datasets out.

Public API (stable):

- :func:`newsmill.pipeline.run` - run the whole pipeline without Prefect.
- :func:`newsmill.extract.extract_page` - one page's bytes to records.
- :mod:`newsmill.schema` - the record schemas from ``schemas/``.
"""
from newsmill.version import __version__

__all__ = ["__version__"]
