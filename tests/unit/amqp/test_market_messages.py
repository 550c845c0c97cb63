"""Decoding market replies into the generated models: MarketMessage views and decode errors."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime

import pytest

from flxtrd._amqp._market_messages import (
    AskClosedOrder,
    BidClosedOrder,
    Cancel,
    MarketMessage,
    Tick,
    decode_market_message,
)
from flxtrd._errors import MessageDecodeError

CLOSED = {
    "bid_time": 1_796_198_400_000_000_000,
    "ask_time": 1_796_198_300_000_000_000,
    "ask_user": "seller",
    "bid_user": "buyer",
    "price": 12.0,
    "totalenergy": 625.0,
    "energy": 625.0,
    "starttime": 1_796_202_000_000,
    "endtime": 1_796_202_900_000.0,
    "runtime": 900_000,
    "wattage": 2500.0,
    "power": 2500.0,
    "match_time": 1_796_198_500_000_000_000,
}
TICK = {
    "msg_type": "tick",
    "trade_time": "2026-12-01T10:00:00Z",
    "price": 12.5,
    "start_time": "2026-12-01T11:00:00Z",
    "energy": 625.0,
}
REPLIES = {
    "tick": (TICK, Tick),
    "ask_closed_order": (
        {"msg_type": "ask_closed_order", "application_key": "k", "closed_order": CLOSED},
        AskClosedOrder,
    ),
    "bid_closed_order": (
        {"msg_type": "bid_closed_order", "application_key": "k", "closed_order": CLOSED},
        BidClosedOrder,
    ),
    "cancel": ({"msg_type": "cancel", "reason": "expired", "message_id": "m-1"}, Cancel),
}


@pytest.mark.parametrize("msg_type", sorted(REPLIES))
def test_each_reply_type_decodes_into_its_generated_model(msg_type: str) -> None:
    """Every documented msg_type becomes its typed model, and the dict view is the JSON body."""
    body, model_type = REPLIES[msg_type]
    message = decode_market_message(json.dumps(body).encode())
    assert isinstance(message.model, model_type)
    assert message.msg_type == msg_type
    assert dict(message) == body


def test_tick_fields_are_typed() -> None:
    """A tick's times are aware datetimes and its numbers floats."""
    tick = decode_market_message(json.dumps(TICK).encode()).model
    assert isinstance(tick, Tick)
    assert tick.trade_time == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert tick.price == 12.5


def test_message_works_like_the_dicts_of_flxtrd_029() -> None:
    """0.2.9 code indexing, .get() and json.dumps() keeps working on a MarketMessage."""
    message = decode_market_message(json.dumps(REPLIES["ask_closed_order"][0]).encode())
    assert message["msg_type"] == "ask_closed_order"
    assert message.get("closed_order", {})["price"] == 12.0
    assert json.loads(json.dumps(message, indent=4)) == dict(message)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.__setitem__("price", 1),
        lambda m: m.__delitem__("price"),
        lambda m: m.update(price=1),
        lambda m: m.pop("price"),
        lambda m: m.popitem(),
        lambda m: m.setdefault("x", 1),
        lambda m: m.clear(),
    ],
)
def test_message_is_read_only(mutate: object) -> None:
    """A reply is a record of what the market sent: every mutation raises TypeError."""
    message = decode_market_message(json.dumps(TICK).encode())
    with pytest.raises(TypeError, match="read-only"):
        mutate(message)  # type: ignore[operator]
    assert dict(message) == TICK


def test_latency_comes_from_the_sendertimestamp_header() -> None:
    """latency_ms is the receive time minus the header sendertimestamp_in_ms."""
    message = decode_market_message(
        json.dumps(TICK).encode(), {"sendertimestamp_in_ms": 1_000}, received_at_ms=1_250
    )
    assert message.sent_at_ms == 1_000
    assert message.latency_ms == 250


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"sendertimestamp_in_ms": "1000"},
        {"sendertimestamp_in_ms": -5},
        {"sendertimestamp_in_ms": True},
    ],
)
def test_latency_is_none_without_a_valid_header(headers: dict[str, object] | None) -> None:
    """A missing or malformed timestamp header gives no latency but does not reject the reply."""
    message = decode_market_message(json.dumps(TICK).encode(), headers)
    assert message.latency_ms is None


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "malformed"),
        (b'{"msg_type": "tick"', "truncated"),
        (b"[1, 2]", "Expected `object`"),
        (b'{"msg_type": "bogus"}', "msg_type"),
        (b'{"reason": "no type"}', "msg_type"),
        (json.dumps({**TICK, "price": "cheap"}).encode(), "$.price"),
        (json.dumps({**TICK, "price": True}).encode(), "$.price"),
        (json.dumps({k: v for k, v in TICK.items() if k != "energy"}).encode(), "energy"),
        (b"\xff\xfe\x00", "malformed"),
        (b"", "truncated"),
    ],
)
def test_invalid_bodies_raise_message_decode_error_saying_where(body: bytes, where: str) -> None:
    """Anything but a valid reply raises MessageDecodeError naming the problem."""
    with pytest.raises(MessageDecodeError) as info:
        decode_market_message(body)
    assert where in str(info.value)


def test_decode_error_text_is_bounded() -> None:
    """A huge garbage msg_type cannot blow up the error message."""
    with pytest.raises(MessageDecodeError) as info:
        decode_market_message(json.dumps({"msg_type": "x" * 10_000}).encode())
    assert len(str(info.value)) <= 250


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    """A reply with fields the spec does not know still decodes."""
    message = decode_market_message(json.dumps({**TICK, "venue": "x"}).encode())
    assert isinstance(message.model, Tick)
    assert message["venue"] == "x"


@pytest.mark.parametrize("kind", [bytearray, memoryview, lambda b: b.decode()])
def test_bytes_like_and_text_bodies_are_accepted(kind: object) -> None:
    """bytearray, memoryview and str bodies decode like bytes; .raw is bytes."""
    raw = json.dumps(TICK).encode()
    message = decode_market_message(kind(raw))  # type: ignore[operator]
    assert message.raw == raw


def test_non_bytes_body_is_a_decode_error() -> None:
    """A body of the wrong Python type raises MessageDecodeError, not TypeError."""
    with pytest.raises(MessageDecodeError):
        decode_market_message(42)  # type: ignore[arg-type]


def test_message_pickles_and_copies_with_all_views() -> None:
    """Pickling keeps model, raw, headers and receive time; copies are the same record."""
    message = decode_market_message(
        json.dumps(TICK).encode(), {"sendertimestamp_in_ms": 5}, received_at_ms=9
    )
    again = pickle.loads(pickle.dumps(message))
    assert isinstance(again, MarketMessage)
    assert (again.model, again.raw, dict(again.headers), again.received_at_ms) == (
        message.model,
        message.raw,
        {"sendertimestamp_in_ms": 5},
        9,
    )
    assert copy.copy(message) is message and copy.deepcopy(message) is message


def test_repr_shows_the_model_and_latency() -> None:
    """repr() names the typed model rather than dumping the dict."""
    message = decode_market_message(b'{"msg_type": "cancel", "reason": "r"}')
    assert repr(message).startswith("MarketMessage(Cancel(")
