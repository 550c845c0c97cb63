"""TradingStrategy: the book it keeps from events, the actions it returns, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from flxtrd import FlexValidationError, OrderType
from flxtrd._trading._strategy import (
    QUARTER_HOUR_MS,
    CancelOrder,
    ContractUpdate,
    Fill,
    MarketTick,
    OrderAccepted,
    OrderClosed,
    OrderState,
    PlaceOrder,
    StrategyAction,
    Timer,
    TrackedOrder,
    TradingStrategy,
    next_slot_ms,
)

T0 = 1_900_000_800_000  # on the quarter hour
START = T0 + 2 * QUARTER_HOUR_MS
END = START + QUARTER_HOUR_MS


class Recorder(TradingStrategy):
    """Places one ask on its first timer and records every hook call."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []

    def on_timer(self, now_ms: int) -> Iterable[StrategyAction]:
        """Record the timer; place one ask the first time."""
        self.calls.append(("timer", now_ms))
        if self.orders:
            return []
        return [self.place(OrderType.ASK, 1000.0, 0.2, START, END, START - 60_000)]

    def on_tick(self, tick: MarketTick) -> None:
        """Record the tick."""
        self.calls.append(("tick", tick.price))

    def on_fill(self, fill: Fill, order: TrackedOrder | None) -> None:
        """Record the fill."""
        self.calls.append(("fill", order.ref if order else None))

    def on_order_accepted(self, order: TrackedOrder) -> None:
        """Record the acceptance."""
        self.calls.append(("accepted", order.ref))

    def on_order_closed(self, order: TrackedOrder) -> list[StrategyAction]:
        """Record the closure and answer with a cancel."""
        self.calls.append(("closed", order.state))
        return [self.cancel("nothing")]

    def on_contract(self, update: ContractUpdate) -> None:
        """Record the contract update."""
        self.calls.append(("contract", update.contract_id))


def fill(ref: str | None, power: float, price: float = 0.25) -> Fill:
    """A fill of ``power`` W of the recorder's ask."""
    return Fill(ref, OrderType.ASK, price, power, START, END, T0 + 1000)


def test_timer_returns_the_order_and_the_book_tracks_it_as_sent() -> None:
    """A PlaceOrder returned by a hook is in the book, state SENT, with a fresh ref."""
    strategy = Recorder()
    actions = strategy.handle(Timer(T0))
    assert [type(a) for a in actions] == [PlaceOrder]
    order = actions[0]
    assert isinstance(order, PlaceOrder)
    assert order.ref == "recorder-1"
    assert strategy.orders[order.ref].state is OrderState.SENT
    assert strategy.open_orders(OrderType.ASK)[0].order is order
    assert strategy.now_ms == T0


def test_accepted_then_partial_then_full_fill_moves_the_order_to_filled() -> None:
    """Fills add up on the order; it is FILLED when no power remains."""
    strategy = Recorder()
    (order,) = strategy.handle(Timer(T0))
    assert isinstance(order, PlaceOrder)
    strategy.handle(OrderAccepted(order.ref, "mid-1", T0))
    tracked = strategy.orders[order.ref]
    assert (tracked.state, tracked.market_id) == (OrderState.OPEN, "mid-1")
    strategy.handle(fill(order.ref, 400.0))
    assert tracked.state is OrderState.OPEN
    assert tracked.remaining_power_w == pytest.approx(600.0)
    strategy.handle(fill(order.ref, 600.0))
    assert tracked.state is OrderState.FILLED
    assert tracked.filled_energy_wh == pytest.approx(250.0)
    assert ("fill", order.ref) in strategy.calls


def test_an_open_order_expires_locally_at_its_expiry_and_the_hook_runs_once() -> None:
    """At the first timer at or after expiry_ms the order closes as EXPIRED, once."""
    strategy = Recorder()
    (order,) = strategy.handle(Timer(T0))
    assert isinstance(order, PlaceOrder)
    strategy.handle(Timer(order.expiry_ms - 1))
    assert strategy.orders[order.ref].is_open
    actions = strategy.handle(Timer(order.expiry_ms))
    assert strategy.orders[order.ref].state is OrderState.EXPIRED
    assert actions == [CancelOrder("nothing")]
    strategy.handle(OrderClosed(order.ref, "expired", "late cancel", order.expiry_ms + 5))
    assert [c for c in strategy.calls if c[0] == "closed"] == [("closed", OrderState.EXPIRED)]


