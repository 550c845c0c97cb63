"""Bad user input, one test per rule: the named FlexValidationError, before anything is sent.

Each rule of the catalogue is tried on both order paths:

- generation 1, ``client.send_order(order=MarketOrder(...))`` (the seed's spelling; flxtrd 0.2.9's
  ``FlexResource`` where it differs) and, for the strings only AMQP carries, ``AmpqAPI``;
- generation 2, ``client.orders.place(...)`` (sync and async client).

"Before anything is sent" is checked, not assumed: the REST transport records every request
(even the token request a first call would make), the generation-1 client's trading protocol is
a spy that records every call (connect included), and the ``AmpqAPI`` cases use a backend
factory that records every connection attempt. After each refusal all three are empty.

The error must be a :class:`~flxtrd.FlexValidationError` naming the field (``err.field``) and the
rule (``err.rule``, also in ``str(err)``). Rules a generation does not have are listed in
:data:`NOT_IN_GENERATION_1` (epoch-ms times carry no time zone, and generation-1 orders have
no quarter-hour rule and no country).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from client_fakes import FakeClock, FakeMarket, make_user

from flxtrd import Flexibility, FlexResource, MarketOrder, OrderType
from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._backend import _BackendContext
from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import FlexValidationError
from flxtrd._retry import RetryPolicy
from flxtrd._validation import (
    AFTER_DELIVERY_START,
    COUNTRY,
    DATETIME,
    FINITE,
    IN_FUTURE,
    NUMBER,
    POSITIVE,
    QUARTER_HOUR,
    SIDE,
    TZ_AWARE,
)

BERLIN = ZoneInfo("Europe/Berlin")
#: The clients' clock: 2027-10-01T08:00:00Z, so the last Sunday of October 2027 (the 31st,
#: when Central Europe leaves summer time) is in the future.
NOW = datetime(2027, 10, 1, 8, 0, tzinfo=UTC)
START = datetime(2027, 10, 1, 10, 0, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
QUARTER_MS = 900_000
SHORTSTR = "must be a non-empty string of at most 255 UTF-8 bytes (an AMQP short string)"


# --- what records I/O ------------------------------------------------------------------------


class RecordingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Records every request (sync or async) and answers 500, so nothing can pass unnoticed."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record a sync request."""
        self.requests.append(f"{request.method} {request.url.path}")
        return httpx.Response(500, json={"detail": "no request should get here"})

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Record an async request."""
        return self.handle_request(request)


class TradeSpy:
    """A trading protocol that records every call (connecting included) and sends nothing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append(name)

        return record

    def send_order(self, *args: Any, **kwargs: Any) -> None:
        """Record an order (what a real protocol would publish)."""
        self.calls.append("send_order")


class BackendSpy:
    """An ``AmpqAPI`` backend factory that records connection attempts and refuses them."""

    def __init__(self) -> None:
        self.opened = 0

    def __call__(self, ctx: _BackendContext) -> Any:
        """Count the attempt and refuse it."""
        self.opened += 1
        raise AssertionError("AmpqAPI tried to connect")


@dataclass
class Gen1:
    """A generation-1 client whose REST and AMQP edges record everything."""

    client: FlexAPIClient
    transport: RecordingTransport
    trade: TradeSpy

    def assert_nothing_sent(self) -> None:
        """No REST request, no call to the trading protocol."""
        assert self.transport.requests == []
        assert self.trade.calls == []


@pytest.fixture
def gen1() -> Gen1:
    """A FlexAPIClient with a recording transport and a trade-protocol spy."""
    transport, trade = RecordingTransport(), TradeSpy()
    client = FlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        transport=transport,
        trade_protocol=trade,
        clock=FakeClock(NOW),
        env={},
        retry_policy=RetryPolicy(max_retries=0),
    )
    return Gen1(client, transport, trade)


