"""Order lifecycle: statuses, expiry, rejection, cancel, contracts, events, ids and queries."""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest

from flxtrd.sandbox import (
    ActionError,
    ContractCreated,
    ContractStatus,
    ContractStatusChanged,
    Event,
    Expired,
    Gen1Order,
    Gen2Order,
    ManualClock,
    MatchingEngine,
    OrderStatus,
    OrderStatusChanged,
    OrderView,
    RejectCode,
    SettlementStatus,
    Side,
    SubmitResult,
    Trade,
    VerificationStatus,
)
from flxtrd.sandbox._rules import STATUS_TRANSITIONS

Q = 900_000
T0 = 1_796_202_000_000
START = T0 + 8 * Q
BASELINE = {"metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60"}
S = OrderStatus


def setup(seed: int = 7) -> tuple[MatchingEngine, ManualClock]:
    """A fresh engine and its manual clock at T0."""
    clock = ManualClock(T0)
    return MatchingEngine(clock, seed=seed), clock


def g1(
    side: str,
    price: float,
    watts: float = 1000.0,
    *,
    user: str = "u",
    exp: int | None = None,
    start: int = START,
    msg: str | None = None,
) -> Gen1Order:
    """A generation-1 order (default expiry: a quarter hour before its start)."""
    expirationtime = start - Q if exp is None else exp
    return Gen1Order(side, f"key-{user}", user, watts, start, Q, price, expirationtime, msg)


def g2(
    side: str,
    price: float,
    power: float = 1000.0,
    *,
    owner: str = "u",
    expiry: int | None = None,
    start: int = START,
    end: int = START + Q,
    baseline: object = BASELINE,
) -> Gen2Order:
    """A generation-2 order in DE (sells carry `baseline`; default expiry 30 min before start)."""
    expiry_time = start - 2 * Q if expiry is None else expiry
    return Gen2Order(
        side, owner, power, price, start, end, expiry_time, "DE", None,
        baseline if side == "sell" else None,
    )  # fmt: skip


def statuses(events: tuple[Event, ...], order_id: int | None) -> list[OrderStatus]:
    """The statuses one order entered, in order, among `events`."""
    return [
        e.status for e in events if isinstance(e, OrderStatusChanged) and e.order_id == order_id
    ]


def view(e: MatchingEngine, order_id: int | None) -> OrderView:
    """The snapshot of an order that must exist."""
    assert order_id is not None
    found = e.get(order_id)
    assert found is not None
    return found


def trades(result: SubmitResult) -> list[Trade]:
    """The trades among a result's events."""
    return [e for e in result.events if isinstance(e, Trade)]


# -- expiry ------------------------------------------------------------------------------------


def test_gen1_expires_at_expirationtime() -> None:
    """A generation-1 order expires exactly at its expirationtime."""
    e, _ = setup()
    oid = e.submit(g1("bid", 10.0, exp=T0 + 5_000)).order_id
    assert e.advance(T0 + 4_999) == ()
    (event,) = e.advance(T0 + 5_000)
    assert isinstance(event, Expired)
    assert (event.order_id, event.previous, event.status) == (oid, S.MATCHING_ACTIVE, S.EXPIRED)
    assert view(e, oid).status is S.EXPIRED
    assert e.resting_count() == 0


def test_gen2_expires_at_expiry_time_when_that_is_first() -> None:
    """A generation-2 order expires at its expiry_time when that comes first."""
    e, _ = setup()
    oid = e.submit(g2("buy", 0.2, expiry=T0 + Q)).order_id
    assert view(e, oid).expires_at_ms == T0 + Q
    assert e.advance(T0 + Q - 1) == ()
    assert statuses(e.advance(T0 + Q), oid) == [S.EXPIRED]


def test_gen2_expires_15_min_before_delivery_when_that_is_first() -> None:
    """A generation-2 order expires 15 min before delivery start if its expiry_time is later."""
    e, _ = setup()
    oid = e.submit(g2("buy", 0.2, expiry=START)).order_id
    assert view(e, oid).expires_at_ms == START - Q
    assert e.advance(START - Q - 1) == ()
    assert statuses(e.advance(START - Q), oid) == [S.EXPIRED]


