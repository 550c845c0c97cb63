"""The order book: resting orders indexed by (generation, country, side) and delivery window.

Layout. One `SideIndex` per (generation, country, side) maps each delivery window to a `Bucket`
and keeps the windows sorted, so the candidate windows for an order are found by `bisect`
(one dictionary lookup for `WindowSearch.EXACT`). A `Bucket` holds its orders in one list sorted
by price-time priority with the BEST order LAST: entries are `(sort_price, -seq, order)` in
ascending order, where `sort_price` is the price for buys (higher is better) and minus the price
for sells (lower is better), and `-seq` puts the earlier order last among equal prices. Taking
the best order is `list.pop()`, walking best-first is `reversed(entries)`, and several buckets are
walked together with `heapq.merge(..., reverse=True)`.

Each bucket also keeps `power`, the remaining power of its live orders (kept up to date by the
engine), and sell buckets keep `by_power` and `supply_ub` (see `Bucket`). The answer to "which
buckets of this side fit that window" is cached per window in the `SideIndex` until one of its
buckets is created or removed.

Deletion is lazy: a filled, cancelled or expired order is only marked (`live = False`) and
counted in its bucket's `dead`; `Bucket.tidy` pops dead orders off the best end and rebuilds the
list when more than half of it is dead, so walks skip at most as many dead entries as live ones.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterable, Iterator

from . import _rules as rules
from ._rules import WindowSearch
from ._types import OrderStatus, Side

Entry = tuple[float, int, "RestingOrder"]
"""A book entry: (sort_price, -seq, order), ascending = worst first."""

_COMPACT_MIN_DEAD = 32
_FITS_CACHE_SIZE = 4096


class RestingOrder:
    """The engine's mutable record of one order (both generations)."""

    __slots__ = (
        "application_key",
        "baseline",
        "bucket",
        "country",
        "created_ms",
        "end",
        "expires_at",
        "expiry_time",
        "filled",
        "generation",
        "live",
        "location_ids",
        "locations",
        "message_id",
        "order_id",
        "owner",
        "power",
        "price",
        "remaining",
        "seq",
        "side",
        "sort_price",
        "start",
        "status",
        "updated_ms",
    )

    def __init__(
        self,
        *,
        order_id: int,
        seq: int,
        generation: int,
        side: Side,
        owner: str,
        price: float,
        power: float,
        start: int,
        end: int,
        expiry_time: int,
        expires_at: int,
        country: str,
        location_ids: tuple[str, ...] | None,
        created_ms: int,
        application_key: str | None = None,
        message_id: str | None = None,
        baseline: object | None = None,
    ) -> None:
        self.order_id = order_id
        self.seq = seq
        self.generation = generation
        self.side = side
        self.owner = owner
        self.price = float(price)
        self.sort_price = self.price if side is Side.BUY else -self.price
        self.power = float(power)
        self.remaining = self.power
        self.filled = 0.0
        self.start = start
        self.end = end
        self.expiry_time = expiry_time
        self.expires_at = expires_at
        self.country = country
        self.location_ids = location_ids
        self.locations: frozenset[str] | None = frozenset(location_ids) if location_ids else None
        self.created_ms = created_ms
        self.updated_ms = created_ms
        self.application_key = application_key
        self.message_id = message_id
        self.baseline = baseline
        self.status: OrderStatus | None = None
        self.live = False
        """Whether the order can match now (matching_active or partial_filled, power left)."""
        self.bucket: Bucket | None = None
        """The bucket holding the order while it rests in the book."""

    def __repr__(self) -> str:
        return (
            f"RestingOrder({self.order_id}, gen{self.generation} {self.side.value} "
            f"{self.remaining}/{self.power} W @ {self.price}, [{self.start}, {self.end}), "
            f"{self.status})"
        )


