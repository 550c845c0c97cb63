"""The example strategies, driven by synthetic events: the orders they produce."""

from __future__ import annotations

import pytest

from flxtrd import FlexValidationError, OrderType
from flxtrd._trading._devices import Battery, HeatPump
from flxtrd._trading._strategies import (
    BUILTIN_STRATEGIES,
    FixedMarginSeller,
    RandomBot,
    TickFollowingBuyer,
    open_slots,
)
from flxtrd._trading._strategy import (
    QUARTER_HOUR_MS,
    Fill,
    MarketTick,
    OrderAccepted,
    OrderClosed,
    OrderState,
    PlaceOrder,
    Timer,
    TradingStrategy,
)

Q = QUARTER_HOUR_MS
MIN = 60_000
T0 = 1_900_000_800_000  # on the quarter hour
ASK, BID = OrderType.ASK, OrderType.BID


def orders(actions: list[object]) -> list[PlaceOrder]:
    """The PlaceOrder actions, checked to be nothing else."""
    assert all(isinstance(a, PlaceOrder) for a in actions), actions
    return [a for a in actions if isinstance(a, PlaceOrder)]


def accept_all(strategy: TradingStrategy, placed: list[PlaceOrder], now: int) -> None:
    """Tell the strategy the market took each order."""
    for order in placed:
        strategy.handle(OrderAccepted(order.ref, f"m-{order.ref}", now))


def test_open_slots_are_those_whose_orders_still_expire_in_the_future() -> None:
    """A slot is open while start - expiry_lead is after now."""
    assert open_slots(T0, 2, Q, 5 * MIN) == [T0 + Q, T0 + 2 * Q]
    assert open_slots(T0 + 10 * MIN, 1, Q, 5 * MIN) == [T0 + 2 * Q]
    assert open_slots(T0 + 9 * MIN, 1, Q, 5 * MIN) == [T0 + Q]


# --- fixed-margin seller -------------------------------------------------------------------


def seller(soc: float = 0.5) -> tuple[FixedMarginSeller, Battery]:
    """A seller of a 10 kWh battery (0.81 round trip, 3 kW), margin 0.05 EUR/kWh."""
    battery = Battery(10_000, soc=soc, min_soc=0.1, round_trip_efficiency=0.81, now_ms=T0)
    return FixedMarginSeller(battery, margin_per_kwh=0.05, horizon_slots=2), battery


def test_seller_offers_each_open_slot_at_cost_plus_margin_and_reserves_it() -> None:
    """Two asks of 3 kW at cost (0.10/0.9 + 0.02) + 0.05, expiring 5 min before delivery."""
    strategy, battery = seller()
    placed = orders(strategy.handle(Timer(T0)))
    assert [(o.side, o.power_w, o.start_ms, o.expiry_ms) for o in placed] == [
        (ASK, 3000, T0 + Q, T0 + Q - 5 * MIN),
        (ASK, 3000, T0 + 2 * Q, T0 + 2 * Q - 5 * MIN),
    ]
    assert placed[0].price == pytest.approx(round(0.10 / 0.9 + 0.02 + 0.05, 4))
    assert {ref: c.reserved_w for ref, c in battery.commitments.items()} == {
        placed[0].ref: 3000,
        placed[1].ref: 3000,
    }


def test_seller_does_not_offer_a_slot_twice_while_its_ask_is_open() -> None:
    """The next timer adds only the newly opened slot."""
    strategy, _ = seller()
    first = orders(strategy.handle(Timer(T0)))
    accept_all(strategy, first, T0)
    again = orders(strategy.handle(Timer(T0 + MIN)))
    assert again == []
    later = orders(strategy.handle(Timer(T0 + 11 * MIN)))  # slot T0+Q is closed, T0+3Q opens
    assert [o.start_ms for o in later] == [T0 + 3 * Q]


