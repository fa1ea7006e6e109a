"""What a batch must satisfy before anything is written (``newsmill.store.checks``), tested directly."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from newsmill import schema
from newsmill.store import checks
from tests.store.conftest import articles, sample_articles


def test_a_conforming_batch_comes_back_in_schema_order_and_types():
    t = sample_articles()
    shuffled = t.select(list(reversed(t.column_names)))
    out = checks.conform_input(shuffled, schema.load("articles"))
    assert out.schema.equals(schema.load("articles").arrow())
    assert out.column("article_id").to_pylist() == t.column("article_id").to_pylist()


def test_a_key_given_twice_is_refused_and_named():
    t = articles(("dawn", 2023, "same"), ("dawn", 2024, "same"), ("dawn", 2024, "other"))
    with pytest.raises(ValueError, match=r"1 duplicate primary key\(s\).*'same'"):
        checks.conform_input(t, schema.load("articles"))


def test_naive_timestamps_nulls_in_required_fields_and_unknown_columns_are_refused():
    s = schema.load("articles")
    t = sample_articles()
    ts = next(f.name for f in s.fields if f.type == "timestamp")
    naive = t.set_column(t.column_names.index(ts), ts, pc.cast(t.column(ts), pa.timestamp("us")))
    with pytest.raises(ValueError, match="time-zone aware"):
        checks.conform_input(naive, s)
    required = next(f.name for f in s.fields if not f.nullable and f.name not in s.primary_key)
    nulls = t.set_column(t.column_names.index(required), required, pa.nulls(t.num_rows, t.schema.field(required).type))
    with pytest.raises(ValueError, match="non-nullable"):
        checks.conform_input(nulls, s)
    with pytest.raises(ValueError, match=r"unknown \['surplus'\]"):
        checks.conform_input(t.append_column("surplus", pa.array([1] * t.num_rows)), s)


@pytest.mark.parametrize("value", ["../up", "a/b", "", "x" * 201, "Upper", "nul\x00"])
def test_a_partition_value_that_could_escape_or_hide_is_refused(value):
    with pytest.raises(ValueError, match="unsafe partition value"):
        checks.check_partition_value("source", value, True)


def test_partition_folders_are_hive_names_with_the_null_marker():
    t = articles(("dawn", 2023, "a"), ("tribune.pk", None, "b"))
    assert checks.partition_dirs(t, schema.load("articles")).to_pylist() == [
        "year=2023", f"year={checks.NULL_PARTITION}"]  # source is a column of the files (issue 15)


@pytest.mark.parametrize("run_id", ["../x", "a/b", ".hidden", "", "a..b"])
def test_run_ids_and_table_names_that_are_not_plain_names_are_refused(run_id):
    with pytest.raises(ValueError, match="invalid run_id"):
        checks.checked_run_id(run_id)
    with pytest.raises(ValueError, match="invalid table name"):
        checks.checked_name(run_id or "Articles")