class Bucket:
    """The orders of one side resting for one delivery window, in price-time priority.

    Sell buckets also keep `by_power`, their orders sorted by power (a resting sell's power
    never changes: it fills whole), and `supply_ub`, an upper bound of the power the resting
    buys that fit this window and cross `supply_price` could give (locations ignored), valid for
    every sell here priced at or above `supply_price`; None when unknown.
    """

    __slots__ = (
        "by_power",
        "dead",
        "end",
        "entries",
        "index",
        "power",
        "start",
        "supply_price",
        "supply_ub",
    )

    def __init__(self, index: SideIndex, start: int, end: int) -> None:
        self.index = index
        self.start = start
        self.end = end
        self.entries: list[Entry] = []
        self.dead = 0
        self.power = 0.0
        """Remaining power of the live orders here, W (kept up to date by the engine)."""
        self.by_power: list[Entry] = []
        self.supply_ub: float | None = None
        self.supply_price = 0.0

    def add(self, order: RestingOrder) -> None:
        """Rest `order` here at its price-time position."""
        bisect.insort(self.entries, (order.sort_price, -order.seq, order))
        order.bucket = self
        self.power += order.remaining
        if order.side is Side.SELL:
            bisect.insort(self.by_power, (order.remaining, order.seq, order))
            if self.supply_ub is not None and order.price < self.supply_price:
                self.supply_ub = None  # the bound does not cover a sell this cheap

    def best_first(self) -> Iterator[Entry]:
        """Walk the entries best first (dead ones included; callers skip them)."""
        return reversed(self.entries)

    def tidy(self) -> None:
        """Drop dead entries from the best end, compact if mostly dead, unlink if empty."""
        entries = self.entries
        while entries and not entries[-1][2].live:
            entries.pop()[2].bucket = None
            self.dead -= 1
        if self.dead >= _COMPACT_MIN_DEAD and 2 * self.dead > len(entries):
            kept: list[Entry] = []
            for entry in entries:
                if entry[2].live:
                    kept.append(entry)
                else:
                    entry[2].bucket = None
            self.entries = entries = kept
            self.dead = 0
            self.power = sum(entry[2].remaining for entry in kept)  # shed float drift
        if len(self.by_power) > 2 * (len(entries) - self.dead) + _COMPACT_MIN_DEAD:
            self.by_power = [entry for entry in self.by_power if entry[2].live]
        if not entries:
            self.dead = 0
            self.power = 0.0
            self.index.remove(self)

    def live_count(self) -> int:
        """Number of live orders resting here."""
        return len(self.entries) - self.dead


class SideIndex:
    """The buckets of one (generation, country, side), searchable by delivery window."""

    __slots__ = (
        "buckets",
        "country",
        "fits",
        "generation",
        "max_duration",
        "side",
        "version",
        "windows",
    )

    def __init__(self, generation: int, country: str, side: Side) -> None:
        self.generation = generation
        self.country = country
        self.side = side
        self.buckets: dict[tuple[int, int], Bucket] = {}
        self.windows: list[tuple[int, int]] = []
        self.max_duration = 0
        """Longest window ever held (only grows; bounds the backwards search)."""
        self.version = 0
        """Bumped whenever a bucket is created or removed (invalidates `fits`)."""
        self.fits: dict[tuple[int, int], tuple[int, list[Bucket]]] = {}
        """Cached searches: opposite-side window -> (version, buckets here fitting it)."""

    def bucket_for(self, start: int, end: int) -> Bucket:
        """The bucket of window `[start, end)`, created if missing."""
        key = (start, end)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(self, start, end)
            bisect.insort(self.windows, key)
            self.version += 1
            if end - start > self.max_duration:
                self.max_duration = end - start
        return bucket

    def remove(self, bucket: Bucket) -> None:
        """Forget an empty bucket."""
        key = (bucket.start, bucket.end)
        if self.buckets.get(key) is bucket:
            del self.buckets[key]
            i = bisect.bisect_left(self.windows, key)
            del self.windows[i]
            self.version += 1

    def starting_in(self, lo: int, hi: int) -> list[Bucket]:
        """The buckets whose window starts in `[lo, hi)`, by start."""
        windows = self.windows
        i = bisect.bisect_left(windows, (lo,))
        j = bisect.bisect_left(windows, (hi,), i)
        buckets = self.buckets
        return [buckets[w] for w in windows[i:j]]