def test_seller_refuses_to_oversell_a_nearly_empty_battery() -> None:
    """With 300 Wh above min_soc, one ask takes what is left and the next slot gets nothing."""
    strategy, battery = seller(soc=0.13)  # 300 Wh in the cells above min -> 270 Wh deliverable
    placed = orders(strategy.handle(Timer(T0)))
    assert len(placed) == 1
    assert placed[0].power_w == 1080  # 270 Wh over a quarter hour, whole watts
    assert placed[0].energy_wh <= (battery.soc_wh - battery.min_soc_wh) * 0.9
    assert battery.offer(ASK, T0 + 2 * Q, T0 + 3 * Q) is None


def test_seller_fill_becomes_an_obligation_and_an_unfilled_close_frees_the_rest() -> None:
    """A fill commits the energy; the battery delivers it and the SoC drops by it / 0.9."""
    strategy, battery = seller()
    first, second = orders(strategy.handle(Timer(T0)))
    accept_all(strategy, [first, second], T0)
    strategy.handle(Fill(first.ref, ASK, 0.3, 3000.0, first.start_ms, first.end_ms, T0 + 1))
    strategy.handle(OrderClosed(second.ref, "expired", "not matched", T0 + 2))
    assert battery.commitments[first.ref].committed_w == 3000.0
    assert second.ref not in battery.commitments
    strategy.handle(Timer(first.end_ms))
    assert battery.soc_wh == pytest.approx(5000 - 750 / 0.9)
    assert strategy.telemetry()["exported_wh"] == pytest.approx(750)


def test_seller_with_an_empty_battery_sends_nothing() -> None:
    """At min_soc the seller places no order at all."""
    strategy, _ = seller(soc=0.1)
    assert strategy.handle(Timer(T0)) == []


def test_seller_of_a_heat_pump_sells_turn_down() -> None:
    """The same seller works on any EnergyManagement: here the heat pump's turn-down."""
    pump = HeatPump(now_ms=T0)
    strategy = FixedMarginSeller(pump, margin_per_kwh=0.02, horizon_slots=1)
    (order,) = orders(strategy.handle(Timer(T0)))
    assert order.side is ASK
    assert order.power_w == int(pump.baseline_power_w)
    assert order.price == pytest.approx(0.08 + 0.02)


def test_seller_refuses_a_negative_margin() -> None:
    """margin_per_kwh must be >= 0."""
    with pytest.raises(FlexValidationError):
        FixedMarginSeller(margin_per_kwh=-0.01)


# --- tick-following buyer ------------------------------------------------------------------


def test_buyer_bids_under_the_initial_price_before_any_tick() -> None:
    """Without ticks the bid is initial_price - undercut, for each open slot."""
    buyer = TickFollowingBuyer(2000, initial_price=0.20, undercut_per_kwh=0.01)
    placed = orders(buyer.handle(Timer(T0)))
    assert [(o.side, o.power_w, o.price, o.start_ms) for o in placed] == [
        (BID, 2000, 0.19, T0 + Q),
        (BID, 2000, 0.19, T0 + 2 * Q),
    ]


def test_buyer_follows_the_last_tick() -> None:
    """After a tick at 0.30 the next bid is 0.29."""
    buyer = TickFollowingBuyer(2000, undercut_per_kwh=0.01, horizon_slots=1)
    buyer.handle(MarketTick(T0, 0.30, 500.0, T0 + Q))
    (order,) = orders(buyer.handle(Timer(T0)))
    assert order.price == 0.29


def test_buyer_raises_after_an_unfilled_expiry_and_resets_on_a_fill() -> None:
    """Each bid that expired without any fill adds raise_per_kwh; a fill resets it."""
    buyer = TickFollowingBuyer(
        2000, initial_price=0.20, undercut_per_kwh=0.01, raise_per_kwh=0.02, horizon_slots=1
    )
    (first,) = orders(buyer.handle(Timer(T0)))
    accept_all(buyer, [first], T0)
    (second,) = orders(buyer.handle(Timer(first.expiry_ms)))  # first expired unfilled
    assert buyer.orders[first.ref].state is OrderState.EXPIRED
    assert second.price == pytest.approx(0.21)
    accept_all(buyer, [second], first.expiry_ms)
    buyer.handle(Fill(second.ref, BID, 0.21, 2000.0, second.start_ms, second.end_ms, T0))
    assert buyer.chase == 0.0


