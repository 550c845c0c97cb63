"""A seeded corpus of inbound messages: broker replies and WebSocket frames, valid and hostile.

How the corpus is made (documented choice, see the issue): hypothesis is the source of the
*valid* messages, a seeded ``random`` mutator multiplies them.

1. **Seeds from hypothesis.** :func:`hypothesis_seeds` runs one derandomized ``@given`` over the
   spec-built strategies of ``tests/property/schema_strategies.py`` (``ASYNCAPI.strategy(...)``
   for every reply and stream message of ``specs/asyncapi.yaml``) and keeps what it draws:
   a few hundred spec-valid messages in about a second. Drawing all 10^5 from hypothesis would
   take minutes here (~340 messages/s measured), so it is not done.
2. **Mutations from a seeded ``random.Random``.** :class:`Mutator` walks a seed with its schema
   (required keys, types, minimums, enums, formats) and applies one mutation whose verdict is
   known by construction. Valid ones: unchanged, re-serialised (indent, ``ensure_ascii``,
   sorted keys), an unknown key added, an optional key dropped, a field given another valid
   value. Invalid ones: a required key dropped, a wrong type, a value below its minimum, an
   unknown or missing discriminator, truncated JSON, trailing garbage, NaN, a non-object JSON
   value, random bytes. For a WebSocket stream a valid message of another stream's kind is
   invalid too (its ``type`` is unknown there), and a ``control`` message is neither an event
   nor a rejection.

The verdicts are cross-checked against the spec's JSON Schemas by a test (a sample, strict JSON).

Two hostile classes are kept out of :func:`build_corpus` because the SDK crashes on them today
(see ``test_inbound_fuzz.py``): nesting deeper than msgspec's recursion limit, and bytes that are
not UTF-8 (or text with lone surrogates). :func:`crashing_inputs` makes them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schema_strategies import escape
from spec_models import ASYNCAPI

SCHEMAS = "#/components/schemas/"
REPLY_TYPES = {
    "tick": "Tick",
    "ask_closed_order": "AskClosedOrder",
    "bid_closed_order": "BidClosedOrder",
    "cancel": "Cancel",
}
STREAM_TYPES = {
    "control": "Control",
    "order_status_update": "OrderStatusUpdate",
    "contract_status_update": "ContractStatusUpdate",
    "ticker": "Ticker",
    "orderbook": "Orderbook",
}
#: What each stream carries besides ``control`` (``flxtrd._streams._kinds._SPECS``).
STREAM_KINDS = {
    "trade": frozenset({"order_status_update", "contract_status_update"}),
    "ticker": frozenset({"ticker"}),
    "orderbook": frozenset({"orderbook"}),
}
TEXT = string.ascii_letters + string.digits + ' _-.:/é€😀"\\\n\t\x00<>{}[],'


@dataclass(frozen=True, slots=True)
class Item:
    """One inbound message and its verdict.

    ``channel`` is ``"amqp"`` or a stream kind; ``verdict`` is ``"valid"`` (a reply), ``"event"``
    (a stream event), ``"control"`` or ``"invalid"``; ``mutation`` names how it was made.
    """

    channel: str
    raw: bytes | str
    verdict: str
    mutation: str
    headers: dict[str, Any] | None = None
    value: Any = None
    """The JSON value, when the text is strict JSON (for the spec cross-check)."""


# --- seeds -----------------------------------------------------------------------------------


def hypothesis_seeds(per_type: int = 40) -> dict[str, list[dict[str, Any]]]:
    """Spec-valid messages drawn by hypothesis, ``per_type`` of each type (derandomized; hypothesis
    also draws constants from the modules loaded, so running one file or the whole suite gives
    slightly different seeds, each run the same)."""
    names = {**REPLY_TYPES, **STREAM_TYPES}
    strategies = {tag: ASYNCAPI.strategy(SCHEMAS + name) for tag, name in names.items()}
    seeds: dict[str, list[dict[str, Any]]] = {tag: [] for tag in names}

    @settings(
        max_examples=per_type,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.fixed_dictionaries(strategies))
    def draw(values: dict[str, dict[str, Any]]) -> None:
        for tag, value in values.items():
            seeds[tag].append(value)

    draw()
    return seeds


# --- the schema-aware mutator ----------------------------------------------------------------


@functools.cache
def _deref(pointer: str) -> tuple[str, dict[str, Any]]:
    schema = dict(ASYNCAPI.resolve(pointer))
    while "$ref" in schema:
        pointer = schema["$ref"]
        schema = dict(ASYNCAPI.resolve(pointer))
    return pointer, schema


@dataclass(frozen=True, slots=True)
class Node:
    """A place in a message: its path, its schema, and whether its parent requires it."""

    path: tuple[str | int, ...]
    schema: dict[str, Any]
    required: bool


def _nodes(value: Any, pointer: str, path: tuple[str | int, ...] = ()) -> Iterator[Node]:
    pointer, schema = _deref(pointer)
    if isinstance(value, dict) and schema.get("type") == "object":
        required = set(schema.get("required", ()))
        for key, child in value.items():
            if key in schema.get("properties", {}):
                child_pointer = f"{pointer}/properties/{escape(key)}"
                _, child_schema = _deref(child_pointer)
                yield Node((*path, key), child_schema, key in required)
                yield from _nodes(child, child_pointer, (*path, key))
    elif isinstance(value, list) and schema.get("type") == "array" and "items" in schema:
        for index, child in enumerate(value):
            _, child_schema = _deref(f"{pointer}/items")
            yield Node((*path, index), child_schema, True)
            yield from _nodes(child, f"{pointer}/items", (*path, index))


def _changeable(schema: dict[str, Any]) -> bool:
    """Whether :meth:`Mutator.valid_value` has another value for the schema."""
    return "const" not in schema and (
        "enum" in schema or schema.get("type") in ("integer", "number", "string")
    )


def _objects(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        yield path
        for key, child in value.items():
            yield from _objects(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _objects(child, (*path, index))


def _get(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[str | int, ...], new: Any) -> None:
    _get(value, path[:-1])[path[-1]] = new


def _delete(value: Any, path: tuple[str | int, ...]) -> None:
    del _get(value, path[:-1])[path[-1]]


class Mutator:
    """Seeded mutations with known verdicts (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._nodes: dict[int, list[Node]] = {}
        self._keep: list[Any] = []  # the seeds whose ids key _nodes stay alive

    # -- values --

    def text(self, most: int = 24) -> str:
        """Random text (no lone surrogates: they are not Unicode text)."""
        return "".join(self.rng.choice(TEXT) for _ in range(self.rng.randint(0, most)))

    def date_time(self) -> str:
        """A random RFC 3339 date-time with an offset (Z or +-HH:MM), 0/3/6 fraction digits."""
        moment = datetime(1971, 1, 1, tzinfo=UTC) + timedelta(
            seconds=self.rng.randint(0, 4_000_000_000), microseconds=self.rng.randint(0, 999_999)
        )
        offset = self.rng.choice([None, 0, 60, -300, 330, 765, -720])
        digits = self.rng.choice([0, 3, 6])
        local = moment if offset is None else moment.astimezone(timezone(timedelta(minutes=offset)))
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        if digits:
            text += f".{local.microsecond:06d}"[: digits + 1]
        if offset is None:
            return text + "Z"
        sign, minutes = ("+" if offset >= 0 else "-"), abs(offset)
        return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def valid_value(self, schema: dict[str, Any]) -> Any:
        """Another value the schema allows (``...`` when it allows only one)."""
        if "const" in schema:
            return ...
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kind = schema.get("type")
        low = schema.get("minimum")
        if kind == "integer":
            return self.rng.randint(low if low is not None else -(2**53), 2**53)
        if kind == "number":
            if self.rng.random() < 0.3:
                return self.rng.randint(math.ceil(low) if low is not None else -(10**6), 10**6)
            return self.rng.uniform(low if low is not None else -1e9, 1e9)
        if kind == "string":
            return self.date_time() if schema.get("format") == "date-time" else self.text()
        return ...

    def wrong_value(self, schema: dict[str, Any]) -> Any:
        """A value the schema refuses (type, format, enum, const or minimum)."""
        rng = self.rng
        if "const" in schema:
            return rng.choice([None, 1, "", "Tick", self.text(8) + "_unknown"])
        if "enum" in schema:
            return rng.choice(["not-a-status", "", 1, None, True])
        kind = schema.get("type")
        low = schema.get("minimum")
        if kind in ("integer", "number") and low is not None and rng.random() < 0.4:
            return (
                low - rng.choice([1, 7, 10**6])
                if kind == "integer"
                else low - rng.uniform(1e-6, 1e6)
            )
        choices: dict[str, list[Any]] = {
            "integer": [1.5, "1", True, None, [], {}],
            "number": ["1.0", True, None, [], {}, "NaN"],
            "string": [5, 1.5, True, None, [], {}],
            "object": ["x", [], 1, None],
            "array": [{}, "x", 1, None],
        }
        if kind == "string" and schema.get("format") == "date-time":
            return rng.choice(["yesterday", "2026-13-45T99:00:00Z", 20260101, None, "10:00"])
        return rng.choice(choices.get(str(kind), [None]))

    # -- serialisation --

    def dumps(self, value: Any) -> bytes:
        """JSON text of ``value`` in one of several equivalent spellings."""
        style = self.rng.random()
        if style < 0.55:
            return msgspec.json.encode(value)
        if style < 0.7:
            return msgspec.json.format(msgspec.json.encode(value), indent=2)
        if style < 0.85:
            return json.dumps(value, ensure_ascii=True, sort_keys=True).encode()
        return json.dumps(value, separators=(", ", ": "), ensure_ascii=False).encode()

    # -- one mutation --

    def mutate(
        self, seed: dict[str, Any], pointer: str, tag_key: str
    ) -> tuple[Any, bytes, str, bool]:
        """Return ``(value, raw, mutation, valid)``; ``value`` is None when raw is not JSON."""
        rng = self.rng
        value = msgspec.json.decode(msgspec.json.encode(seed))
        key = id(seed)
        nodes = self._nodes.get(key)
        if nodes is None:  # the seeds are fixed: their nodes are computed once
            nodes = self._nodes[key] = list(_nodes(seed, pointer))
            self._keep.append(seed)
        roll = rng.random()
        # valid mutations (about half)
        if roll < 0.12:
            return value, self.dumps(value), "unchanged", True
        if roll < 0.20:
            obj = rng.choice(list(_objects(value)))
            target = _get(value, obj)
            key = "x_" + self.text(6)
            while key in target:
                key += "_"
            target[key] = rng.choice([None, True, 1, 2.5, self.text(), [], {}])
            return value, self.dumps(value), "unknown key added", True
        optional = [n for n in nodes if not n.required and isinstance(n.path[-1], str)]
        if roll < 0.27 and optional:
            _delete(value, rng.choice(optional).path)
            return value, self.dumps(value), "optional key dropped", True
        changeable = [n for n in nodes if _changeable(n.schema)]
        if roll < 0.45 and changeable:
            node = rng.choice(changeable)
            _set(value, node.path, self.valid_value(node.schema))
            return value, self.dumps(value), "field given another valid value", True
        # invalid mutations
        if roll < 0.55:
            required = [n for n in nodes if n.required and isinstance(n.path[-1], str)]
            if required:
                _delete(value, rng.choice(required).path)
                return value, self.dumps(value), "required key dropped", False
        if roll < 0.72 and nodes:
            node = rng.choice(nodes)
            _set(value, node.path, self.wrong_value(node.schema))
            return value, self.dumps(value), "wrong type or value", False
        if roll < 0.76:
            if rng.random() < 0.5:
                del value[tag_key]
                return value, self.dumps(value), "discriminator missing", False
            value[tag_key] = rng.choice(["", "TICK", "tick ", "order", self.text(10) + "!"])
            return value, self.dumps(value), "discriminator unknown", False
        raw = self.dumps(value)
        if roll < 0.84:
            return None, raw[: rng.randrange(len(raw))], "truncated", False
        if roll < 0.88:
            return (
                None,
                raw + rng.choice([b"x", b"}", b",{}", b"\x00", b"]"]),
                "trailing garbage",
                False,
            )
        if roll < 0.91:
            numbers = [n for n in nodes if n.schema.get("type") == "number"]
            if numbers:
                _set(value, rng.choice(numbers).path, math.nan)
                text = json.dumps(value)  # Python writes NaN: not JSON
                return None, text.encode(), "NaN literal", False
        if roll < 0.95:
            other: Any = rng.choice([[value], "tick", 42, None, True, [], 1.5])
            return other, json.dumps(other).encode(), "not a JSON object", False
        blob = rng.randbytes(rng.randint(0, 120))
        return None, blob, "random bytes", False


def _surely_not_a_message(raw: bytes) -> bool:
    """Random bytes that happen to form a message would be mislabelled: refuse those."""
    try:
        value = json.loads(raw)
    except ValueError:
        return True
    return not isinstance(value, dict)


def _strict(raw: bytes | str) -> Any:
    """The JSON value of ``raw`` when it is strict JSON (no NaN), else ``...``."""
    try:
        return json.loads(raw, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    except (ValueError, UnicodeDecodeError):
        return ...


def _headers(rng: random.Random) -> dict[str, Any] | None:
    return rng.choice(
        [
            None,
            {},
            {"sendertimestamp_in_ms": rng.randint(0, 2**41)},
            {"sendertimestamp_in_ms": "soon"},
            {"sendertimestamp_in_ms": -5},
            {"sendertimestamp_in_ms": True},
            {"other": [1, 2]},
        ]
    )


def build_corpus(n_amqp: int, n_ws: int, seed: int = 20261128) -> list[Item]:
    """``n_amqp`` broker replies and ``n_ws`` stream frames, reproducible for ``seed`` (see
    :func:`hypothesis_seeds`)."""
    seeds = hypothesis_seeds()
    mutator = Mutator(seed)
    rng = mutator.rng
    items: list[Item] = []
    replies = [(tag, s) for tag in REPLY_TYPES for s in seeds[tag]]
    for _ in range(n_amqp):
        tag, value = rng.choice(replies)
        _, raw, how, valid = mutator.mutate(value, SCHEMAS + REPLY_TYPES[tag], "msg_type")
        if how == "random bytes" and not _surely_not_a_message(raw):
            raw, how = b"\x00" + raw, "random bytes"
        items.append(
            Item("amqp", raw, "valid" if valid else "invalid", how, _headers(rng), _strict(raw))
        )
    frames = [(tag, s) for tag in STREAM_TYPES for s in seeds[tag]]
    for _ in range(n_ws):
        tag, value = rng.choice(frames)
        homes = [k for k, tags in STREAM_KINDS.items() if tag in tags]
        kind = rng.choice(homes) if homes and rng.random() < 0.8 else rng.choice(list(STREAM_KINDS))
        _, raw, how, valid = mutator.mutate(value, SCHEMAS + STREAM_TYPES[tag], "type")
        if how == "random bytes" and not _surely_not_a_message(raw):
            raw = b"\x00" + raw
        if not valid:
            verdict = "invalid"
        elif tag == "control":
            verdict = "control"
        elif tag in STREAM_KINDS[kind]:
            verdict = "event"
        else:
            verdict, how = "invalid", f"{how}; a {tag} on the {kind} stream"
        frame: bytes | str = raw
        if rng.random() < 0.5:
            with contextlib.suppress(UnicodeDecodeError):
                frame = raw.decode("utf-8")  # a text frame
        items.append(Item(kind, frame, verdict, how, None, _strict(raw)))
    return items


def crashing_inputs() -> list[tuple[str, str, bytes | str]]:
    """Hostile inputs the decoders raise on today: ``(name, channel, raw)``, channel ``amqp``
    (a reply), ``ws`` (a stream frame) or ``both``."""
    deep = b'{"a":' * 2000 + b"1" + b"}" * 2000
    return [
        ("reply with a deeply nested unknown field", "amqp",
         b'{"msg_type":"cancel","reason":"x","extra":' + deep + b"}"),
        ("stream frame with a deeply nested unknown field", "ws",
         b'{"type":"ticker","extra":' + deep + b',"data":{}}'),
        ("deeply nested object", "both", deep),
        ("invalid UTF-8 in a reply", "amqp", b'{"msg_type":"cancel","reason":"caf\xe9"}'),
        ("invalid UTF-8 in a binary frame", "ws", b'{"type":"ticker","data":"\xff\xfe"}'),
        ("lone surrogate in a text frame", "ws", '{"type":"ticker","data":"\udcff"}'),
    ]  # fmt: skip