def expect(error: BaseException | None, field: str, rule: str) -> None:
    """``error`` is a FlexValidationError naming ``field`` and (a rule containing) ``rule``."""
    assert isinstance(error, FlexValidationError), f"expected FlexValidationError, got {error!r}"
    assert error.field == field, str(error)
    assert rule in error.rule, str(error)
    assert str(error).startswith(f"{field} ") and rule in str(error)


# --- generation 1 ----------------------------------------------------------------------------


def order1(**changes: Any) -> MarketOrder:
    """A valid generation-1 order (seed spelling) with ``changes`` applied."""
    flex: dict[str, Any] = {
        "wattage": 2500.0,
        "starttime": START_MS,
        "duration": QUARTER_MS,
        "expirationtime": START_MS - 2 * QUARTER_MS,
    }
    price = changes.pop("price", 10.0)
    side = changes.pop("type", OrderType.ASK)
    flex.update(changes)
    return MarketOrder(type=side, price=price, flexibility=Flexibility(**flex))


@dataclass(frozen=True)
class Gen1Case:
    """One rule on the generation-1 path: how the user builds the order, and the verdict."""

    rule_name: str
    build: Callable[[], Any]
    field: str
    rule: str


GEN1_CASES = [
    Gen1Case("NaN", lambda: order1(wattage=math.nan), "wattage", FINITE),
    Gen1Case("NaN (0.2.9 spelling)",
             lambda: MarketOrder(OrderType.BID, 10.0, FlexResource(math.nan, 1_900_000_000, 15)),
             "power_w", FINITE),
    Gen1Case("inf", lambda: order1(price=math.inf), "price", FINITE),
    Gen1Case("-inf start", lambda: order1(starttime=-math.inf), "starttime", FINITE),
    Gen1Case("negative power", lambda: order1(wattage=-2500.0), "wattage", POSITIVE),
    Gen1Case("negative price", lambda: order1(price=-1.0), "price", "must be >= 0"),
    Gen1Case("zero duration", lambda: order1(duration=0), "duration", POSITIVE),
    Gen1Case("zero duration (0.2.9 spelling)",
             lambda: MarketOrder(OrderType.ASK, 10.0, FlexResource(2500.0, 1_900_000_000, 0)),
             "duration_min", POSITIVE),
    Gen1Case("expiry after start", lambda: order1(expirationtime=START_MS + 60_000),
             "expirationtime", "must not be after the delivery start"),
    Gen1Case("start in the past", lambda: order1(starttime=START_MS - 6 * 3_600_000,
                                                  expirationtime=START_MS - 7 * 3_600_000),
             "starttime", IN_FUTURE),
    Gen1Case("start in epoch seconds", lambda: order1(starttime=START_MS // 1000,
                                                       expirationtime=START_MS // 1000 - 900),
             "starttime", "looks like epoch seconds"),
    Gen1Case("naive datetime (epoch ms expected)",
             lambda: order1(starttime=datetime(2027, 10, 1, 10, 0)), "starttime", NUMBER),
    Gen1Case("wrong type: power as text", lambda: order1(wattage="2500"), "wattage", NUMBER),
    Gen1Case("wrong type: bool price", lambda: order1(price=True), "price", NUMBER),
    Gen1Case("wrong type: unknown side", lambda: order1(type="hold"), "order_type",
             "must be OrderType.ASK or OrderType.BID"),
    Gen1Case("wrong type: no order at all", lambda: None, "order", "is required"),
    Gen1Case("wrong type: not a Flexibility",
             lambda: MarketOrder(type=OrderType.ASK, price=1.0, flexibility={"wattage": 1}),
             "flexibility", "must be a Flexibility"),
]  # fmt: skip

NOT_IN_GENERATION_1 = {
    "DST edge": "epoch-ms times carry no time zone",
    "unaligned quarter hour": "generation 1 has no quarter-hour rule in the SDK",
    "unknown country": "generation-1 orders have no country",
}


@pytest.mark.parametrize("case", GEN1_CASES, ids=[c.rule_name for c in GEN1_CASES])
def test_generation_1_send_order_refuses_before_any_io(case: Gen1Case, gen1: Gen1) -> None:
    """The order the user writes for send_order is refused, naming field and rule; nothing sent."""
    error: BaseException | None = None
    try:
        order = case.build()  # clock-free rules fire here, as the order is built
        _, error = gen1.client.send_order(order=order)  # clock rules fire here, before plugins
    except FlexValidationError as exc:
        error = exc
    expect(error, case.field, case.rule)
    gen1.assert_nothing_sent()


class BatchSpy(TradeSpy):
    """A trading protocol whose ``send_orders`` records the batch and confirms nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Any]] = []

    def send_orders(self, orders: Any) -> list[Any]:
        """Record the batch; one placeholder outcome per order."""
        batch = list(orders)
        self.batches.append(batch)
        return [("sent", item) for item in batch]


def _builds(case: Gen1Case) -> bool:
    """True when the case's order can be built (its rule is one the send call checks)."""
    try:
        case.build()
    except FlexValidationError:
        return False
    return True


SEND_TIME_CASES = [case for case in GEN1_CASES if _builds(case)]


@pytest.mark.parametrize("case", SEND_TIME_CASES, ids=[c.rule_name for c in SEND_TIME_CASES])
def test_generation_1_send_orders_refuses_what_send_order_refuses(case: Gen1Case) -> None:
    """send_orders checks each order as send_order does: the bad one gets the same named error
    as its outcome and is not handed to the broker; its neighbours are sent."""
    bad = case.build()
    trade = BatchSpy()
    client = FlexAPIClient(base_url="https://market.test", user=make_user(),
                           transport=RecordingTransport(), trade_protocol=trade,
                           clock=FakeClock(NOW), env={})  # fmt: skip
    good = order1()
    outcomes = client.send_orders([good, (bad, "id-of-the-bad-one"), good])
    expect(outcomes[1].error, case.field, case.rule)
    assert outcomes[1].receipt is None and outcomes[1].message_id == "id-of-the-bad-one"
    assert outcomes[0] == outcomes[2] == ("sent", good)
    assert trade.batches == [[good, good]]


def test_generation_1_send_orders_refuses_a_delivery_that_started_days_ago() -> None:
    """An order whose delivery started 10 days ago is refused by send_orders (as by send_order),
    never published for the market to confirm and cancel."""
    trade = BatchSpy()
    client = FlexAPIClient(base_url="https://market.test", user=make_user(),
                           transport=RecordingTransport(), trade_protocol=trade,
                           clock=FakeClock(NOW), env={})  # fmt: skip
    ten_days_ago = START_MS - 10 * 86_400_000
    stale = order1(starttime=ten_days_ago, expirationtime=ten_days_ago - QUARTER_MS)
    _, single = client.send_order(order=stale)
    (outcome,) = client.send_orders([stale])
    expect(single, "starttime", IN_FUTURE)
    expect(outcome.error, "starttime", IN_FUTURE)
    assert trade.batches == [] and "send_order" not in trade.calls


@pytest.mark.parametrize("bad", ["ask,wattage=2500", 2500], ids=["str", "int"])
def test_generation_1_send_order_refuses_a_non_order_before_any_io(bad: Any, gen1: Gen1) -> None:
    """send_order(order=<not an order>) is a FlexValidationError on "order"; nothing sent."""
    _, error = gen1.client.send_order(order=bad, market_order=None)
    gen1.assert_nothing_sent()
    expect(error, "order", "must be a MarketOrder")


@pytest.mark.parametrize(
    "message_id",
    ["x" * 256, "é" * 128, "", 12345, ["id"]],
    ids=["oversize", "oversize in UTF-8 bytes", "empty", "wrong type int", "wrong type list"],
)
def test_generation_1_amqp_strings_are_refused_before_connecting(message_id: Any) -> None:
    """AmpqAPI message_id must be an AMQP short string: refused before any connection attempt."""
    spy = BackendSpy()
    api = AmpqAPI(
        "amqp://guest:guest@127.0.0.1:1//",
        "user",
        "token",
        "app-key",
        retry_policy=RetryPolicy(max_retries=0),
    )
    api._backend_factory = spy
    with pytest.raises(FlexValidationError) as raised:
        api.send_order(order1(), message_id=message_id)
    expect(raised.value, "message_id", SHORTSTR)
    (outcome,) = api.send_orders([(order1(), message_id)])
    expect(outcome.error, "message_id", SHORTSTR)
    assert spy.opened == 0 and api.stats.sent == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("application_key", "k" * 256), ("exchange", "e" * 256), ("user_id", "u" * 256)],
)
def test_generation_1_oversize_broker_names_are_refused_at_construction(
    field: str, value: str
) -> None:
    """Names longer than an AMQP short string are refused when AmpqAPI is made, not on the wire."""
    kwargs: dict[str, Any] = {"exchange": "in"}
    args: dict[str, Any] = {"user_id": "user", "application_key": "app-key"}
    (args if field in args else kwargs)[field] = value
    with pytest.raises(FlexValidationError) as raised:
        AmpqAPI("amqp://127.0.0.1:1//", args["user_id"], "token", args["application_key"], **kwargs)
    expect(raised.value, field, SHORTSTR)


