"""Pipeline version, stamped on every record as provenance."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsmill")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"
