"""Domain types: one implementation behind the seed and the 0.2.9 spellings."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from flxtrd import _types
from flxtrd._errors import FlexValidationError
from flxtrd._line_protocol import OrderLine, decode_order_line, encode_order_line
from flxtrd._types import (
    ASK,
    BID,
    Broker,
    FlexBroker,
    FlexDevice,
    Flexibility,
    FlexMarket,
    FlexResource,
    FlexResponse,
    FlexUser,
    Market,
    MarketOrder,
    OrderType,
    User,
)
from flxtrd._validation import current_time_ms

NOW_MS = 1_796_112_000_000  # 2026-12-01T08:00:00Z
START_MS = NOW_MS + 2 * 3_600_000  # 10:00Z
PASSWORD = "correct-horse-battery-staple"
TOKEN = "device-token-0123456789"


def _flex(**changes: object) -> Flexibility:
    kwargs: dict[str, object] = {
        "wattage": 2500,
        "starttime": START_MS,
        "duration": 900_000,
        "expirationtime": START_MS - 900_000,
    }
    kwargs.update(changes)
    return Flexibility(**kwargs)  # type: ignore[arg-type]


# --- OrderType -----------------------------------------------------------------------------------


def test_order_type_values_are_the_routing_keys() -> None:
    """ASK/BID are 'ask'/'bid', equal to plain strings, and print as their value."""
    assert OrderType.ASK == "ask"
    assert OrderType.BID.value == "bid"
    assert str(OrderType.ASK) == "ask"
    assert f"{OrderType.BID}" == "bid"


def test_order_type_module_aliases() -> None:
    """The 0.2.9 names ASK and BID are the enum members."""
    assert ASK is OrderType.ASK
    assert BID is OrderType.BID


def test_order_type_knows_generation_2_sides() -> None:
    """ASK sells and BID buys; 'sell'/'buy' (any case) look the members up."""
    assert OrderType.ASK.side == "sell"
    assert OrderType.BID.side == "buy"
    assert OrderType("sell") is OrderType.ASK
    assert OrderType(" BUY ") is OrderType.BID


def test_order_type_refuses_other_values() -> None:
    """Unknown sides raise ValueError."""
    with pytest.raises(ValueError):
        OrderType("hold")
    with pytest.raises(ValueError):
        OrderType(1)


# --- aliases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legacy", "seed"),
    [(FlexUser, User), (FlexBroker, Broker), (FlexMarket, Market), (FlexResource, Flexibility)],
)
def test_legacy_names_are_the_same_classes(legacy: type, seed: type) -> None:
    """The 0.2.9 names are the seed classes themselves, not subclasses or copies."""
    assert legacy is seed


def test_module_exports_are_importable() -> None:
    """Everything in __all__ exists."""
    for name in _types.__all__:
        assert hasattr(_types, name)


# --- User ---------------------------------------------------------------------------------------


def test_user_seed_spelling() -> None:
    """User(name=, password=, accessToken=) fills access_token."""
    user = User(name="trader@example.com", password=PASSWORD, accessToken=TOKEN)
    assert user.access_token == TOKEN
    assert user.accessToken == TOKEN
    assert (user.app_key, user.user_id, user.devices) == (None, None, None)


def test_user_legacy_spelling_keywords_and_positional() -> None:
    """FlexUser takes 0.2.9's keywords and positional order."""
    by_kw = FlexUser(name="n", password="p", access_token="t", app_key="k", user_id="u", devices=[])
    by_pos = FlexUser("n", "p", "t", "k", "u", [])
    assert by_kw == by_pos
    assert by_kw.app_key == "k"


def test_user_refuses_both_token_spellings() -> None:
    """access_token= and accessToken= together are a TypeError."""
    with pytest.raises(TypeError, match="access_token= or accessToken="):
        User(access_token="a", accessToken="b")


def test_user_is_mutable_for_the_login_to_fill_in() -> None:
    """The login sets user_id and app_key on the user; accessToken is a settable alias."""
    user = FlexUser(access_token="t")
    user.user_id = "u1"
    user.app_key = "64218f1adc42c714c1f08043"
    user.accessToken = "t2"
    assert (user.user_id, user.access_token) == ("u1", "t2")


def test_user_repr_hides_password_and_token() -> None:
    """repr(User) shows *** for password and token, never the values."""
    text = repr(User(name="trader@example.com", password=PASSWORD, accessToken=TOKEN))
    assert PASSWORD not in text
    assert TOKEN not in text
    assert text.startswith("User(name='trader@example.com', password='***', access_token='***'")
    assert str(User(password=PASSWORD)) == repr(User(password=PASSWORD))


