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
`_reference.ReferenceMatcher` is the same algorithm written as plain scans; the property tests
check that both make the same trades.

How the incoming bid avoids looking at every ask its price reaches: each sell bucket (one
window) keeps `supply_ub`, an upper bound of the power the resting bids fitting that window
could give any of its asks (raised by every bid that comes to rest, recomputed when a check
shows it loose), and its asks sorted by power (`by_power`; a resting ask's power never changes).
Only asks with power <= the bid's power + that bound can be completed. When there are few
such asks the bid picks them from `by_power` and sorts them; otherwise it walks the asks its
price reaches lazily, best first, keeping those small enough (`_reachable`), and stops as soon
as it is filled, falling back to the `by_power` list after as many steps as it has entries.
An allocation first compares the total power resting in the crossing buckets with what the ask
needs, and only then walks them.

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

import bisect
import heapq
import itertools
import math
import random
import sys
import threading
from collections import deque
from collections.abc import Iterator

from . import _rules as rules
from ._book import Book, Bucket, Entry, RestingOrder, best_first
from ._clock import Clock, SystemClock
from ._types import (
    ActionError,
    ActionResult,
    BookLevel,
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
    RejectCode,
    Rejected,
    SettlementStatus,
    Side,
    SubmitResult,
    Trade,
    VerificationStatus,
)

__all__ = ["MatchingEngine"]

_EPS = rules.POWER_EPSILON
_ID_GAP = 8
_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})
_HEAP_SLACK = 1024
_MAX_SEQ = sys.maxsize
_POWER_SLACK = 1e-3  # W: covers float drift in Bucket.power
_SCAN = 8  # sells worth scanning before looking for a shorter list

Allocation = list[tuple[RestingOrder, float]]


