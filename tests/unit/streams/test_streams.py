"""WebSocket streams end to end: one set of cases, run through the sync and the async stream.

The server is a small starlette app that follows a per-test :class:`Script` (one :class:`Conn`
per upgrade request). The sync stream talks to it through a real uvicorn server on 127.0.0.1
(OS-chosen port, started in a thread); the async stream reaches it in-process through httpx-ws's
``ASGIWebSocketTransport``, driven from the test thread through an anyio blocking portal so the
cases read the same for both. Backoff waits go to a fake clock: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest
import uvicorn
from glocalflex_messages.models import (
    ContractStatusUpdate,
    Orderbook,
    OrderStatus,
    OrderStatusUpdate,
    Ticker,
)
from httpx_ws.transport import ASGIWebSocketTransport
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from flxtrd._errors import (
    AuthenticationError,
    FlexConnectionError,
    FlexTimeoutError,
    MessageDecodeError,
    NotFoundError,
    PermissionDeniedError,
    StreamHandshakeError,
)
from flxtrd._streams._async_stream import AsyncMarketStream
from flxtrd._streams._core import MarketEvent, StreamStats
from flxtrd._streams._settings import ReconnectPolicy
from flxtrd._streams._stream import MarketStream

# --- Frames ----------------------------------------------------------------------------------


def control(status: str = "success", message: str = "Connected to the WebSocket API") -> str:
    """A control message."""
    return json.dumps({"type": "control", "status": status, "data": {"message": message}})


CONTROL_OK = control()
WINDOW = {"delivery_start": "2026-01-01T10:00:00Z", "delivery_end": "2026-01-01T10:15:00Z"}


def ticker(price: float = 0.21, country: str = "DE") -> str:
    """A ticker message."""
    data = {"price": price, "power": 2500.0, "energy": 625.0, **WINDOW}
    data |= {"trade_time": "2026-01-01T09:00:00Z", "country_code": country}
    return json.dumps({"type": "ticker", "data": data})


def order_status(order_id: int = 7, status: str = "accepted") -> str:
    """An order status update."""
    data = {"order_id": order_id, "status": status, "timestamp": "2026-01-01T09:00:00Z"}
    return json.dumps({"type": "order_status_update", "data": {**data, "side": "buy"}})


def contract_status(contract_id: int = 3) -> str:
    """A contract status update."""
    data = {
        "contract_id": contract_id,
        "status": "active",
        "settlement_status": "awaiting_verification_completion",
        "verification_status": "awaiting_metering_data",
        "timestamp": "2026-01-01T09:00:00Z",
    }
    return json.dumps({"type": "contract_status_update", "data": data})


def orderbook() -> str:
    """An order-book snapshot."""
    level = {"price": 0.2, "power": 1000.0, "orders": 2, **WINDOW}
    data = {"timestamp": "2026-01-01T09:00:00Z", "bids": [level], "asks": []}
    return json.dumps({"type": "orderbook", "data": data})


# --- The scripted server ---------------------------------------------------------------------


@dataclass
class Conn:
    """How the server answers one upgrade request."""

    frames: Sequence[str | bytes] = ()
    control: str | None = CONTROL_OK
    reject: int | None = None
    reject_headers: Sequence[tuple[str, str]] = ()
    close_code: int | None = None  # close after the frames; None keeps the socket open
    expect_token: str | None = None  # answer 401 unless the bearer token is this one
    gate: threading.Event | None = None  # wait for it before sending frames[gate_at:]
    gate_at: int = 0


@dataclass
class Upgrade:
    """One upgrade request as the server saw it."""

    path: str
    authorization: str | None


@dataclass
class Script:
    """The server's answers, one Conn per upgrade request; further requests get 503."""

    conns: list[Conn]
    upgrades: list[Upgrade] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str, authorization: str | None) -> Conn:
        """Record the request and return the next answer."""
        with self.lock:
            self.upgrades.append(Upgrade(path, authorization))
            return self.conns.pop(0) if self.conns else Conn(reject=503)


class Holder:
    """The script of the running test, shared with the server threads."""

    script = Script([])


