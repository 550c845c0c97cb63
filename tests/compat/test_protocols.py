"""0.2.9's protocol helpers: ``BaseAPI``, ``create_line_message``, ``MarketMessages``."""

from __future__ import annotations

import pytest

from flxtrd import (
    ASK,
    BID,
    FlexResource,
    FlexUser,
    FlexValidationError,
    MarketOrder,
    RestAPI,
    decode_order_line,
)
from flxtrd.core.api_client import MarketMessages
from flxtrd.protocols.ampq import create_line_message, get_current_time_ms
from flxtrd.protocols.base import BaseAPI

START_S = 1_900_000_800  # on the quarter hour, in the future
FLEX = FlexResource(power_w=100, start_time_epoch_s=START_S, duration_min=60)


def test_rest_protocol_counts_as_a_base_api() -> None:
    """isinstance(RestAPI(...), BaseAPI) holds as in 0.2.9, where RestAPI subclassed it."""
    rest = RestAPI(base_url="localhost")
    try:
        assert isinstance(rest, BaseAPI)
    finally:
        rest.close()
    assert not isinstance(object(), BaseAPI)


def test_base_api_subclasses_must_implement_send_request() -> None:
    """A 0.2.9 protocol subclass keeps base_url and must define send_request."""

    class Incomplete(BaseAPI):
        pass

    class Echo(BaseAPI):
        def send_request(self, **kwargs: object) -> object:
            return kwargs

    with pytest.raises(TypeError):
        Incomplete("x")  # type: ignore[abstract]
    echo = Echo(base_url="localhost")
    assert (echo.base_url, echo.send_request(a=1)) == ("localhost", {"a": 1})


@pytest.mark.parametrize(("side", "price_field"), [(ASK, "askingprice"), (BID, "biddingprice")])
def test_create_line_message_encodes_the_order(side: object, price_field: str) -> None:
    """0.2.9's create_line_message gives the order line with the user's application key."""
    user = FlexUser(app_key="64218f1adc42c714c1f08043")
    order = MarketOrder(order_type=side, price_eur=7.5, resource=FLEX)
    line = create_line_message(user=user, flexibility=FLEX, marketOrder=order)
    assert line.startswith(f"{side.value},applicationKey=64218f1adc42c714c1f08043,version=1 ")  # type: ignore[attr-defined]
    assert f"{price_field}=7.5" in line
    decoded = decode_order_line(line)
    assert (decoded.starttime, decoded.runtime, decoded.wattage) == (START_S * 1000, 3_600_000, 100)
    assert decoded.totalenergy == 100.0


def test_create_line_message_needs_an_application_key() -> None:
    """Without an app key (user not authenticated) the helper refuses, naming app_key."""
    order = MarketOrder(order_type=ASK, price_eur=1, resource=FLEX)
    with pytest.raises(FlexValidationError, match="app_key"):
        create_line_message(user=FlexUser(), flexibility=FLEX, marketOrder=order)


def test_get_current_time_ms_is_epoch_milliseconds() -> None:
    """get_current_time_ms is the time in ms since the epoch (13 digits this century)."""
    assert len(str(get_current_time_ms())) == 13


def test_market_messages_is_0_2_9s_empty_placeholder() -> None:
    """MarketMessages exists and, as in 0.2.9, holds nothing."""
    messages = MarketMessages()
    assert (messages.ticks, messages.closed_deals()) == (None, None)
