"""Hypothesis strategies built from the JSON Schemas in our specs, and validators for them.

Why a builder of our own: hypothesis-jsonschema 0.23.1 is broken with hypothesis 6.170 (its
strategies fail with ``'many' object has no attribute 'more'``), and pinning an older hypothesis
would hold the whole test suite back. Our specs use a small, stable subset of JSON Schema, so this
module translates exactly that subset and nothing more:

    type (a name or a list, incl. "null"), enum, const, properties, required,
    additionalProperties (bool or schema), minProperties, items, minItems, maxItems,
    minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum
    (numeric, 2020-12 style), format (date-time, uuid, password), anyOf, oneOf, $ref (local).

Any other keyword raises :class:`UnsupportedSchema` naming the keyword and the JSON pointer of
the schema, so the specs cannot silently outgrow the tests: teach this module the keyword first.
Annotations (``description``, ``title``, ``example(s)``, ``discriminator``, ``x-*``) are ignored.

Choices, each faithful to JSON Schema unless it says otherwise:

- ``pattern`` is an unanchored search in JSON Schema (ECMA-262 ``test``), so strings come from
  ``st.from_regex(pattern)`` *without* ``fullmatch``: ``^ask,`` means "starts with ``ask,``",
  and the text after the match is arbitrary. (``fullmatch=True`` would narrow it to ``ask,``.)
- Objects: ``required`` keys always, every other declared key sometimes. Where
  ``additionalProperties`` is absent (JSON Schema's default: allowed) up to two undeclared keys
  with JSON scalar values are added, as a newer server would send (scalars only: nested extras
  cost much generation time and exercise nothing more in the models); ``false`` adds none; a
  schema draws the extra values from it.
- ``number``: finite floats, plus integers within +-2**53 (the integers a JSON parser holds
  exactly as a double, RFC 8259 section 6). ``integer``: unbounded unless the schema bounds it.
- ``date-time``: RFC 3339 text from real datetimes (years 1900-2999, no leap second), offset
  ``Z`` or +-HH:MM, 0, 3 or 6 fractional digits: the models hold microseconds, so more digits
  would test rounding, not the models. ``uuid``: canonical lower-case text. ``password``: any
  string (the format is a UI hint and asserts nothing).
- Arrays and maps get at most 3 entries beyond their minimum (``maxItems`` still applies):
  enough to find bugs, small enough for 200 examples per model in seconds.
- ``oneOf`` values are kept only if exactly one branch validates; ``anyOf`` takes any branch.
- ``anyOf``/``oneOf``/``$ref`` beside other assertions (not annotations) are refused: a
  conjunction would need filtering this module does not do.

Validation uses ``jsonschema`` with format checking (:func:`format_checker` refuses to run without
the ``date-time`` checker, which needs ``rfc3339-validator``), and resolves ``$ref`` against the
whole spec document: OpenAPI 3.1 schemas as JSON Schema 2020-12, AsyncAPI 3.0 schemas as draft-07.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
from hypothesis import strategies as st

Schema = Mapping[str, Any]
Strategy = st.SearchStrategy[Any]

ASSERTIONS = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "format",
        "anyOf",
        "oneOf",
        "$ref",
    }
)
ANNOTATIONS = frozenset({"description", "title", "example", "examples", "discriminator"})
FORMATS = frozenset({"date-time", "uuid", "password"})
TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
EXACT_FLOAT_INTEGERS = 2**53
MAX_EXTRA_PROPERTIES = 2
MAX_ITEMS = 3  # beyond minItems / minProperties: enough to find bugs, small enough to be fast


class UnsupportedSchema(Exception):
    """A schema uses a keyword (or a form of one) that this module cannot translate."""


def escape(token: str) -> str:
    """Escape one JSON pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """Undo :func:`escape`."""
    return token.replace("~1", "/").replace("~0", "~")


@cache
def format_checker() -> jsonschema.FormatChecker:
    """A format checker that really checks the formats our specs use."""
    checker = jsonschema.FormatChecker()
    missing = {"date-time", "uuid"} - set(checker.checkers)
    if missing:
        raise RuntimeError(
            f"jsonschema cannot check format(s) {sorted(missing)}: install rfc3339-validator"
        )
    return checker


def json_scalars() -> Strategy:
    """Any JSON scalar: null, boolean, integer, finite float, string (no surrogates)."""
    return (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )


def json_values() -> Strategy:
    """Any JSON value, kept small."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=5,
    )


EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(2999, 12, 31, 23, 59, 59)


def _rfc3339(seconds: int, microseconds: int, offset_minutes: int | None, digits: int) -> str:
    """Format a wall-clock time (seconds after EARLIEST) at an offset; None means ``Z``."""
    moment = EARLIEST + timedelta(seconds=seconds, microseconds=microseconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    if offset_minutes is None:
        return text + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def date_times() -> Strategy:
    """RFC 3339 date-times; see the module docstring for the range and the precision.

    The instant is drawn as two integers rather than with ``st.datetimes`` (seven draws per
    value): date-times are in most models, and fewer draws keep the suite fast.
    """
    return st.builds(
        _rfc3339,
        st.integers(min_value=0, max_value=int((LATEST - EARLIEST).total_seconds())),
        st.integers(min_value=0, max_value=999_999),
        st.none() | st.integers(min_value=-12 * 60, max_value=14 * 60),
        st.sampled_from([0, 3, 6]),
    )


def parse_date_time(text: str) -> datetime:
    """Parse an RFC 3339 date-time as the models do (Python 3.11+ accepts ``Z``)."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"date-time without an offset: {text!r}")
    return parsed


class SpecDocument:
    """One spec document: strategies and validators for the schemas at JSON pointers in it."""

    def __init__(self, document: Mapping[str, Any], *, dialect: str, uri: str) -> None:
        """Dialect is ``2020-12`` (OpenAPI 3.1) or ``draft7`` (AsyncAPI 3.0 schema objects)."""
        specification = {
            "2020-12": referencing.jsonschema.DRAFT202012,
            "draft7": referencing.jsonschema.DRAFT7,
        }[dialect]
        self.document = document
        self.uri = uri
        self._validator_class = {
            "2020-12": jsonschema.Draft202012Validator,
            "draft7": jsonschema.Draft7Validator,
        }[dialect]
        resource = specification.create_resource(document)
        self._registry: referencing.Registry[Any] = referencing.Registry().with_resource(
            uri, resource
        )
        self._strategies: dict[str, Strategy] = {}
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    # -- navigation -------------------------------------------------------------------------

    def resolve(self, pointer: str) -> Schema:
        """The schema at a JSON pointer (``#/components/...``) in the document."""
        if not pointer.startswith("#/"):
            raise UnsupportedSchema(f"only local $refs are supported, not {pointer!r}")
        node: Any = self.document
        for token in pointer[2:].split("/"):
            node = node[int(token)] if isinstance(node, list) else node[unescape(token)]
        if not isinstance(node, Mapping):
            raise UnsupportedSchema(f"{pointer}: boolean or non-object schemas are not supported")
        return node

    def component_pointers(self) -> Iterator[str]:
        """Pointers of every schema under ``components/schemas``."""
        for name in self.document["components"]["schemas"]:
            yield f"#/components/schemas/{escape(name)}"

    # -- validation -------------------------------------------------------------------------

    def validator(self, pointer: str) -> jsonschema.protocols.Validator:
        """A format-checking validator for the schema at pointer, $refs resolved in the document."""
        if pointer not in self._validators:
            self.resolve(pointer)  # fail early on a bad pointer
            self._validators[pointer] = self._validator_class(
                {"$ref": f"{self.uri}{pointer}"},
                registry=self._registry,
                format_checker=format_checker(),
            )
        return self._validators[pointer]

    def is_valid(self, pointer: str, value: Any) -> bool:
        """Whether value is valid against the schema at pointer."""
        return bool(self.validator(pointer).is_valid(value))

    # -- strategies -------------------------------------------------------------------------

    def strategy(self, pointer: str) -> Strategy:
        """Values valid against the schema at pointer (translated once, then cached).

        Translation is eager, so an unsupported keyword fails when the strategy is asked for; a
        schema that reaches itself through ``$ref`` meets a deferred placeholder meanwhile.
        """
        if pointer not in self._strategies:
            built: list[Strategy] = []
            self._strategies[pointer] = st.deferred(lambda: built[0])
            try:
                built.append(self._build(pointer))
            finally:
                del self._strategies[pointer]
            self._strategies[pointer] = built[0]
        return self._strategies[pointer]

    def _build(self, pointer: str) -> Strategy:
        schema = self.resolve(pointer)
        _check_keywords(schema, pointer)
        assertions = {key for key in schema if key in ASSERTIONS}
        for combinator in ("$ref", "anyOf", "oneOf"):
            if combinator in schema and assertions != {combinator}:
                others = sorted(assertions - {combinator})
                raise UnsupportedSchema(f"{pointer}: {combinator} beside {others} is not supported")
        if "$ref" in schema:
            return self.strategy(schema["$ref"])
        if "anyOf" in schema:
            return st.one_of(self._branches(pointer, "anyOf"))
        if "oneOf" in schema:
            count = len(schema["oneOf"])
            branches = [f"{pointer}/oneOf/{i}" for i in range(count)]
            return st.one_of(self._branches(pointer, "oneOf")).filter(
                lambda value: sum(self.is_valid(b, value) for b in branches) == 1
            )
        if "const" in schema or "enum" in schema:
            # the listed values, less any the schema's other keywords (type, lengths...) rule out
            listed = [schema["const"]] if "const" in schema else schema["enum"]
            values = [value for value in listed if self.is_valid(pointer, value)]
            if not values:
                raise UnsupportedSchema(f"{pointer}: no enum/const value is valid")
            return st.sampled_from(values)
        if "type" not in schema:
            if assertions:
                raise UnsupportedSchema(f"{pointer}: {sorted(assertions)} without a `type`")
            return json_values()
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        unknown = set(types) - TYPES
        if unknown:
            raise UnsupportedSchema(f"{pointer}: unknown type(s) {sorted(unknown)}")
        builders: dict[str, Callable[[Schema, str], Strategy]] = {
            "null": lambda _s, _p: st.none(),
            "boolean": lambda _s, _p: st.booleans(),
            "integer": _integers,
            "number": _numbers,
            "string": _strings,
            "array": self._arrays,
            "object": self._objects,
        }
        return st.one_of([builders[name](schema, pointer) for name in types])

    def _branches(self, pointer: str, keyword: str) -> list[Strategy]:
        branches = self.resolve(pointer)[keyword]
        if not isinstance(branches, list) or not branches:
            raise UnsupportedSchema(f"{pointer}: {keyword} must be a non-empty list")
        return [self.strategy(f"{pointer}/{keyword}/{i}") for i in range(len(branches))]

    def _arrays(self, schema: Schema, pointer: str) -> Strategy:
        items = self.strategy(f"{pointer}/items") if "items" in schema else json_values()
        fewest = schema.get("minItems", 0)
        most = min(schema.get("maxItems", math.inf), fewest + MAX_ITEMS)
        return st.lists(items, min_size=fewest, max_size=int(most))

    def _objects(self, schema: Schema, pointer: str) -> Strategy:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required: list[str] = schema.get("required", [])
        undeclared = [name for name in required if name not in properties]
        if undeclared:
            raise UnsupportedSchema(f"{pointer}: required {undeclared} not in properties")
        declared = {
            name: self.strategy(f"{pointer}/properties/{escape(name)}") for name in properties
        }
        base = st.fixed_dictionaries(
            {name: declared[name] for name in required},
            optional={name: s for name, s in declared.items() if name not in required},
        )
        additional = schema.get("additionalProperties", True)
        least = schema.get("minProperties", 0)
        if additional is False:
            extras: Strategy = st.just({})
        else:
            if additional is True:
                values, most = json_scalars(), MAX_EXTRA_PROPERTIES
            elif isinstance(additional, Mapping):
                values, most = self.strategy(f"{pointer}/additionalProperties"), MAX_ITEMS
            else:
                raise UnsupportedSchema(f"{pointer}: additionalProperties must be bool or schema")
            keys = st.text(max_size=12).filter(lambda key: key not in properties)
            # a pure map (no declared properties) draws its size instead of filtering for it
            fewest = 0 if properties else least
            extras = st.dictionaries(keys, values, min_size=fewest, max_size=max(fewest, most))
        objects = st.builds(lambda fixed, more: {**more, **fixed}, base, extras)
        return objects.filter(lambda value: len(value) >= least) if least else objects