def test_user_repr_shows_absent_secrets_as_none() -> None:
    """Missing secrets show as None, so '***' always means 'set'."""
    assert "password=None, access_token=None" in repr(User(name="x"))


def test_device_repr_hides_token() -> None:
    """FlexDevice keeps 0.2.9's field names and hides accessToken."""
    device = FlexDevice(deviceName="heat pump", deviceId="d1", accessToken=TOKEN, appKey="k")
    text = repr(device)
    assert TOKEN not in text
    assert "accessToken='***'" in text
    assert TOKEN not in repr(User(devices=[device]))


# --- Broker and Market --------------------------------------------------------------------------


def test_broker_seed_and_legacy_spellings_agree() -> None:
    """Broker(ip=) and FlexBroker(url=) build the same broker with 0.2.9 defaults."""
    assert Broker(ip="market.example") == FlexBroker(url="market.example")
    broker = Broker(ip="market.example")
    assert (broker.url, broker.ip, broker.port) == ("market.example", "market.example", 5671)
    assert (broker.exchangename, broker.tickeroutexname, broker.vhost) == ("in", "ticker-out", "/")
    assert str(broker) == "Broker url:market.example port:5671"


def test_broker_needs_a_host() -> None:
    """No host is a TypeError; both spellings at once too."""
    with pytest.raises(TypeError):
        Broker()
    with pytest.raises(TypeError):
        Broker(url="a", ip="b")


@pytest.mark.parametrize("port", [0, 65536, "5671", True])
def test_broker_port_rule(port: object) -> None:
    """The port must be an int in 1..65535."""
    with pytest.raises(FlexValidationError, match=r"port must be an integer in 1\.\.65535"):
        Broker(url="h", port=port)  # type: ignore[arg-type]


def test_broker_host_must_be_non_empty() -> None:
    """An empty host is refused, naming the spelling used."""
    with pytest.raises(FlexValidationError) as info:
        Broker(ip="")
    assert info.value.field == "ip"


def test_market_seed_spelling() -> None:
    """Market(ip=, broker=Broker(ip=)) keeps the given broker."""
    broker = Broker(ip="broker.example")
    market = Market(ip="market.example", broker=broker)
    assert market.broker is broker
    assert (market.market_url, market.url, market.ip, market.port) == (
        "market.example",
        "market.example",
        "market.example",
        443,
    )


def test_market_legacy_spelling_defaults_broker_to_market_host() -> None:
    """FlexMarket(market_url=) makes a broker on the same host, port 5671."""
    market = FlexMarket(market_url="market.example")
    assert market.broker == FlexBroker(url="market.example", port=5671)
    assert market.market_port == 443


def test_market_legacy_broker_url_and_port() -> None:
    """broker_url/broker_port build the broker."""
    market = FlexMarket("market.example", 8443, "broker.example", 5672)
    assert (market.port, market.broker.url, market.broker.port) == (8443, "broker.example", 5672)


def test_market_url_aliases_are_settable() -> None:
    """url and ip write through to market_url, as 0.2.9's url attribute could be set."""
    market = Market(ip="a")
    market.url = "b"
    assert market.market_url == "b"
    market.ip = "c"
    assert market.url == "c"


def test_read_only_aliases_refuse_assignment() -> None:
    """market_port (a read-only spelling of port) cannot be set, and stays the port."""
    market = Market(ip="a", market_port=8443)
    with pytest.raises(AttributeError, match="market_port"):
        market.market_port = 1
    assert (market.port, market.market_port, Market.market_port.target) == (8443, 8443, "port")


def test_market_refuses_broker_and_broker_url_together() -> None:
    """broker= with broker_url= or broker_port= is ambiguous."""
    with pytest.raises(TypeError):
        Market(ip="a", broker=Broker(ip="b"), broker_url="c")
    with pytest.raises(TypeError):
        Market(ip="a", broker=Broker(ip="b"), broker_port=1)


def test_market_refuses_a_non_broker() -> None:
    """broker= must be a Broker."""
    with pytest.raises(FlexValidationError, match="broker must be a Broker"):
        Market(ip="a", broker="b")  # type: ignore[arg-type]


def test_market_without_a_host_is_accepted_as_in_0_2_9() -> None:
    """Market() / FlexMarket(market_url=None) has no URL and no broker (the client picks them)."""
    market = Market()
    assert (market.market_url, market.url, market.ip, market.broker) == (None, None, None, None)
    assert Market(broker_url="b.test").broker == Broker(url="b.test")


# --- Flexibility ---------------------------------------------------------------------------------


