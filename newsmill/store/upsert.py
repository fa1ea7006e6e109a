"""Row-level upsert by primary key, in Arrow compute (no Python loop per row).

Kept apart from the file protocol (``versions``) so that what "changed" means is
decided in one place: a row is unchanged when every field except the
:data:`VOLATILE` provenance is equal, nulls equal to nulls, and an unchanged row
keeps its old provenance, so re-running a batch rewrites nothing.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsmill.schema import row_key

# Provenance that changes without the record changing; ignored when deciding
# whether a row is unchanged (the old value is kept). The input's address and
# hash belong here too: a page fetched again with new comments has new bytes
# (and, from a new archive, a new address), but its old comments are the same
# records and keep the provenance of the extraction that first produced them.
VOLATILE = ("extracted_at", "pipeline_version", "input_uri", "input_sha256")


key = row_key  # a row's primary key, one string (``newsmill.schema.row_key``)


def locate_existing(old_keys: dict[str, pa.Array], keys: pa.Array, rel: pa.Array):
    """Where the batch's keys already live, computed once for the whole batch.

    ``old_keys``: per existing partition, its keys. ``rel``: each batch row's partition folder
    (strings, or dictionary-encoded). Returns ({partition: mask of its rows whose key now belongs
    to another partition}, per-batch-row "key exists somewhere"): a key that moved (e.g. its year
    was corrected) must leave its old partition or the dataset would hold it twice, and it counts
    as an update, not an insert. Partitions are compared as integer codes: nothing per row but
    the keys themselves.
    """
    names = list(old_keys)
    if isinstance(rel, pa.DictionaryArray):
        dict_codes = pc.index_in(rel.dictionary, value_set=pa.array(names, pa.string()))
        codes = pc.take(dict_codes, rel.indices)
    else:
        codes = pc.index_in(rel, value_set=pa.array(names, pa.string()))
    codes = pc.fill_null(codes.cast(pa.int32()), -1)  # -1: a partition that does not exist yet
    ex_key = pa.chunked_array(list(old_keys.values()), pa.string())
    ex_code = pa.array(np.repeat(np.arange(len(names), dtype=np.int32), [len(k) for k in old_keys.values()]),
                       pa.int32())
    target = pc.take(codes, pc.index_in(ex_key, value_set=keys))  # null: key not in this batch
    moved = pc.fill_null(pc.not_equal(target, ex_code), False)
    moved_out, offset = {}, 0
    for d, k in old_keys.items():
        m = moved.slice(offset, len(k))
        m = m.combine_chunks() if isinstance(m, pa.ChunkedArray) else m
        offset += len(k)
        if pc.any(m).as_py():
            moved_out[d] = m
    return moved_out, pc.is_in(keys, value_set=ex_key)


def row_groups(rel: pa.Array) -> dict[str, pa.Array]:
    """Row indices per partition: one sort instead of one filter per partition."""
    order = pc.sort_indices(rel)
    groups, start = {}, 0
    for g in pc.value_counts(rel.take(order)).to_pylist():
        groups[g["values"]] = order.slice(start, g["counts"])
        start += g["counts"]
    return groups


def rows_equal(a: pa.Table, b: pa.Table) -> pa.Array:
    """Per-row equality, nulls equal to nulls (list columns compared in Python:
    pyarrow's comparison kernels do not take lists)."""
    if a.equals(b):
        return pa.array([True] * a.num_rows, pa.bool_())
    result = pa.array([True] * a.num_rows, pa.bool_())
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_list(x.type) or pa.types.is_large_list(x.type):
            eq = pa.array([p == q for p, q in zip(x.to_pylist(), y.to_pylist())], pa.bool_())
        else:
            both_null = pc.and_(pc.is_null(x), pc.is_null(y))
            eq = pc.fill_null(pc.or_kleene(pc.equal(x, y), both_null), False)
        result = pc.and_(result, eq)
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result
