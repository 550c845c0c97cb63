"""Properties of the matching engine over random order flows, and of its rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_matcher import ReferenceMatcher, RefTrade  # a sibling module: the test oracle

from flxtrd.sandbox import (
    Event,
    Gen1Order,
    Gen2Order,
    ManualClock,
    MatchingEngine,
    OrderStatus,
    Side,
    Trade,
)
from flxtrd.sandbox import _rules as rules

Q = 900_000
T0 = 1_796_202_000_000
BASE = T0 + 8 * Q
BASELINE = {"metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60"}

prices = st.integers(1, 4).map(float)
powers = st.integers(1, 6).map(lambda n: 100.0 * n)
expiries = st.one_of(st.integers(1, 30).map(lambda k: T0 + 1_000 * k), st.just(BASE), st.just(BASE))
owners = st.sampled_from(["u1", "u2", "u3"])


@st.composite
def gen1_orders(draw: st.DrawFn) -> Gen1Order:
    """A valid generation-1 order over one of a few windows."""
    start = draw(st.sampled_from([BASE, BASE, BASE, BASE + Q]))
    user = draw(owners)
    return Gen1Order(
        side=draw(st.sampled_from(["ask", "bid"])),
        application_key=f"key-{user}",
        user=user,
        wattage=draw(powers),
        starttime=start,
        runtime=draw(st.sampled_from([Q, Q, 2 * Q])),
        price=draw(prices),
        # flxtrd 0.2.9 sends start + order_expiration_min: the order expires at its start
        expirationtime=draw(st.one_of(expiries.map(lambda e: min(e, start)), st.just(start + Q))),
    )


@st.composite
def gen2_orders(draw: st.DrawFn) -> Gen2Order:
    """A valid generation-2 order: a few windows, two countries, a few location sets."""
    start = BASE + Q * draw(st.sampled_from([0, 0, 1, 2]))
    side = draw(st.sampled_from(["buy", "sell"]))
    has_baseline = side == "sell" and draw(st.integers(0, 9)) > 0
    return Gen2Order(
        side=side,
        owner=draw(owners),
        power=draw(powers),
        price=draw(prices),
        delivery_start_ms=start,
        delivery_end_ms=start + Q * draw(st.sampled_from([1, 1, 2, 3])),
        expiry_time_ms=draw(expiries),
        country_code=draw(st.sampled_from(["DE", "DE", "DE", "FR"])),
        location_ids=draw(
            st.sampled_from(
                [None, None, (), (None,), ("a",), ("b",), ("a", "b"), ("a", None), ("a.*",)]
            )
        ),
        baseline=BASELINE if has_baseline else None,
    )


@st.composite
def one_op(draw: st.DrawFn) -> tuple[str, object]:
    """An operation: mostly an order, sometimes a clock advance or a cancel."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return ("advance", draw(st.integers(0, 5_000)))
    if kind == 1:
        return ("cancel", draw(st.integers(0, 10_000)))
    return ("order", draw(st.one_of(gen1_orders(), gen2_orders(), gen2_orders())))


Op = tuple[str, object]
operations = st.lists(one_op(), min_size=15, max_size=60)


@dataclass
class Run:
    """What one engine did with a list of operations."""

    engine: MatchingEngine
    events: list[Event]
    trades: list[tuple[int, list[RefTrade]]]
    orders: dict[int, Gen1Order | Gen2Order]


def run(ops: list[Op], *, seed: int = 3) -> Run:
    """Play `ops` on a fresh engine; trades are named by submission index, per submission."""
    clock = ManualClock(T0)
    engine = MatchingEngine(clock, seed=seed)
    events: list[Event] = []
    index_of: dict[int, int] = {}
    ids: list[int] = []
    per_submit: list[tuple[int, list[RefTrade]]] = []
    orders: dict[int, Gen1Order | Gen2Order] = {}
    submitted = 0
    for kind, arg in ops:
        if kind == "advance":
            assert isinstance(arg, int)
            clock.advance(arg)
            events.extend(engine.advance())
        elif kind == "cancel":
            assert isinstance(arg, int)
            if ids:
                oid = ids[arg % len(ids)]
                view = engine.get(oid)
                assert view is not None
                events.extend(engine.cancel(oid, view.owner).events)
        else:
            assert isinstance(arg, (Gen1Order, Gen2Order))
            result = engine.submit(arg)
            events.extend(result.events)
            if result.order_id is not None:
                index_of[result.order_id] = submitted
                ids.append(result.order_id)
                orders[result.order_id] = arg
            made = [
                RefTrade(index_of[e.buy_order_id], index_of[e.sell_order_id], e.price, e.power)
                for e in result.events
                if isinstance(e, Trade)
            ]
            per_submit.append((submitted, made))
            submitted += 1
    return Run(engine, events, per_submit, orders)


