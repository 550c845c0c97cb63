"""Request validation of the sandbox REST app: the spec's request schemas and a small validator.

The wheel ships no copy of `specs/openapi.yaml` and ``jsonschema`` is a development dependency,
so the schemas the app validates requests against are copied here from the spec's
``components`` (validation keywords only: no descriptions, examples or ``x-`` extensions), and a
small validator covers the JSON Schema keywords they use. A unit test compares `SCHEMAS` with the
spec, so the copy cannot drift.

`validate` returns every failure as a `Failure` (path, message, type), FastAPI style, so a 422
names each failing field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._market_time import parse_datetime_ms

__all__ = ["PARAMETERS", "SCHEMAS", "Failure", "validate"]

_REF = "#/components/schemas/"

SCHEMAS: dict[str, dict[str, Any]] = {
    "LoginForm": {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "minLength": 1, "maxLength": 320},
            "password": {"type": "string", "minLength": 1, "maxLength": 1024, "format": "password"},
        },
    },
    "TokenRequest": {
        "type": "object",
        "required": ["grant_type", "client_id"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
            "client_id": {"type": "string", "minLength": 1},
            "username": {"type": "string", "minLength": 1},
            "password": {"type": "string", "format": "password", "minLength": 1},
            "refresh_token": {"type": "string", "minLength": 1},
        },
    },
    "Side": {"type": "string", "enum": ["buy", "sell"]},
    "CountryCode": {"type": "string", "enum": ["CZ", "DE", "CH", "ES", "FI", "FR", ""]},
    "OrderLocation": {
        "type": "object",
        "required": ["country_code"],
        "properties": {
            "location_id": {
                "anyOf": [
                    {
                        "type": "array",
                        "items": {
                            "anyOf": [
                                {"type": "string", "minLength": 1, "maxLength": 128},
                                {"type": "null"},
                            ]
                        },
                        "maxItems": 1000,
                    },
                    {"type": "null"},
                ]
            },
            "country_code": {"$ref": _REF + "CountryCode"},
        },
    },
    "DataPoint": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"type": "number"},
    },
    "Baseline": {
        "type": "object",
        "required": [
            "metering_id",
            "created_at",
            "reading_start",
            "reading_end",
            "resolution",
            "direction",
            "quality",
            "energy_product",
            "unit_measured",
            "data_points",
        ],
        "properties": {
            "metering_id": {"type": "string", "format": "uuid"},
            "created_at": {"type": "string", "format": "date-time"},
            "reading_start": {"type": "string", "format": "date-time"},
            "reading_end": {"type": "string", "format": "date-time"},
            "resolution": {"type": "integer", "exclusiveMinimum": 0},
            "direction": {"type": "string", "enum": ["consumption", "production"]},
            "quality": {"type": "string", "enum": ["estimated", "measured"]},
            "energy_product": {"type": "string", "enum": ["apparent", "active", "reactive"]},
            "unit_measured": {"type": "string", "enum": ["kWh", "Wh", "MWh"]},
            "data_points": {"type": "array", "items": {"$ref": _REF + "DataPoint"}},
        },
    },
    "OrderRequest": {
        "type": "object",
        "required": [
            "side",
            "power",
            "price",
            "delivery_start",
            "delivery_end",
            "expiry_time",
            "location",
        ],
        "properties": {
            "side": {"$ref": _REF + "Side"},
            "power": {"type": "number", "exclusiveMinimum": 0, "maximum": 1.0e9},
            "price": {"type": "number", "minimum": 0, "maximum": 1.0e6},
            "delivery_start": {"type": "string", "format": "date-time"},
            "delivery_end": {"type": "string", "format": "date-time"},
            "expiry_time": {"type": "string", "format": "date-time"},
            "location": {"$ref": _REF + "OrderLocation"},
            "baseline": {"anyOf": [{"$ref": _REF + "Baseline"}, {"type": "null"}]},
        },
    },
    "OrderStatus": {
        "type": "string",
        "enum": [
            "pending",
            "awaiting_baseline_data",
            "selected_for_baseline_activation",
            "accepted",
            "matching_active",
            "filled",
            "partial_filled",
            "cancelled",
            "expired",
        ],
    },
    "ContractStatus": {"type": "string", "enum": ["active", "settled", "cancelled"]},
}
"""The spec's request-side component schemas (validation keywords only)."""

