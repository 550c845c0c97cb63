"""Typed entry points: generated models out, raw responses on request, validation before sending."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from client_fakes import APP_KEY, USER_ID, FakeClock, FakeMarket, resolve
from glocalflex_rest.models import (
    Contract,
    ContractList,
    CountryCode,
    Deal,
    LoginResponse,
    Order,
    OrderList,
    OrderLocation,
    OrderRequest,
    OrderStatus,
    Side,
)

from flxtrd._errors import ConflictError, FlexValidationError, NotFoundError
from flxtrd._rest._http import RawResponse
from flxtrd._validation import OrderSpec


def order_fields(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    """Valid keyword fields of orders.place: tomorrow 10:00-10:15 UTC, expiring 30 min before."""
    start = clock.datetime().replace(minute=0, second=0, microsecond=0) + timedelta(days=1, hours=1)
    fields: dict[str, Any] = {
        "side": "buy",
        "power_w": 2500.0,
        "price_eur_per_kwh": 0.25,
        "delivery_start": start,
        "delivery_end": start + timedelta(minutes=15),
        "expiry_time": start - timedelta(minutes=30),
        "country_code": "DE",
        "location_ids": ["loc-001"],
    }
    fields.update(overrides)
    return fields


async def test_place_returns_the_generated_order(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """orders.place returns a glocalflex_rest Order with UTC datetimes; the body is Z-suffixed."""
    client = make_client()
    order = await resolve(client.orders.place(**order_fields(clock)))
    assert isinstance(order, Order)
    assert order.id == 1
    assert order.side is Side.BUY
    assert order.status is OrderStatus.PENDING
    assert order.delivery_start == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert order.location.country_code is CountryCode.DE
    sent = market.requests[-1]
    assert b'"delivery_start":"2026-11-29T10:00:00Z"' in sent.content
    assert market.operations == ["get_token", "create_order"]


async def test_place_accepts_spec_and_generated_request(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """orders.place takes an OrderSpec or a generated OrderRequest as well as keywords."""
    client = make_client()
    fields = order_fields(clock)
    spec = OrderSpec(**fields)
    assert (await resolve(client.orders.place(spec))).id == 1
    request = OrderRequest(
        side=Side.SELL,
        power=1000.0,
        price=0.3,
        delivery_start=fields["delivery_start"],
        delivery_end=fields["delivery_end"],
        expiry_time=fields["expiry_time"],
        location=OrderLocation(country_code=CountryCode.CH, location_id=None),
    )
    placed = await resolve(client.orders.place(request))
    assert placed.side is Side.SELL
    assert placed.status is OrderStatus.AWAITING_BASELINE_DATA
    with pytest.raises(TypeError):
        await resolve(client.orders.place(spec, side="buy"))
    with pytest.raises(TypeError, match="missing"):
        await resolve(client.orders.place(side="buy"))


async def test_list_get_cancel(make_client: Any, market: FakeMarket, clock: FakeClock) -> None:
    """list/get/cancel return models; cancelling twice is a ConflictError, unknown ids NotFound."""
    client = make_client()
    placed = await resolve(client.orders.place(**order_fields(clock)))
    page = await resolve(client.orders.list(status="pending", side=Side.BUY, limit=10, offset=0))
    assert isinstance(page, OrderList)
    assert [o.id for o in page.items] == [placed.id]
    assert (await resolve(client.orders.get(placed.id))).status is OrderStatus.PENDING
    cancelled = await resolve(client.orders.cancel(placed.id))
    assert cancelled.status is OrderStatus.CANCELLED
    with pytest.raises(ConflictError, match="cannot be cancelled"):
        await resolve(client.orders.cancel(placed.id))
    with pytest.raises(NotFoundError):
        await resolve(client.orders.get(999))
    listed = market.requests[market.operations.index("list_orders")]
    assert listed.url.params["status"] == "pending"
    assert listed.url.params["side"] == "buy"


async def test_contracts(make_client: Any) -> None:
    """contracts.list and contracts.get return generated Contract models."""
    client = make_client()
    page = await resolve(client.contracts.list(status="active"))
    assert isinstance(page, ContractList)
    contract = await resolve(client.contracts.get(7))
    assert isinstance(contract, Contract)
    assert contract.settlement.status.value == "awaiting_verification_completion"


async def test_deals_with_etag(make_client: Any, market: FakeMarket) -> None:
    """deals() logs in for the JWT, returns Deal models, and None on a 304 for the same ETag."""
    client = make_client()
    deals = await resolve(client.deals("1h"))
    assert [type(d) for d in deals] == [Deal]
    raw = await resolve(client.with_raw_response.deals())
    etag = raw.headers["etag"]
    assert await resolve(client.deals(if_none_match=etag)) is None
    assert market.operations.count("login_user") == 1


async def test_login_returns_the_generated_model(make_client: Any) -> None:
    """client.login() returns LoginResponse and fills the user id and application key."""
    client = make_client()
    login = await resolve(client.login())
    assert isinstance(login, LoginResponse)
    assert (client.user.user_id, client.user.app_key) == (USER_ID, APP_KEY)


async def test_raw_response(make_client: Any, clock: FakeClock) -> None:
    """with_raw_response keeps the httpx.Response and the plugin data beside the model."""
    client = make_client()
    raw = await resolve(client.with_raw_response.orders.place(**order_fields(clock)))
    assert isinstance(raw, RawResponse)
    assert isinstance(raw.parsed, Order)
    assert raw.status_code == 200
    assert raw.json()["id"] == raw.parsed.id
    assert raw.plugin_data == {"AuthPlugin_before": None, "AuthPlugin_after": None}
    for call in (
        client.with_raw_response.orders.list(),
        client.with_raw_response.orders.get(1),
        client.with_raw_response.orders.cancel(1),
        client.with_raw_response.contracts.list(),
        client.with_raw_response.contracts.get(7),
    ):
        assert (await resolve(call)).status_code == 200


async def test_unknown_status_and_extra_field_parse(make_client: Any, market: FakeMarket) -> None:
    """An order status this client does not know and an extra field parse (forward compatible)."""
    client = make_client()
    body = {
        "id": 42,
        "side": "buy",
        "power": 2500.0,
        "price": 0.25,
        "delivery_start": "2026-12-01T10:00:00Z",
        "delivery_end": "2026-12-01T10:15:00Z",
        "expiry_time": "2026-12-01T09:30:00Z",
        "location": {"location_id": None, "country_code": "DE", "grid_zone": "50Hertz"},
        "status": "awaiting_regulator_approval",
        "priority": 5,
    }
    market.push("get_order", httpx.Response(200, json=body))
    order = await resolve(client.orders.get(42))
    assert order.status.value == "awaiting_regulator_approval"
    assert order.status.name == "UNKNOWN"
    assert isinstance(order.status, OrderStatus)
    assert order.additional_properties == {"priority": 5}
    assert order.location.additional_properties == {"grid_zone": "50Hertz"}


# --- the validation catalogue: one case per rule, nothing reaches the transport ------------------

BERLIN = ZoneInfo("Europe/Berlin")


def _catalogue(clock: FakeClock) -> list[tuple[str, dict[str, Any], str]]:
    """(case id, field overrides, field named by the error)."""
    f = order_fields(clock)
    start, end = f["delivery_start"], f["delivery_end"]
    past = clock.datetime().replace(minute=0) - timedelta(hours=1)
    return [
        ("side", {"side": "hold"}, "side"),
        ("power zero", {"power_w": 0}, "power_w"),
        ("power negative", {"power_w": -5.0}, "power_w"),
        ("power NaN", {"power_w": math.nan}, "power_w"),
        ("power inf", {"power_w": math.inf}, "power_w"),
        ("power bool", {"power_w": True}, "power_w"),
        ("power str", {"power_w": "2500"}, "power_w"),
        ("power too big", {"power_w": 2e9}, "power_w"),
        ("price negative", {"price_eur_per_kwh": -0.01}, "price_eur_per_kwh"),
        ("price NaN", {"price_eur_per_kwh": math.nan}, "price_eur_per_kwh"),
        ("price too big", {"price_eur_per_kwh": 1e7}, "price_eur_per_kwh"),
        ("country", {"country_code": "XX"}, "country_code"),
        ("location ids too many", {"location_ids": ["x"] * 1001}, "location_ids"),
        ("location ids str", {"location_ids": "loc-001"}, "location_ids"),
        ("location id empty", {"location_ids": [""]}, "location_ids[0]"),
        ("naive start", {"delivery_start": start.replace(tzinfo=None)}, "delivery_start"),
        ("naive expiry", {"expiry_time": f["expiry_time"].replace(tzinfo=None)}, "expiry_time"),
        ("start off quarter", {"delivery_start": start + timedelta(minutes=5)}, "delivery_start"),
        ("end off quarter", {"delivery_end": end + timedelta(seconds=1)}, "delivery_end"),
        ("end before start", {"delivery_end": start}, "delivery_end"),
        ("expiry after start", {"expiry_time": start + timedelta(minutes=1)}, "expiry_time"),
        (
            "start in the past",
            {
                "delivery_start": past,
                "delivery_end": past + timedelta(minutes=15),
                "expiry_time": past,
            },
            "delivery_start",
        ),
        (
            "expiry in the past",
            {"expiry_time": clock.datetime() - timedelta(seconds=1)},
            "expiry_time",
        ),
    ]


CASE_IDS = [case[0] for case in _catalogue(FakeClock())]


@pytest.mark.parametrize("case", CASE_IDS)
async def test_invalid_orders_never_reach_the_transport(
    make_client: Any, clock: FakeClock, case: str
) -> None:
    """Each validation rule raises FlexValidationError naming the field; nothing is sent."""
    sent: list[httpx.Request] = []
    client = make_client(lambda request: sent.append(request) or httpx.Response(500))
    _, overrides, field = next(c for c in _catalogue(clock) if c[0] == case)
    with pytest.raises(FlexValidationError) as raised:
        await resolve(client.orders.place(**order_fields(clock, **overrides)))
    assert raised.value.field == field
    assert raised.value.rule
    assert sent == []


async def test_aware_non_utc_times_are_converted(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """Aware times in another zone are converted to UTC (Berlin 11:00 CET = 10:00Z)."""
    client = make_client()
    start = datetime(2026, 11, 29, 11, 0, tzinfo=BERLIN)
    fields = order_fields(
        clock,
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        expiry_time=start - timedelta(minutes=30),
    )
    await resolve(client.orders.place(**fields))
    assert b'"delivery_start":"2026-11-29T10:00:00Z"' in market.requests[-1].content


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.orders.get(0), "order_id"),
        (lambda c: c.orders.get(True), "order_id"),
        (lambda c: c.orders.cancel("42"), "order_id"),
        (lambda c: c.contracts.get(-1), "contract_id"),
        (lambda c: c.orders.list(limit=0), "limit"),
        (lambda c: c.orders.list(limit=1001), "limit"),
        (lambda c: c.orders.list(offset=-1), "offset"),
        (lambda c: c.orders.list(status="lost"), "status"),
        (lambda c: c.orders.list(side="hold"), "side"),
        (lambda c: c.contracts.list(status="open"), "status"),
        (lambda c: c.deals("1 hour"), "relative_time"),
        (lambda c: c.deals("0h"), "relative_time"),
    ],
)
async def test_invalid_arguments_never_reach_the_transport(
    make_client: Any, call: Any, field: str
) -> None:
    """Bad ids, pages, filters and relative times are refused before anything is sent."""
    sent: list[httpx.Request] = []
    client = make_client(lambda request: sent.append(request) or httpx.Response(500))
    with pytest.raises(FlexValidationError) as raised:
        await resolve(call(client))
    assert raised.value.field == field
    assert sent == []