async def _endpoint(ws: WebSocket) -> None:
    """Answer an upgrade as the current script says."""
    authorization = ws.headers.get("authorization")
    conn = Holder.script.take(ws.url.path, authorization)
    status = conn.reject
    if status is None and conn.expect_token and authorization != f"Bearer {conn.expect_token}":
        status = 401
    if status is not None:
        headers = [(k.encode(), v.encode()) for k, v in conn.reject_headers]
        await ws.send(
            {"type": "websocket.http.response.start", "status": status, "headers": headers}
        )
        await ws.send({"type": "websocket.http.response.body", "body": b'{"detail": "rejected"}'})
        return
    await ws.accept()
    try:
        if conn.control is not None:
            await ws.send_text(conn.control)
        for index, frame in enumerate(conn.frames):
            if conn.gate is not None and index == conn.gate_at:
                await anyio.to_thread.run_sync(conn.gate.wait, 10)
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_text(frame)
        if conn.close_code is not None:
            await ws.close(conn.close_code)
            return
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass
    except Exception:  # the client left first (a timed-out handshake, a closed test)
        return


APP = Starlette(
    routes=[WebSocketRoute(f"/api/v1/ws/{k}/", _endpoint) for k in ("trade", "ticker", "orderbook")]
)


# --- Fakes ------------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when the stream 'sleeps'."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The current fake time."""
        return self.now

    def sleep(self, delay: float) -> None:
        """Record the wait and advance the clock."""
        self.sleeps.append(delay)
        self.now += delay

    async def asleep(self, delay: float) -> None:
        """Async :meth:`sleep`."""
        self.sleep(delay)


class RefreshingTokens:
    """A TokenSource: hands out ``tokens[0]`` until refreshed, then the next one."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.refreshes = 0

    def token(self) -> str:
        """The current token."""
        return self.tokens[0]

    def refresh(self) -> str:
        """Move to the next token."""
        self.refreshes += 1
        if len(self.tokens) > 1:
            self.tokens.pop(0)
        return self.tokens[0]


# --- Drivers: the same facade over the sync and the async stream ------------------------------


class Subscription:
    """What the cases use: a blocking iterator with stats and close()."""

    def __iter__(self) -> Iterator[MarketEvent[Any]]:
        return self

    def __next__(self) -> MarketEvent[Any]:
        raise NotImplementedError

    stats: StreamStats
    closed: bool

    def close(self) -> None:
        """End the subscription."""
        raise NotImplementedError

    def take(self, count: int) -> list[MarketEvent[Any]]:
        """The next ``count`` events."""
        return [next(self) for _ in range(count)]


class SyncSubscription(Subscription):
    """A MarketSubscription as is."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub

    def __next__(self) -> MarketEvent[Any]:
        return next(self.sub)

    @property
    def stats(self) -> StreamStats:
        """The subscription's stats."""
        return self.sub.stats

    @property
    def closed(self) -> bool:
        """Whether it ended."""
        return self.sub.closed

    def close(self) -> None:
        """End the subscription."""
        self.sub.close()


class PortalSubscription(Subscription):
    """An AsyncMarketSubscription driven from this thread through the portal."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, sub: Any) -> None:
        self.portal = portal
        self.sub = sub

    def __next__(self) -> MarketEvent[Any]:
        try:
            return self.portal.call(self.sub.__anext__)
        except StopAsyncIteration:
            raise StopIteration from None

    @property
    def stats(self) -> StreamStats:
        """The subscription's stats."""
        return self.sub.stats

    @property
    def closed(self) -> bool:
        """Whether it ended."""
        return self.sub.closed

    def close(self) -> None:
        """End the subscription."""
        self.portal.call(self.sub.close)


class Market:
    """A stream object whose subscriptions are :class:`Subscription` facades."""

    def __init__(self, make: Callable[[str], Subscription], stream: Any) -> None:
        self._make = make
        self.stream_object = stream

    def stream(self, kind: str) -> Subscription:
        """Subscribe to ``kind``."""
        return self._make(kind)


class _Server(uvicorn.Server):
    """uvicorn with a threading.Event set once it serves."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then signal readiness."""
        await super().startup(sockets)
        self.ready.set()


