"""Generation-2 fleets on the embedded sandbox: locations of one account, and many accounts."""

from __future__ import annotations

import time
import uuid

from flxtrd import FlexAPIClient, FlexValidationError, Gen2Device, Gen2Fleet, OrderSpec, User
from flxtrd._validation import OrderSpec as _Spec

QUARTER = 15 * 60_000


def _spec(side: str) -> OrderSpec:
    from datetime import UTC, datetime, timedelta

    start_ms = (time.time_ns() // 1_000_000 // QUARTER + 8) * QUARTER
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=start_ms)
    return _Spec(
        side=side,
        power_w=1000.0,
        price_eur_per_kwh=0.2,
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        expiry_time=start - timedelta(minutes=15),
    )


def _client(name: str) -> FlexAPIClient:
    return FlexAPIClient(base_url="sandbox://", user=User(name=name, password="pw"), env={})


def test_locations_of_two_accounts_place_orders_each_for_its_own_location() -> None:
    """3 devices on 2 accounts: each order is placed by its account, for its device's location."""
    tag = uuid.uuid4().hex[:8]
    accounts = {"a": _client(f"g2a-{tag}@example.com"), "b": _client(f"g2b-{tag}@example.com")}
    devices = [
        Gen2Device("heat-pump", "a", f"loc-hp-{tag}"),
        Gen2Device("battery", "a", f"loc-bat-{tag}"),
        Gen2Device("charger", "b", f"loc-ev-{tag}"),
    ]
    with Gen2Fleet(accounts, devices, streams=False) as fleet:
        outcomes = fleet.place([(d.device_id, _spec("buy")) for d in devices])
        assert [o.ok for o in outcomes] == [True, True, True]
        for device, outcome in zip(devices, outcomes, strict=True):
            order = accounts[device.account].orders.get(int(outcome.message_id))
            assert list(order.location.location_id) == [device.location_id]
        assert fleet.stats.confirmed == 3
        assert fleet.device("battery").confirmed == 1


def test_a_gen2_device_naming_an_unknown_account_is_refused_naming_it() -> None:
    """A device of an account the fleet does not have: refused before anything is sent."""
    try:
        Gen2Fleet({}, [Gen2Device("x", "nobody", "loc")])
    except FlexValidationError as exc:
        assert exc.field == "account" and "'x'" in str(exc)
    else:  # pragma: no cover - the assertion explains
        raise AssertionError("expected FlexValidationError")


def test_a_fill_on_the_trade_stream_reaches_the_device_whose_order_it_was() -> None:
    """A seller device of one account and a buyer of another trade; each gets its own fill."""
    from flxtrd import OrderType, PlaceOrder

    tag = uuid.uuid4().hex[:8]
    accounts = {"s": _client(f"g2s-{tag}@example.com"), "b": _client(f"g2b-{tag}@example.com")}
    devices = [Gen2Device("seller", "s", f"loc-{tag}"), Gen2Device("buyer", "b", f"loc-{tag}")]
    start = (time.time_ns() // 1_000_000 // QUARTER + 8) * QUARTER
    expiry = start - QUARTER

    def order(side: OrderType, price: float) -> PlaceOrder:
        return PlaceOrder(f"{side}-1", side, 1000.0, price, start, start + QUARTER, expiry)

    with Gen2Fleet(accounts, devices) as fleet:
        placed = fleet.place(
            [("seller", order(OrderType.ASK, 0.1)), ("buyer", order(OrderType.BID, 0.2))]
        )
        assert [o.ok for o in placed] == [True, True], [o.error for o in placed]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and fleet.stats.deals < 2:
            fleet.poll(0.05)
        assert fleet.device("seller").deals == 1
        assert fleet.device("buyer").deals == 1
        assert fleet.device("seller").energy_sold_wh == 250.0
        assert fleet.device("buyer").energy_bought_wh == 250.0
