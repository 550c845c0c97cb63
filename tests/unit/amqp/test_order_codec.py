"""From a MarketOrder to what is published: routing key and line-protocol body."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from market_double import make_order

from flxtrd._amqp._order_codec import OrderEncoder, encode_order, order_side
from flxtrd._bounds import MAX_DURATION_MS, MAX_POWER_W, MAX_PRICE_EUR_PER_KWH, MAX_TIME_MS
from flxtrd._errors import FlexValidationError, MessageEncodeError
from flxtrd._line_protocol import OrderLine, decode_order_line
from flxtrd._types import Flexibility, MarketOrder, OrderType


@pytest.mark.parametrize(
    ("side", "price_field"), [(OrderType.ASK, "askingprice"), (OrderType.BID, "biddingprice")]
)
def test_order_type_gives_routing_key_and_price_field(side: OrderType, price_field: str) -> None:
    """An ASK is routed 'ask' with askingprice, a BID 'bid' with biddingprice."""
    order = make_order(side, price=7.5)
    routing_key, body = encode_order(order, "app-1")
    assert routing_key == side.value == order_side(order)
    assert body.startswith(f"{side.value},applicationKey=app-1,version=1 ".encode())
    assert f"{price_field}=7.5".encode() in body


def test_body_decodes_back_to_the_order() -> None:
    """The published body carries the order's fields for the device's application key."""
    order = make_order(OrderType.BID, price=3.25, wattage=1234.5)
    _, body = encode_order(order, "app-2")
    line = decode_order_line(body)
    flex = order.resource
    assert (line.side, line.application_key, line.price) == ("bid", "app-2", 3.25)
    assert (line.starttime, line.runtime, line.expirationtime) == (
        flex.start_ms,
        flex.runtime_ms,
        flex.expiration_ms,
    )
    assert line.wattage == 1234.5
    assert math.isclose(line.totalenergy, 1234.5 * 900_000 / 3_600_000)


def test_an_order_line_is_sent_as_given() -> None:
    """An OrderLine keeps its own application key and side."""
    line = make_order(OrderType.ASK).to_order_line("other-key")
    routing_key, body = encode_order(line, "app-3")
    assert routing_key == "ask"
    assert decode_order_line(body) == line


@pytest.mark.parametrize("thing", [None, "ask", {"side": "ask"}, 42])
def test_something_else_is_a_validation_error(thing: object) -> None:
    """Only MarketOrder and OrderLine are orders."""
    with pytest.raises(FlexValidationError, match="order"):
        encode_order(thing, "app")
    with pytest.raises(FlexValidationError):
        order_side(thing)


def test_order_line_with_unknown_side_is_refused() -> None:
    """An OrderLine whose side is neither ask nor bid cannot be routed."""
    line = OrderLine(
        side="hold",
        application_key="k",
        starttime=1,
        wattage=1.0,
        runtime=1,
        totalenergy=1.0,
        price=1.0,
        expirationtime=1,
    )
    with pytest.raises(FlexValidationError):
        order_side(line)
    with pytest.raises(MessageEncodeError):
        encode_order(line, "k")


def test_unencodable_values_raise_message_encode_error() -> None:
    """A NaN in an OrderLine cannot be written in line protocol."""
    line = OrderLine(
        side="ask",
        application_key="k",
        starttime=1,
        wattage=math.nan,
        runtime=1,
        totalenergy=1.0,
        price=1.0,
        expirationtime=1,
    )
    with pytest.raises(MessageEncodeError):
        encode_order(line, "k")


keys = st.one_of(
    st.sampled_from(["5f0c8e1a2b3c4d5e6f7081a0", "dev-1", "a"]),
    st.text(min_size=1, max_size=40).filter(lambda k: "\n" not in k and "\r" not in k),
)
finite_positive = st.floats(
    min_value=1e-300, max_value=MAX_POWER_W, allow_nan=False, allow_infinity=False
)


@st.composite
def market_orders(draw: st.DrawFn) -> MarketOrder:
    """Orders the domain types accept (within ``flxtrd._bounds``), with awkward floats."""
    start = draw(st.integers(min_value=0, max_value=MAX_TIME_MS))
    flex = Flexibility(
        wattage=draw(st.one_of(finite_positive, st.integers(min_value=1, max_value=10**6))),
        starttime=start,
        duration=draw(st.integers(min_value=1, max_value=MAX_DURATION_MS)),
        expirationtime=draw(st.integers(min_value=0, max_value=start)),
    )
    price = draw(
        st.one_of(
            st.just(0.0),
            st.floats(min_value=0, max_value=MAX_PRICE_EUR_PER_KWH),
            st.integers(0, 10**6),
        )
    )
    side = draw(st.sampled_from([OrderType.ASK, OrderType.BID]))
    return MarketOrder(type=side, price=price, flexibility=flex)


@given(order=market_orders(), key=keys)
def test_fast_encoder_is_byte_identical_to_the_codec(order: MarketOrder, key: str) -> None:
    """OrderEncoder's f-string path writes exactly what the line-protocol codec writes."""
    try:
        expected: tuple[str, bytes] | type[Exception] = encode_order(order, key)
    except (FlexValidationError, MessageEncodeError) as exc:
        expected = type(exc)
    try:
        got: tuple[str, bytes] | type[Exception] = OrderEncoder(key).encode(order)
    except (FlexValidationError, MessageEncodeError) as exc:
        got = type(exc)
    assert got == expected


def test_fast_encoder_falls_back_for_keys_that_need_escaping() -> None:
    """A key with a comma or space goes through the codec, escaped."""
    _, body = OrderEncoder("a b,c").encode(make_order())
    assert body.startswith(b"ask,applicationKey=a\\ b\\,c,version=1 ")
    assert decode_order_line(body).application_key == "a b,c"