def test_expired_order_does_not_trade_and_expiry_comes_first() -> None:
    """Due orders expire at the start of the next submit, before matching, without advance()."""
    e, clock = setup()
    oid = e.submit(g1("bid", 10.0, exp=T0 + 5_000)).order_id
    clock.set(T0 + 5_000)
    result = e.submit(g1("ask", 9.0))
    assert trades(result) == []
    assert isinstance(result.events[0], Expired)
    assert result.events[0].order_id == oid


def test_expiry_seen_by_a_query_is_reported_by_the_next_call() -> None:
    """A query that expires an order keeps the Expired event for the next mutating call."""
    e, clock = setup()
    oid = e.submit(g1("bid", 10.0, exp=T0 + 5_000)).order_id
    clock.set(T0 + 6_000)
    assert view(e, oid).status is S.EXPIRED
    assert statuses(e.advance(), oid) == [S.EXPIRED]
    assert e.advance() == ()


def test_partially_filled_buy_expires_keeping_its_fill() -> None:
    """A partly filled buy that expires keeps its filled power; only the rest leaves the book."""
    e, _ = setup()
    e.submit(g2("sell", 0.1, 400.0))
    oid = e.submit(g2("buy", 0.2, 1000.0)).order_id
    (event,) = e.advance(START - Q)
    assert isinstance(event, Expired)
    assert (event.previous, event.filled_power) == (S.PARTIAL_FILLED, 400.0)
    v = view(e, oid)
    assert (v.status, v.filled_power, v.remaining_power) == (S.EXPIRED, 400.0, 0.0)


@pytest.mark.parametrize(
    "order",
    [
        g1("bid", 10.0, exp=T0),  # expires now
        g1("ask", 10.0, exp=T0 - 1),
        g2("buy", 0.2, expiry=T0),
        g2("sell", 0.2, expiry=T0 + 10 * Q, start=T0 + Q, end=T0 + 2 * Q),  # starts in 15 min
    ],
)
def test_order_expired_on_arrival_is_rejected(order: Gen1Order | Gen2Order) -> None:
    """An order whose effective expiry is not after now is refused with a reason, not stored."""
    e, _ = setup()
    result = e.submit(order)
    assert not result.accepted
    assert result.order_id is None
    assert result.rejected is not None
    assert result.rejected.code is RejectCode.EXPIRED_AT_ARRIVAL
    assert "expired" in result.rejected.reason
    assert e.orders() == []


# -- rejection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (dataclasses.replace(g1("bid", 1.0), side="buy"), "side"),
        (dataclasses.replace(g1("bid", 1.0), application_key=""), "application_key"),
        (dataclasses.replace(g1("bid", 1.0), user=""), "user"),
        (dataclasses.replace(g1("bid", 1.0), wattage=0.0), "wattage"),
        (dataclasses.replace(g1("bid", 1.0), wattage=math.nan), "wattage"),
        (dataclasses.replace(g1("bid", 1.0), runtime=0), "runtime"),
        (dataclasses.replace(g1("bid", 1.0), price=-1.0), "price"),
        (dataclasses.replace(g1("bid", 1.0), price=math.inf), "price"),
        (dataclasses.replace(g1("bid", 1.0), starttime=-5), "starttime"),
        (g1("ask", 1.0, exp=-1), "expirationtime"),
        (dataclasses.replace(g2("buy", 0.2), side="bid"), "side"),
        (dataclasses.replace(g2("buy", 0.2), owner=""), "owner"),
        (dataclasses.replace(g2("buy", 0.2), power=-3.0), "power"),
        (dataclasses.replace(g2("buy", 0.2), price=math.nan), "price"),
        (dataclasses.replace(g2("buy", 0.2), delivery_start_ms=START + 1), "delivery_start"),
        (dataclasses.replace(g2("buy", 0.2), delivery_end_ms=START + Q + 60_000), "delivery_end"),
        (dataclasses.replace(g2("buy", 0.2), delivery_end_ms=START), "delivery_end"),
        (dataclasses.replace(g2("buy", 0.2), location_ids=("a", "")), "location_id"),
    ],
)
def test_invalid_order_is_rejected_naming_the_field(
    order: Gen1Order | Gen2Order, field: str
) -> None:
    """An invalid order is refused with code INVALID, the field to blame and a reason."""
    e, _ = setup()
    result = e.submit(order)
    assert result.rejected is not None
    assert (result.rejected.code, result.rejected.field) == (RejectCode.INVALID, field)
    assert result.rejected.reason
    assert result.events == (result.rejected,)


