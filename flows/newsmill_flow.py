"""For ``prefect deploy flows/newsmill_flow.py:newsmill_flow`` from a checkout: the flow lives in
:mod:`newsmill.flow`, which is what an installed newsmill (and ``newsmill serve``) uses."""
from newsmill.flow import newsmill_flow, run_flow  # noqa: F401
