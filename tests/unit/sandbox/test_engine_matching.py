"""Matching: who trades with whom, at what price and for how much power."""

from __future__ import annotations

import random

import pytest

from flxtrd.sandbox import (
    Gen1Order,
    Gen2Order,
    ManualClock,
    MatchingEngine,
    OrderStatus,
    OrderView,
    SubmitResult,
    Trade,
)

Q = 900_000  # a quarter hour, ms
T0 = 1_796_202_000_000  # on the quarter hour
START = T0 + 8 * Q
BASELINE = {"metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60"}


def engine() -> MatchingEngine:
    """A fresh engine on a manual clock at T0."""
    return MatchingEngine(ManualClock(T0), seed=7)


def ask1(
    price: float,
    watts: float = 1000.0,
    *,
    user: str = "seller",
    start: int = START,
    runtime: int = Q,
) -> Gen1Order:
    """A generation-1 ask expiring a quarter hour before its start."""
    return Gen1Order("ask", f"key-{user}", user, watts, start, runtime, price, start - Q)


def bid1(
    price: float,
    watts: float = 1000.0,
    *,
    user: str = "buyer",
    start: int = START,
    runtime: int = Q,
) -> Gen1Order:
    """A generation-1 bid expiring a quarter hour before its start."""
    return Gen1Order("bid", f"key-{user}", user, watts, start, runtime, price, start - Q)


def sell2(
    price: float,
    power: float = 1000.0,
    *,
    owner: str = "seller",
    start: int = START,
    end: int = START + Q,
    country: str = "DE",
    locations: tuple[str, ...] | None = None,
) -> Gen2Order:
    """A generation-2 sell with a baseline."""
    return Gen2Order(
        "sell", owner, power, price, start, end, start - 2 * Q, country, locations, BASELINE
    )


def buy2(
    price: float,
    power: float = 1000.0,
    *,
    owner: str = "buyer",
    start: int = START,
    end: int = START + Q,
    country: str = "DE",
    locations: tuple[str, ...] | None = None,
) -> Gen2Order:
    """A generation-2 buy."""
    return Gen2Order("buy", owner, power, price, start, end, start - 2 * Q, country, locations)


def trades(result: SubmitResult) -> list[Trade]:
    """The trades among a result's events."""
    return [e for e in result.events if isinstance(e, Trade)]


def view(e: MatchingEngine, order_id: int | None) -> OrderView:
    """The snapshot of an order that must exist."""
    assert order_id is not None
    found = e.get(order_id)
    assert found is not None
    return found


def fills(result: SubmitResult) -> list[tuple[int, int, float, float]]:
    """(buy id, sell id, price, power) of each trade of a result."""
    return [(t.buy_order_id, t.sell_order_id, t.price, t.power) for t in trades(result)]


def test_incoming_ask_trades_with_highest_bid_first() -> None:
    """Price priority on the buy side: an ask goes to the highest bid, not the oldest."""
    e = engine()
    low = e.submit(bid1(10.0)).order_id
    high = e.submit(bid1(12.0)).order_id
    result = e.submit(ask1(9.0))
    assert fills(result) == [(high, result.order_id, 12.0, 1000.0)]
    assert view(e, low).status is OrderStatus.MATCHING_ACTIVE


def test_incoming_bid_trades_with_lowest_ask_first() -> None:
    """Price priority on the sell side: a bid takes the cheapest ask, not the oldest."""
    e = engine()
    dear = e.submit(ask1(11.0)).order_id
    cheap = e.submit(ask1(9.0)).order_id
    result = e.submit(bid1(12.0))
    assert fills(result) == [(result.order_id, cheap, 12.0, 1000.0)]
    assert view(e, dear).status is OrderStatus.MATCHING_ACTIVE


def test_equal_bids_trade_in_arrival_order() -> None:
    """Time priority: of two bids at one price, the earlier one trades first."""
    e = engine()
    first = e.submit(bid1(10.0, user="b1")).order_id
    e.submit(bid1(10.0, user="b2"))
    result = e.submit(ask1(10.0))
    assert [t.buy_order_id for t in trades(result)] == [first]


