"""Pages of the list endpoints that fetch the next page only when iteration reaches it.

The generation-2 list calls (``GET /api/v1/order/``, ``GET /api/v1/contract/``) answer one page:
``{"total": N, "items": [...]}`` for a ``limit`` and an ``offset``. :class:`SyncPage` and
:class:`AsyncPage` (modelled on openai-python's ``SyncPage`` / ``AsyncPage``) hold one such page
and walk the rest lazily::

    page = client.orders.pages(status="pending", page_size=50)   # one request
    page.items, page.total, page.has_next_page()
    for order in page:          # every order of every page; the next page is requested only
        ...                     # when the items of this one are used up

``async for order in client.orders.pages(...)`` does the same on the async client, and
``await client.orders.pages(...)`` returns the first :class:`AsyncPage`.

The market lists newest first, so an order placed while you iterate shifts the later pages by
one: item iteration skips an item whose ``id`` it has already yielded, and stops when a page
comes back empty, so it never loops and never yields an order twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["AsyncPage", "AsyncPaginator", "SyncPage", "apaginate", "paginate"]

T = TypeVar("T")
_Fetch = TypeVar("_Fetch")


class _BasePage(Generic[T, _Fetch]):
    """What both page kinds know: the items, the total, where the page starts and how to fetch
    the page at an offset (``_Fetch``: a plain or an awaitable-returning callable)."""

    def __init__(
        self, items: list[T], *, total: int, offset: int, limit: int, fetch: _Fetch
    ) -> None:
        self.items = items
        self.total = total
        self.offset = offset
        self.limit = limit
        self._fetch = fetch

    def next_page_offset(self) -> int | None:
        """The ``offset`` of the next page, or None when this is the last one."""
        end = self.offset + len(self.items)
        if not self.items or end >= self.total:
            return None
        return end

    def _required_next_offset(self) -> int:
        """The next page's offset; RuntimeError when there is none (``get_next_page``'s rule)."""
        offset = self.next_page_offset()
        if offset is None:
            raise RuntimeError("no next page; check has_next_page() first")
        return offset

    def has_next_page(self) -> bool:
        """Whether the market has items beyond this page."""
        return self.next_page_offset() is not None

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} items={len(self.items)} offset={self.offset}"
            f" total={self.total}>"
        )


def _item_key(item: Any) -> Any:
    """The identity of an item for de-duplication across pages (its ``id``, else itself)."""
    key = getattr(item, "id", None)
    return key if key is not None else id(item)


def _unseen(items: list[T], seen: set[Any]) -> Iterator[T]:
    """The items of one page not yielded before (by :func:`_item_key`), noting them in ``seen``."""
    for item in items:
        key = _item_key(item)
        if key not in seen:
            seen.add(key)
            yield item


class SyncPage(_BasePage[T, Callable[[int], "SyncPage[T]"]]):
    """One page of a list call; iterating it yields every item of every page, lazily."""

    def get_next_page(self) -> SyncPage[T]:
        """Request the next page; RuntimeError when there is none (check has_next_page)."""
        return self._fetch(self._required_next_offset())

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        """This page, then each following page, each requested when reached."""
        page: SyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.get_next_page()

    def __iter__(self) -> Iterator[T]:
        seen: set[Any] = set()
        for page in self.iter_pages():
            yield from _unseen(page.items, seen)


class AsyncPage(_BasePage[T, Callable[[int], Awaitable["AsyncPage[T]"]]]):
    """One page of an async list call; ``async for`` yields every item of every page, lazily."""

    async def get_next_page(self) -> AsyncPage[T]:
        """Request the next page; RuntimeError when there is none (check has_next_page)."""
        return await self._fetch(self._required_next_offset())

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page, then each following page, each requested when reached."""
        page: AsyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.get_next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        seen: set[Any] = set()
        async for page in self.iter_pages():
            for item in _unseen(page.items, seen):
                yield item


class AsyncPaginator(Generic[T]):
    """What an async ``pages()`` call returns: await it for the first page, or ``async for``."""

    def __init__(self, first: Callable[[], Awaitable[AsyncPage[T]]]) -> None:
        self._first = first

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first()
        async for item in page:
            yield item


def paginate(fetch: Callable[[int], SyncPage[T]]) -> SyncPage[T]:
    """What a sync ``pages()`` returns: the first page, fetched now."""
    return fetch(0)


def apaginate(fetch: Callable[[int], Awaitable[AsyncPage[T]]]) -> AsyncPaginator[T]:
    """What an async ``pages()`` returns: awaited, the first page; ``async for``, all items."""
    return AsyncPaginator(lambda: fetch(0))