class SyncDriver:
    """MarketStream against a real uvicorn server on 127.0.0.1."""

    name = "sync"

    def __init__(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(APP, lifespan="off", ws="wsproto", log_level="warning")
        self.server = _Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.start()
        if not self.server.ready.wait(10) or not self.server.started:
            raise RuntimeError("uvicorn did not start")
        self._sock = sock
        self.client = httpx.Client()  # shared: building one per stream costs ~40 ms (TLS setup)

    @contextlib.contextmanager
    def market(
        self,
        token: Any = "tok-1",
        clock: FakeClock | None = None,
        own_client: bool = False,
        **options: Any,
    ) -> Iterator[Market]:
        """A MarketStream with the fake clock (and the shared client unless ``own_client``)."""
        clock = clock or FakeClock()
        if not own_client:
            options["client"] = self.client
        stream = MarketStream(
            self.base_url, token, sleep=clock.sleep, clock=clock.monotonic, **options
        )
        with stream:
            yield Market(lambda kind: SyncSubscription(stream.stream(kind)), stream)

    def close(self) -> None:
        """Stop the server."""
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self._sock.close()


class AsyncDriver:
    """AsyncMarketStream in-process over ASGIWebSocketTransport, on a portal's event loop."""

    name = "async"
    base_url = "http://market.test"

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        self.client = httpx.AsyncClient(transport=ASGIWebSocketTransport(APP))
        self._stack.enter_context(self.portal.wrap_async_context_manager(self.client))

    @contextlib.contextmanager
    def market(
        self,
        token: Any = "tok-1",
        clock: FakeClock | None = None,
        own_client: bool = False,
        **options: Any,
    ) -> Iterator[Market]:
        """An AsyncMarketStream with the fake clock (its own client over ASGI if asked)."""
        clock = clock or FakeClock()
        if own_client:
            options["transport"] = ASGIWebSocketTransport(APP)
        else:
            options["client"] = self.client
        stream = AsyncMarketStream(
            self.base_url, token, sleep=clock.asleep, clock=clock.monotonic, **options
        )
        with self.portal.wrap_async_context_manager(stream):
            yield Market(lambda kind: PortalSubscription(self.portal, stream.stream(kind)), stream)

    def close(self) -> None:
        """Close the client and stop the loop."""
        self._stack.close()


Driver = SyncDriver | AsyncDriver


@pytest.fixture(scope="module", params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    """Each case once through MarketStream (uvicorn) and once through AsyncMarketStream (ASGI)."""
    made: Driver = SyncDriver() if request.param == "sync" else AsyncDriver()
    try:
        yield made
    finally:
        made.close()


def serve(*conns: Conn) -> Script:
    """Make ``conns`` the server's answers for this test."""
    Holder.script = Script(list(conns))
    return Holder.script


FAST = ReconnectPolicy(max_attempts=3, initial_delay=1.0, max_delay=4.0, jitter=0.5)

# --- Handshake -------------------------------------------------------------------------------


def test_control_success_then_events(driver: Driver) -> None:
    """A success control message opens the stream and is not yielded."""
    serve(Conn(frames=[ticker(0.3)]))
    with driver.market() as market:
        sub = market.stream("ticker")
        (event,) = sub.take(1)
    assert isinstance(event.model, Ticker) and event.model.data.price == 0.3
    assert sub.stats.connects == 1 and sub.stats.controls == 0 and sub.stats.received == 2


def test_missing_control_is_a_handshake_error(driver: Driver) -> None:
    """A first message other than control raises StreamHandshakeError and is not retried."""
    script = serve(Conn(control=None, frames=[ticker()]))
    with driver.market(reconnect=FAST) as market:
        sub = market.stream("ticker")
        with pytest.raises(StreamHandshakeError, match="expected a control message first"):
            next(sub)
        assert sub.closed and len(script.upgrades) == 1
        with pytest.raises(StopIteration):
            next(sub)


def test_control_error_status_is_a_handshake_error(driver: Driver) -> None:
    """A control message with status error raises StreamHandshakeError with its message."""
    serve(Conn(control=control("error", "subscription not allowed")))
    with driver.market(reconnect=FAST) as market:
        sub = market.stream("trade")
        with pytest.raises(StreamHandshakeError) as caught:
            next(sub)
    assert caught.value.server_message == "subscription not allowed"
    assert isinstance(caught.value, FlexConnectionError)


def test_no_control_in_time_is_retried(driver: Driver) -> None:
    """Silence instead of the control message is a connection failure, retried with backoff."""
    gate = threading.Event()
    clock = FakeClock()
    serve(Conn(control=None, frames=[CONTROL_OK], gate=gate), Conn(frames=[ticker(0.4)]))
    with driver.market(clock=clock, reconnect=FAST, handshake_timeout=0.5) as market:
        sub = market.stream("ticker")
        (event,) = sub.take(1)
        gate.set()
    assert event.model.data.price == 0.4
    assert len(clock.sleeps) == 1 and 0.5 <= clock.sleeps[0] <= 1.0


# --- Typed events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "frames", "types"),
    [
        ("trade", [order_status(), contract_status()], [OrderStatusUpdate, ContractStatusUpdate]),
        ("ticker", [ticker()], [Ticker]),
        ("orderbook", [orderbook()], [Orderbook]),
    ],
)
def test_typed_events_per_stream(
    driver: Driver, kind: str, frames: list[str], types: list[type]
) -> None:
    """Each stream yields MarketEvents with its generated models, the raw frame and a UTC time."""
    script = serve(Conn(frames=frames))
    with driver.market() as market:
        events = market.stream(kind).take(len(frames))
    assert [type(e.model) for e in events] == types
    assert [e.raw for e in events] == frames
    assert all(e.kind == kind and e.received_at.tzinfo is UTC for e in events)
    assert script.upgrades[0].path == f"/api/v1/ws/{kind}/"


def test_trade_fields_are_typed(driver: Driver) -> None:
    """Enum and datetime fields arrive as their Python types."""
    serve(Conn(frames=[order_status(9, "filled")]))
    with driver.market() as market:
        (event,) = market.stream("trade").take(1)
    assert event.model.data.status is OrderStatus.filled
    assert event.model.data.timestamp.year == 2026


def test_binary_frames_are_decoded(driver: Driver) -> None:
    """A JSON message sent as a binary frame decodes like a text one."""
    serve(Conn(frames=[ticker(0.5).encode()]))
    with driver.market() as market:
        (event,) = market.stream("ticker").take(1)
    assert event.model.data.price == 0.5 and event.raw == ticker(0.5).encode()


# --- Invalid messages ------------------------------------------------------------------------


def test_invalid_and_unknown_messages_are_counted_and_skipped(driver: Driver) -> None:
    """Undecodable and unknown-type frames are counted, reported to on_invalid, and skipped."""
    bad = [
        "not json",
        b"\xff\xfe\x00",
        ticker()[:-7],
        json.dumps({"type": "ticker", "data": {"price": "cheap"}}),
        json.dumps({"type": "weather", "data": {}}),
        order_status(),  # a trade message on the ticker stream
        "[]",
    ]
    seen: list[tuple[str | bytes, MessageDecodeError]] = []
    serve(Conn(frames=[*bad, ticker(0.6)]))
    with driver.market(on_invalid=lambda raw, err: seen.append((raw, err))) as market:
        sub = market.stream("ticker")
        (event,) = sub.take(1)
    assert event.model.data.price == 0.6
    assert sub.stats.rejected == len(bad) and sub.stats.unknown == 2
    assert [raw for raw, _ in seen] == bad
    assert all(isinstance(err, MessageDecodeError) for _, err in seen)
    assert "unknown message type 'weather'" in str(seen[4][1])


def test_a_raising_on_invalid_hook_does_not_break_the_stream(driver: Driver) -> None:
    """An exception in on_invalid is logged, not raised."""

    def hook(raw: str | bytes, err: MessageDecodeError) -> None:
        raise ValueError("hook bug")

    serve(Conn(frames=["junk", ticker(0.7)]))
    with driver.market(on_invalid=hook) as market:
        (event,) = market.stream("ticker").take(1)
    assert event.model.data.price == 0.7


def test_control_messages_after_the_handshake_are_counted_not_yielded(driver: Driver) -> None:
    """Later control messages go to on_control and stats.controls, not to the iterator."""
    controls: list[Any] = []
    serve(Conn(frames=[control("error", "slow consumer"), ticker(0.8)]))
    with driver.market(on_control=controls.append) as market:
        sub = market.stream("ticker")
        (event,) = sub.take(1)
    assert event.model.data.price == 0.8
    assert sub.stats.controls == 1 and controls[0].data.message == "slow consumer"


# --- Reconnect -------------------------------------------------------------------------------


def test_reconnects_after_server_close_with_backoff(driver: Driver) -> None:
    """A closed stream reconnects; waits grow exponentially within the jitter bounds."""
    clock = FakeClock()
    serve(
        Conn(frames=[ticker(0.1)], close_code=1000),
        Conn(reject=503),
        Conn(frames=[ticker(0.2)]),
    )
    with driver.market(clock=clock, reconnect=FAST) as market:
        sub = market.stream("ticker")
        events = sub.take(2)
    assert [e.model.data.price for e in events] == [0.1, 0.2]
    assert len(clock.sleeps) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0
    assert sub.stats.connects == 2 and sub.stats.reconnects == 1


def test_gives_up_after_max_attempts_with_capped_delays(driver: Driver) -> None:
    """Consecutive failures stop after max_attempts retries; no wait exceeds max_delay."""
    clock = FakeClock()
    policy = ReconnectPolicy(max_attempts=5, initial_delay=1.0, max_delay=4.0, jitter=0.25)
    script = serve()  # every upgrade gets 503
    with driver.market(clock=clock, reconnect=policy) as market:
        sub = market.stream("ticker")
        with pytest.raises(FlexConnectionError, match="gave up after 5 reconnect attempts"):
            next(sub)
    assert len(script.upgrades) == 6 and len(clock.sleeps) == 5
    for attempt, delay in enumerate(clock.sleeps, start=1):
        low, high = policy.bounds(attempt)
        assert low <= delay <= high <= 4.0
    assert sub.closed


def test_retry_after_raises_the_backoff(driver: Driver) -> None:
    """A 429 with Retry-After waits at least that long (capped at max_delay)."""
    clock = FakeClock()
    serve(Conn(reject=429, reject_headers=[("Retry-After", "3")]), Conn(frames=[ticker()]))
    with driver.market(clock=clock, reconnect=FAST) as market:
        market.stream("ticker").take(1)
    assert clock.sleeps == [3.0]


def test_an_unhealthy_connection_keeps_the_backoff_growing(driver: Driver) -> None:
    """A connection that closes before delivering anything does not reset the attempt count."""
    clock = FakeClock()
    serve(
        Conn(close_code=1011),
        Conn(close_code=1011),
        Conn(frames=[ticker()]),
    )
    with driver.market(clock=clock, reconnect=FAST) as market:
        market.stream("ticker").take(1)
    assert len(clock.sleeps) == 2 and 1.0 <= clock.sleeps[1] <= 2.0


def test_not_found_is_not_retried(driver: Driver) -> None:
    """A 404 upgrade rejection raises NotFoundError at once."""
    clock = FakeClock()
    script = serve(Conn(reject=404))
    with driver.market(clock=clock, reconnect=FAST) as market, pytest.raises(NotFoundError):
        next(market.stream("ticker"))
    assert len(script.upgrades) == 1 and clock.sleeps == []


# --- Tokens ----------------------------------------------------------------------------------


def test_bearer_token_is_sent_in_the_upgrade_request(driver: Driver) -> None:
    """The upgrade request carries Authorization: Bearer <token>."""
    script = serve(Conn(frames=[ticker()]))
    with driver.market(token="tok-abc") as market:
        market.stream("ticker").take(1)
    assert script.upgrades[0].authorization == "Bearer tok-abc"


def test_401_refreshes_the_token_and_reconnects_at_once(driver: Driver) -> None:
    """A 401 upgrade rejection refreshes the token and retries without waiting."""
    clock = FakeClock()
    tokens = RefreshingTokens("tok-old", "tok-new")
    script = serve(Conn(expect_token="tok-new"), Conn(expect_token="tok-new", frames=[ticker()]))
    with driver.market(token=tokens, clock=clock, reconnect=FAST) as market:
        sub = market.stream("ticker")
        sub.take(1)
    assert [u.authorization for u in script.upgrades] == ["Bearer tok-old", "Bearer tok-new"]
    assert tokens.refreshes == 1 and sub.stats.token_refreshes == 1 and clock.sleeps == []


def test_403_after_a_refresh_raises(driver: Driver) -> None:
    """A rejection right after a refresh raises the status error instead of looping."""
    tokens = RefreshingTokens("tok-1", "tok-2")
    script = serve(Conn(reject=403), Conn(reject=403))
    with (
        driver.market(token=tokens, reconnect=FAST) as market,
        pytest.raises(PermissionDeniedError) as caught,
    ):
        next(market.stream("trade"))
    assert tokens.refreshes == 1 and len(script.upgrades) == 2
    assert "tok-" not in str(caught.value) and "tok-" not in repr(caught.value)


def test_static_token_rejected_raises_authentication_error(driver: Driver) -> None:
    """A token string cannot be refreshed: a 401 raises AuthenticationError at once."""
    script = serve(Conn(reject=401))
    with (
        driver.market(token="tok-static", reconnect=FAST) as market,
        pytest.raises(AuthenticationError),
    ):
        next(market.stream("ticker"))
    assert len(script.upgrades) == 1


def test_callable_returning_the_same_token_raises_after_one_try(driver: Driver) -> None:
    """A plain callable is asked again on 401; the same token again means AuthenticationError."""
    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return "tok-same"

    serve(Conn(reject=401))
    with (
        driver.market(token=provider, reconnect=FAST) as market,
        pytest.raises(AuthenticationError),
    ):
        next(market.stream("ticker"))
    assert len(calls) == 2


def test_auth_close_code_refreshes_before_reconnecting(driver: Driver) -> None:
    """A close with code 4001 (token expired) makes the reconnect use a refreshed token."""
    tokens = RefreshingTokens("tok-a", "tok-b")
    script = serve(
        Conn(frames=[ticker(0.1)], close_code=4001),
        Conn(expect_token="tok-b", frames=[ticker(0.2)]),
    )
    with driver.market(token=tokens, reconnect=FAST) as market:
        events = market.stream("ticker").take(2)
    assert [e.model.data.price for e in events] == [0.1, 0.2]
    assert [u.authorization for u in script.upgrades] == ["Bearer tok-a", "Bearer tok-b"]


def test_auth_close_before_the_handshake_refreshes_at_once(driver: Driver) -> None:
    """A server that accepts, then closes with 1008 before the control, gets a fresh token."""
    clock = FakeClock()
    tokens = RefreshingTokens("tok-x", "tok-y")
    script = serve(
        Conn(control=None, close_code=1008),
        Conn(expect_token="tok-y", frames=[ticker(0.3)]),
    )
    with driver.market(token=tokens, clock=clock, reconnect=FAST) as market:
        (event,) = market.stream("ticker").take(1)
    assert event.model.data.price == 0.3 and clock.sleeps == []
    assert [u.authorization for u in script.upgrades] == ["Bearer tok-x", "Bearer tok-y"]


def test_tokens_never_reach_logs_reprs_or_errors(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the old nor the refreshed token appears in log records, reprs or errors."""
    caplog.set_level(logging.DEBUG)
    tokens = RefreshingTokens("secret-old-7f3a", "secret-new-9c1b")
    serve(Conn(reject=401), Conn(reject=401))
    with driver.market(token=tokens, reconnect=FAST) as market:
        sub = market.stream("ticker")
        with pytest.raises(AuthenticationError) as caught:
            next(sub)
        shown = [repr(market.stream_object), repr(sub.sub), str(caught.value), repr(caught.value)]
    shown.append(caplog.text)
    for text in shown:
        assert "secret-old" not in text and "secret-new" not in text


# --- Timeouts and closing --------------------------------------------------------------------


def test_receive_timeout_raises_and_iteration_resumes(driver: Driver) -> None:
    """No event within receive_timeout raises FlexTimeoutError; the next iteration continues."""
    gate = threading.Event()
    serve(Conn(frames=[ticker(0.9)], gate=gate))
    with driver.market(receive_timeout=0.2) as market:
        sub = market.stream("ticker")
        with pytest.raises(FlexTimeoutError):
            next(sub)
        gate.set()
        for _ in range(50):  # the frame is on its way; a loaded machine may need a few waits
            with contextlib.suppress(FlexTimeoutError):
                event = next(sub)
                break
    assert event.model.data.price == 0.9 and sub.stats.connects == 1


def test_close_from_another_thread_ends_a_waiting_iteration(driver: Driver) -> None:
    """close() from another thread ends an iteration that waits for a frame."""
    serve(Conn(frames=[ticker()]))
    with driver.market(receive_timeout=10) as market:
        sub = market.stream("ticker")
        sub.take(1)
        started = threading.Event()

        def closer() -> None:
            started.wait(10)
            sub.close()

        thread = threading.Thread(target=closer)
        thread.start()
        started.set()
        with pytest.raises(StopIteration):
            next(sub)
        thread.join(10)
    assert sub.closed


def test_a_stream_with_its_own_client_connects_and_closes_it(driver: Driver) -> None:
    """Without client= the stream builds its HTTP client and closes it on exit."""
    serve(Conn(frames=[ticker(0.55)]))
    with driver.market(own_client=True) as market:
        (event,) = market.stream("ticker").take(1)
        client = market.stream_object._client
    assert event.model.data.price == 0.55 and client.is_closed


def test_closing_the_stream_closes_its_subscriptions(driver: Driver) -> None:
    """Leaving the stream's context ends every subscription."""
    serve(Conn(frames=[ticker()]), Conn(frames=[order_status()]))
    with driver.market() as market:
        ticker_sub = market.stream("ticker")
        trade_sub = market.stream("trade")
        ticker_sub.take(1)
        trade_sub.take(1)
    assert ticker_sub.closed and trade_sub.closed


# --- Fuzz ------------------------------------------------------------------------------------

SENTINEL = ticker(0.123, country="END")
VALID = [ticker(0.1), ticker(0.2, "FR"), control("success", "still here"), control("error", "x")]


def _truncated(frame: str) -> st.SearchStrategy[str]:
    return st.integers(0, len(frame) - 1).map(lambda n: frame[:n])


JUNK = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from([ticker(), order_status(), orderbook()]).flatmap(_truncated),
    st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3).map(
        json.dumps
    ),
    st.text(max_size=12).map(lambda t: json.dumps({"type": t, "data": {}})),
    st.sampled_from([order_status(), contract_status(), orderbook(), "null", "[]", '{"type": 5}']),
)


