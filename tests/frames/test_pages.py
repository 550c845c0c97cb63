"""Lazy pagination of orders and contracts: pages requested only when iteration reaches them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flxtrd import BasePlugin, User
from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import FlexValidationError
from flxtrd._rest._pagination import AsyncPage, SyncPage
from flxtrd.sandbox import EmbeddedSandbox, SandboxMarket


class ListLog(BasePlugin):
    """Records the offset of every list request."""

    def __init__(self) -> None:
        self.offsets: list[int] = []

    def after_request(self, response: Any = None) -> None:
        """Note the offset of list requests."""
        if isinstance(response, httpx.Response) and response.request.url.path in (
            "/api/v1/order/",
            "/api/v1/contract/",
        ) and response.request.method == "GET":  # fmt: skip
            self.offsets.append(int(response.request.url.params.get("offset", "0")))


def order_fields(n: int) -> dict[str, Any]:
    """A valid buy order delivering two hours ahead, its power telling it apart."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now.replace(minute=now.minute // 15 * 15) + timedelta(hours=2)
    return {
        "side": "buy",
        "power_w": 1000.0 + n,
        "price_eur_per_kwh": 0.2,
        "delivery_start": start,
        "delivery_end": start + timedelta(minutes=15),
        "expiry_time": start - timedelta(minutes=30),
        "country_code": "DE",
    }


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    """An embedded sandbox market of its own (no broker)."""
    with EmbeddedSandbox(SandboxMarket(seed=5), broker=False, expiry_interval_s=None) as box:
        yield box


def sync_client(sandbox: EmbeddedSandbox) -> FlexAPIClient:
    """A generation-2 client of the sandbox."""
    return FlexAPIClient(base_url="sandbox://", user=User(name="p@x.test", password="pw"),
                         transport=sandbox.transport(), env={})  # fmt: skip


def test_iterating_fetches_each_page_only_when_reached(sandbox: EmbeddedSandbox) -> None:
    """pages(page_size=2) over 5 orders: 1 request up front, the next at item 3 and item 5."""
    log = ListLog()
    with sync_client(sandbox) as client:
        placed = [client.orders.place(**order_fields(n)).id for n in range(5)]
        client.add_plugin(log)
        page = client.orders.pages(page_size=2)
        assert isinstance(page, SyncPage)
        assert (len(page.items), page.total, page.has_next_page()) == (2, 5, True)
        assert log.offsets == [0]
        items = iter(page)
        got = [next(items).id, next(items).id]
        assert log.offsets == [0]  # the first page's items needed no request
        got.append(next(items).id)
        assert log.offsets == [0, 2]
        got.extend(o.id for o in items)
        assert log.offsets == [0, 2, 4]
        assert [len(p.items) for p in page.iter_pages()] == [2, 2, 1]
    assert sorted(got) == sorted(placed) and len(got) == 5


def test_an_order_placed_during_iteration_is_not_yielded_twice(sandbox: EmbeddedSandbox) -> None:
    """Newest-first pages shift when an order arrives; iteration skips the repeated id."""
    with sync_client(sandbox) as client:
        for n in range(4):
            client.orders.place(**order_fields(n))
        page = client.orders.pages(page_size=2)
        client.orders.place(**order_fields(9))  # shifts page 2 by one: its first item repeats
        ids = [o.id for o in page]
    assert len(ids) == len(set(ids)) == 4


def test_filters_reach_every_page_and_bad_ones_are_refused_first(sandbox: EmbeddedSandbox) -> None:
    """status/side go to each page request; an invalid page_size names limit, sends nothing."""
    log = ListLog()
    with sync_client(sandbox) as client:
        statuses = [client.orders.place(**order_fields(n)).status for n in range(3)]
        status = statuses[0]
        client.add_plugin(log)
        assert [o.status.value for o in client.orders.pages(status="cancelled")] == []
        assert len(list(client.orders.pages(status=status, side="buy", page_size=1))) == 3
        with pytest.raises(FlexValidationError, match="limit"):
            client.orders.pages(page_size=0)
        with pytest.raises(FlexValidationError, match="status"):
            client.contracts.pages(status="bogus")
        assert list(client.contracts.pages()) == []
    assert log.offsets == [0, 0, 1, 2, 0]


def test_the_last_page_has_no_next_page() -> None:
    """get_next_page() on the last page raises instead of requesting past the end."""
    page: SyncPage[int] = SyncPage([1], total=1, offset=0, limit=5, fetch=lambda _: page)
    assert not page.has_next_page()
    with pytest.raises(RuntimeError, match="no next page"):
        page.get_next_page()


def test_an_empty_page_ends_iteration_even_if_total_says_more() -> None:
    """A market whose total overstates the items cannot make iteration loop."""
    calls: list[int] = []

    def fetch(offset: int) -> SyncPage[int]:
        calls.append(offset)
        return SyncPage([], total=10, offset=offset, limit=2, fetch=fetch)

    first: SyncPage[int] = SyncPage([1, 2], total=10, offset=0, limit=2, fetch=fetch)
    assert list(first) == [1, 2]
    assert calls == [2]


async def test_async_pages_are_awaitable_and_async_iterable(sandbox: EmbeddedSandbox) -> None:
    """await pages() gives the first AsyncPage; async for walks all pages lazily."""
    log = ListLog()
    async with AsyncFlexAPIClient(
        base_url="sandbox://", user=User(name="a@x.test", password="pw"),
        transport=sandbox.async_transport(), env={},
    ) as client:  # fmt: skip
        for n in range(3):
            await client.orders.place(**order_fields(n))
        client.add_plugin(log)
        first = await client.orders.pages(page_size=2)
        assert isinstance(first, AsyncPage)
        assert (len(first.items), first.total) == (2, 3)
        second = await first.get_next_page()
        assert (len(second.items), second.has_next_page()) == (1, False)
        assert log.offsets == [0, 2]
        ids = [o.id async for o in client.orders.pages(page_size=2)]
        assert log.offsets == [0, 2, 0, 2]
        assert len(set(ids)) == 3
        assert [c async for c in client.contracts.pages()] == []
        with pytest.raises(FlexValidationError, match="limit"):
            client.orders.pages(page_size=5000)
