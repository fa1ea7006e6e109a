"""Input sources: where page bytes come from (files now; archives and live fetching plug in here)."""
from newsmill.sources.files import discover, read_input

__all__ = ["discover", "read_input"]