def test_flexibility_seed_spelling_is_milliseconds() -> None:
    """Seed keywords are W and ms and are stored as they are."""
    flex = _flex()
    assert (flex.power_w, flex.start_ms, flex.runtime_ms, flex.expiration_ms) == (
        2500.0,
        START_MS,
        900_000,
        START_MS - 900_000,
    )
    assert type(flex.power_w) is float


def test_flexibility_legacy_spelling_is_seconds_and_minutes() -> None:
    """FlexResource(power_w, start_time_epoch_s, duration_min, order_expiration_min) normalises."""
    flex = FlexResource(2500, START_MS // 1000, 15, 30, now_ms=NOW_MS)
    assert (flex.power_w, flex.start_ms, flex.runtime_ms) == (2500.0, START_MS, 900_000)
    assert flex.expiration_ms == NOW_MS + 30 * 60_000
    assert flex.order_expiration_min == 30


def test_both_spellings_build_equal_objects() -> None:
    """The same flexibility from either spelling compares equal."""
    legacy = FlexResource(
        power_w=2500,
        start_time_epoch_s=START_MS // 1000,
        duration_min=15,
        order_expiration_min=90,
        now_ms=NOW_MS,
    )
    assert legacy == _flex(expirationtime=NOW_MS + 90 * 60_000)


def test_total_energy_is_power_times_runtime() -> None:
    """totalenergy_wh = wattage * runtime_ms / 3_600_000 (2500 W for 15 min = 625 Wh)."""
    flex = _flex()
    assert flex.totalenergy_wh == 625.0
    assert flex.energy_wh == 625.0


def test_alias_attributes_of_both_spellings() -> None:
    """Seed and 0.2.9 attribute names read the one representation."""
    flex = _flex(duration=90_000)
    assert (flex.wattage, flex.starttime, flex.duration, flex.expirationtime) == (
        2500.0,
        START_MS,
        90_000,
        START_MS - 900_000,
    )
    assert flex.start_time_epoch_ms == START_MS
    assert flex.start_time_epoch_s == START_MS // 1000
    assert flex.expiration_time_epoch_ms == START_MS - 900_000
    assert flex.duration_min == 1.5
    assert _flex().duration_min == 15
    assert type(_flex().duration_min) is int
    assert flex.end_ms == START_MS + 90_000


def test_order_expiration_min_counts_from_now() -> None:
    """order_expiration_min expires the order that many minutes after now_ms."""
    flex = FlexResource(1000, START_MS // 1000, 15, 10, now_ms=NOW_MS)
    assert flex.expiration_ms == NOW_MS + 600_000


def test_order_expiration_min_is_clamped_to_delivery_start() -> None:
    """An expiration that would fall after the delivery start is clamped to the start.

    0.2.9 computed start + validity; this pins that the defect is not copied.
    """
    flex = FlexResource(1000, START_MS // 1000, 15, 24 * 60, now_ms=NOW_MS)
    assert flex.expiration_ms == START_MS
    assert flex.expiration_ms <= flex.start_ms


def test_order_expiration_min_uses_the_clock_by_default() -> None:
    """Without now_ms the real clock is used, and the result is still at most the start."""
    far_start_s = 4_102_444_800  # 2100-01-01
    before = current_time_ms()
    flex = FlexResource(1000, far_start_s, 15, 5)
    after = current_time_ms()
    assert before + 300_000 <= flex.expiration_ms <= after + 300_000


def test_no_expiration_means_the_delivery_start() -> None:
    """Without any expiration the order expires at the delivery start."""
    flex = Flexibility(wattage=1, starttime=START_MS, duration=60_000)
    assert flex.expiration_ms == START_MS


def test_expiration_after_start_is_refused() -> None:
    """An absolute expiration after the delivery start is refused at construction."""
    with pytest.raises(FlexValidationError) as info:
        _flex(expirationtime=START_MS + 1)
    assert info.value.field == "expirationtime"
    assert "must not be after the delivery start" in info.value.rule


def test_float_times_are_rounded_to_milliseconds() -> None:
    """Float ms and float seconds become the nearest whole ms."""
    assert _flex(starttime=START_MS + 0.6, expirationtime=None).start_ms == START_MS + 1
    flex = FlexResource(1, 1_796_119_200.0004, 0.5, 1, now_ms=NOW_MS)
    assert (flex.start_ms, flex.runtime_ms) == (1_796_119_200_000, 30_000)


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"wattage": 0}, "wattage", "> 0"),
        ({"wattage": -5}, "wattage", "> 0"),
        ({"wattage": math.nan}, "wattage", "finite"),
        ({"wattage": math.inf}, "wattage", "finite"),
        ({"wattage": "100"}, "wattage", "real number"),
        ({"wattage": True}, "wattage", "real number"),
        ({"duration": 0}, "duration", "> 0"),
        ({"duration": 0.2}, "duration", "at least 1 ms"),
        ({"starttime": math.nan}, "starttime", "finite"),
        ({"starttime": 1e300}, "starttime", "64-bit"),
        ({"expirationtime": -math.inf}, "expirationtime", "finite"),
    ],
)
def test_flexibility_construction_rules(
    changes: dict[str, object], field: str, fragment: str
) -> None:
    """Clock-independent rules are checked when the flexibility is built, naming the field."""
    with pytest.raises(FlexValidationError) as info:
        _flex(**changes)
    assert info.value.field == field
    assert fragment in info.value.rule