def _check_keywords(schema: Schema, pointer: str) -> None:
    unknown = sorted(
        key
        for key in schema
        if key not in ASSERTIONS and key not in ANNOTATIONS and not key.startswith("x-")
    )
    if unknown:
        raise UnsupportedSchema(
            f"{pointer}: JSON Schema keyword(s) {unknown} are not supported by "
            "tests/property/schema_strategies.py; teach it before using them in a spec"
        )
    if "format" in schema and schema["format"] not in FORMATS:
        raise UnsupportedSchema(f"{pointer}: format {schema['format']!r} is not supported")
    for keyword in ("exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(schema.get(keyword), bool):
            raise UnsupportedSchema(f"{pointer}: boolean {keyword} is OpenAPI 3.0, not 3.1")


def _bounds(schema: Schema) -> tuple[float | None, float | None, bool, bool]:
    """Lower and upper bound, and whether each is exclusive."""
    low, high = schema.get("minimum"), schema.get("maximum")
    exclude_low = exclude_high = False
    if "exclusiveMinimum" in schema and (low is None or schema["exclusiveMinimum"] >= low):
        low, exclude_low = schema["exclusiveMinimum"], True
    if "exclusiveMaximum" in schema and (high is None or schema["exclusiveMaximum"] <= high):
        high, exclude_high = schema["exclusiveMaximum"], True
    return low, high, exclude_low, exclude_high


def _integer_bounds(schema: Schema) -> tuple[int | None, int | None]:
    low, high, exclude_low, exclude_high = _bounds(schema)
    least = None if low is None else math.floor(low) + 1 if exclude_low else math.ceil(low)
    most = None if high is None else math.ceil(high) - 1 if exclude_high else math.floor(high)
    return least, most


def _integers(schema: Schema, pointer: str) -> Strategy:
    least, most = _integer_bounds(schema)
    return st.integers(min_value=least, max_value=most)


def _numbers(schema: Schema, pointer: str) -> Strategy:
    low, high, exclude_low, exclude_high = _bounds(schema)
    floats = st.floats(
        min_value=low,
        max_value=high,
        exclude_min=exclude_low,
        exclude_max=exclude_high,
        allow_nan=False,
        allow_infinity=False,
    )
    least, most = _integer_bounds(schema)
    least = -EXACT_FLOAT_INTEGERS if least is None else max(least, -EXACT_FLOAT_INTEGERS)
    most = EXACT_FLOAT_INTEGERS if most is None else min(most, EXACT_FLOAT_INTEGERS)
    return floats | st.integers(min_value=least, max_value=most) if least <= most else floats


def _strings(schema: Schema, pointer: str) -> Strategy:
    least, most = schema.get("minLength", 0), schema.get("maxLength")
    fmt = schema.get("format")
    if fmt in ("date-time", "uuid"):
        if "pattern" in schema or least or most is not None:
            raise UnsupportedSchema(f"{pointer}: length or pattern beside format {fmt!r}")
        return date_times() if fmt == "date-time" else st.uuids().map(str)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"]).filter(
            lambda text: least <= len(text) and (most is None or len(text) <= most)
        )
    return st.text(min_size=least, max_size=most)