PARAMETERS: dict[str, dict[str, Any]] = {
    "token": {"type": "string", "minLength": 1, "maxLength": 256},
    "relativeTime": {"type": "string", "pattern": "^[1-9][0-9]{0,5}[smhd]$", "default": "1h"},
    "If-None-Match": {"type": "string", "maxLength": 256},
    "OrderId": {"type": "integer", "minimum": 1},
    "contract_id": {"type": "integer", "minimum": 1},
    "Limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    "Offset": {"type": "integer", "minimum": 0, "default": 0},
}
"""The spec's parameter schemas, by parameter (or ``components/parameters``) name."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TYPE_NAMES = {
    "string": ("string_type", "Input should be a valid string"),
    "number": ("float_type", "Input should be a valid number"),
    "integer": ("int_type", "Input should be a valid integer"),
    "object": ("dict_type", "Input should be a valid object"),
    "array": ("list_type", "Input should be a valid list"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "null": ("none_required", "Input should be null"),
}


@dataclass(frozen=True, slots=True)
class Failure:
    """One failing field: its path (``("body", "power")``), a message and an error type."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


def _is_type(value: object, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "number":
        if isinstance(value, float):
            return math.isfinite(value)
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    return value is None  # "null"


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[str(schema["$ref"]).removeprefix(_REF)]
    return schema


def validate(value: object, schema: Mapping[str, Any], loc: tuple[str | int, ...]) -> list[Failure]:
    """Every failure of ``value`` against ``schema`` (an entry of `SCHEMAS` or a sub-schema)."""
    return list(_iter(value, _resolve(schema), loc))


def _iter(
    value: object, schema: Mapping[str, Any], loc: tuple[str | int, ...]
) -> Iterator[Failure]:
    if "anyOf" in schema:
        branches = [validate(value, branch, loc) for branch in schema["anyOf"]]
        if all(branches):
            yield _best(branches, loc)
        return
    expected = schema.get("type")
    if expected is not None and not _is_type(value, expected):
        kind, msg = _TYPE_NAMES[expected]
        yield Failure(loc, msg, kind)
        return
    if "enum" in schema and value not in schema["enum"]:
        options = ", ".join(repr(v) for v in schema["enum"])
        yield Failure(loc, f"Input should be one of {options}", "enum")
        return
    if isinstance(value, str):
        yield from _string(value, schema, loc)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield from _number(value, schema, loc)
    elif isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield Failure(loc, f"List should have at most {schema['maxItems']} items", "too_long")
        items = schema.get("items")
        if items is not None:
            for i, item in enumerate(value):
                yield from validate(item, items, (*loc, i))
    elif isinstance(value, Mapping):
        yield from _object(value, schema, loc)


def _best(branches: list[list[Failure]], loc: tuple[str | int, ...]) -> Failure:
    """The failure to report when no ``anyOf`` branch fits: the deepest non-null branch's first."""
    real = [b for b in branches if not (len(b) == 1 and b[0].type == "none_required")]
    if real:
        return max(real, key=lambda b: len(b[0].loc))[0]
    return Failure(loc, "Input does not match any allowed form", "union")


def _string(value: str, schema: Mapping[str, Any], loc: tuple[str | int, ...]) -> Iterator[Failure]:
    if "minLength" in schema and len(value) < schema["minLength"]:
        n = schema["minLength"]
        yield Failure(
            loc, f"String should have at least {n} character{'s' * (n != 1)}", "too_short"
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        yield Failure(
            loc, f"String should have at most {schema['maxLength']} characters", "too_long"
        )
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        yield Failure(loc, f"String should match pattern '{schema['pattern']}'", "pattern_mismatch")
    fmt = schema.get("format")
    if fmt == "date-time":
        try:
            parse_datetime_ms(value)
        except ValueError as exc:
            yield Failure(loc, f"Input {exc}", "datetime_parsing")
    elif fmt == "uuid" and _UUID.match(value) is None:
        yield Failure(loc, "Input should be a valid UUID", "uuid_parsing")


def _number(
    value: float, schema: Mapping[str, Any], loc: tuple[str | int, ...]
) -> Iterator[Failure]:
    if "minimum" in schema and value < schema["minimum"]:
        m = schema["minimum"]
        yield Failure(loc, f"Input should be greater than or equal to {m}", "greater_than_equal")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        yield Failure(
            loc, f"Input should be greater than {schema['exclusiveMinimum']}", "greater_than"
        )
    if "maximum" in schema and value > schema["maximum"]:
        m = schema["maximum"]
        yield Failure(loc, f"Input should be less than or equal to {m:g}", "less_than_equal")


def _object(
    value: Mapping[str, Any], schema: Mapping[str, Any], loc: tuple[str | int, ...]
) -> Iterator[Failure]:
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        n = schema["minProperties"]
        yield Failure(loc, f"Object should have at least {n} properties", "too_short")
    for name in schema.get("required", ()):
        if name not in value:
            yield Failure((*loc, name), "Field required", "missing")
    properties: Mapping[str, Any] = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = properties.get(key)
        if sub is not None:
            yield from validate(item, sub, (*loc, key))
        elif isinstance(additional, Mapping):
            yield from validate(item, additional, (*loc, key))
        elif additional is False:
            yield Failure((*loc, key), "Extra inputs are not permitted", "extra_forbidden")