class _IdSequence:
    """Increasing integer ids >= 1 with seeded gaps of 1.._ID_GAP."""

    __slots__ = ("_last", "_random")

    def __init__(self, seed: int, name: str) -> None:
        self._random = random.Random(f"{seed}:{name}").random
        self._last = 0

    def next(self) -> int:
        """The next id."""
        self._last += 1 + int(self._random() * _ID_GAP)
        return self._last


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
        self._order_ids = _IdSequence(seed, "orders")
        self._trade_ids = _IdSequence(seed, "trades")
        self._contract_ids = _IdSequence(seed, "contracts")
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
                admitted = self._admit_gen1(order, now)
                has_baseline = True
            elif isinstance(order, Gen2Order):
                admitted = self._admit_gen2(order, now)
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
        with self._lock:
            now, events = self._begin()
            found = self._owned(order_id, owner, events)
            if isinstance(found, ActionResult):
                return found
            if found.status not in rules.OPEN_STATUSES:
                return self._refuse(found, events, "cannot be cancelled")
            self._close(found, OrderStatus.CANCELLED, now, events)
            return ActionResult(order_id, found.status, tuple(events))

    def provide_baseline(self, order_id: int, owner: str, baseline: object) -> ActionResult:
        """Give a sell waiting in `awaiting_baseline_data` its baseline; it then matches."""
        if baseline is None:
            raise ValueError("baseline must not be None")
        with self._lock:
            now, events = self._begin()
            found = self._owned(order_id, owner, events)
            if isinstance(found, ActionResult):
                return found
            if found.status is not OrderStatus.AWAITING_BASELINE_DATA:
                return self._refuse(found, events, "is not awaiting baseline data")
            found.baseline = baseline
            self._set_status(found, OrderStatus.ACCEPTED, now, events)
            self._activate(found, now, events)
            return ActionResult(order_id, found.status, tuple(events))

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
            new = Contract(
                contract_id=old.contract_id,
                buy_order_id=old.buy_order_id,
                sell_order_id=old.sell_order_id,
                buyer_id=old.buyer_id,
                seller_id=old.seller_id,
                price=old.price,
                power=old.power,
                energy=old.energy,
                delivery_start_ms=old.delivery_start_ms,
                delivery_end_ms=old.delivery_end_ms,
                country_code=old.country_code,
                created_ms=old.created_ms,
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
            return None if ro is None else _view(ro)

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
                _view(ro)
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
            bids: list[Iterator[BookLevel]] = []
            asks: list[Iterator[BookLevel]] = []
            for index in self._book.indexes():
                if generation is not None and index.generation != generation:
                    continue
                if country_code is not None and index.country != country_code:
                    continue
                into = bids if index.side is Side.BUY else asks
                for bucket in index.buckets.values():
                    into.append(_levels(bucket, index.country, index.generation))
            # Each bucket's levels come best first; a stable merge of them is the stable sort
            # of all levels, and only the first `depth` are ever built (not depth per bucket).
            best_bids = heapq.merge(
                *bids, key=lambda lv: (-lv.price, lv.delivery_start_ms, lv.delivery_end_ms)
            )
            best_asks = heapq.merge(
                *asks, key=lambda lv: (lv.price, lv.delivery_start_ms, lv.delivery_end_ms)
            )
            return BookSnapshot(
                self._now,
                tuple(itertools.islice(best_bids, max(depth, 0))),
                tuple(itertools.islice(best_asks, max(depth, 0))),
            )

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

    def _rejected(
        self,
        generation: int,
        side: object,
        owner: object,
        code: RejectCode,
        reason: str,
        field: str | None,
        now: int,
        application_key: object = None,
        message_id: object = None,
    ) -> Rejected:
        return Rejected(
            generation=generation,
            side=side if isinstance(side, str) else "",
            owner=owner if isinstance(owner, str) else "",
            code=code,
            reason=reason,
            field=field,
            time_ms=now,
            application_key=application_key if isinstance(application_key, str) else None,
            message_id=message_id if isinstance(message_id, str) else None,
        )

    def _admit_gen1(self, order: Gen1Order, now: int) -> RestingOrder | Rejected:
        key, msg = order.application_key, order.message_id
        violation = rules.validate_gen1(order)
        if violation is not None:
            return self._rejected(
                1, order.side, order.user, RejectCode.INVALID, violation.reason,
                violation.field, now, key, msg,
            )  # fmt: skip
        expires = rules.gen1_expires_at_ms(order.expirationtime, order.starttime)
        if rules.is_expired(expires, now):
            return self._rejected(
                1, order.side, order.user, RejectCode.EXPIRED_AT_ARRIVAL,
                f"order expired at {expires} ms, before it arrived at {now} ms",
                "expirationtime", now, key, msg,
            )  # fmt: skip
        if msg is not None and (order.user, msg) in self._message_ids:
            return self._rejected(
                1, order.side, order.user, RejectCode.DUPLICATE,
                f"duplicate message_id {msg!r}", "message_id", now, key, msg,
            )  # fmt: skip
        return RestingOrder(
            order_id=self._order_ids.next(),
            seq=self._next_seq(),
            generation=1,
            side=Side.parse(order.side),
            owner=order.user,
            price=order.price,
            power=order.wattage,
            start=order.starttime,
            end=order.starttime + order.runtime,
            expiry_time=order.expirationtime,
            expires_at=expires,
            country="",
            location_ids=None,
            created_ms=now,
            application_key=key,
            message_id=msg,
        )

    def _admit_gen2(self, order: Gen2Order, now: int) -> RestingOrder | Rejected:
        violation = rules.validate_gen2(order)
        if violation is not None:
            return self._rejected(
                2, order.side, order.owner, RejectCode.INVALID, violation.reason,
                violation.field, now,
            )  # fmt: skip
        expires = rules.gen2_expires_at_ms(order.expiry_time_ms, order.delivery_start_ms)
        if rules.is_expired(expires, now):
            return self._rejected(
                2, order.side, order.owner, RejectCode.EXPIRED_AT_ARRIVAL,
                f"order expired at {expires} ms (expiry_time or 15 min before delivery start), "
                f"before it arrived at {now} ms",
                "expiry_time", now,
            )  # fmt: skip
        ids = rules.normalize_location_ids(order.location_ids)
        return RestingOrder(
            order_id=self._order_ids.next(),
            seq=self._next_seq(),
            generation=2,
            side=Side.parse(order.side),
            owner=order.owner,
            price=order.price,
            power=order.power,
            start=order.delivery_start_ms,
            end=order.delivery_end_ms,
            expiry_time=order.expiry_time_ms,
            expires_at=expires,
            country=order.country_code,
            location_ids=ids,
            created_ms=now,
            baseline=order.baseline,
        )

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

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
        allocation = self._allocate(ask, self._book.buys_for(ask), None)
        if allocation is None:
            self._book.add(ask)
            return
        touched: set[Bucket] = set()
        self._execute(ask, allocation, now, events, touched)
        for bucket in touched:
            bucket.tidy()

    def _match_bid(self, bid: RestingOrder, now: int, events: list[Event]) -> None:
        price, locations = bid.price, bid.locations
        prices_cross, locations_match = rules.prices_cross, rules.locations_match
        book = self._book
        sell_buckets = book.sells_for(bid)
        reach = bid.remaining + _EPS
        walks: list[Iterator[Entry]] = []
        picked: list[Entry] = []
        bounds: dict[Bucket, float] = {}
        for sells in sell_buckets:
            entries = sells.entries
            if not entries or not prices_cross(price, entries[-1][2].price):
                continue  # not even the best sell here is reached
            bound = sells.supply_ub
            if bound is None:
                bound = self._bound_supply(sells, book.buys_fitting(sells))
            # A sell can only be completed if this bid plus the resting buys reach its power.
            limit = reach + bound
            by_power = sells.by_power
            if by_power[0][0] > limit:
                continue  # every sell here is too large
            bounds[sells] = bound
            # Look at the sells small enough and reached by this bid's price, best first. Many
            # small sells: walk the reached ones lazily from the best, so a bid filled by its
            # first sells looks at no more (`_reachable`); few: pick them from `by_power`.
            small = (
                len(by_power)
                if limit >= by_power[-1][0]
                else bisect.bisect_right(by_power, (limit, _MAX_SEQ))
            )
            if small > _SCAN:
                walks.append(_reachable(sells, small, limit, price, locations))
                continue
            for _, _, ask in by_power[:small]:
                if (
                    ask.live
                    and prices_cross(price, ask.price)
                    and locations_match(locations, ask.locations)
                ):
                    picked.append((ask.sort_price, -ask.seq, ask))
        if picked:
            picked.sort(reverse=True)  # best first
            walks.append(iter(picked))
        if walks:
            candidates = walks[0] if len(walks) == 1 else heapq.merge(*walks, reverse=True)
            touched: set[Bucket] = set()
            for _, _, ask in candidates:
                if bid.remaining <= _EPS:
                    break
                home = ask.bucket
                assert home is not None
                if ask.remaining > bid.remaining + bounds[home] + _EPS:
                    continue
                buys = book.buys_fitting(home)
                allocation = self._allocate(ask, buys, bid)
                if allocation is None:
                    bounds[home] = self._bound_supply(home, buys)  # it was loose: tighten it
                    continue
                self._execute(ask, allocation, now, events, touched)
            for bucket in touched:
                bucket.tidy()
        if bid.live:
            # The bid rests: every sell bucket it fits may now count on what it has left.
            left = bid.remaining
            for sells in sell_buckets:
                if sells.supply_ub is not None and prices_cross(price, sells.supply_price):
                    sells.supply_ub += left
            book.add(bid)

    def _bound_supply(self, sells: Bucket, buys: list[Bucket]) -> float:
        """Recompute `sells.supply_ub` (inf once it exceeds every sell's power there)."""
        floor = sells.entries[-1][2].price
        cap = sells.by_power[-1][0]
        prices_cross = rules.prices_cross
        crossing = [b for b in buys if b.entries and prices_cross(b.entries[-1][2].price, floor)]
        total = 0.0
        for _, _, bid in best_first(crossing):
            if not prices_cross(bid.price, floor):
                break
            if bid.live:
                total += bid.remaining
                if total >= cap:
                    total = math.inf
                    break
        sells.supply_ub, sells.supply_price = total, floor
        return total

    def _allocate(
        self, ask: RestingOrder, buckets: list[Bucket], extra: RestingOrder | None
    ) -> Allocation | None:
        """Share `ask` out over the fitting bids in priority, or None if they cannot absorb it.

        `buckets` are the buy buckets fitting the ask; `extra` is an incoming bid not in the
        book yet, walked at its own price-time position.
        """
        need = ask.remaining
        allocation: Allocation = []
        ask_price, ask_locations = ask.price, ask.locations
        prices_cross, locations_match = rules.prices_cross, rules.locations_match
        crossing = [
            b for b in buckets if b.entries and prices_cross(b.entries[-1][2].price, ask_price)
        ]
        # Cheap refusal: all the power resting there (whatever its price) is not enough.
        available = sum(b.power for b in crossing) + _POWER_SLACK
        if extra is not None:
            available += extra.remaining
        if available < need:
            return None
        for _, _, bid in best_first(crossing, extra):
            if not prices_cross(bid.price, ask_price):
                break
            if not bid.live or not locations_match(bid.locations, ask_locations):
                continue
            remaining = bid.remaining
            take = remaining if remaining < need else need
            allocation.append((bid, take))
            need -= take
            if need <= _EPS:
                return allocation
        return None

    def _execute(
        self,
        ask: RestingOrder,
        allocation: Allocation,
        now: int,
        events: list[Event],
        touched: set[Bucket],
    ) -> None:
        """Make the trades of a whole ask against its allocation of bids."""
        gen2 = ask.generation == 2
        sell_energy = rules.energy_wh(ask.power, ask.start, ask.end)
        for bid, take in allocation:
            price = rules.deal_price(bid.price, ask.price)
            start, end = rules.contract_window(bid.start, bid.end, ask.start, ask.end)
            energy = rules.energy_wh(take, start, end)
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
            trade = Trade(
                trade_id=self._trade_ids.next(),
                generation=ask.generation,
                time_ms=now,
                price=price,
                power=take,
                energy=energy,
                delivery_start_ms=start,
                delivery_end_ms=end,
                country_code=ask.country,
                buy_order_id=bid.order_id,
                sell_order_id=ask.order_id,
                buyer_id=bid.owner,
                seller_id=ask.owner,
                buy_application_key=bid.application_key,
                sell_application_key=ask.application_key,
                buy_message_id=bid.message_id,
                sell_message_id=ask.message_id,
                buy_power=bid.power,
                sell_power=ask.power,
                buy_energy=rules.energy_wh(bid.power, bid.start, bid.end),
                sell_energy=sell_energy,
                buy_time_ms=bid.created_ms,
                sell_time_ms=ask.created_ms,
                contract_id=contract_id,
            )
            events.append(trade)
            self._trades.append(trade)
            if contract_id is not None:
                contract = Contract(
                    contract_id=contract_id,
                    buy_order_id=bid.order_id,
                    sell_order_id=ask.order_id,
                    buyer_id=bid.owner,
                    seller_id=ask.owner,
                    price=price,
                    power=take,
                    energy=energy,
                    delivery_start_ms=start,
                    delivery_end_ms=end,
                    country_code=ask.country,
                    created_ms=now,
                    updated_ms=now,
                )
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


def _reachable(
    sells: Bucket, small: int, limit: float, price: float, locations: frozenset[str] | None
) -> Iterator[Entry]:
    """The live sells of ``sells`` a bid at ``price`` reaches, with power <= ``limit`` and
    locations meeting ``locations``, best first, lazily.

    Walks the reached entries from the best for at most ``small`` steps (``small``: how many
    sells have power <= ``limit``); if the caller still wants more, the rest come from the
    first ``small`` of ``by_power``, sorted. So a bid filled early stops early, and the worst
    case stays about 2 x ``small``. ``entries`` does not change while walked (filled sells are
    only marked, and tidied after the walk).
    """
    entries, by_power = sells.entries, sells.by_power
    prices_cross, locations_match = rules.prices_cross, rules.locations_match
    first = _first_crossing(entries, price)
    i = len(entries) - 1
    steps = small
    while i >= first and steps > 0:
        entry = entries[i]
        ask = entry[2]
        if ask.live and ask.remaining <= limit and locations_match(locations, ask.locations):
            yield entry
        i -= 1
        steps -= 1
    if i < first:
        return
    below = (entries[i][0], entries[i][1])  # the best key not walked yet
    rest = [
        (ask.sort_price, -ask.seq, ask)
        for _, _, ask in by_power[:small]
        if ask.live
        and (ask.sort_price, -ask.seq) <= below
        and prices_cross(price, ask.price)
        and locations_match(locations, ask.locations)
    ]
    rest.sort(reverse=True)
    yield from rest


def _first_crossing(entries: list[Entry], bid_price: float) -> int:
    """Index of the first sell entry the bid price reaches (they form the best-end tail)."""
    prices_cross = rules.prices_cross
    return bisect.bisect_left(entries, True, key=lambda e: prices_cross(bid_price, e[2].price))


def _view(ro: RestingOrder) -> OrderView:
    assert ro.status is not None
    return OrderView(
        order_id=ro.order_id,
        generation=ro.generation,
        side=ro.side,
        owner=ro.owner,
        price=ro.price,
        power=ro.power,
        filled_power=ro.filled,
        status=ro.status,
        delivery_start_ms=ro.start,
        delivery_end_ms=ro.end,
        expiry_time_ms=ro.expiry_time,
        expires_at_ms=ro.expires_at,
        country_code=ro.country,
        location_ids=ro.location_ids,
        created_ms=ro.created_ms,
        updated_ms=ro.updated_ms,
        application_key=ro.application_key,
        message_id=ro.message_id,
        baseline=ro.baseline,
    )


def _levels(bucket: Bucket, country: str, generation: int) -> Iterator[BookLevel]:
    """The price levels of one bucket, best first, lazily (the book does not change meanwhile:
    the engine's lock is held)."""
    price: float | None = None
    power, count = 0.0, 0
    for _, _, ro in bucket.best_first():
        if not ro.live:
            continue
        if ro.price != price:
            if price is not None:
                yield BookLevel(price, power, count, bucket.start, bucket.end, country, generation)
            price, power, count = ro.price, 0.0, 0
        power += ro.remaining
        count += 1
    if price is not None:
        yield BookLevel(price, power, count, bucket.start, bucket.end, country, generation)
