"""Read-only views of the engine's state: an `OrderView` of one record and the price levels of
a `BookSnapshot`.

The engine's records (`_book.RestingOrder`, `_book.Bucket`) are mutable and internal; these
functions copy what callers may see into the frozen `_types` values, so `_engine` keeps only
the calls that change the market.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from ._book import Book, Bucket, RestingOrder
from ._types import BookLevel, OrderView, Side

__all__ = ["book_levels", "order_view"]


def order_view(ro: RestingOrder) -> OrderView:
    """A frozen snapshot of one order record."""
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


def book_levels(
    book: Book, depth: int, generation: int | None, country_code: str | None
) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
    """The `depth` best bid and ask levels (price x window x country) of `book`, best first."""
    bids: list[Iterator[BookLevel]] = []
    asks: list[Iterator[BookLevel]] = []
    for index in book.indexes():
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
    return (
        tuple(itertools.islice(best_bids, max(depth, 0))),
        tuple(itertools.islice(best_asks, max(depth, 0))),
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