def test_equal_asks_trade_in_arrival_order() -> None:
    """Time priority: of two asks at one price, the earlier one trades first."""
    e = engine()
    first = e.submit(ask1(10.0, user="s1")).order_id
    e.submit(ask1(10.0, user="s2"))
    result = e.submit(bid1(10.0))
    assert [t.sell_order_id for t in trades(result)] == [first]


def test_price_beats_time_across_windows_gen2() -> None:
    """Priority runs across every fitting window: a cheaper later ask in another window wins."""
    e = engine()
    e.submit(sell2(0.20, start=START, end=START + Q))
    cheap = e.submit(sell2(0.10, start=START + Q, end=START + 2 * Q)).order_id
    result = e.submit(buy2(0.30, start=START, end=START + 2 * Q))
    assert trades(result)[0].sell_order_id == cheap


def test_pay_as_bid_when_the_ask_arrives() -> None:
    """Pay-as-bid: a trade is priced at the bid even when the ask is the incoming order."""
    e = engine()
    e.submit(bid1(12.0))
    assert trades(e.submit(ask1(10.0)))[0].price == 12.0


def test_pay_as_bid_when_the_bid_arrives() -> None:
    """Pay-as-bid: a trade is priced at the bid when the bid is the incoming order."""
    e = engine()
    e.submit(ask1(10.0))
    assert trades(e.submit(bid1(12.0)))[0].price == 12.0


def test_no_trade_when_bid_below_ask() -> None:
    """A bid priced below the ask does not trade; both rest."""
    e = engine()
    a = e.submit(ask1(10.0))
    b = e.submit(bid1(9.99))
    assert trades(a) == trades(b) == []
    assert b.status is OrderStatus.MATCHING_ACTIVE
    book = e.book_snapshot()
    assert [lv.price for lv in book.bids] == [9.99]
    assert [lv.price for lv in book.asks] == [10.0]


def test_trade_when_bid_equals_ask() -> None:
    """Equal prices cross."""
    e = engine()
    e.submit(ask1(10.0))
    assert len(trades(e.submit(bid1(10.0)))) == 1


@pytest.mark.parametrize(
    ("start", "runtime", "matches"),
    [(START, Q, True), (START + Q, Q, False), (START, 2 * Q, False), (START + 1, Q, False)],
)
def test_gen1_windows_must_be_identical(start: int, runtime: int, matches: bool) -> None:
    """Generation 1 trades only between identical delivery windows (start and runtime)."""
    e = engine()
    e.submit(ask1(10.0, start=START, runtime=Q))
    assert bool(trades(e.submit(bid1(10.0, start=start, runtime=runtime)))) is matches


@pytest.mark.parametrize(
    ("sell_start", "sell_end", "matches"),
    [
        (START, START + 4 * Q, True),  # equal
        (START + Q, START + 2 * Q, True),  # inside
        (START, START + Q, True),  # inside, same start
        (START + 3 * Q, START + 4 * Q, True),  # inside, same end
        (START - Q, START + Q, False),  # starts before
        (START + 3 * Q, START + 5 * Q, False),  # ends after
        (START - Q, START + 5 * Q, False),  # wider
        (START + 4 * Q, START + 5 * Q, False),  # adjacent
    ],
)
def test_gen2_sell_window_must_lie_within_buy_window(
    sell_start: int, sell_end: int, matches: bool
) -> None:
    """Generation 2 trades when the sell window lies within (or equals) the buy window."""
    for sell_first in (True, False):
        e = engine()
        orders = [
            sell2(0.1, start=sell_start, end=sell_end),
            buy2(0.2, start=START, end=START + 4 * Q),
        ]
        if not sell_first:
            orders.reverse()
        e.submit(orders[0])
        assert bool(trades(e.submit(orders[1]))) is matches


def test_gen2_trade_delivers_over_the_sell_window() -> None:
    """A generation-2 trade's window is the sell window and its energy is power x that window."""
    e = engine()
    e.submit(buy2(0.2, 2000.0, start=START, end=START + 4 * Q))
    (t,) = trades(e.submit(sell2(0.1, 2000.0, start=START + Q, end=START + 2 * Q)))
    assert (t.delivery_start_ms, t.delivery_end_ms) == (START + Q, START + 2 * Q)
    assert t.energy == pytest.approx(500.0)