@pytest.mark.parametrize("minutes", [0, -1, math.nan])
def test_order_expiration_min_must_be_positive(minutes: float) -> None:
    """order_expiration_min must be a finite number > 0."""
    with pytest.raises(FlexValidationError) as info:
        FlexResource(1, START_MS // 1000, 15, minutes, now_ms=NOW_MS)
    assert info.value.field == "order_expiration_min"


def test_flexibility_needs_every_quantity() -> None:
    """Power, start and duration are required, in either spelling."""
    with pytest.raises(TypeError, match="power"):
        Flexibility(starttime=START_MS, duration=1)
    with pytest.raises(TypeError, match="start"):
        Flexibility(wattage=1, duration=1)
    with pytest.raises(TypeError, match="duration"):
        Flexibility(wattage=1, starttime=START_MS)


def test_flexibility_refuses_two_spellings_of_one_quantity() -> None:
    """Giving power_w= and wattage= together is a TypeError."""
    with pytest.raises(TypeError, match="power_w= or wattage="):
        Flexibility(power_w=1, wattage=1, starttime=START_MS, duration=1)
    with pytest.raises(TypeError, match="order_expiration_min= or expirationtime="):
        _flex(order_expiration_min=5)


def test_flexibility_is_immutable_and_hashable() -> None:
    """A built flexibility cannot drift from its derived values."""
    flex = _flex()
    with pytest.raises(dataclasses.FrozenInstanceError):
        flex.power_w = 1.0  # type: ignore[misc]
    assert hash(flex) == hash(_flex())


def test_flexibility_validate_passes_in_the_future() -> None:
    """Start and expiration after now pass."""
    _flex().validate(NOW_MS)


def test_flexibility_validate_refuses_a_past_start() -> None:
    """A delivery start at or before now is refused at send time."""
    with pytest.raises(FlexValidationError, match="starttime must be in the future"):
        _flex().validate(START_MS)


def test_flexibility_validate_warns_on_a_past_expiration(caplog: pytest.LogCaptureFixture) -> None:
    """An expiration at or before now is sent (the market cancels it) with a warning naming it."""
    with caplog.at_level("WARNING", logger="flxtrd"):
        _flex().validate(START_MS - 900_000)
    assert "expirationtime" in caplog.text and "not in the future" in caplog.text


def test_flexibility_str_is_human_readable_json() -> None:
    """str() prints rounded values and ISO times, as 0.2.9 did."""
    data = json.loads(str(_flex()))
    assert data == {
        "power_w": 2500.0,
        "energy_wh": 625.0,
        "start_time": "2026-12-01T10:00:00.000Z",
        "duration_min": 15,
        "expiration_time": "2026-12-01T09:45:00.000Z",
    }


# --- MarketOrder ---------------------------------------------------------------------------------


def test_market_order_seed_spelling() -> None:
    """MarketOrder(type=, price=, flexibility=) as in the seed README."""
    flex = _flex()
    order = MarketOrder(type=OrderType.ASK, price=100, flexibility=flex)
    assert (order.order_type, order.price_eur, order.resource) == (OrderType.ASK, 100.0, flex)
    assert (order.type, order.price, order.flexibility) == (OrderType.ASK, 100.0, flex)


def test_market_order_legacy_spelling() -> None:
    """MarketOrder(order_type=, price_eur=, resource=) and positional, as in 0.2.9."""
    flex = _flex()
    assert MarketOrder(order_type=BID, price_eur=7.5, resource=flex) == MarketOrder(BID, 7.5, flex)


def test_market_order_accepts_side_strings() -> None:
    """'ask', 'bid', 'sell' and 'buy' are turned into OrderType."""
    assert MarketOrder("sell", 1, _flex()).order_type is OrderType.ASK
    assert MarketOrder("bid", 1, _flex()).order_type is OrderType.BID


def test_market_order_refuses_an_unknown_side() -> None:
    """An unknown side names order_type."""
    with pytest.raises(FlexValidationError) as info:
        MarketOrder("hold", 1, _flex())
    assert info.value.field == "order_type"


@pytest.mark.parametrize(
    ("price", "fragment"), [(-0.01, ">= 0"), (math.nan, "finite"), (math.inf, "finite")]
)
def test_market_order_price_rules(price: float, fragment: str) -> None:
    """The price must be finite and >= 0, naming the spelling used."""
    with pytest.raises(FlexValidationError) as info:
        MarketOrder(type=ASK, price=price, flexibility=_flex())
    assert info.value.field == "price"
    assert fragment in info.value.rule


def test_market_order_allows_a_zero_price() -> None:
    """A price of 0 is allowed."""
    assert MarketOrder(ASK, 0, _flex()).price_eur == 0.0


def test_market_order_refuses_a_non_flexibility() -> None:
    """resource must be a Flexibility."""
    with pytest.raises(FlexValidationError, match="resource must be a Flexibility"):
        MarketOrder(ASK, 1, {"power_w": 1})  # type: ignore[arg-type]


def test_market_order_needs_all_parts() -> None:
    """A missing side, price or resource is a TypeError; double spellings too."""
    with pytest.raises(TypeError):
        MarketOrder(type=ASK, price=1)
    with pytest.raises(TypeError):
        MarketOrder(ASK, 1, _flex(), price=2)


def test_market_order_validate_runs_the_clock_rules() -> None:
    """validate(now_ms) delegates to the flexibility's clock-dependent rules."""
    order = MarketOrder(ASK, 1, _flex())
    order.validate(NOW_MS)
    with pytest.raises(FlexValidationError):
        order.validate(START_MS)


def test_market_order_to_order_line() -> None:
    """to_order_line gives the generation-1 line fields for an application key."""
    line = MarketOrder(BID, 12.0, _flex()).to_order_line("5f0c8e1a2b3c4d5e6f7081a0")
    assert line == OrderLine(
        side="bid",
        application_key="5f0c8e1a2b3c4d5e6f7081a0",
        version="1",
        starttime=START_MS,
        wattage=2500.0,
        runtime=900_000,
        totalenergy=625.0,
        price=12.0,
        expirationtime=START_MS - 900_000,
    )
    assert encode_order_line(line) == (
        "bid,applicationKey=5f0c8e1a2b3c4d5e6f7081a0,version=1 starttime=1796119200000i,"
        "wattage=2500.0,runtime=900000i,totalenergy=625.0,biddingprice=12.0,"
        "expirationtime=1796118300000i"
    )


@pytest.mark.parametrize("key", ["", None, "k" * 257])
def test_to_order_line_application_key_rule(key: object) -> None:
    """The application key must be a non-empty string of at most 256 characters."""
    with pytest.raises(FlexValidationError) as info:
        MarketOrder(ASK, 1, _flex()).to_order_line(key)  # type: ignore[arg-type]
    assert info.value.field == "application_key"


def test_market_order_round_trips_through_a_line() -> None:
    """from_order_line(decode(encode(to_order_line()))) gives the same order back."""
    order = MarketOrder(ASK, 10.5, _flex())
    line = decode_order_line(encode_order_line(order.to_order_line("abc")))
    assert MarketOrder.from_order_line(line) == order


def test_from_order_line_applies_the_construction_rules() -> None:
    """A decoded line with zero wattage is refused when rebuilt as an order."""
    line = dataclasses.replace(MarketOrder(ASK, 1, _flex()).to_order_line("abc"), wattage=0.0)
    with pytest.raises(FlexValidationError, match="wattage must be > 0"):
        MarketOrder.from_order_line(line)


def test_market_order_str_is_human_readable_json() -> None:
    """str() prints the side name, the price and the resource."""
    data = json.loads(str(MarketOrder(ASK, 100, _flex())))
    assert data["order_type"] == "ASK"
    assert data["price_eur"] == 100.0
    assert data["FlexResource"]["energy_wh"] == 625.0


# --- FlexResponse --------------------------------------------------------------------------------


def test_flex_response_defaults() -> None:
    """FlexResponse keeps 0.2.9's attribute names; everything defaults to None."""
    response = FlexResponse()
    assert (response.request_response, response.order_response, response.plugin_data) == (
        None,
        None,
        None,
    )
    assert FlexResponse(order_response="confirmed").order_response == "confirmed"
