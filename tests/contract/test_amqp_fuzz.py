"""Fuzzing the reply consumer on a real broker: 10^4 hostile bodies, zero crashes, all counted."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import amqp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kombu import Connection
from market_double import NO_RETRY

from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._market_messages import MarketMessage
from flxtrd._errors import MessageDecodeError

pytestmark = pytest.mark.broker

PER_EXAMPLE = 100
EXAMPLES = 100  # 10^4 messages in all

KNOWN_TYPES = ("tick", "ask_closed_order", "bid_closed_order", "cancel")
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
non_negative = st.floats(min_value=0, max_value=1e12, allow_nan=False)
ms = st.integers(min_value=0, max_value=2**62)
#: Text as a market sends it: valid Unicode (a lone surrogate escape is not accepted as JSON text).
text = st.characters(exclude_categories=("Cs",))
iso = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())

tick = st.fixed_dictionaries(
    {
        "msg_type": st.just("tick"),
        "trade_time": iso,
        "price": finite,
        "start_time": iso,
        "energy": non_negative,
    }
)
closed_order = st.fixed_dictionaries(
    {
        "bid_time": ms,
        "ask_time": ms,
        "ask_user": st.text(text, max_size=20),
        "bid_user": st.text(text, max_size=20),
        "price": finite,
        "totalenergy": non_negative,
        "energy": non_negative,
        "starttime": ms,
        "endtime": non_negative,
        "runtime": ms,
        "wattage": non_negative,
        "power": non_negative,
        "match_time": ms,
    }
)
closed = st.fixed_dictionaries(
    {
        "msg_type": st.sampled_from(["ask_closed_order", "bid_closed_order"]),
        "application_key": st.text(text, max_size=30),
        "closed_order": closed_order,
    }
)
cancel = st.fixed_dictionaries(
    {"msg_type": st.just("cancel"), "reason": st.text(text, max_size=50)},
    optional={
        "message_id": st.text(text, max_size=32),
        "application_key": st.text(text, max_size=32),
    },
)
valid_reply = st.one_of(tick, closed, cancel)

#: Per field, values of the wrong type or out of range.
WRONG: dict[str, list[Any]] = {
    "price": ["12", None, [], {}, True],
    "energy": [-1.0, "x", None],
    "trade_time": [123, None, "yesterday", []],
    "start_time": [1.5, {}, "2026-13-45T99:00:00Z"],
    "reason": [5, None, ["a"]],
    "application_key": [1, None],
    "closed_order": ["x", [], None, {"price": 1}],
}


def dumps(reply: dict[str, Any]) -> bytes:
    """Encode a reply the way a market would (compact JSON, UTF-8)."""
    return json.dumps(reply, separators=(",", ":")).encode()


@st.composite
def wrong_type(draw: st.DrawFn) -> bytes:
    """A valid reply with one field made the wrong type."""
    reply = dict(draw(valid_reply))
    field = draw(st.sampled_from([f for f in WRONG if f in reply]))
    reply[field] = draw(st.sampled_from(WRONG[field]))
    return dumps(reply)


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    """A valid reply cut short (a strict prefix of its JSON is never a JSON object)."""
    body = dumps(draw(valid_reply))
    return body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]


@st.composite
def unknown_type(draw: st.DrawFn) -> bytes:
    """A valid reply whose msg_type is not one the market defines."""
    reply = dict(draw(valid_reply))
    reply["msg_type"] = draw(st.text(text, max_size=20).filter(lambda t: t not in KNOWN_TYPES))
    return dumps(reply)


def _surely_invalid(body: bytes) -> bool:
    try:
        value = json.loads(body)
    except ValueError:
        return True
    return not (isinstance(value, dict) and value.get("msg_type") in KNOWN_TYPES)


invalid_body = st.one_of(
    st.binary(max_size=300).filter(_surely_invalid),
    truncated(),
    wrong_type(),
    unknown_type(),
    st.sampled_from([b"[]", b"null", b"42", b'"tick"', b"{}", b'{"msg_type":null}']),
)
headers = st.one_of(
    st.just(None),
    st.fixed_dictionaries({"sendertimestamp_in_ms": st.one_of(ms, st.text(text, max_size=5))}),
)
case = st.one_of(
    st.tuples(valid_reply.map(dumps), st.just(True), headers),
    st.tuples(invalid_body, st.just(False), headers),
)


@pytest.fixture
def device(amqp_url: str) -> Iterator[dict[str, Any]]:
    """A connected client collecting valid and invalid replies, and a raw publisher."""
    tag = uuid.uuid4().hex[:10]
    reply_exchange = f"f-out-{tag}"
    valid: list[MarketMessage] = []
    invalid: list[tuple[bytes, MessageDecodeError]] = []
    api = AmpqAPI(
        amqp_url,
        "unused",
        "unused",
        f"f-dev-{tag}",
        exchange=f"f-in-{tag}",
        reply_exchange=reply_exchange,
        retry_policy=NO_RETRY,
        on_message=valid.append,
        on_invalid=lambda raw, err: invalid.append((raw, err)),
    )
    api.connect()
    with Connection(amqp_url) as conn:
        yield {
            "api": api,
            "valid": valid,
            "invalid": invalid,
            "channel": conn.channel(),
            "exchange": reply_exchange,
        }
        api.close_connection()
        conn.channel().exchange_delete(reply_exchange)
        conn.channel().exchange_delete(f"f-in-{tag}")


def test_ten_thousand_hostile_replies_never_crash_the_consumer(device: dict[str, Any]) -> None:
    """Random bytes, truncated JSON, wrong types, unknown msg_type: each counted, none fatal."""
    api: AmpqAPI = device["api"]
    channel = device["channel"]
    totals = {"published": 0, "valid": 0, "invalid": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(case, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def publish_and_consume(batch: list[tuple[bytes, bool, dict[str, Any] | None]]) -> None:
        before_valid, before_invalid = len(device["valid"]), len(device["invalid"])
        target = api.stats.received + len(batch)
        for body, _, hdrs in batch:
            message = amqp.Message(body, application_headers=hdrs)
            channel.basic_publish(
                message, exchange=device["exchange"], routing_key=api.application_key
            )
        deadline = time.monotonic() + 30
        while api.stats.received < target:
            assert time.monotonic() < deadline, "replies did not arrive"
            api.sleep(0.01)
        expected_valid = [body for body, ok, _ in batch if ok]
        expected_invalid = [body for body, ok, _ in batch if not ok]
        assert [m.raw for m in device["valid"][before_valid:]] == expected_valid
        assert [raw for raw, _ in device["invalid"][before_invalid:]] == expected_invalid
        totals["published"] += len(batch)
        totals["valid"] += len(expected_valid)
        totals["invalid"] += len(expected_invalid)

    publish_and_consume()
    stats = api.stats
    assert totals["published"] >= 10_000
    assert stats.received == totals["published"]
    assert stats.rejected_inbound == totals["invalid"] == len(device["invalid"])
    assert len(device["valid"]) == totals["valid"] > 0
    assert stats.callback_errors == 0 and stats.connection_losses == 0
    assert all(isinstance(err, MessageDecodeError) for _, err in device["invalid"])
    assert api.is_connected()
