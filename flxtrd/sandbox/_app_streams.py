"""The sandbox app's WebSocket streams ``trade``, ``ticker`` and ``orderbook`` (AsyncAPI spec).

Streams share nothing with the REST routes but the bearer check: they encode the generated
msgspec message models rather than the REST models, fan out through one `_stream_hub.StreamHub`
per app, and pump a bounded queue per connection (a client that falls behind loses the newest
frames; the order book's next snapshot catches up). `create_app` mounts `stream_routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from glocalflex_messages import models as msg
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ._accounts import AuthError
from ._app_request import bearer
from ._app_response import unauthorized, utc
from ._market import SandboxMarket
from ._market_update import MarketUpdate
from ._stream_hub import StreamHub, UpdateFrames
from ._types import BookLevel, ContractCreated, ContractStatusChanged, OrderStatusChanged, Trade

__all__ = ["CONTROL_MESSAGE", "orderbook_frame", "stream_routes"]

CONTROL_MESSAGE = msgspec.json.encode(
    msg.Control(
        status=msg.ControlStatus.success,
        data=msg.ControlData(message="Connected to the WebSocket API"),
    )
)
"""The first message of every stream (``{"type": "control", "status": "success", ...}``)."""

_STREAM_QUEUE = 1024

Frame = str
_BOOK_CHANGED = ""  # queue marker: send the order book snapshot of the latest change


def _encode_text(model: Any) -> Frame:
    return msgspec.json.encode(model).decode()


def _update_frames(update: MarketUpdate, kinds: frozenset[str]) -> UpdateFrames:
    """An update's frames for every stream, each event encoded once (see `_stream_hub`)."""
    out = UpdateFrames()
    if "ticker" in kinds:
        ticker = _ticker_frames(update)
        if ticker:
            out.broadcast["ticker"] = ticker
    if "orderbook" in kinds and update.book_changed(2):
        out.broadcast["orderbook"] = [_BOOK_CHANGED]
    if "trade" in kinds:
        for item in update.events:
            if item.generation != 2:
                continue
            frame = _trade_frame(item.event)
            if frame is not None:
                for user_id in item.users:
                    out.per_user.setdefault(user_id, []).append(frame)
    return out


def _trade_frame(event: object) -> Frame | None:
    """The trade-stream frame of one event (order or contract status), or None."""
    if isinstance(event, OrderStatusChanged):
        data = msg.OrderStatusData(
            order_id=event.order_id,
            status=msg.OrderStatus(event.status.value),
            timestamp=utc(event.time_ms),
            side=msg.Side(event.side.value),
            power=event.power,
            filled_power=event.filled_power,
        )
        return _encode_text(msg.OrderStatusUpdate(data=data))
    if isinstance(event, (ContractCreated, ContractStatusChanged)):
        c = event.contract
        time_ms = event.time_ms if isinstance(event, ContractStatusChanged) else c.created_ms
        cdata = msg.ContractStatusData(
            contract_id=c.contract_id,
            status=msg.ContractStatus(c.status.value),
            settlement_status=msg.SettlementStatus(c.settlement_status.value),
            verification_status=msg.VerificationStatus(c.verification_status.value),
            timestamp=utc(time_ms),
            buy_order_id=c.buy_order_id,
            sell_order_id=c.sell_order_id,
        )
        return _encode_text(msg.ContractStatusUpdate(data=cdata))
    return None


def _ticker_frames(update: MarketUpdate) -> list[Frame]:
    frames: list[Frame] = []
    for item in update.events:
        event = item.event
        if isinstance(event, Trade) and event.generation == 2:
            data = msg.TickerData(
                price=event.price,
                power=event.power,
                energy=event.energy,
                delivery_start=utc(event.delivery_start_ms),
                delivery_end=utc(event.delivery_end_ms),
                trade_time=utc(event.time_ms),
                country_code=event.country_code,
            )
            frames.append(_encode_text(msg.Ticker(data=data)))
    return frames


def _level(level: BookLevel) -> msg.BookLevel:
    return msg.BookLevel(
        price=level.price,
        power=level.power,
        delivery_start=utc(level.delivery_start_ms),
        delivery_end=utc(level.delivery_end_ms),
        orders=level.orders,
    )


def orderbook_frame(market: SandboxMarket, depth: int = 20) -> Frame:
    """The order book message of the market's generation-2 book now."""
    snapshot = market.book_snapshot(depth, generation=2)
    data = msg.OrderbookData(
        timestamp=utc(snapshot.time_ms),
        bids=[_level(lv) for lv in snapshot.bids],
        asks=[_level(lv) for lv in snapshot.asks],
    )
    return _encode_text(msg.Orderbook(data=data))


_STREAMS = ("trade", "ticker", "orderbook")


def _stream_hub(market: SandboxMarket) -> StreamHub:
    """The app's one fan-out point for every stream connection."""
    return StreamHub(
        market,
        frames=_update_frames,
        snapshot=orderbook_frame,
        book_changed=lambda update: update.book_changed(2),
        user_kind="trade",
    )


def _stream_endpoint(
    market: SandboxMarket, hub: StreamHub, kind: str
) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        token = bearer(websocket.headers)
        try:
            if token is None:
                raise AuthError("Not authenticated", "invalid_token")
            account = market.user_for_bearer(token)
        except AuthError as exc:
            await _deny(websocket, exc.description)
            return
        await websocket.accept()
        queue: asyncio.Queue[Frame] = asyncio.Queue(_STREAM_QUEUE)

        def put(frame: Frame) -> None:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled client loses events
                queue.put_nowait(frame)

        # Attach before announcing the stream: an event between the two would be lost.
        detach = hub.attach(kind, account.user_id, put)
        try:
            await websocket.send_text(CONTROL_MESSAGE.decode())
            if kind == "orderbook":
                put(_BOOK_CHANGED)
            await _pump(websocket, queue, hub)
        finally:
            detach()

    endpoint.__doc__ = f"The ``{kind}`` stream."
    return endpoint


async def _pump(websocket: WebSocket, queue: asyncio.Queue[Frame], hub: StreamHub) -> None:
    """Send queued frames until the client disconnects."""

    async def receive_until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return

    async def send_frames() -> None:
        while True:
            frame = await queue.get()
            if frame == _BOOK_CHANGED:
                # The order book stream queues only these markers: one snapshot answers all.
                while not queue.empty():
                    queue.get_nowait()
                frame = hub.book_frame()
            await websocket.send_text(frame)

    receiver = asyncio.ensure_future(receive_until_closed())
    sender = asyncio.ensure_future(send_frames())
    try:
        done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, (WebSocketDisconnect, OSError)):
                raise exc
    finally:
        for task in (receiver, sender):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(receiver, sender, return_exceptions=True)


async def _deny(websocket: WebSocket, detail: str) -> None:
    """Refuse an upgrade: HTTP 401 if the server can send it, else close with 1008."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(unauthorized(detail))
    else:
        await websocket.close(code=1008, reason=detail[:100])


def stream_routes(market: SandboxMarket) -> list[WebSocketRoute]:
    """The three stream routes of an app over ``market``, sharing one hub."""
    hub = _stream_hub(market)
    return [
        WebSocketRoute(f"/api/v1/ws/{kind}/", _stream_endpoint(market, hub, kind))
        for kind in _STREAMS
    ]
