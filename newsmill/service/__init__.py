"""Long-lived processes around runs: the warm worker (server side) and its client, newsmill's local Prefect server."""