@pytest.mark.parametrize(
    ("buy_country", "sell_country", "matches"),
    [("DE", "DE", True), ("DE", "FR", False), ("", "", True), ("", "DE", False)],
)
def test_gen2_countries_must_be_equal(buy_country: str, sell_country: str, matches: bool) -> None:
    """Generation 2 trades only within one country code (the empty code only with itself)."""
    e = engine()
    e.submit(sell2(0.1, country=sell_country))
    assert bool(trades(e.submit(buy2(0.2, country=buy_country)))) is matches


@pytest.mark.parametrize(
    ("buy_locations", "sell_locations", "matches"),
    [
        (None, None, True),
        (None, ("a",), True),
        (("a",), None, True),
        ((), ("a",), True),
        (("a", "b"), ("b", "c"), True),
        (("a",), ("b",), False),
    ],
)
def test_gen2_locations_must_intersect(
    buy_locations: tuple[str, ...] | None, sell_locations: tuple[str, ...] | None, matches: bool
) -> None:
    """Location id sets must intersect; None or empty means any location."""
    e = engine()
    e.submit(sell2(0.1, locations=sell_locations))
    assert bool(trades(e.submit(buy2(0.2, locations=buy_locations)))) is matches


def test_location_mismatch_is_skipped_not_blocking() -> None:
    """A better-priced ask in another location is passed over for a worse one that fits."""
    e = engine()
    e.submit(sell2(0.1, locations=("far",)))
    near = e.submit(sell2(0.15, locations=("near",))).order_id
    result = e.submit(buy2(0.2, locations=("near",)))
    assert [t.sell_order_id for t in trades(result)] == [near]


def test_generations_never_trade_with_each_other() -> None:
    """A generation-1 ask and a generation-2 buy over the same window do not trade."""
    e = engine()
    e.submit(ask1(0.1))
    assert trades(e.submit(buy2(0.2, country=""))) == []


def test_ask_fills_whole_across_several_bids() -> None:
    """An incoming ask takes several bids in priority; the last one is filled partially."""
    e = engine()
    b12 = e.submit(bid1(12.0, 400.0)).order_id
    b10 = e.submit(bid1(10.0, 500.0)).order_id
    b11 = e.submit(bid1(11.0, 300.0)).order_id
    result = e.submit(ask1(9.0, 1000.0))
    a = result.order_id
    assert fills(result) == [(b12, a, 12.0, 400.0), (b11, a, 11.0, 300.0), (b10, a, 10.0, 300.0)]
    assert result.status is OrderStatus.FILLED
    last = view(e, b10)
    assert last.status is OrderStatus.PARTIAL_FILLED
    assert last.remaining_power == pytest.approx(200.0)
    assert e.book_snapshot().bids[0].power == pytest.approx(200.0)


def test_ask_rests_when_bids_cannot_absorb_it_whole() -> None:
    """An ask larger than all fitting bids together does not trade at all (all-or-none)."""
    e = engine()
    e.submit(bid1(12.0, 300.0))
    e.submit(bid1(12.0, 300.0))
    result = e.submit(ask1(9.0, 1000.0))
    assert trades(result) == []
    assert result.status is OrderStatus.MATCHING_ACTIVE
    assert e.resting_count() == 3


def test_bid_partially_filled_keeps_resting_then_fills() -> None:
    """A bid larger than the asks fills partially, rests with the rest, and fills later."""
    e = engine()
    e.submit(ask1(9.0, 400.0))
    result = e.submit(bid1(10.0, 1000.0))
    assert [t.power for t in trades(result)] == [400.0]
    assert result.status is OrderStatus.PARTIAL_FILLED
    v = view(e, result.order_id)
    assert (v.filled_power, v.remaining_power) == (400.0, 600.0)
    later = e.submit(ask1(8.0, 600.0))
    assert [(t.buy_order_id, t.power, t.price) for t in trades(later)] == [
        (result.order_id, 600.0, 10.0)
    ]
    assert view(e, result.order_id).status is OrderStatus.FILLED