def test_buyer_never_bids_above_max_price() -> None:
    """The chase stops at max_price."""
    buyer = TickFollowingBuyer(1000, initial_price=0.39, undercut_per_kwh=0.0, max_price=0.40)
    buyer.chase = 0.5
    assert buyer.bid_price() == 0.40


def test_buyer_asks_only_for_what_is_still_wanted_in_a_slot() -> None:
    """After a partial fill that closed, the slot's next bid is for the remainder."""
    buyer = TickFollowingBuyer(3000, horizon_slots=1, expiry_lead_ms=5 * MIN)
    (first,) = orders(buyer.handle(Timer(T0 - 10 * MIN)))  # for the slot starting at T0
    accept_all(buyer, [first], T0 - 10 * MIN)
    buyer.handle(Fill(first.ref, BID, 0.2, 1000.0, first.start_ms, first.end_ms, T0 - 9 * MIN))
    assert buyer.wanted_w(first.start_ms, first.end_ms) == 0.0  # 2 kW still open
    buyer.handle(OrderClosed(first.ref, "cancelled", "by you", T0 - 8 * MIN))
    assert buyer.wanted_w(first.start_ms, first.end_ms) == 2000.0
    (again,) = orders(buyer.handle(Timer(T0 - 7 * MIN)))
    assert (again.start_ms, again.power_w) == (first.start_ms, 2000)


# --- random bot ----------------------------------------------------------------------------


def test_random_bot_is_repeatable_with_a_seed_and_stays_in_its_ranges() -> None:
    """Two bots with one seed send the same orders; every value lies in its range."""

    def run(seed: int) -> list[PlaceOrder]:
        """Two hours of timers; the orders sent."""
        bot = RandomBot(seed, power_range_w=(500, 1500), price_range=(0.1, 0.2))
        sent: list[PlaceOrder] = []
        for minute in range(120):
            sent += orders(bot.handle(Timer(T0 + minute * MIN)))
        return sent

    first, second = run(7), run(7)
    assert [(o.side, o.power_w, o.price, o.start_ms) for o in first] == [
        (o.side, o.power_w, o.price, o.start_ms) for o in second
    ]
    assert 24 <= len(first) <= 120  # one every 1..5 minutes
    assert {o.side for o in first} == {ASK, BID}
    for order in first:
        assert 500 <= order.power_w <= 1500 and 0.1 <= order.price <= 0.2
        assert order.start_ms % Q == 0 and order.end_ms - order.start_ms == Q
        assert order.expiry_ms == order.start_ms - 5 * MIN
    times = [o.expiry_ms - o.start_ms for o in first]
    assert len(set(times)) == 1
    assert run(8) != first


def test_random_bot_sends_its_first_order_at_once_and_then_waits() -> None:
    """The first timer sends an order; the next comes interval_range_ms later."""
    bot = RandomBot(1, interval_range_ms=(3 * MIN, 3 * MIN), sides=(BID,))
    assert len(orders(bot.handle(Timer(T0)))) == 1
    assert bot.handle(Timer(T0 + 2 * MIN)) == []
    (order,) = orders(bot.handle(Timer(T0 + 3 * MIN)))
    assert order.side is BID


def test_random_bot_refuses_empty_ranges() -> None:
    """A range with low > high, or no side, is refused."""
    with pytest.raises(FlexValidationError):
        RandomBot(price_range=(0.3, 0.1))
    with pytest.raises(FlexValidationError):
        RandomBot(sides=())


def test_every_builtin_strategy_is_made_without_arguments() -> None:
    """--strategy NAME builds each of them with no arguments."""
    for name, factory in BUILTIN_STRATEGIES.items():
        assert isinstance(factory(), TradingStrategy), name