# --- generation 2 ----------------------------------------------------------------------------


def fields2(**changes: Any) -> dict[str, Any]:
    """The keyword arguments of a valid generation-2 order with ``changes`` applied."""
    fields: dict[str, Any] = {
        "side": "buy",
        "power_w": 2500.0,
        "price_eur_per_kwh": 0.25,
        "delivery_start": START,
        "delivery_end": START + timedelta(minutes=15),
        "expiry_time": START - timedelta(minutes=30),
        "country_code": "DE",
    }
    fields.update(changes)
    return fields


def dst(hour: int, minute: int, fold: int) -> datetime:
    """A Berlin wall-clock time on 2027-10-31, when 02:00-02:59 happens twice (fold 0: CEST)."""
    return datetime(2027, 10, 31, hour, minute, fold=fold, tzinfo=BERLIN)


@dataclass(frozen=True)
class Gen2Case:
    """One rule on the generation-2 path."""

    rule_name: str
    fields: dict[str, Any]
    field: str
    rule: str


GEN2_CASES = [
    Gen2Case("NaN", fields2(power_w=math.nan), "power_w", FINITE),
    Gen2Case("inf", fields2(price_eur_per_kwh=math.inf), "price_eur_per_kwh", FINITE),
    Gen2Case("negative power", fields2(power_w=-2500.0), "power_w", POSITIVE),
    Gen2Case("power above the market's limit", fields2(power_w=2e9), "power_w", "must be <="),
    Gen2Case("negative price", fields2(price_eur_per_kwh=-0.01), "price_eur_per_kwh",
             "must be >= 0"),
    Gen2Case("zero duration", fields2(delivery_end=START), "delivery_end", AFTER_DELIVERY_START),
    Gen2Case("expiry after start", fields2(expiry_time=START + timedelta(minutes=1)),
             "expiry_time", "must not be after delivery_start"),
    Gen2Case("expiry in the past", fields2(expiry_time=NOW - timedelta(minutes=1)),
             "expiry_time", IN_FUTURE),
    Gen2Case("naive datetime", fields2(delivery_start=datetime(2027, 10, 1, 10, 0)),
             "delivery_start", TZ_AWARE),
    Gen2Case("naive expiry", fields2(expiry_time=datetime(2027, 10, 1, 9, 0)),
             "expiry_time", TZ_AWARE),
    Gen2Case("DST edge: end before start in UTC, after it on the wall clock",
             fields2(delivery_start=dst(2, 30, fold=1), delivery_end=dst(2, 45, fold=0),
                     expiry_time=dst(1, 0, fold=0)),
             "delivery_end", AFTER_DELIVERY_START),
    Gen2Case("unaligned quarter hour", fields2(delivery_start=START + timedelta(minutes=7)),
             "delivery_start", QUARTER_HOUR),
    Gen2Case("unaligned by seconds", fields2(delivery_end=START + timedelta(minutes=15, seconds=1)),
             "delivery_end", QUARTER_HOUR),
    Gen2Case("unknown country", fields2(country_code="XX"), "country_code", COUNTRY),
    Gen2Case("country in lower case", fields2(country_code="de"), "country_code", COUNTRY),
    Gen2Case("oversize location id", fields2(location_ids=["L" * 129]), "location_ids[0]",
             "must be at most 128 characters"),
    Gen2Case("too many location ids", fields2(location_ids=["L"] * 1001), "location_ids",
             "at most 1000"),
    Gen2Case("wrong type: power as text", fields2(power_w="2500"), "power_w", NUMBER),
    Gen2Case("wrong type: bool price", fields2(price_eur_per_kwh=False), "price_eur_per_kwh",
             NUMBER),
    Gen2Case("wrong type: start as text", fields2(delivery_start="2027-10-01T10:00:00Z"),
             "delivery_start", DATETIME),
    Gen2Case("wrong type: generation-1 side", fields2(side="ask"), "side", SIDE),
    Gen2Case("wrong type: location ids as one string", fields2(location_ids="L1"),
             "location_ids", "None or a list"),
]  # fmt: skip