def canonical(spec: SpecDocument, pointer: str, value: Any, *, extras: bool) -> Any:
    """Value as the schema at pointer means it: date-times parsed, numbers as numbers.

    Objects keep their declared properties, and their undeclared ones only if ``extras``
    (message models drop them by design, REST models keep them). Two payloads with equal
    canonical forms say the same thing, whatever their JSON spelling.
    """
    schema = spec.resolve(pointer)
    if "$ref" in schema:
        return canonical(spec, schema["$ref"], value, extras=extras)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            for i in range(len(schema[keyword])):
                branch = f"{pointer}/{keyword}/{i}"
                if spec.is_valid(branch, value):
                    return canonical(spec, branch, value, extras=extras)
            raise AssertionError(f"{value!r} matches no branch of {pointer}")
    if isinstance(value, str) and schema.get("format") == "date-time":
        return parse_date_time(value)
    if isinstance(value, list):
        items = f"{pointer}/items" if "items" in schema else None
        return [canonical(spec, items, v, extras=extras) if items else v for v in value]
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties", True)
        result = {}
        for key, item in value.items():
            if key in properties:
                sub = f"{pointer}/properties/{escape(key)}"
                result[key] = canonical(spec, sub, item, extras=extras)
            elif isinstance(additional, Mapping):
                sub = f"{pointer}/additionalProperties"
                result[key] = canonical(spec, sub, item, extras=extras)
            elif extras:
                result[key] = item
        return result
    return value


__all__ = [
    "SpecDocument",
    "UnsupportedSchema",
    "canonical",
    "date_times",
    "escape",
    "format_checker",
    "json_scalars",
    "json_values",
    "parse_date_time",
]