class Book:
    """All resting orders of both generations."""

    __slots__ = ("_indexes",)

    def __init__(self) -> None:
        self._indexes: dict[tuple[int, str, Side], SideIndex] = {}

    def add(self, order: RestingOrder) -> None:
        """Rest a live order in the book."""
        key = (order.generation, order.country, order.side)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = SideIndex(*key)
        index.bucket_for(order.start, order.end).add(order)

    def indexes(self) -> Iterable[SideIndex]:
        """Every side index (for snapshots)."""
        return self._indexes.values()

    def _fitting(self, index: SideIndex, window: tuple[int, int]) -> list[Bucket]:
        """Buckets of `index` whose window fits `window`, a window of the other side (cached)."""
        cached = index.fits.get(window)
        if cached is not None and cached[0] == index.version:
            return cached[1]
        if len(index.fits) >= _FITS_CACHE_SIZE:
            index.fits.clear()
        found = _search(index, window)
        index.fits[window] = (index.version, found)
        return found

    def sells_for(self, buy: RestingOrder) -> list[Bucket]:
        """Sell buckets whose window fits `buy` (same generation and country)."""
        return self._fitting_of((buy.generation, buy.country, Side.SELL), (buy.start, buy.end))

    def buys_fitting(self, sells: Bucket) -> list[Bucket]:
        """Buy buckets whose window fits the window of the sell bucket `sells`."""
        key = (sells.index.generation, sells.index.country, Side.BUY)
        return self._fitting_of(key, (sells.start, sells.end))

    def buys_for(self, sell: RestingOrder) -> list[Bucket]:
        """Buy buckets whose window fits `sell` (same generation and country)."""
        return self._fitting_of((sell.generation, sell.country, Side.BUY), (sell.start, sell.end))

    def _fitting_of(self, key: tuple[int, str, Side], window: tuple[int, int]) -> list[Bucket]:
        """Buckets of the side index `key` fitting `window`; none if that side is empty."""
        index = self._indexes.get(key)
        if index is None or not index.buckets:
            return []
        return self._fitting(index, window)


def _search(index: SideIndex, window: tuple[int, int]) -> list[Bucket]:
    """Buckets of `index` fitting `window` (a window of the other side), by start."""
    generation = index.generation
    search = rules.window_search(generation)
    fits = rules.windows_fit
    start, end = window
    if search is WindowSearch.EXACT:
        bucket = index.buckets.get(window)
        candidates = [bucket] if bucket is not None else []
    elif search is WindowSearch.SELL_WITHIN_BUY and index.side is Side.SELL:
        candidates = index.starting_in(start, end)  # sells inside this buy window
    elif search is WindowSearch.SELL_WITHIN_BUY:
        candidates = index.starting_in(end - index.max_duration, start + 1)  # buys around it
    else:
        candidates = index.starting_in(start - index.max_duration + 1, end)  # overlapping
    if index.side is Side.SELL:
        return [b for b in candidates if fits(generation, start, end, b.start, b.end)]
    return [b for b in candidates if fits(generation, b.start, b.end, start, end)]


def best_first(buckets: list[Bucket], extra: RestingOrder | None = None) -> Iterator[Entry]:
    """Walk the entries of several buckets (plus one order not in the book) best first."""
    if extra is None:
        if len(buckets) == 1:
            return reversed(buckets[0].entries)
        if not buckets:
            return iter(())
        return heapq.merge(*(reversed(b.entries) for b in buckets), reverse=True)
    placed: Entry = (extra.sort_price, -extra.seq, extra)
    if not buckets:
        return iter((placed,))
    if len(buckets) == 1:  # splice the extra order in at its place, without a merge
        entries = buckets[0].entries
        better = len(entries) - bisect.bisect_left(entries, placed)
        return itertools.chain(
            itertools.islice(reversed(entries), better),
            (placed,),
            itertools.islice(reversed(entries), better, None),
        )
    iterators: list[Iterator[Entry]] = [reversed(b.entries) for b in buckets]
    iterators.append(iter((placed,)))
    return heapq.merge(*iterators, reverse=True)
