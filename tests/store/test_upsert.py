"""Row-level upsert by key (``newsmill.store.upsert``), tested directly."""
from __future__ import annotations

import pyarrow as pa

from newsmill import schema
from newsmill.store import upsert


def test_a_composite_key_is_one_string_per_row_and_null_when_a_part_is_null():
    t = pa.table({"a": ["x", "x", None], "b": [1, 2, 3]})
    keys = upsert.key(t, ("a", "b")).to_pylist()
    assert keys[0] != keys[1] and keys[2] is None
    assert upsert.key(t, ("b",)).to_pylist() == ["1", "2", "3"]
    assert upsert.key is schema.row_key  # one row-key function for the store and validation


def test_rows_are_equal_with_nulls_equal_to_nulls_lists_compared_by_value():
    a = pa.table({"s": ["x", None, "y", "z"], "l": [["p"], None, [], ["q", "r"]]})
    b = pa.table({"s": ["x", None, "y", "Z"], "l": [["p"], None, [None], ["q", "r"]]})
    assert upsert.rows_equal(a, b).to_pylist() == [True, True, False, False]
    assert upsert.rows_equal(a, a).to_pylist() == [True] * 4


def test_keys_found_in_another_partition_are_located():
    old = {"source=a/year=2020": pa.array(["k1", "k2"]), "source=a/year=2021": pa.array(["k3"])}
    keys = pa.array(["k2", "k3", "k9"])
    rel = pa.array(["source=a/year=2020", "source=a/year=2020", "source=a/year=2021"])
    moved, exists = upsert.locate_existing(old, keys, rel)
    assert exists.to_pylist() == [True, True, False]
    # k3's new row is in year=2020: its old partition must drop it; year=2020 keeps k1 and k2
    assert {d: m.to_pylist() for d, m in moved.items()} == {"source=a/year=2021": [True]}


def test_rows_are_grouped_by_partition_with_one_sort():
    rel = pa.array(["b", "a", "b", "c", "a"])
    groups = {k: v.to_pylist() for k, v in upsert.row_groups(rel).items()}
    assert groups == {"a": [1, 4], "b": [0, 2], "c": [3]}
