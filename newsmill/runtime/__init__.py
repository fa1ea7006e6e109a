"""Where and how a run's work runs: executors (local processes, Dask), the batch runner, progress, the
schedule of ``newsmill serve``, and the fail points that crash tests aim at."""