def gen2_client(flavor: str, transport: RecordingTransport) -> Any:
    """A sync or async client whose REST transport records everything."""
    kwargs: dict[str, Any] = dict(
        base_url="https://market.test",
        user=make_user(),
        transport=transport,
        clock=FakeClock(NOW),
        env={},
        retry_policy=RetryPolicy(max_retries=0),
    )
    return FlexAPIClient(**kwargs) if flavor == "sync" else AsyncFlexAPIClient(**kwargs)


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("case", GEN2_CASES, ids=[c.rule_name for c in GEN2_CASES])
async def test_generation_2_orders_place_refuses_before_any_io(case: Gen2Case, flavor: str) -> None:
    """orders.place with one bad field raises naming field and rule; no request, not even auth."""
    transport = RecordingTransport()
    client = gen2_client(flavor, transport)
    with pytest.raises(FlexValidationError) as raised:
        result = client.orders.place(**case.fields)
        if flavor == "async":
            await result
    expect(raised.value, case.field, case.rule)
    assert transport.requests == []


def test_generation_2_dst_edge_is_ordered_in_utc_not_on_the_wall_clock() -> None:
    """The reverse DST case is valid (02:45 CEST is before 02:00 CET) and is sent in UTC."""
    clock = FakeClock(NOW)
    market = FakeMarket(clock)
    client = FlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        transport=httpx.MockTransport(market.handler),
        clock=clock,
        env={},
    )
    start, end = dst(2, 45, fold=0), dst(2, 0, fold=1)  # 00:45Z and 01:00Z
    assert end.replace(tzinfo=None) < start.replace(tzinfo=None)  # "before" on the wall clock
    order = client.orders.place(
        **fields2(delivery_start=start, delivery_end=end, expiry_time=dst(1, 0, fold=0))
    )
    body = market.requests[-1].content
    assert b'"delivery_start":"2027-10-31T00:45:00Z"' in body.replace(b" ", b"")
    assert b'"delivery_end":"2027-10-31T01:00:00Z"' in body.replace(b" ", b"")
    assert order.delivery_end > order.delivery_start
    client.close()


def test_every_catalogue_rule_is_covered_or_declared_absent() -> None:
    """Each rule of the issue's catalogue has generation-2 cases, and generation-1 ones or a
    reason why generation 1 has no such rule."""
    catalogue = ["NaN", "inf", "negative power", "zero duration", "expiry after start",
                 "naive datetime", "DST edge", "unaligned quarter hour", "unknown country",
                 "oversize", "wrong type"]  # fmt: skip
    gen1 = " | ".join(c.rule_name for c in GEN1_CASES) + " | oversize message_id"
    gen2 = " | ".join(c.rule_name for c in GEN2_CASES)
    for rule in catalogue:
        assert rule in gen2, rule
        assert rule in gen1 or rule in NOT_IN_GENERATION_1, rule