def test_incoming_bid_completes_a_resting_ask_with_resting_bids() -> None:
    """A bid that makes a resting ask absorbable trades it whole, resting bids served first."""
    e = engine()
    ask = e.submit(ask1(9.0, 1000.0)).order_id
    old = e.submit(bid1(12.0, 600.0)).order_id  # alone too small: the ask keeps resting
    result = e.submit(bid1(11.0, 500.0))
    assert fills(result) == [(old, ask, 12.0, 600.0), (result.order_id, ask, 11.0, 400.0)]
    assert result.status is OrderStatus.PARTIAL_FILLED
    assert view(e, old).status is OrderStatus.FILLED


def test_incoming_bid_passes_over_a_cheaper_ask_it_cannot_absorb() -> None:
    """A cheaper ask too large for the buy side is skipped for a dearer one that fits."""
    e = engine()
    big = e.submit(ask1(5.0, 5000.0)).order_id
    small = e.submit(ask1(8.0, 500.0)).order_id
    result = e.submit(bid1(10.0, 1000.0))
    assert [t.sell_order_id for t in trades(result)] == [small]
    assert view(e, big).status is OrderStatus.MATCHING_ACTIVE


def test_incoming_bid_fills_several_asks() -> None:
    """One bid can take several asks, cheapest first, until it runs out."""
    e = engine()
    a1 = e.submit(ask1(8.0, 300.0)).order_id
    a2 = e.submit(ask1(7.0, 300.0)).order_id
    a3 = e.submit(ask1(9.0, 300.0)).order_id
    result = e.submit(bid1(10.0, 700.0))
    assert [t.sell_order_id for t in trades(result)] == [a2, a1]
    assert result.status is OrderStatus.PARTIAL_FILLED
    assert view(e, a3).status is OrderStatus.MATCHING_ACTIVE


@pytest.mark.parametrize("depth", [1, 5, 20])
def test_book_snapshot_is_the_best_levels_of_all_resting_orders(depth: int) -> None:
    """Over many windows, two countries and repeated prices: the snapshot equals a brute-force
    aggregation of the resting orders by (price, window, country), best first."""
    rng = random.Random(depth)
    e = engine()
    for _ in range(600):  # buys 0.10-0.20, sells 0.30-0.40: nothing crosses, all rest
        start = START + rng.randrange(12) * Q
        end = start + rng.randint(1, 3) * Q
        country = rng.choice(("DE", "FR"))
        make, low = (buy2, 0.10) if rng.random() < 0.5 else (sell2, 0.30)
        step = 2 * rng.randrange(20) + (country == "FR")  # no price tie across countries
        price = round(low + step * 0.0025, 4)
        e.submit(make(price, rng.randrange(1, 9) * 100.0, start=start, end=end, country=country))
    levels: dict[tuple[str, float, int, int, str], list[float]] = {}
    for view in e.orders(generation=2):
        assert view.status is OrderStatus.MATCHING_ACTIVE
        key = (view.side.value, view.price, view.delivery_start_ms, view.delivery_end_ms,
               view.country_code)  # fmt: skip
        levels.setdefault(key, []).append(view.power - view.filled_power)

    def expected(side: str, sign: float) -> list[tuple[float, float, int, int, int, str]]:
        rows = [(k[1], sum(v), len(v), k[2], k[3], k[4]) for k, v in levels.items() if k[0] == side]
        rows.sort(key=lambda r: (sign * r[0], r[3], r[4]))
        return rows[:depth]

    book = e.book_snapshot(depth, generation=2)

    def shown(side: tuple[object, ...]) -> list[tuple[float, float, int, int, int, str]]:
        return [(lv.price, lv.power, lv.orders, lv.delivery_start_ms, lv.delivery_end_ms,
                 lv.country_code) for lv in side]  # type: ignore[attr-defined]  # fmt: skip

    got_bids, got_asks = shown(book.bids), shown(book.asks)
    want_bids, want_asks = expected("buy", -1.0), expected("sell", 1.0)
    assert got_bids == want_bids  # powers are whole hundreds of W: sums are exact
    assert got_asks == want_asks
    assert len(got_bids) == len(got_asks) == depth
