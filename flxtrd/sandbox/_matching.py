"""Matching decisions over the book, with no engine state: which bids absorb an ask, which asks
an incoming bid should try, and the per-window supply bounds that let it skip the rest.

The engine (`_engine`) owns the orders, ids, events and the lock; these functions only read the
book (and keep each sell bucket's `supply_ub` cache), so the algorithm described in `_engine`'s
docstring can be read here apart from the bookkeeping around it.
"""

from __future__ import annotations

import bisect
import heapq
import math
import sys
from collections.abc import Iterator

from . import _rules as rules
from ._book import Book, Bucket, Entry, RestingOrder, best_first

__all__ = ["Allocation", "allocate", "bound_supply", "candidate_asks", "count_resting_bid"]

_EPS = rules.POWER_EPSILON
_MAX_SEQ = sys.maxsize
_POWER_SLACK = 1e-3  # W: covers float drift in Bucket.power
_SCAN = 8  # sells worth scanning before looking for a shorter list

Allocation = list[tuple[RestingOrder, float]]
"""The bids an ask trades with, in priority, and the power each takes."""


def allocate(
    ask: RestingOrder, buckets: list[Bucket], extra: RestingOrder | None
) -> Allocation | None:
    """Share `ask` out over the fitting bids in priority, or None if they cannot absorb it.

    `buckets` are the buy buckets fitting the ask; `extra` is an incoming bid not in the
    book yet, walked at its own price-time position.
    """
    need = ask.remaining
    allocation: Allocation = []
    ask_price, ask_locations = ask.price, ask.locations
    prices_cross, locations_match = rules.prices_cross, rules.locations_match
    crossing = _crossing(buckets, ask_price)
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


def bound_supply(sells: Bucket, buys: list[Bucket]) -> float:
    """Recompute `sells.supply_ub` (inf once it exceeds every sell's power there)."""
    floor = sells.entries[-1][2].price
    cap = sells.by_power[-1][0]
    prices_cross = rules.prices_cross
    total = 0.0
    for _, _, bid in best_first(_crossing(buys, floor)):
        if not prices_cross(bid.price, floor):
            break
        if bid.live:
            total += bid.remaining
            if total >= cap:
                total = math.inf
                break
    sells.supply_ub, sells.supply_price = total, floor
    return total


def candidate_asks(
    bid: RestingOrder, sell_buckets: list[Bucket], book: Book
) -> tuple[Iterator[Entry], dict[Bucket, float]]:
    """The resting asks an incoming `bid` might complete, best first, and each bucket's bound.

    An ask is a candidate when the bid's price reaches it, their locations meet and its power is
    at most the bid's power plus its bucket's supply bound (the bound is returned per bucket so
    the caller can tighten it when an allocation shows it loose).
    """
    price, locations = bid.price, bid.locations
    prices_cross, locations_match = rules.prices_cross, rules.locations_match
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
            bound = bound_supply(sells, book.buys_fitting(sells))
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
    if not walks:
        return iter(()), bounds
    return (walks[0] if len(walks) == 1 else heapq.merge(*walks, reverse=True)), bounds


def count_resting_bid(bid: RestingOrder, sell_buckets: list[Bucket]) -> None:
    """A bid comes to rest: every sell bucket it fits may now count on what it has left."""
    left = bid.remaining
    prices_cross = rules.prices_cross
    for sells in sell_buckets:
        if sells.supply_ub is not None and prices_cross(bid.price, sells.supply_price):
            sells.supply_ub += left


def _crossing(buys: list[Bucket], ask_price: float) -> list[Bucket]:
    """The buy buckets whose best bid reaches `ask_price` (the others cannot trade)."""
    prices_cross = rules.prices_cross
    return [b for b in buys if b.entries and prices_cross(b.entries[-1][2].price, ask_price)]


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
