"""Self-tests of the JSON Schema -> hypothesis builder in ``schema_strategies``.

Each supported keyword gets a small schema whose generated values must validate (jsonschema with
format checking); keywords the builder does not understand must fail loudly.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import find, given
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from schema_strategies import SpecDocument, UnsupportedSchema, canonical

KEYWORD_SCHEMAS: dict[str, dict[str, Any]] = {
    "type-list-and-null": {"type": ["integer", "null", "boolean"]},
    "enum": {"type": "string", "enum": ["a", "b", ""]},
    "enum-narrowed": {"type": "string", "enum": ["a", "bb", 3], "maxLength": 1},
    "const": {"type": "string", "const": "tick"},
    "object": {
        "type": "object",
        "required": ["id", "odd~/key"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "odd~/key": {"type": "string"},
            "note": {"type": "string", "maxLength": 3},
        },
    },
    "closed-object": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": {"type": "boolean"}},
    },
    "map-with-min-properties": {
        "type": "object",
        "minProperties": 2,
        "additionalProperties": {"type": "number", "minimum": 0},
    },
    "object-min-properties": {
        "type": "object",
        "minProperties": 2,
        "additionalProperties": False,
        "properties": {"a": {"type": "null"}, "b": {"type": "null"}, "c": {"type": "null"}},
    },
    "array": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
    "string-lengths": {"type": "string", "minLength": 2, "maxLength": 4},
    "pattern": {"type": "string", "pattern": "^bid,", "maxLength": 20},
    "anchored-pattern": {"type": "string", "pattern": "^[1-9][0-9]{0,5}[smhd]$"},
    "integer-bounds": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10},
    "number-bounds": {"type": "number", "minimum": -1.5, "exclusiveMaximum": 2.5},
    "number-exclusive-min": {"type": "number", "exclusiveMinimum": 0, "maximum": 1.0e9},
    "date-time": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "password": {"type": "string", "format": "password", "minLength": 1},
    "any-of": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "annotated"},
    "one-of": {"oneOf": [{"type": "string", "enum": ["a", "b"]}, {"enum": ["b", "c"]}]},
    "ref": {"$ref": "#/components/schemas/object", "description": "siblings may annotate"},
    "annotations-only": {"description": "any JSON value", "x-vendor": True},
}

# name -> (schema, what the error message must say)
UNSUPPORTED: dict[str, tuple[dict[str, Any], str]] = {
    "multipleOf": ({"type": "integer", "multipleOf": 5}, "'multipleOf'"),
    "allOf": ({"allOf": [{"type": "string"}]}, "'allOf'"),
    "not": ({"not": {"type": "string"}}, "'not'"),
    "patternProperties": ({"type": "object", "patternProperties": {"^x": {}}}, "patternProp"),
    "unknown-format": ({"type": "string", "format": "email"}, "format 'email'"),
    "bool-exclusive": ({"type": "number", "exclusiveMinimum": True}, "OpenAPI 3.0"),
    "nullable": ({"type": "string", "nullable": True}, "'nullable'"),
    "ref-with-assertions": ({"$ref": "#/components/schemas/x", "minLength": 1}, "beside"),
    "remote-ref": ({"$ref": "https://example.com/schema.json"}, "only local"),
    "type-less-assertions": ({"properties": {"a": {}}}, "without a `type`"),
    "impossible-enum": ({"type": "integer", "enum": ["a"]}, "no enum/const value is valid"),
}


def _document(schemas: dict[str, Any], dialect: str = "2020-12") -> SpecDocument:
    return SpecDocument({"components": {"schemas": schemas}}, dialect=dialect, uri="urn:test")


KEYWORDS = _document(KEYWORD_SCHEMAS)
BROKEN = _document({name: schema for name, (schema, _) in UNSUPPORTED.items()})


@pytest.mark.parametrize("name", sorted(KEYWORD_SCHEMAS))
@given(data=st.data())
def test_generated_values_validate(name: str, data: st.DataObject) -> None:
    """Every value drawn for a schema validates against it with jsonschema (formats checked)."""
    pointer = f"#/components/schemas/{name}"
    KEYWORDS.validator(pointer).validate(data.draw(KEYWORDS.strategy(pointer)))


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_keywords_fail_loudly(name: str) -> None:
    """A keyword (or form of one) the builder does not translate raises, naming the schema."""
    with pytest.raises(UnsupportedSchema, match=re.escape(UNSUPPORTED[name][1])):
        BROKEN.strategy(f"#/components/schemas/{name}")


def test_unsupported_keyword_deep_in_a_ref_fails_when_the_strategy_is_built() -> None:
    """A bad keyword behind a $ref fails at strategy construction, not at a later draw."""
    spec = _document({"outer": {"$ref": "#/components/schemas/inner"}, "inner": {"not": {}}})
    with pytest.raises(UnsupportedSchema, match="'not'"):
        spec.strategy("#/components/schemas/outer")


def test_pattern_is_a_search_not_a_full_match() -> None:
    """``^ask,`` produces text after the prefix too, as JSON Schema's unanchored pattern allows."""
    spec = _document({"ask": {"type": "string", "pattern": "^ask,"}})
    assert find(spec.strategy("#/components/schemas/ask"), lambda s: len(s) > 4).startswith("ask,")


def test_one_of_keeps_only_values_matching_exactly_one_branch() -> None:
    """For oneOf [enum a|b, enum b|c] the value ``b`` (valid in both branches) is never drawn."""
    with pytest.raises(NoSuchExample):
        find(KEYWORDS.strategy("#/components/schemas/one-of"), lambda value: value == "b")


def test_format_checking_is_active() -> None:
    """The validators reject a malformed date-time and uuid, so format checks are not skipped."""
    assert not KEYWORDS.is_valid("#/components/schemas/date-time", "2026-13-01T00:00:00Z")
    assert not KEYWORDS.is_valid("#/components/schemas/date-time", "2026-12-01T00:00:00")
    assert not KEYWORDS.is_valid("#/components/schemas/uuid", "not-a-uuid")


def test_draft7_documents_validate_too() -> None:
    """The AsyncAPI dialect (draft-07) resolves $refs against the whole document as well."""
    spec = _document(KEYWORD_SCHEMAS, dialect="draft7")
    assert spec.is_valid("#/components/schemas/ref", {"id": 1, "odd~/key": ""})
    assert not spec.is_valid("#/components/schemas/ref", {"id": 0, "odd~/key": ""})


def test_canonical_compares_meaning_not_spelling() -> None:
    """Equal instants in different spellings are equal; undeclared keys go unless extras=True."""
    spec = _document(
        {"t": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}}
    )
    pointer = "#/components/schemas/t"
    zulu = {"at": "2026-12-01T10:00:00Z", "extra": 1}
    offset = {"at": "2026-12-01T11:00:00.000+01:00"}
    assert canonical(spec, pointer, zulu, extras=False) == canonical(
        spec, pointer, offset, extras=False
    )
    assert canonical(spec, pointer, zulu, extras=True) != canonical(
        spec, pointer, offset, extras=True
    )
