"""The sandbox's WebSocket streams in-process (httpx-ws): handshake, auth, events per stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from glocalflex_messages.models import (
    ContractStatusUpdate,
    Control,
    Orderbook,
    OrderStatusUpdate,
    StreamEvent,
    Ticker,
)
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from flxtrd.sandbox import ContractStatus, ManualClock, SandboxMarket
from flxtrd.sandbox._app import create_app
from flxtrd.sandbox._embedded import EmbeddedWebSocketTransport
from flxtrd.sandbox._market_time import format_datetime_ms, parse_datetime_ms

Q = 900_000
T0 = parse_datetime_ms("2026-12-01T08:00:00Z")
START = T0 + 8 * Q
TIMEOUT = 5.0
BASELINE = {
    "metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60",
    "created_at": "2026-11-28T09:00:00Z",
    "reading_start": "2026-12-01T09:00:00Z",
    "reading_end": "2026-12-01T10:00:00Z",
    "resolution": 900,
    "direction": "consumption",
    "quality": "estimated",
    "energy_product": "apparent",
    "unit_measured": "kWh",
    "data_points": [{"2026-12-01T09:00:00Z": 0.62}],
}
DECODER = msgspec.json.Decoder(StreamEvent)  # type: ignore[var-annotated]


def order(side: str = "buy", **overrides: Any) -> dict[str, Any]:
    """A valid order request body (sells carry a baseline so they match at once)."""
    body: dict[str, Any] = {
        "side": side,
        "power": 1000.0,
        "price": 0.25,
        "delivery_start": format_datetime_ms(START),
        "delivery_end": format_datetime_ms(START + Q),
        "expiry_time": format_datetime_ms(START - 2 * Q),
        "location": {"location_id": None, "country_code": "DE"},
        "baseline": BASELINE if side == "sell" else None,
    }
    body.update(overrides)
    return body


@pytest.fixture
def market() -> SandboxMarket:
    """A permissive market on a manual clock."""
    return SandboxMarket(clock=ManualClock(T0), seed=2)


@contextlib.asynccontextmanager
async def connected(market: SandboxMarket) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app through the embedded (pong + denial capable) transport.

    Entered inside each test: the transport's task group must open and close in one task.
    """
    async with httpx.AsyncClient(
        transport=EmbeddedWebSocketTransport(create_app(market)), base_url="http://sandbox"
    ) as c:
        yield c


def token(market: SandboxMarket, email: str) -> dict[str, str]:
    """An Authorization header for ``email``."""
    return {"Authorization": f"Bearer {market.issue_token(email, 'p').access_token}"}


async def receive(ws: Any) -> Any:
    """The next message, decoded with the generated models."""
    return DECODER.decode(await ws.receive_text(timeout=TIMEOUT))


@pytest.mark.parametrize("kind", ["trade", "ticker", "orderbook"])
async def test_first_message_is_control(market: SandboxMarket, kind: str) -> None:
    """Each stream opens with the control message, byte for byte as the market sends it."""
    async with (
        connected(market) as client,
        aconnect_ws(f"/api/v1/ws/{kind}/", client, headers=token(market, "a@x")) as ws,
    ):
        text = await ws.receive_text(timeout=TIMEOUT)
        assert json.loads(text) == {
            "type": "control",
            "status": "success",
            "data": {"message": "Connected to the WebSocket API"},
        }
        assert isinstance(DECODER.decode(text), Control)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged"}])
async def test_upgrade_without_a_valid_token_is_401(
    market: SandboxMarket, headers: dict[str, str]
) -> None:
    """No or an invalid bearer token: the upgrade is refused with HTTP 401 and an ErrorDetail."""
    async with connected(market) as client:
        with pytest.raises(WebSocketUpgradeError) as caught:
            async with aconnect_ws("/api/v1/ws/trade/", client, headers=headers):
                pass
        assert caught.value.response.status_code == 401
        assert "detail" in caught.value.response.json()


async def test_without_denial_extension_the_upgrade_closes_1008(market: SandboxMarket) -> None:
    """A server without the denial-response extension gets a close with 1008 instead."""
    transport = ASGIWebSocketTransport(create_app(market))
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
        with pytest.raises(WebSocketDisconnect) as caught:
            async with aconnect_ws("/api/v1/ws/ticker/", c):
                pass
    assert caught.value.code == 1008


