"""Imported last by the workers' fork server (``newsmill.runtime.executors.PRELOAD``), after the extraction code.

``gc.freeze()`` moves everything imported so far out of the garbage collector's reach:
otherwise every collection in a forked worker writes to those objects' headers and
copies their memory pages, one by one, into each worker (Python's documented use of it).
"""
import gc

gc.freeze()
