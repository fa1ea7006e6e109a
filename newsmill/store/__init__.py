"""The output: versioned Parquet datasets in a local folder, or at an object-store URL through a local mirror.

``publish`` builds and commits a version (``versions``, ``partfile``, ``sorted_runs``, ``upsert``,
``checks``, ``manifest``, ``card``) under the output's ``lock``; ``ledger`` remembers the inputs seen;
``remote`` mirrors a URL output (``objstore``); ``staging`` is a run's work area; ``reading`` reads
a committed version back.
"""