async def test_trade_stream_carries_only_your_events(market: SandboxMarket) -> None:
    """The trade stream: your order statuses and contracts, nothing of other users."""
    async with (
        connected(market) as client,
        aconnect_ws("/api/v1/ws/trade/", client, headers=token(market, "me@x")) as ws,
    ):
        assert isinstance(await receive(ws), Control)
        await client.post("/api/v1/order/", json=order("sell"), headers=token(market, "o@x"))
        placed = await client.post(
            "/api/v1/order/", json=order(price=0.3), headers=token(market, "me@x")
        )
        my_id = placed.json()["id"]
        messages = [await receive(ws) for _ in range(5)]
        assert [type(m).__name__ for m in messages] == [
            "OrderStatusUpdate",
            "OrderStatusUpdate",
            "OrderStatusUpdate",
            "ContractStatusUpdate",
            "OrderStatusUpdate",
        ]
        statuses = [m for m in messages if isinstance(m, OrderStatusUpdate)]
        assert {m.data.order_id for m in statuses} == {my_id}
        assert [m.data.status.value for m in statuses] == [
            "pending",
            "accepted",
            "matching_active",
            "filled",
        ]
        assert statuses[-1].data.filled_power == 1000.0
        contract = messages[3]
        assert isinstance(contract, ContractStatusUpdate)
        assert contract.data.buy_order_id == my_id and contract.data.status.value == "active"


async def test_trade_stream_sends_contract_changes(market: SandboxMarket) -> None:
    """A contract status change reaches both parties' trade streams."""
    async with connected(market) as client:
        await client.post("/api/v1/order/", json=order("sell"), headers=token(market, "s@x"))
        await client.post("/api/v1/order/", json=order(price=0.3), headers=token(market, "b@x"))
        (contract,) = market.engine.contracts()
        async with aconnect_ws("/api/v1/ws/trade/", client, headers=token(market, "s@x")) as ws:
            assert isinstance(await receive(ws), Control)
            market.update_contract(contract.contract_id, status=ContractStatus.SETTLED)
            update = await receive(ws)
            assert isinstance(update, ContractStatusUpdate)
            assert update.data.contract_id == contract.contract_id
            assert update.data.status.value == "settled"


async def test_ticker_stream_has_every_gen2_trade(market: SandboxMarket) -> None:
    """The ticker stream: one ticker message per generation-2 trade, anyone's."""
    async with (
        connected(market) as client,
        aconnect_ws("/api/v1/ws/ticker/", client, headers=token(market, "watcher@x")) as ws,
    ):
        assert isinstance(await receive(ws), Control)
        await client.post(
            "/api/v1/order/", json=order("sell", price=0.2), headers=token(market, "s@x")
        )
        await client.post("/api/v1/order/", json=order(price=0.3), headers=token(market, "b@x"))
        ticker = await receive(ws)
        assert isinstance(ticker, Ticker)
        assert ticker.data.price == 0.3 and ticker.data.power == 1000.0
        assert ticker.data.energy == 250.0 and ticker.data.country_code == "DE"
        assert (
            format_datetime_ms(int(ticker.data.delivery_start.timestamp() * 1000))
            == order()["delivery_start"]
        )


async def test_orderbook_stream_snapshots(market: SandboxMarket) -> None:
    """The order book stream: a snapshot on connect, then one after each change of the book."""
    async with connected(market) as client:
        await client.post("/api/v1/order/", json=order(price=0.1), headers=token(market, "b@x"))
        async with aconnect_ws("/api/v1/ws/orderbook/", client, headers=token(market, "w@x")) as ws:
            assert isinstance(await receive(ws), Control)
            first = await receive(ws)
            assert isinstance(first, Orderbook)
            assert [(lv.price, lv.power, lv.orders) for lv in first.data.bids] == [(0.1, 1000.0, 1)]
            assert first.data.asks == []
            await client.post(
                "/api/v1/order/", json=order("sell", price=0.5), headers=token(market, "s@x")
            )
            second = await receive(ws)
            assert isinstance(second, Orderbook)
            assert [(lv.price, lv.orders) for lv in second.data.asks] == [(0.5, 1)]