def replay(ops: list[Op]) -> list[tuple[int, list[RefTrade]]]:
    """Play `ops` on the linear-scan reference matcher."""
    ref = ReferenceMatcher()
    now = T0
    accepted: list[int] = []
    per_submit: list[tuple[int, list[RefTrade]]] = []
    submitted = 0
    probe = MatchingEngine(ManualClock(T0))  # tells which submissions are stored, for cancels
    for kind, arg in ops:
        if kind == "advance":
            assert isinstance(arg, int)
            now += arg
            ref.advance(now)
            probe.advance(now)
        elif kind == "cancel":
            assert isinstance(arg, int)
            if accepted:
                ref.cancel(accepted[arg % len(accepted)])
        else:
            assert isinstance(arg, (Gen1Order, Gen2Order))
            made = ref.submit(arg, now)
            probe.advance(now)
            if probe.submit(arg).accepted:
                accepted.append(submitted)
            per_submit.append((submitted, made or []))
            submitted += 1
    return per_submit


def assert_resting_asks_cannot_be_absorbed(engine: MatchingEngine) -> None:
    """No resting ask could be filled whole by the resting bids that fit it."""
    open_ = [
        v
        for v in engine.orders()
        if v.status in (OrderStatus.MATCHING_ACTIVE, OrderStatus.PARTIAL_FILLED)
    ]
    for ask in (v for v in open_ if v.side is Side.SELL):
        supply = sum(
            bid.remaining_power
            for bid in open_
            if bid.side is Side.BUY
            and bid.generation == ask.generation
            and rules.countries_match(bid.country_code, ask.country_code)
            and rules.windows_fit(
                bid.generation,
                bid.delivery_start_ms,
                bid.delivery_end_ms,
                ask.delivery_start_ms,
                ask.delivery_end_ms,
            )
            and rules.locations_match(
                frozenset(bid.location_ids or ()), frozenset(ask.location_ids or ())
            )
            and rules.prices_cross(bid.price, ask.price)
        )
        assert supply < ask.power


def assert_book_consistent(engine: MatchingEngine) -> None:
    """The book's bookkeeping matches its orders: counts, power, order by power, supply bounds."""
    for index in engine._book.indexes():
        for bucket in index.buckets.values():
            live = [e[2] for e in bucket.entries if e[2].live]
            assert live, "empty buckets are unlinked"
            assert bucket.live_count() == len(live)
            assert bucket.power == pytest.approx(sum(o.remaining for o in live), abs=1e-6)
            assert bucket.entries == sorted(bucket.entries)
            assert all(o.bucket is bucket for o in live)
            if index.side is Side.SELL:
                assert {id(e[2]) for e in bucket.by_power if e[2].live} == {id(o) for o in live}
                assert bucket.by_power == sorted(bucket.by_power)
                if bucket.supply_ub is not None:
                    supply = sum(
                        e[2].remaining
                        for buys in engine._book.buys_fitting(bucket)
                        for e in buys.entries
                        if e[2].live and rules.prices_cross(e[2].price, bucket.supply_price)
                    )
                    assert bucket.supply_ub >= supply - 1e-6
                    assert all(o.price >= bucket.supply_price for o in live)


@given(operations)
def test_random_flows_conserve_power_and_respect_prices(ops: list[Op]) -> None:
    """Each ask trades all its power or none, no bid is overfilled, no trade has bid < ask."""
    done = run(ops)
    traded: dict[int, float] = {}
    for trade in (e for e in done.events if isinstance(e, Trade)):
        buy, sell = done.orders[trade.buy_order_id], done.orders[trade.sell_order_id]
        assert trade.price == buy.price >= sell.price
        assert trade.power > 0
        traded[trade.buy_order_id] = traded.get(trade.buy_order_id, 0.0) + trade.power
        traded[trade.sell_order_id] = traded.get(trade.sell_order_id, 0.0) + trade.power
        b, s = done.engine.get(trade.buy_order_id), done.engine.get(trade.sell_order_id)
        assert b is not None and s is not None
        assert trade.time_ms < min(b.expires_at_ms, s.expires_at_ms)
        assert b.generation == s.generation and b.country_code == s.country_code
        assert rules.windows_fit(
            b.generation,
            b.delivery_start_ms,
            b.delivery_end_ms,
            s.delivery_start_ms,
            s.delivery_end_ms,
        )
        assert rules.locations_match(
            frozenset(b.location_ids or ()), frozenset(s.location_ids or ())
        )
    for view in done.engine.orders():
        got = traded.get(view.order_id, 0.0)
        assert got == view.filled_power
        if view.side is Side.SELL:
            assert got in (0.0, view.power)
            assert view.status is not OrderStatus.PARTIAL_FILLED
        else:
            assert got <= view.power
    assert_resting_asks_cannot_be_absorbed(done.engine)
    assert_book_consistent(done.engine)


@given(operations)
def test_engine_matches_the_linear_scan_reference_deterministically(ops: list[Op]) -> None:
    """The indexed engine makes the reference's trades, and a replay repeats every event."""
    first = run(ops, seed=11)
    assert first.trades == replay(ops)
    assert run(ops, seed=11).events == first.events


windows = st.tuples(st.integers(0, 12), st.integers(1, 6)).map(lambda p: (p[0], p[0] + p[1]))


@given(st.sampled_from([1, 2]), windows, windows)
def test_book_search_admits_every_fitting_window(
    generation: int, buy: tuple[int, int], sell: tuple[int, int]
) -> None:
    """windows_fit never accepts a pair of windows the book's search would not look at."""
    if rules.windows_fit(generation, *buy, *sell):
        assert rules.search_admits(rules.window_search(generation), *buy, *sell)
