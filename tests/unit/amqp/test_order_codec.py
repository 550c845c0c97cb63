"""From a MarketOrder to what is published: routing key and line-protocol body."""

from __future__ import annotations

import math

import pytest
from market_double import make_order

from flxtrd._errors import FlexValidationError, MessageEncodeError
from flxtrd._line_protocol import OrderLine, decode_order_line
from flxtrd._order_codec import encode_order, order_side
from flxtrd._types import OrderType


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
