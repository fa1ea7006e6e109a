"""Which rows get published: the Great Expectations suites and their run (``gx_run``), the run done
chunk by chunk with the checks that span chunks (``chunked``), regexes over Arrow columns
(``arrow_regex``), and the run report with GX Data Docs (``report``)."""