def test_order_closed_maps_status_and_keeps_the_reason() -> None:
    """OrderClosed sets CANCELLED/EXPIRED/REJECTED and the reason; unknown refs are ignored."""
    for status, state in (
        ("cancelled", OrderState.CANCELLED),
        ("expired", OrderState.EXPIRED),
        ("rejected", OrderState.REJECTED),
    ):
        strategy = Recorder()
        (order,) = strategy.handle(Timer(T0))
        assert isinstance(order, PlaceOrder)
        strategy.handle(OrderClosed(order.ref, status, "because", T0 + 1))
        assert (strategy.orders[order.ref].state, strategy.orders[order.ref].reason) == (
            state,
            "because",
        )
    assert Recorder().handle(OrderClosed("nobody", "cancelled", "x", T0)) == []


def test_a_late_fill_on_a_closed_order_still_counts() -> None:
    """The market may report a fill after the order closed locally; the fill is kept."""
    strategy = Recorder()
    (order,) = strategy.handle(Timer(T0))
    assert isinstance(order, PlaceOrder)
    strategy.handle(Timer(order.expiry_ms))
    strategy.handle(fill(order.ref, 1000.0))
    tracked = strategy.orders[order.ref]
    assert (tracked.state, tracked.filled_power_w) == (OrderState.EXPIRED, 1000.0)


def test_ticks_update_last_price_and_unknown_fills_reach_the_hook_without_an_order() -> None:
    """A tick sets last_price; a fill of no known order is passed on with order None."""
    strategy = Recorder()
    strategy.handle(MarketTick(T0, 0.31, 250.0, START))
    assert strategy.last_price == 0.31
    strategy.handle(fill(None, 100.0))
    strategy.handle(ContractUpdate(7, "active", "a", "b", T0))
    assert strategy.calls == [("tick", 0.31), ("fill", None), ("contract", 7)]


def test_reusing_a_ref_and_unknown_events_are_refused() -> None:
    """Two orders with one ref raise ValueError; a non-event raises TypeError."""

    class Twice(TradingStrategy):
        """Returns two orders with one ref."""

        def on_timer(self, now_ms: int) -> list[StrategyAction]:
            """Two orders with the same ref."""
            return [PlaceOrder("same", OrderType.BID, 1.0, 0.1, START, END, START)] * 2

    with pytest.raises(ValueError, match="same"):
        Twice().handle(Timer(T0))
    with pytest.raises(TypeError):
        Recorder().handle("tick")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("power_w", {"power_w": 0.0}),
        ("power_w", {"power_w": float("nan")}),
        ("price", {"price": -0.01}),
        ("end_ms", {"end_ms": START}),
        ("expiry_ms", {"expiry_ms": START + 1}),
        ("side", {"side": "ask"}),
    ],
)
def test_place_order_refuses_bad_values_naming_the_field(
    field: str, kwargs: dict[str, object]
) -> None:
    """PlaceOrder checks power, price, window, expiry and side when it is built."""
    values: dict[str, object] = {
        "ref": "r",
        "side": OrderType.ASK,
        "power_w": 1.0,
        "price": 0.1,
        "start_ms": START,
        "end_ms": END,
        "expiry_ms": START,
    }
    values.update(kwargs)
    with pytest.raises(FlexValidationError) as caught:
        PlaceOrder(**values)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_place_order_converts_to_both_generations() -> None:
    """to_market_order (generation 1) and to_order_spec (generation 2) carry the same order."""
    order = PlaceOrder("r", OrderType.BID, 2500.0, 0.25, START, END, START - 900_000)
    market = order.to_market_order()
    assert (market.order_type, market.price_eur) == (OrderType.BID, 0.25)
    flex = market.resource
    assert (flex.power_w, flex.start_ms, flex.runtime_ms, flex.expiration_ms) == (
        2500.0,
        START,
        QUARTER_HOUR_MS,
        START - 900_000,
    )
    spec = order.to_order_spec(country_code="DE")
    spec.validate(now=spec.expiry_time.replace(year=2000))
    body = spec.to_body()
    assert (body["side"], body["power"], body["price"]) == ("buy", 2500.0, 0.25)
    assert body["delivery_start"].endswith("Z") and body["location"]["country_code"] == "DE"
    assert order.energy_wh == pytest.approx(625.0)


def test_next_slot_is_strictly_after() -> None:
    """next_slot_ms gives the next quarter hour strictly after the time."""
    assert next_slot_ms(T0) == T0 + QUARTER_HOUR_MS
    assert next_slot_ms(T0 - 1) == T0