def test_gen1_rejection_carries_what_a_cancel_reply_needs() -> None:
    """A generation-1 rejection names the application key, message id, user and reason."""
    e, _ = setup()
    order = dataclasses.replace(g1("bid", 1.0, user="alice", msg="m-1"), wattage=0.0)
    rejected = e.submit(order).rejected
    assert rejected is not None
    assert (rejected.application_key, rejected.message_id, rejected.owner) == (
        "key-alice", "m-1", "alice",
    )  # fmt: skip
    assert "wattage" in rejected.reason


def test_duplicate_message_id_is_rejected_per_user() -> None:
    """A second order with a user's message_id is refused; another user may reuse the id."""
    e, _ = setup()
    assert e.submit(g1("bid", 1.0, user="a", msg="m")).accepted
    again = e.submit(g1("bid", 1.0, user="a", msg="m"))
    assert again.rejected is not None
    assert again.rejected.code is RejectCode.DUPLICATE
    assert e.submit(g1("bid", 1.0, user="b", msg="m")).accepted


def test_submit_refuses_other_types() -> None:
    """Anything but a Gen1Order or Gen2Order is a programming error."""
    e, _ = setup()
    with pytest.raises(TypeError):
        e.submit("bid,applicationKey=x")  # type: ignore[arg-type]


# -- cancel ------------------------------------------------------------------------------------


def test_owner_cancels_a_resting_order() -> None:
    """Its owner cancels a resting order; it leaves the book and cannot trade."""
    e, _ = setup()
    oid = e.submit(g2("buy", 0.2, owner="alice")).order_id
    assert oid is not None
    result = e.cancel(oid, "alice")
    assert result.ok
    assert result.status is S.CANCELLED
    assert statuses(result.events, oid) == [S.CANCELLED]
    assert trades(e.submit(g2("sell", 0.1))) == []


def test_cancel_by_another_user_is_refused() -> None:
    """Only the owner may cancel; the order is untouched and its status not revealed."""
    e, _ = setup()
    oid = e.submit(g2("buy", 0.2, owner="alice")).order_id
    assert oid is not None
    result = e.cancel(oid, "mallory")
    assert (result.ok, result.error, result.status) == (False, ActionError.NOT_OWNER, None)
    assert view(e, oid).status is S.MATCHING_ACTIVE


def test_cancel_unknown_or_closed_order_is_refused() -> None:
    """Cancelling an unknown id is NOT_FOUND; cancelling a filled order is WRONG_STATUS."""
    e, _ = setup()
    assert e.cancel(12345, "u").error is ActionError.NOT_FOUND
    e.submit(g2("buy", 0.2))
    sold = e.submit(g2("sell", 0.1))
    assert sold.order_id is not None
    refused = e.cancel(sold.order_id, "u")
    assert (refused.error, refused.status) == (ActionError.WRONG_STATUS, S.FILLED)
    assert refused.reason is not None and "filled" in refused.reason


def test_cancel_partially_filled_buy_keeps_its_fill() -> None:
    """Cancelling a partly filled buy keeps the fill and its contract."""
    e, _ = setup()
    e.submit(g2("sell", 0.1, 400.0))
    oid = e.submit(g2("buy", 0.2, 1000.0)).order_id
    assert oid is not None
    assert e.cancel(oid, "u").ok
    v = view(e, oid)
    assert (v.status, v.filled_power) == (S.CANCELLED, 400.0)
    assert len(e.contracts("u")) == 1


# -- statuses ----------------------------------------------------------------------------------


def test_status_sequence_of_a_resting_then_filled_order() -> None:
    """pending -> accepted -> matching_active on arrival, then filled when matched."""
    e, _ = setup()
    first = e.submit(g2("buy", 0.2))
    assert statuses(first.events, first.order_id) == [S.PENDING, S.ACCEPTED, S.MATCHING_ACTIVE]
    second = e.submit(g2("sell", 0.1))
    assert statuses(second.events, first.order_id) == [S.FILLED]
    assert statuses(second.events, second.order_id) == [
        S.PENDING, S.ACCEPTED, S.MATCHING_ACTIVE, S.FILLED,
    ]  # fmt: skip