@given(frames=st.lists(st.one_of(st.sampled_from(VALID), JUNK), max_size=12))
def test_fuzzed_frames_never_crash_the_iterator(driver: Driver, frames: list[str | bytes]) -> None:
    """Random text, bytes, truncated JSON and unknown types are skipped; valid ones still arrive."""
    serve(Conn(frames=[*frames, SENTINEL]))
    with driver.market() as market:
        sub = market.stream("ticker")
        events: list[MarketEvent[Any]] = []
        while not events or events[-1].raw != SENTINEL:
            events.append(next(sub))
    stats = sub.stats
    assert stats.delivered + stats.rejected + stats.controls + 1 == stats.received
    assert stats.received == len(frames) + 2  # the handshake control and the sentinel
    assert all(isinstance(e.model, Ticker) for e in events)
    expected = [f for f in frames if f in (VALID[0], VALID[1])]
    assert [e.raw for e in events[:-1] if e.raw in (VALID[0], VALID[1])] == expected


# --- Async only ------------------------------------------------------------------------------


async def test_async_for_and_an_async_token_source() -> None:
    """``async for`` works and an async token()/refresh() pair is awaited on a 401."""

    class AsyncTokens:
        def __init__(self) -> None:
            self.current = "tok-a1"

        async def token(self) -> str:
            return self.current

        async def refresh(self) -> str:
            self.current = "tok-a2"
            return self.current

    script = serve(Conn(reject=401), Conn(expect_token="tok-a2", frames=[ticker(0.31)]))
    prices = []
    async with AsyncMarketStream(
        "http://market.test", AsyncTokens(), transport=ASGIWebSocketTransport(APP)
    ) as market:
        async for event in market.stream("ticker"):
            prices.append(event.model.data.price)
            break
    assert prices == [0.31]
    assert [u.authorization for u in script.upgrades] == ["Bearer tok-a1", "Bearer tok-a2"]


async def test_cancelled_consumer_leaves_no_task_behind() -> None:
    """Cancelling a waiting consumer, then closing, leaves no connection task running."""
    serve(Conn(frames=[ticker()]))
    async with AsyncMarketStream(
        "http://market.test", "tok", transport=ASGIWebSocketTransport(APP)
    ) as market:
        sub = market.stream("ticker")
        await sub.__anext__()
        with pytest.raises(asyncio.TimeoutError):  # wait_for cancels the waiting iteration
            await asyncio.wait_for(sub.__anext__(), 0.05)
        await sub.close()
        assert sub.closed
        with pytest.raises(StopAsyncIteration):
            await sub.__anext__()
    assert asyncio.all_tasks() == {asyncio.current_task()}