async def test_pings_are_answered_in_process(market: SandboxMarket) -> None:
    """The embedded transport answers WebSocket pings (the streams client's keep-alive)."""
    async with (
        connected(market) as client,
        aconnect_ws("/api/v1/ws/ticker/", client, headers=token(market, "a@x")) as ws,
    ):
        assert isinstance(await receive(ws), Control)
        pong = await ws.ping(b"hi")
        await pong.wait()
        assert pong.is_set()


async def test_disconnect_unsubscribes(market: SandboxMarket) -> None:
    """Closing a stream removes its hub subscription."""
    async with connected(market) as client:
        async with aconnect_ws("/api/v1/ws/ticker/", client, headers=token(market, "a@x")) as ws:
            assert isinstance(await receive(ws), Control)
            assert len(market._subscribers) == 1
        for _ in range(1000):  # let the server task see the disconnect (yields, no waiting)
            if not market._subscribers:
                break
            await asyncio.sleep(0)
        assert market._subscribers == {}


async def test_order_book_subscribers_share_one_snapshot_per_change(
    market: SandboxMarket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three order book streams: the same snapshot for all, the book read once per change."""
    snapshots = 0
    book_snapshot = market.book_snapshot

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal snapshots
        snapshots += 1
        return book_snapshot(*args, **kwargs)

    monkeypatch.setattr(market, "book_snapshot", counting)
    async with connected(market) as client, contextlib.AsyncExitStack() as stack:
        streams = []
        for i in range(3):
            ws = await stack.enter_async_context(
                aconnect_ws("/api/v1/ws/orderbook/", client, headers=token(market, f"w{i}@x"))
            )
            assert isinstance(await receive(ws), Control)
            assert (await receive(ws)).data.bids == []
            streams.append(ws)
        assert snapshots == 1  # no change between the connects: one snapshot served all three
        await client.post("/api/v1/order/", json=order(price=0.1), headers=token(market, "b@x"))
        texts = [await ws.receive_text(timeout=TIMEOUT) for ws in streams]
        assert len(set(texts)) == 1
        book = DECODER.decode(texts[0])
        assert isinstance(book, Orderbook)
        assert [(lv.price, lv.orders) for lv in book.data.bids] == [(0.1, 1)]
        assert snapshots == 2


async def test_an_order_book_stream_after_a_reset_sees_the_empty_book(
    market: SandboxMarket,
) -> None:
    """The shared snapshot is not reused across `SandboxMarket.reset` (nothing is published)."""
    async with connected(market) as client:
        await client.post("/api/v1/order/", json=order(price=0.1), headers=token(market, "b@x"))
        async with aconnect_ws("/api/v1/ws/orderbook/", client, headers=token(market, "w@x")) as ws:
            assert isinstance(await receive(ws), Control)
            assert len((await receive(ws)).data.bids) == 1
            market.reset()
            async with aconnect_ws(
                "/api/v1/ws/orderbook/", client, headers=token(market, "v@x")
            ) as late:
                assert isinstance(await receive(late), Control)
                assert (await receive(late)).data.bids == []


async def test_trade_stream_frames_reach_only_the_users_concerned(market: SandboxMarket) -> None:
    """With many trade streams open, an order's status update reaches its owner's streams only."""
    async with connected(market) as client, contextlib.AsyncExitStack() as stack:
        watchers = {}
        for name in ("b", "b", "other"):
            ws = await stack.enter_async_context(
                aconnect_ws("/api/v1/ws/trade/", client, headers=token(market, f"{name}@x"))
            )
            assert isinstance(await receive(ws), Control)
            watchers.setdefault(name, []).append(ws)
        placed = await client.post(
            "/api/v1/order/", json=order(price=0.1), headers=token(market, "b@x")
        )
        for ws in watchers["b"]:
            update = await receive(ws)
            assert isinstance(update, OrderStatusUpdate)
            assert update.data.order_id == placed.json()["id"]
        own = await client.post(
            "/api/v1/order/", json=order(price=0.1), headers=token(market, "other@x")
        )
        first = await receive(watchers["other"][0])  # b's update never came before its own
        assert isinstance(first, OrderStatusUpdate)
        assert first.data.order_id == own.json()["id"]