def test_repeated_partial_fills_report_each_fill() -> None:
    """Each further partial fill of a buy is reported (partial_filled -> partial_filled)."""
    e, _ = setup()
    oid = e.submit(g2("buy", 0.2, 1000.0)).order_id
    e.submit(g2("sell", 0.1, 300.0))
    result = e.submit(g2("sell", 0.1, 300.0))
    (event,) = [
        ev for ev in result.events if isinstance(ev, OrderStatusChanged) and ev.order_id == oid
    ]
    assert (event.previous, event.status, event.filled_power) == (
        S.PARTIAL_FILLED, S.PARTIAL_FILLED, 600.0,
    )  # fmt: skip


def test_sell_without_baseline_waits_until_baseline_is_given() -> None:
    """A sell without baseline goes to awaiting_baseline_data and only matches once given one."""
    e, _ = setup()
    e.submit(g2("buy", 0.2))
    waiting = e.submit(g2("sell", 0.1, baseline=None))
    assert waiting.status is S.AWAITING_BASELINE_DATA
    assert statuses(waiting.events, waiting.order_id) == [S.PENDING, S.AWAITING_BASELINE_DATA]
    assert trades(waiting) == []
    assert waiting.order_id is not None
    assert e.provide_baseline(waiting.order_id, "mallory", BASELINE).error is ActionError.NOT_OWNER
    given = e.provide_baseline(waiting.order_id, "u", BASELINE)
    assert given.ok
    assert statuses(given.events, waiting.order_id) == [S.ACCEPTED, S.MATCHING_ACTIVE, S.FILLED]
    again = e.provide_baseline(waiting.order_id, "u", BASELINE)
    assert again.error is ActionError.WRONG_STATUS


def test_sell_awaiting_baseline_can_expire_and_be_cancelled() -> None:
    """An order awaiting its baseline still expires, or can be cancelled."""
    e, _ = setup()
    one = e.submit(g2("sell", 0.1, baseline=None)).order_id
    two = e.submit(g2("sell", 0.1, baseline=None)).order_id
    assert two is not None
    assert e.cancel(two, "u").status is S.CANCELLED
    assert statuses(e.advance(START - 2 * Q), one) == [S.EXPIRED]


def test_every_emitted_transition_is_in_the_status_machine() -> None:
    """Every status change the engine reports is allowed by STATUS_TRANSITIONS."""
    e, clock = setup()
    events: list[Event] = []
    orders: list[Gen1Order | Gen2Order] = [
        g2("buy", 0.2, 1000.0), g2("sell", 0.1, 400.0), g2("sell", 0.1, 600.0),
        g2("sell", 0.3, baseline=None), g2("buy", 0.2, 500.0), g1("bid", 5.0), g1("ask", 6.0),
    ]  # fmt: skip
    for order in orders:
        events.extend(e.submit(order).events)
    events.extend(e.cancel(e.orders(status=S.MATCHING_ACTIVE)[0].order_id, "u").events)
    clock.set(START)
    events.extend(e.advance())
    changes = [ev for ev in events if isinstance(ev, OrderStatusChanged)]
    assert {ev.status for ev in changes} >= {S.FILLED, S.PARTIAL_FILLED, S.CANCELLED, S.EXPIRED}
    for ev in changes:
        assert ev.status in STATUS_TRANSITIONS[ev.previous], ev


# -- contracts and generation-1 replies ---------------------------------------------------------


def test_gen2_match_creates_a_contract() -> None:
    """A generation-2 trade creates a contract with ids, price, power, energy, window, statuses."""
    e, _ = setup()
    buy = e.submit(g2("buy", 0.25, 2500.0, owner="bob")).order_id
    result = e.submit(g2("sell", 0.2, 2500.0, owner="alice"))
    (trade,) = trades(result)
    (created,) = [ev for ev in result.events if isinstance(ev, ContractCreated)]
    c = created.contract
    assert c.contract_id == trade.contract_id
    assert (c.buy_order_id, c.sell_order_id, c.buyer_id, c.seller_id) == (
        buy, result.order_id, "bob", "alice",
    )  # fmt: skip
    assert (c.price, c.power, c.energy) == (0.25, 2500.0, 625.0)
    assert (c.delivery_start_ms, c.delivery_end_ms, c.country_code) == (START, START + Q, "DE")
    assert c.status is ContractStatus.ACTIVE
    assert c.settlement_status is SettlementStatus.AWAITING_VERIFICATION_COMPLETION
    assert c.verification_status is VerificationStatus.AWAITING_METERING_DATA
    assert e.get_contract(c.contract_id) == c
    assert e.contracts("alice") == e.contracts("bob") == [c]
    assert e.contracts("carol") == []


