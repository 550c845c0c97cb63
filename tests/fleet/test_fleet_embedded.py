"""Fleets on the embedded sandbox (``memory://``): batches, routing, strategies, bad devices."""

from __future__ import annotations

import threading
import uuid

import pytest

from flxtrd import (
    AlreadyConnectedError,
    AmpqAPI,
    Fleet,
    FleetDevice,
    FlexValidationError,
    MarketOrder,
    OrderState,
    OrderType,
    PortfolioStrategy,
    TradingStrategy,
    login_devices,
)
from flxtrd._fleet._logins import sandbox_users
from flxtrd._fleet._shards import OrderPlan, plan_order

QUARTER = 15 * 60_000


def _devices(count: int, **kwargs: object) -> tuple[str, list[FleetDevice]]:
    prefix = f"fe{uuid.uuid4().hex[:8]}"
    users = [(f"dev{i}", u) for i, u in enumerate(sandbox_users(count, prefix=prefix))]
    broker_url, devices, errors = login_devices("sandbox://", users, **kwargs)  # type: ignore[arg-type]
    assert errors == {}
    return broker_url, devices


def _start_ms() -> int:
    import time

    return (time.time_ns() // 1_000_000 // QUARTER + 8) * QUARTER


def _order(index: int, plan: OrderPlan) -> MarketOrder:
    return plan_order(plan, index)


def _settle(fleet: Fleet, deals: int, rounds: int = 400) -> None:
    """Read replies until the fleet counted ``deals`` deals (or give up after ``rounds``)."""
    for _ in range(rounds):
        if fleet.stats.deals >= deals:
            return
        fleet.step(0.01)


def test_a_batch_across_devices_is_confirmed_and_each_reply_reaches_its_device() -> None:
    """10 devices, 3 orders each: 30 confirmed, and each device gets its own 3 closed orders."""
    broker_url, devices = _devices(10)
    plan = OrderPlan(orders=3, start_ms=_start_ms())
    with Fleet(devices, broker_url=broker_url) as fleet:
        batch = [(d.device_id, _order(i, plan)) for _ in range(3) for i, d in enumerate(devices)]
        outcomes = fleet.place(batch)
        assert [o.ok for o in outcomes] == [True] * 30
        assert [o.device_id for o in outcomes] == [d for d, _ in batch]
        assert len({o.message_id for o in outcomes}) == 30
        _settle(fleet, 30)
        for d in devices:
            stats = fleet.device(d.device_id)
            assert (stats.confirmed, stats.deals, stats.failed) == (3, 3, 0)
        total = fleet.stats
        assert total.energy_wh == pytest.approx(30 * 1000 * 0.25)
        assert total.latency.count == 30
        assert total.latency.worst_ms is not None and total.latency.p50_ms is not None


def test_message_ids_are_device_and_sequence_so_a_take_over_can_repeat_them() -> None:
    """Order ids are ``<run>:<device>:<n>``, from ``first_sequence``; runs default to random."""
    broker_url, devices = _devices(2)
    plan = OrderPlan(orders=1, start_ms=_start_ms())
    first = {devices[0].device_id: 7}
    with Fleet(devices, broker_url=broker_url, first_sequence=first, run="r1") as fleet:
        outcomes = fleet.place([(d.device_id, _order(1, plan)) for d in devices])
    assert [o.message_id for o in outcomes] == ["r1:dev0:7", "r1:dev1:1"]
    with Fleet(devices, broker_url=broker_url) as other:
        assert other.run != "r1" and len(other.run) == 8


def test_a_duplicated_device_id_is_refused_before_anything_connects_naming_it() -> None:
    """Two devices named ``twin``: FlexValidationError naming it, raised by the constructor."""
    devices = [FleetDevice("twin", "u", "t", "key-a"), FleetDevice("twin", "u", "t", "key-b")]
    with pytest.raises(FlexValidationError) as caught:
        Fleet(devices, broker_url="memory://")
    assert caught.value.field == "device_id"
    assert "'twin' appears twice" in str(caught.value)


def test_two_devices_sharing_an_application_key_are_refused_naming_both() -> None:
    """One live connection per key: a shared key is refused before connecting, with both ids."""
    devices = [FleetDevice("a", "u", "t", "same"), FleetDevice("b", "u", "t", "same")]
    with pytest.raises(FlexValidationError, match="'a' and 'b' share it"):
        Fleet(devices, broker_url="memory://")


def test_a_locked_reply_queue_is_that_devices_error_and_the_others_trade() -> None:
    """A key already connected elsewhere: that device fails with RESOURCE_LOCKED, 4 others trade."""
    broker_url, devices = _devices(5)
    locked = devices[2]
    holder = AmpqAPI(broker_url, locked.user_id, locked.access_token, locked.application_key)
    holder.connect()
    plan = OrderPlan(orders=1, start_ms=_start_ms())
    try:
        with Fleet(devices, broker_url=broker_url) as fleet:
            errors = fleet.errors
            assert list(errors) == [locked.device_id]
            assert isinstance(errors[locked.device_id], AlreadyConnectedError)
            outcomes = fleet.place([(d.device_id, _order(i, plan)) for i, d in enumerate(devices)])
            by_device = {o.device_id: o for o in outcomes}
            assert isinstance(by_device[locked.device_id].error, AlreadyConnectedError)
            assert sum(o.ok for o in outcomes) == 4
            assert fleet.stats.failed_devices == 1
    finally:
        holder.close_connection()


def test_an_unknown_device_in_a_batch_is_its_orders_error_only() -> None:
    """A batch naming a device the fleet lacks: that order fails (naming it), the rest go."""
    broker_url, devices = _devices(2)
    plan = OrderPlan(orders=1, start_ms=_start_ms())
    with Fleet(devices, broker_url=broker_url) as fleet:
        outcomes = fleet.place([("ghost", _order(0, plan)), ("dev1", _order(1, plan))])
    assert outcomes[0].error is not None and "ghost" in str(outcomes[0].error)
    assert outcomes[1].ok


class _OneOrder(TradingStrategy):
    """Places one order on the first timer."""

    def __init__(self, side: OrderType, price: float, start_ms: int) -> None:
        super().__init__()
        self.side, self.price, self.start_ms = side, price, start_ms
        self.sent = False

    def on_timer(self, now_ms: int) -> list[object] | None:  # type: ignore[override]
        if self.sent:
            return None
        self.sent = True
        return [self.place(self.side, 1000.0, self.price, self.start_ms, self.start_ms + QUARTER)]


def test_per_device_strategies_trade_through_the_fleet() -> None:
    """Each device's own strategy places an order; seller and buyer each see their fill."""
    start = _start_ms()

    def strategy(device_id: str) -> TradingStrategy:
        return _OneOrder(OrderType.ASK if device_id == "dev0" else OrderType.BID, 0.2, start)

    broker_url, devices = _devices(2, strategy=strategy)
    with Fleet(devices, broker_url=broker_url) as fleet:
        fleet.step(0.0)
        _settle(fleet, 2)
        for d in devices:
            book = fleet.book(d.device_id)
            assert book is not None
            (tracked,) = book.orders.values()
            assert tracked.state is OrderState.FILLED
        assert fleet.device("dev0").energy_sold_wh == pytest.approx(250.0)
        assert fleet.device("dev1").energy_bought_wh == pytest.approx(250.0)


class _Pairs(PortfolioStrategy):
    """Sells from even devices and buys from odd ones, once; records every event it sees."""

    def __init__(self, start_ms: int) -> None:
        super().__init__()
        self.start_ms = start_ms
        self.seen: list[tuple[str, str]] = []
        self.done = False

    def on_timer(self, now_ms: int, device_ids: list[str]) -> list[object] | None:  # type: ignore[override]
        if self.done:
            return None
        self.done = True
        s = self.start_ms
        return [
            self.place(
                d, OrderType.ASK if i % 2 == 0 else OrderType.BID, 500.0, 0.2, s, s + QUARTER
            )
            for i, d in enumerate(device_ids)
        ]

    def on_event(self, device_id: str, event: object) -> None:  # type: ignore[override]
        self.seen.append((device_id, type(event).__name__))


def test_one_portfolio_strategy_places_per_device_and_sees_every_devices_events() -> None:
    """A portfolio places for 4 devices; each device's book fills and the portfolio sees it."""
    portfolio = _Pairs(_start_ms())
    broker_url, devices = _devices(4)
    with Fleet(devices, broker_url=broker_url, portfolio=portfolio) as fleet:
        fleet.step(0.0)
        _settle(fleet, 4)
        assert fleet.stats.deals == 4
        for d in devices:
            book = fleet.book(d.device_id)
            assert book is not None
            assert [t.state for t in book.orders.values()] == [OrderState.FILLED]
    fills = {device for device, kind in portfolio.seen if kind == "Fill"}
    assert fills == {d.device_id for d in devices}


def test_the_fleet_loop_adds_no_thread_per_device() -> None:
    """Connected and trading, 20 devices add no thread (the connect pool is gone again)."""
    broker_url, devices = _devices(20)
    before = threading.active_count()
    plan = OrderPlan(orders=1, start_ms=_start_ms())
    with Fleet(devices, broker_url=broker_url) as fleet:
        fleet.place([(d.device_id, _order(i, plan)) for i, d in enumerate(devices)])
        assert threading.active_count() == before


def test_a_device_battery_sells_through_its_strategy_and_is_advanced_by_each_step() -> None:
    """A device's Battery is advanced by every step; its FixedMarginSeller's asks are confirmed."""
    import dataclasses

    from flxtrd import Battery, FixedMarginSeller

    broker_url, devices = _devices(1)
    battery = Battery(capacity_wh=10_000, soc=0.8)
    device = dataclasses.replace(devices[0], energy=battery, strategy=FixedMarginSeller(battery))
    now = [1_900_000_000_000]
    with Fleet([device], broker_url=broker_url, clock=lambda: now[0]) as fleet:
        fleet.step(0.0)
        now[0] += 60_000
        fleet.step(0.0)
        assert battery.now_ms == 1_900_000_060_000
        stats = fleet.device(device.device_id)
        assert stats.orders >= 1 and stats.confirmed == stats.orders
