"""The data dictionary in the docs is generated from schemas/ and must not drift."""
from newsmill import docs


def test_data_dictionary_is_current():
    for path in docs.TARGETS:
        current = path.read_text(encoding="utf-8")
        assert docs.render(current) == current, f"{path.name} is stale: run `make docs`"


def test_every_field_is_documented():
    from newsmill import schema

    for name in ("articles", "comments", "rejects"):
        for f in schema.load(name).fields:
            assert len(f.description) > 15, f"{name}.{f.name} needs a description"