def test_contracts_are_listed_newest_first_and_filtered() -> None:
    """contracts(owner) lists the owner's contracts newest first; status filters them."""
    e, _ = setup()
    e.submit(g2("buy", 0.3, 1000.0, owner="bob"))
    e.submit(g2("sell", 0.1, 400.0, owner="alice"))
    e.submit(g2("sell", 0.1, 600.0, owner="carol"))
    listed = e.contracts("bob")
    assert [c.seller_id for c in listed] == ["carol", "alice"]
    assert [c.seller_id for c in e.contracts("carol")] == ["carol"]
    assert e.contracts(status=ContractStatus.SETTLED) == []


def test_update_contract_reports_the_change() -> None:
    """Moving a contract's statuses stores them and emits ContractStatusChanged."""
    e, clock = setup()
    e.submit(g2("buy", 0.3))
    e.submit(g2("sell", 0.1))
    (c,) = e.contracts()
    clock.advance(1_000)
    (event,) = e.update_contract(
        c.contract_id, settlement_status=SettlementStatus.PROCESSING_SETTLEMENT
    )
    assert isinstance(event, ContractStatusChanged)
    assert event.contract.settlement_status is SettlementStatus.PROCESSING_SETTLEMENT
    assert event.contract.updated_ms == T0 + 1_000
    assert e.get_contract(c.contract_id) == event.contract
    assert e.update_contract(c.contract_id) == ()
    with pytest.raises(KeyError):
        e.update_contract(999_999)


def test_gen1_trade_carries_closed_orders_and_tick() -> None:
    """A generation-1 trade yields both closed-order records (wire units) and the tick."""
    e, clock = setup()
    ask = e.submit(g1("ask", 10.0, 2500.0, user="alice", msg="a1"))
    clock.advance(7)
    result = e.submit(g1("bid", 12.0, 3000.0, user="bob", msg="b1"))
    (t,) = trades(result)
    assert t.contract_id is None and e.contracts() == []
    assert (t.sell_application_key, t.buy_application_key) == ("key-alice", "key-bob")
    assert (t.sell_message_id, t.buy_message_id) == ("a1", "b1")
    assert t.sell_order_id == ask.order_id
    common = {
        "bid_time": (T0 + 7) * 1_000_000, "ask_time": T0 * 1_000_000, "ask_user": "alice",
        "bid_user": "bob", "price": 12.0, "energy": 625.0, "starttime": START,
        "endtime": START + Q, "runtime": Q, "power": 2500.0, "match_time": (T0 + 7) * 1_000_000,
    }  # fmt: skip
    assert dataclasses.asdict(t.ask_closed_order()) == {
        **common, "totalenergy": 625.0, "wattage": 2500.0,
    }  # fmt: skip
    assert dataclasses.asdict(t.bid_closed_order()) == {
        **common, "totalenergy": 750.0, "wattage": 3000.0,
    }  # fmt: skip
    tick = t.tick()
    assert (tick.trade_time_ms, tick.price, tick.start_time_ms, tick.energy) == (
        T0 + 7, 12.0, START, 625.0,
    )  # fmt: skip


# -- determinism and ids ------------------------------------------------------------------------


def scenario(seed: int) -> list[Event]:
    """All events of a fixed little market session."""
    e, clock = setup(seed)
    events: list[Event] = []
    orders: list[Gen1Order | Gen2Order] = [
        g2("buy", 0.3, 1000.0), g2("sell", 0.1, 400.0), g1("bid", 5.0), g1("ask", 4.0),
        g2("sell", 0.2, 600.0), g2("buy", 0.2, 100.0, expiry=T0 + 50),
    ]  # fmt: skip
    for i, order in enumerate(orders):
        clock.advance(i)
        events.extend(e.submit(order).events)
    events.extend(e.advance(T0 + 100))
    return events


def test_same_seed_gives_same_ids_and_events() -> None:
    """Two engines with one seed, clock and input produce identical ids and events."""
    assert scenario(42) == scenario(42)


