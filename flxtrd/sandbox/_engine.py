"""The sandbox market's matching engine: a continuous double auction, pure Python, no I/O.

One engine serves both market generations. Generation-1 orders (`Gen1Order`, from the AMQP
line protocol) and generation-2 orders (`Gen2Order`, from the REST API) share one core, one
status machine and one id space, but never trade with each other: the book is split by
(generation, country, side), and generation 1 has the single country "".
The REST app, the broker worker and the stream servers call the engine and translate its events
(`_types.Event`) into wire messages; the engine knows nothing of the wire.

Rules
-----
Who may trade, at what price and for how long an order lives is decided by the named functions
of `_rules` only: `prices_cross` (bid price >= ask price), `deal_price` (pay-as-bid: the BID's
price), `windows_fit` (generation 1: identical windows; generation 2: the sell window lies within
the buy window), `contract_window` (the sell window), `countries_match` (equal),
`locations_match` (ids or `.*` patterns meet, None/empty = any), `gen1_expires_at_ms` /
`gen2_expires_at_ms`, `is_expired`, `initial_status`, `validate_gen1` / `validate_gen2`.
A bid FITS an ask when all of: same generation, `countries_match`, `windows_fit`,
`locations_match`, `prices_cross`. Priority among orders of one side is price (buys: highest
first; sells: lowest first), then time of arrival, across all fitting windows.

Sells fill whole, buys may fill partially
-----------------------------------------
A sell (ask) is all-or-none: it trades only when the fitting buys can absorb all of its power,
and then trades with all of them at once. A buy (bid) may be filled by several sells over time
and rests with what is left.

Incoming ask A (power P):
  1. Walk the fitting resting bids in bid priority (highest price, then earliest), skipping
     those whose locations do not intersect, until their remaining power adds up to P.
  2. If it adds up: A trades with each of them in that order, each taking
     min(its remaining, what A still has); the last one may be filled partially. Each of these
     trades is priced at that bid's price (pay-as-bid). A is `filled`; each bid is `filled` or
     `partial_filled` (and keeps resting).
  3. If it does not: nothing trades and A rests in the book (`matching_active`).

Incoming bid B (power Q):
  1. Walk the fitting resting asks in ask priority (lowest price, then earliest) while B has
     power left.
  2. For each ask A, run "incoming ask A" step 1 against the resting bids PLUS B (B at its own
     price-time position, i.e. behind resting bids of the same price). If the fitting bids now
     absorb A, A trades with them as in step 2 -- resting bids of higher priority than B are
     served first, and B takes the rest (it always takes something: without B the resting bids
     could not absorb A, or A would not be resting). If not, skip A and try the next ask.
  3. When B runs out, it is `filled`; otherwise it rests with its remaining power
     (`matching_active`, or `partial_filled` if it traded).
  So a cheaper ask too large for the buy side is passed over for a dearer one that fits.

Invariant after every call: no resting ask can be filled by the resting bids that fit it.
`ReferenceMatcher` (``tests/unit/sandbox/reference_matcher.py``, not shipped) is the same
algorithm written as plain scans; the property tests check that both make the same trades.

How the incoming bid avoids looking at every ask its price reaches: each sell bucket (one
window) keeps `supply_ub`, an upper bound of the power the resting bids fitting that window
could give any of its asks (raised by every bid that comes to rest, recomputed when a check
shows it loose), and its asks sorted by power (`by_power`; a resting ask's power never changes).
Only asks with power <= the bid's power + that bound can be completed. When there are few
such asks the bid picks them from `by_power` and sorts them; otherwise it walks the asks its
price reaches lazily, best first, keeping those small enough (`_matching._reachable`), and
stops as soon as it is filled, falling back to the `by_power` list after as many steps as it
has entries.
An allocation first compares the total power resting in the crossing buckets with what the ask
needs, and only then walks them.

Where the pieces live
---------------------
This module holds the engine's state, lock, status machine and events. The matching decisions
above (allocation, candidate asks, supply bounds) are `_matching`; the checks an order passes
before it is stored, and the seeded id sequences, are `_admission`; the `Trade` and `Contract`
records of a fill are `_deals`; `OrderView` and book levels are `_views`; the book itself is
`_book`.

Status machine
--------------
See `_rules.STATUS_TRANSITIONS`. A valid order starts `pending`, then `initial_status`: a
generation-2 sell without a baseline goes to `awaiting_baseline_data` (it does not match until
`provide_baseline`), everything else to `accepted` and at once to `matching_active`, where it
matches. Then `filled`, `partial_filled` (buys only; repeatable), `cancelled` (`cancel`, by its
owner) or `expired`. A partially filled buy that is cancelled or expires keeps its fills.
Generation-1 orders have no baseline and walk the same machine. Invalid orders and orders
already expired on arrival are not stored: `submit` returns a `Rejected` with a reason.

Expiry
------
Each order has an effective expiry (`_rules`); a heap of expiries is drained at the start of
every call, so no expired order ever trades. `advance(now_ms)` drains it explicitly (the servers
tick it). Queries drain it too; the `Expired` events they cause are handed out with the result of
the next mutating call (`submit`, `cancel`, `provide_baseline`, `update_contract`, `advance`).

Events, ids, time, threads
--------------------------
Events come back in the order things happened: expiries first, then the new order's status
changes, then per trade `Trade`, `ContractCreated` (generation 2), the bid's status change, and
finally the ask's. Ids of orders, trades and contracts are integers from three seeded
sequences (increasing, with seeded gaps), so a given seed, clock and input give the same ids and
events. Engine time is `max` of every clock reading so far (it never goes back). Every public
method holds one lock, so the REST app and the broker worker may call from different threads.

Cost
----
Window searches are a dictionary lookup (generation 1) or a `bisect` over the sorted windows
(generation 2), cached per window until a bucket is created or removed. Matching an order costs
in proportion to the buckets its window fits and the orders it touches (trades made, candidates
checked, dead entries skipped), not to the size of the book. Resting an order is a
`bisect.insort` into its window's bucket (a memmove). Pathological books still cost more: an
incoming ask that is not absorbed walks every fitting bid its price reaches (when their total
power is enough to make that worthwhile). `book_snapshot` merges the windows' levels lazily, so
it builds only the `depth` best levels (it still looks at every window's best level). See
`benchmarks/bench_matching.py` and `benchmarks/bench_sandbox_scale.py` for figures.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
from collections import deque
from collections.abc import Callable

from . import _matching as matching
from . import _rules as rules
from ._admission import IdSequence, admit_gen1, admit_gen2
from ._book import Book, Bucket, RestingOrder
from ._clock import Clock, SystemClock
from ._deals import contract_of, make_trade
from ._types import (
    ActionError,
    ActionResult,
    BookSnapshot,
    Contract,
    ContractCreated,
    ContractStatus,
    ContractStatusChanged,
    Event,
    Expired,
    Gen1Order,
    Gen2Order,
    OrderStatus,
    OrderStatusChanged,
    OrderView,
    Rejected,
    SettlementStatus,
    Side,
    SubmitResult,
    Trade,
    VerificationStatus,
)
from ._views import book_levels, order_view

__all__ = ["MatchingEngine"]

_EPS = rules.POWER_EPSILON
_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})
_HEAP_SLACK = 1024


class MatchingEngine:
    """The sandbox market: a thread-safe continuous double auction for both generations.

    `clock` defaults to the wall clock; `seed` fixes the id sequences; `trade_history` is how
    many trades `last_trades` remembers.
    """

    def __init__(
        self, clock: Clock | None = None, seed: int = 0, *, trade_history: int = 10_000
    ) -> None:
        self._lock = threading.Lock()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._now = 0
        self._order_ids = IdSequence(seed, "orders")
        self._trade_ids = IdSequence(seed, "trades")
        self._contract_ids = IdSequence(seed, "contracts")
        self._seq = 0
        self._orders: dict[int, RestingOrder] = {}
        self._by_owner: dict[str, list[RestingOrder]] = {}
        self._message_ids: dict[tuple[str, str], int] = {}
        self._expiry: list[tuple[int, int, RestingOrder]] = []
        self._open = 0
        self._book = Book()
        self._contracts: dict[int, Contract] = {}
        self._contracts_by_owner: dict[str, list[int]] = {}
        self._trades: deque[Trade] = deque(maxlen=trade_history)
        self._backlog: list[Event] = []

    # ----------------------------------------------------------------------------------------
    # Public: mutating calls

    def submit(self, order: Gen1Order | Gen2Order) -> SubmitResult:
        """Validate, store and match one order; return its id, final status and all events."""
        with self._lock:
            now, events = self._begin()
            if isinstance(order, Gen1Order):
                admitted = admit_gen1(order, now, self._new_ids, self._message_ids)
                has_baseline = True
            elif isinstance(order, Gen2Order):
                admitted = admit_gen2(order, now, self._new_ids)
                has_baseline = order.baseline is not None
            else:
                raise TypeError(f"expected Gen1Order or Gen2Order, got {type(order).__name__}")
            if isinstance(admitted, Rejected):
                events.append(admitted)
                return SubmitResult(None, None, tuple(events), admitted)
            ro = admitted
            self._register(ro)
            self._set_status(ro, OrderStatus.PENDING, now, events)
            status = rules.initial_status(ro.side, has_baseline)
            self._set_status(ro, status, now, events)
            if status is OrderStatus.ACCEPTED:
                self._activate(ro, now, events)
            return SubmitResult(ro.order_id, ro.status, tuple(events))

    def cancel(self, order_id: int, owner: str) -> ActionResult:
        """Cancel an open order of `owner` (a partly filled buy keeps its fills)."""

        def close(ro: RestingOrder, now: int, events: list[Event]) -> None:
            self._close(ro, OrderStatus.CANCELLED, now, events)

        return self._act(
            order_id, owner, lambda s: s in rules.OPEN_STATUSES, "cannot be cancelled", close
        )

    def provide_baseline(self, order_id: int, owner: str, baseline: object) -> ActionResult:
        """Give a sell waiting in `awaiting_baseline_data` its baseline; it then matches."""
        if baseline is None:
            raise ValueError("baseline must not be None")

        def accept(ro: RestingOrder, now: int, events: list[Event]) -> None:
            ro.baseline = baseline
            self._set_status(ro, OrderStatus.ACCEPTED, now, events)
            self._activate(ro, now, events)

        waiting = OrderStatus.AWAITING_BASELINE_DATA
        return self._act(
            order_id, owner, lambda s: s is waiting, "is not awaiting baseline data", accept
        )

    def update_contract(
        self,
        contract_id: int,
        *,
        status: ContractStatus | None = None,
        settlement_status: SettlementStatus | None = None,
        verification_status: VerificationStatus | None = None,
    ) -> tuple[Event, ...]:
        """Move a contract's statuses (raises KeyError for an unknown contract)."""
        with self._lock:
            now, events = self._begin()
            old = self._contracts[contract_id]
            new = dataclasses.replace(
                old,
                updated_ms=now,
                status=status if status is not None else old.status,
                settlement_status=(
                    settlement_status if settlement_status is not None else old.settlement_status
                ),
                verification_status=(
                    verification_status
                    if verification_status is not None
                    else old.verification_status
                ),
            )
            if new != old:
                self._contracts[contract_id] = new
                events.append(ContractStatusChanged(new, now))
            return tuple(events)

    def advance(self, now_ms: int | None = None) -> tuple[Event, ...]:
        """Expire every order due by `now_ms` (default: the clock) and return the events."""
        with self._lock:
            if now_ms is not None and now_ms > self._now:
                self._now = now_ms
            _, events = self._begin()
            return tuple(events)

    # ----------------------------------------------------------------------------------------
    # Public: queries

    def now_ms(self) -> int:
        """The engine's current time (monotonic), ms since the epoch."""
        with self._lock:
            return self._time()

    def get(self, order_id: int) -> OrderView | None:
        """A snapshot of one order, or None if there is no such order."""
        with self._lock:
            self._expire_quietly()
            ro = self._orders.get(order_id)
            return None if ro is None else order_view(ro)

    def orders(
        self,
        owner: str | None = None,
        *,
        generation: int | None = None,
        status: OrderStatus | None = None,
        side: Side | None = None,
    ) -> list[OrderView]:
        """Snapshots of the orders (of `owner`, if given) matching the filters, newest first."""
        with self._lock:
            self._expire_quietly()
            source = self._orders.values() if owner is None else self._by_owner.get(owner, [])
            return [
                order_view(ro)
                for ro in reversed(list(source))
                if (generation is None or ro.generation == generation)
                and (status is None or ro.status == status)
                and (side is None or ro.side == side)
            ]

    def get_contract(self, contract_id: int) -> Contract | None:
        """One contract, or None if there is no such contract."""
        with self._lock:
            return self._contracts.get(contract_id)

    def contracts(
        self, owner: str | None = None, *, status: ContractStatus | None = None
    ) -> list[Contract]:
        """The contracts (where `owner` buys or sells, if given), newest first."""
        with self._lock:
            if owner is None:
                found = list(self._contracts.values())
            else:
                found = [self._contracts[i] for i in self._contracts_by_owner.get(owner, [])]
            return [c for c in reversed(found) if status is None or c.status == status]

    def last_trades(self, n: int = 50, *, generation: int | None = None) -> list[Trade]:
        """The last `n` trades (of `generation`, if given), oldest first."""
        with self._lock:
            picked: list[Trade] = []
            for trade in reversed(self._trades):
                if len(picked) >= n:
                    break
                if generation is None or trade.generation == generation:
                    picked.append(trade)
            picked.reverse()
            return picked

    def book_snapshot(
        self, depth: int = 10, *, generation: int | None = None, country_code: str | None = None
    ) -> BookSnapshot:
        """The `depth` best levels (price x window x country) of each side, best first."""
        with self._lock:
            self._expire_quietly()
            bids, asks = book_levels(self._book, depth, generation, country_code)
            return BookSnapshot(self._now, bids, asks)

    def resting_count(self, generation: int | None = None) -> int:
        """Number of orders resting in the book (matchable now)."""
        with self._lock:
            self._expire_quietly()
            return sum(
                bucket.live_count()
                for index in self._book.indexes()
                if generation is None or index.generation == generation
                for bucket in index.buckets.values()
            )

    # ----------------------------------------------------------------------------------------
    # Time and expiry

    def _time(self) -> int:
        now = self._clock.now_ms()
        if now > self._now:
            self._now = now
        return self._now

    def _begin(self) -> tuple[int, list[Event]]:
        """Read the clock, take the backlog and expire what is due: the start of every call."""
        now = self._time()
        events = self._backlog
        self._backlog = []
        self._expire_due(now, events)
        return now, events

    def _expire_quietly(self) -> None:
        self._expire_due(self._time(), self._backlog)

    def _expire_due(self, now: int, events: list[Event]) -> None:
        heap = self._expiry
        while heap and rules.is_expired(heap[0][0], now):
            ro = heapq.heappop(heap)[2]
            if ro.status in rules.OPEN_STATUSES:
                self._close(ro, OrderStatus.EXPIRED, now, events)

    # ----------------------------------------------------------------------------------------
    # Admission

    def _new_ids(self) -> tuple[int, int]:
        """The order id and arrival sequence number of an order about to be stored."""
        self._seq += 1
        return self._order_ids.next(), self._seq

    def _register(self, ro: RestingOrder) -> None:
        self._orders[ro.order_id] = ro
        self._by_owner.setdefault(ro.owner, []).append(ro)
        if ro.message_id is not None:
            self._message_ids[(ro.owner, ro.message_id)] = ro.order_id
        heapq.heappush(self._expiry, (ro.expires_at, ro.seq, ro))
        self._open += 1
        if len(self._expiry) > 2 * self._open + _HEAP_SLACK:
            self._expiry = [e for e in self._expiry if e[2].status not in _TERMINAL]
            heapq.heapify(self._expiry)

    # ----------------------------------------------------------------------------------------
    # Status

    def _set_status(
        self, ro: RestingOrder, status: OrderStatus, now: int, events: list[Event]
    ) -> None:
        previous = ro.status
        if status not in rules.STATUS_TRANSITIONS[previous]:
            raise RuntimeError(
                f"illegal transition {previous and previous.value} -> {status.value} "
                f"of order {ro.order_id}"
            )
        ro.status = status
        ro.updated_ms = now
        if status in _TERMINAL:
            self._open -= 1
        event_type = Expired if status is OrderStatus.EXPIRED else OrderStatusChanged
        events.append(
            event_type(
                order_id=ro.order_id,
                generation=ro.generation,
                side=ro.side,
                owner=ro.owner,
                previous=previous,
                status=status,
                power=ro.power,
                filled_power=ro.filled,
                time_ms=now,
                application_key=ro.application_key,
                message_id=ro.message_id,
            )
        )

    def _close(self, ro: RestingOrder, status: OrderStatus, now: int, events: list[Event]) -> None:
        """Take an open order out of the market as cancelled or expired."""
        if ro.live:
            ro.live = False
            bucket = ro.bucket
            if bucket is not None:
                bucket.power -= ro.remaining
                bucket.dead += 1
                bucket.tidy()
        self._set_status(ro, status, now, events)

    def _act(
        self,
        order_id: int,
        owner: str,
        allowed: Callable[[OrderStatus | None], bool],
        what: str,
        action: Callable[[RestingOrder, int, list[Event]], None],
    ) -> ActionResult:
        """Run `action` on an order of `owner` whose status is `allowed`, or say why not
        (`what`: how a refusal describes the order's status)."""
        with self._lock:
            now, events = self._begin()
            found = self._owned(order_id, owner, events)
            if isinstance(found, ActionResult):
                return found
            if not allowed(found.status):
                return self._refuse(found, events, what)
            action(found, now, events)
            return ActionResult(order_id, found.status, tuple(events))

    def _owned(self, order_id: int, owner: str, events: list[Event]) -> RestingOrder | ActionResult:
        ro = self._orders.get(order_id)
        if ro is None:
            return ActionResult(
                order_id, None, tuple(events), ActionError.NOT_FOUND, f"No order {order_id}"
            )
        if ro.owner != owner:
            return ActionResult(
                order_id, None, tuple(events), ActionError.NOT_OWNER,
                f"Order {order_id} is not an order of {owner!r}",
            )  # fmt: skip
        return ro

    def _refuse(self, ro: RestingOrder, events: list[Event], what: str) -> ActionResult:
        assert ro.status is not None
        reason = f"Order {ro.order_id} is {ro.status.value} and {what}"
        return ActionResult(ro.order_id, ro.status, tuple(events), ActionError.WRONG_STATUS, reason)

    # ----------------------------------------------------------------------------------------
    # Matching

    def _activate(self, ro: RestingOrder, now: int, events: list[Event]) -> None:
        """Put an accepted order into matching: match it, and rest what is left."""
        self._set_status(ro, OrderStatus.MATCHING_ACTIVE, now, events)
        ro.live = True
        if ro.side is Side.SELL:
            self._match_ask(ro, now, events)
        else:
            self._match_bid(ro, now, events)

    def _match_ask(self, ask: RestingOrder, now: int, events: list[Event]) -> None:
        """Trade an incoming ask whole if the fitting bids absorb it, else rest it."""
        allocation = matching.allocate(ask, self._book.buys_for(ask), None)
        if allocation is None:
            self._book.add(ask)
            return
        touched: set[Bucket] = set()
        self._execute(ask, allocation, now, events, touched)
        for bucket in touched:
            bucket.tidy()

    def _match_bid(self, bid: RestingOrder, now: int, events: list[Event]) -> None:
        """Complete the resting asks an incoming bid can, best first, and rest what is left."""
        book = self._book
        sell_buckets = book.sells_for(bid)
        candidates, bounds = matching.candidate_asks(bid, sell_buckets, book)
        touched: set[Bucket] = set()
        for _, _, ask in candidates:
            if bid.remaining <= _EPS:
                break
            home = ask.bucket
            assert home is not None
            if ask.remaining > bid.remaining + bounds[home] + _EPS:
                continue
            buys = book.buys_fitting(home)
            allocation = matching.allocate(ask, buys, bid)
            if allocation is None:
                bounds[home] = matching.bound_supply(home, buys)  # it was loose: tighten it
                continue
            self._execute(ask, allocation, now, events, touched)
        for bucket in touched:
            bucket.tidy()
        if bid.live:
            matching.count_resting_bid(bid, sell_buckets)
            book.add(bid)

    def _execute(
        self,
        ask: RestingOrder,
        allocation: matching.Allocation,
        now: int,
        events: list[Event],
        touched: set[Bucket],
    ) -> None:
        """Make the trades of a whole ask against its allocation of bids."""
        gen2 = ask.generation == 2
        for bid, take in allocation:
            before = bid.remaining
            bid.filled += take
            bid.remaining -= take
            filled = bid.remaining <= _EPS
            if filled:
                bid.remaining = 0.0
                bid.live = False
            held = bid.bucket
            if held is not None:
                held.power -= before - bid.remaining
                if filled:
                    held.dead += 1
                    touched.add(held)
            contract_id = self._contract_ids.next() if gen2 else None
            trade = make_trade(bid, ask, take, now, self._trade_ids.next(), contract_id)
            events.append(trade)
            self._trades.append(trade)
            if contract_id is not None:
                contract = contract_of(trade, contract_id)
                self._contracts[contract_id] = contract
                self._contracts_by_owner.setdefault(bid.owner, []).append(contract_id)
                if ask.owner != bid.owner:
                    self._contracts_by_owner.setdefault(ask.owner, []).append(contract_id)
                events.append(ContractCreated(contract))
            status = OrderStatus.FILLED if filled else OrderStatus.PARTIAL_FILLED
            self._set_status(bid, status, now, events)
        ask.filled = ask.power
        held = ask.bucket
        if held is not None:
            held.power -= ask.remaining
            held.dead += 1
            touched.add(held)
        ask.remaining = 0.0
        ask.live = False
        self._set_status(ask, OrderStatus.FILLED, now, events)