def test_different_seed_gives_different_ids() -> None:
    """The seed changes the id sequences, not what trades."""
    one, other = scenario(1), scenario(2)
    assert one != other
    strip = [type(ev).__name__ for ev in one]
    assert strip == [type(ev).__name__ for ev in other]


def test_ids_are_increasing_positive_integers() -> None:
    """Order, trade and contract ids are integers >= 1 that increase."""
    e, _ = setup()
    ids = [e.submit(g2("buy", 0.2)).order_id for _ in range(20)]
    assert all(isinstance(i, int) and i >= 1 for i in ids)
    assert ids == sorted({i for i in ids if i is not None})


# -- queries -----------------------------------------------------------------------------------


def test_orders_query_filters_and_orders_newest_first() -> None:
    """orders() filters by owner, generation, status and side and lists newest first."""
    e, _ = setup()
    a = e.submit(g2("buy", 0.2, owner="a")).order_id
    b = e.submit(g2("sell", 0.3, owner="a")).order_id
    c = e.submit(g1("bid", 1.0, user="b")).order_id
    assert [v.order_id for v in e.orders()] == [c, b, a]
    assert [v.order_id for v in e.orders("a")] == [b, a]
    assert [v.order_id for v in e.orders(generation=1)] == [c]
    assert [v.order_id for v in e.orders("a", side=Side.SELL)] == [b]
    assert [v.order_id for v in e.orders(status=S.FILLED)] == []
    assert e.get(999_999) is None


def test_book_snapshot_aggregates_levels_best_first() -> None:
    """The snapshot sums open power per price and window, best first, cut at depth."""
    e, _ = setup()
    for price, power in [(0.2, 100.0), (0.2, 50.0), (0.3, 10.0), (0.1, 5.0)]:
        e.submit(g2("buy", price, power))
    e.submit(g2("buy", 0.25, 7.0, start=START + Q, end=START + 2 * Q))
    e.submit(g2("sell", 0.5, 1.0))
    book = e.book_snapshot(depth=3)
    assert [(lv.price, lv.power, lv.orders) for lv in book.bids] == [
        (0.3, 10.0, 1), (0.25, 7.0, 1), (0.2, 150.0, 2),
    ]  # fmt: skip
    assert [(lv.price, lv.delivery_start_ms) for lv in book.asks] == [(0.5, START)]
    assert e.book_snapshot(generation=1).bids == ()
    assert e.book_snapshot(country_code="FR").bids == ()


def test_last_trades_keeps_the_most_recent_oldest_first() -> None:
    """last_trades(n) returns the n newest trades, oldest first, optionally per generation."""
    e, _ = setup()
    e.submit(g2("buy", 0.3, 1000.0))
    for _ in range(3):
        e.submit(g2("sell", 0.1, 100.0))
    e.submit(g1("bid", 2.0))
    e.submit(g1("ask", 1.0))
    assert [t.generation for t in e.last_trades(2)] == [2, 1]
    assert len(e.last_trades(10, generation=2)) == 3
    ids = [t.trade_id for t in e.last_trades(10)]
    assert ids == sorted(ids)


# -- clock and threads -------------------------------------------------------------------------


def test_engine_time_never_goes_back() -> None:
    """advance(now_ms) moves engine time ahead of the clock; it never returns to an earlier time."""
    e, clock = setup()
    e.advance(T0 + 10_000)
    assert e.now_ms() == T0 + 10_000
    clock.set(T0 + 20)
    assert e.now_ms() == T0 + 10_000
    with pytest.raises(ValueError, match="backwards"):
        clock.set(T0)


def test_concurrent_submits_are_serialised() -> None:
    """Submits from several threads keep the book consistent (each ask sold whole or not at all)."""
    e, _ = setup()
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(300):
            side = "buy" if (i + n) % 2 else "sell"
            e.submit(g2(side, 0.1 + (i % 7) / 100, 100.0 + 50 * (i % 5), owner=f"t{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    views = e.orders()
    assert len(views) == 1200
    traded: dict[int, float] = {}
    for trade in e.last_trades(10_000):
        traded[trade.sell_order_id] = traded.get(trade.sell_order_id, 0.0) + trade.power
        traded[trade.buy_order_id] = traded.get(trade.buy_order_id, 0.0) + trade.power
    for v in views:
        assert traded.get(v.order_id, 0.0) == pytest.approx(v.filled_power)
        if v.side is Side.SELL:
            assert v.filled_power in (0.0, v.power)
