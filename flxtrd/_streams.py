"""WebSocket market streams (API generation 2): trade, ticker and order-book events.

Usage::

    with MarketStream("https://test.glocalflexmarket.com", token_source) as market:
        for event in market.stream("ticker"):
            print(event.received_at, event.model.data.price)

    async with AsyncMarketStream("https://test.glocalflexmarket.com", token_source) as market:
        async for event in market.stream("trade"):
            ...

Streams and what they carry (typed models from ``glocalflex_messages.models``):

=============  ==========================  ================================================
kind           path                        ``MarketEvent.model``
=============  ==========================  ================================================
``trade``      ``/api/v1/ws/trade/``       ``OrderStatusUpdate`` | ``ContractStatusUpdate``
``ticker``     ``/api/v1/ws/ticker/``      ``Ticker``
``orderbook``  ``/api/v1/ws/orderbook/``   ``Orderbook``
=============  ==========================  ================================================

**Events.** Iterating a subscription yields :class:`MarketEvent` ``(kind, model, raw,
received_at)``: the typed model, the frame as received (``str`` or ``bytes``) and when it arrived
(UTC). ``Control`` messages are never yielded: the first one is the connection handshake, later
ones are counted in ``stats.controls`` and passed to ``on_control``.

**Handshake.** After every (re)connect the server's first message must be
``{"type": "control", "status": "success", ...}``. A control message with status ``error`` or any
other first message raises :class:`StreamHandshakeError` (not retried); no message within
``handshake_timeout`` is a connection failure (retried).

**Invalid messages** (not JSON, wrong fields, a ``type`` this stream does not carry) are skipped,
never raised: each is counted in ``stats.rejected`` (``stats.unknown`` counts those with an
unknown ``type``), logged at DEBUG and passed to ``on_invalid(raw, MessageDecodeError)``.

**Reconnect.** A lost connection (server close, network error, keepalive ping timeout) and a
failed connect (network error, handshake timeout, upgrade rejected with 408/429/5xx) are retried
after an exponential backoff with jitter (:class:`ReconnectPolicy`): the wait before retry ``n``
(1-based) is ``min(initial_delay * multiplier**(n-1), max_delay)`` shortened by a random
fraction of at most ``jitter``; a ``Retry-After`` on a 429/503 raises it (up to ``max_delay``).
``n`` counts consecutive failures and drops; it restarts at 1 when the dropped connection was
healthy (delivered an event, or stayed up ``stable_after`` seconds). After ``max_attempts``
consecutive failed retries the iterator raises :class:`~flxtrd.FlexConnectionError` (from the
last cause) and ends. The first connect is not delayed.

**Tokens.** The bearer token is asked for on every (re)connect, never cached by the stream. When
the server rejects the upgrade with 401/403, or closes the socket with an auth close code (1008,
4001, 4003, 4401, 4403), the stream refreshes the token first (``TokenSource.refresh()``) and
reconnects at once; a second rejection right after a refresh raises
:class:`~flxtrd.AuthenticationError` / :class:`~flxtrd.PermissionDeniedError`. Other statuses
(404, ...) raise the matching :class:`~flxtrd.FlexStatusError`. Tokens are registered with the
secrets filter and never appear in log records, reprs or exception messages.

**Timeouts and keepalive.** httpx-ws pings the server every ``keepalive_interval`` seconds and
drops the connection (then reconnects) when no pong comes within ``keepalive_timeout``. With
``receive_timeout`` set, an iteration that sees no event in time raises
:class:`~flxtrd.FlexTimeoutError`; the connection stays open and iterating again resumes.

**I/O.** The sync classes use an ``httpx.Client`` (httpx-ws runs the socket in background
threads; :meth:`MarketSubscription.close` may be called from another thread and wakes a blocked
iteration). The async classes run on asyncio with an ``httpx.AsyncClient``; each connection lives
in its own task, so the session's task group never spans the caller's code. Pass ``client=`` (not
closed by the stream) or ``transport=`` (e.g. httpx-ws's ``ASGIWebSocketTransport`` in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, cast, overload

import httpx
import wsproto.events
from glocalflex_messages.models import Orderbook, Ticker
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketSession,
    aconnect_ws,
    connect_ws,
)

from flxtrd._errors import ConfigurationError, FlexConnectionError, FlexError
from flxtrd._log import get_logger
from flxtrd._streams_core import (
    STREAM_PATHS,
    AsyncTokenProvider,
    AsyncTokenSource,
    M,
    MarketEvent,
    MarketModel,
    ReconnectPolicy,
    StreamHandshakeError,
    StreamKind,
    StreamStats,
    TokenProvider,
    TokenSource,
    TradeModel,
    _async_value,
    _check_kind,
    _describe,
    _Drop,
    _leaf,
    _ReceiveTimeout,
    _StreamBase,
    _StreamConfig,
    _StreamSpec,
    _SubscriptionBase,
    _SubscriptionCore,
    _sync_value,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "STREAM_PATHS",
    "AsyncMarketStream",
    "AsyncMarketSubscription",
    "AsyncTokenSource",
    "MarketEvent",
    "MarketModel",
    "MarketStream",
    "MarketSubscription",
    "ReconnectPolicy",
    "StreamHandshakeError",
    "StreamKind",
    "StreamStats",
    "TokenSource",
    "TradeModel",
]

_logger = get_logger("streams")


def _frame(event: wsproto.events.Event) -> str | bytes | None:
    """The payload of a text or bytes message event, else ``None``."""
    if isinstance(event, wsproto.events.TextMessage):
        return event.data
    if isinstance(event, wsproto.events.BytesMessage):
        return bytes(event.data)
    return None


# --- Sync I/O ----------------------------------------------------------------------------------


class _SyncConnection:
    """One open sync WebSocket session and the context stack that closes it."""

    def __init__(self, stack: ExitStack, session: WebSocketSession) -> None:
        self._stack = stack
        self._session = session
        self._lock = threading.Lock()
        self._closed = False

    def receive(self, timeout: float | None) -> str | bytes:
        """The next text or bytes frame; raises :class:`_ReceiveTimeout` or the drop cause."""
        while True:
            try:
                event = self._session.receive(timeout)
            except queue.Empty:
                raise _ReceiveTimeout from None
            data = _frame(event)
            if data is not None:
                return data

    def wake(self) -> None:
        """Unblock a thread waiting in :meth:`receive` (used by a cross-thread close)."""
        # httpx-ws has no public way to interrupt receive(); its event queue is the only hook.
        events = getattr(self._session, "_events", None)
        if isinstance(events, queue.Queue):
            with contextlib.suppress(queue.Full):
                events.put_nowait(WebSocketDisconnect(1000, "closed by the client"))

    def close(self) -> None:
        """Close the session and the upgrade response; idempotent, never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._stack.close()
        except Exception as exc:
            _logger.debug("closing a stream connection failed: %s", _describe(exc))


class MarketSubscription(_SubscriptionBase, Generic[M]):
    """A sync subscription to one stream: iterate it for :class:`MarketEvent`; close() ends it."""

    def __init__(self, owner: MarketStream, spec: _StreamSpec) -> None:
        self._owner = owner
        self._core = _SubscriptionCore(owner._config, spec)
        self._lock = threading.Lock()
        self._conn: _SyncConnection | None = None
        self._closed = False
        self._stop = threading.Event()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> MarketEvent[M]:
        while True:
            conn = self._connection()
            try:
                raw = conn.receive(self._core.config.receive_timeout)
            except _ReceiveTimeout:
                if self._closed:
                    raise StopIteration from None
                raise self._core.receive_timeout_error() from None
            except Exception as exc:
                self._discard(conn)
                if self._closed:
                    raise StopIteration from None
                self._core.on_drop(exc)
                continue
            if self._closed:
                raise StopIteration
            event = self._core.decode(raw)
            if event is not None:
                return cast(MarketEvent[M], event)

    def connect(self) -> Self:
        """Open the connection now instead of on the first iteration; no later event is missed."""
        try:
            self._connection()
        except StopIteration:
            raise FlexConnectionError("the subscription is closed") from None
        return self

    def _connection(self) -> _SyncConnection:
        """The open connection, (re)connecting with backoff as the policy allows."""
        core = self._core
        while True:
            if self._closed:
                raise StopIteration
            conn = self._conn
            if conn is not None:
                return conn
            try:
                attempt = core.plan()
            except FlexError:
                self.close()
                raise
            if attempt.delay > 0:
                self._owner._sleep_for(attempt.delay, self._stop)
                if self._closed:
                    raise StopIteration
            conn = None
            try:
                token = self._owner._token(attempt.refresh, core)
                conn = self._owner._open(core.url, core.headers(token))
                core.check_handshake(conn.receive(core.config.handshake_timeout))
            except BaseException as exc:
                if conn is not None:
                    conn.close()
                if not isinstance(exc, Exception):
                    raise
                if self._closed:
                    raise StopIteration from None
                try:
                    core.on_connect_failure(exc)
                except FlexError:
                    self.close()
                    raise
                continue
            with self._lock:
                if self._closed:
                    conn.close()
                    raise StopIteration
                self._conn = conn
            core.on_connected()

    def _discard(self, conn: _SyncConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.close()

    def close(self) -> None:
        """End the subscription: close its connection and wake a blocked iteration."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        self._stop.set()
        if conn is not None:
            conn.wake()
            conn.close()
        self._owner._forget(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MarketStream(
    _StreamBase[httpx.Client, httpx.BaseTransport, Callable[[float], None], TokenProvider]
):
    """Sync access to the market's WebSocket streams; see the module docstring.

    Args:
        base_url: the market, e.g. ``https://test.glocalflexmarket.com`` (``https`` -> ``wss``,
            ``http`` -> ``ws``; a path prefix is kept).
        token_provider: a :class:`TokenSource` (the client's OAuth2 auth), a callable returning
            the current access token, or a fixed token string (which cannot be refreshed).
        client: an ``httpx.Client`` to connect with; the stream does not close it.
        transport: an httpx transport for a client the stream builds (and closes).
        connect_timeout: the upgrade request's timeout, for a client the stream builds.
        reconnect: backoff and bounds; :class:`ReconnectPolicy` defaults when ``None``.
        receive_timeout: seconds an iteration waits for an event before raising
            :class:`~flxtrd.FlexTimeoutError` (the connection stays); ``None`` waits forever.
        handshake_timeout: seconds to wait for the control message after each upgrade.
        keepalive_interval: seconds between pings (``None``: no pings).
        keepalive_timeout: seconds to wait for a pong before the connection counts as lost.
        queue_size: frames buffered between the socket and the iterator.
        on_invalid: called with ``(raw, MessageDecodeError)`` for every skipped frame.
        on_control: called with each ``Control`` message after the handshake.
        sleep: the backoff wait (default: an interruptible wait that ``close()`` ends early).
        clock: monotonic seconds, for ``ReconnectPolicy.stable_after``.
        wall_clock: epoch seconds, for ``MarketEvent.received_at``.
        rng: a ``[0, 1)`` source for the jitter (default :func:`random.random`).
    """

    def _init_io(self) -> None:
        self._subscriptions: list[MarketSubscription[Any]] = []
        self._lock = threading.Lock()

    def _new_client(
        self, transport: httpx.BaseTransport | None, timeout: httpx.Timeout
    ) -> httpx.Client:
        return httpx.Client(transport=transport, timeout=timeout)

    @overload
    def stream(self, kind: Literal["trade"]) -> MarketSubscription[TradeModel]: ...
    @overload
    def stream(self, kind: Literal["ticker"]) -> MarketSubscription[Ticker]: ...
    @overload
    def stream(self, kind: Literal["orderbook"]) -> MarketSubscription[Orderbook]: ...
    @overload
    def stream(self, kind: str) -> MarketSubscription[MarketModel]: ...
    def stream(self, kind: str) -> MarketSubscription[Any]:
        """Subscribe to ``kind``; the connection opens on the first iteration."""
        spec = _check_kind(kind)
        with self._lock:
            if self._closed:
                raise ConfigurationError("this MarketStream is closed")
            subscription: MarketSubscription[Any] = MarketSubscription(self, spec)
            self._subscriptions.append(subscription)
        return subscription

    def close(self) -> None:
        """Close every subscription, then the HTTP client if the stream created it."""
        with self._lock:
            self._closed = True
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- I/O used by the subscriptions ------------------------------------------------------

    def _forget(self, subscription: MarketSubscription[Any]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    def _sleep_for(self, delay: float, stop: threading.Event) -> None:
        if self._sleep is not None:
            self._sleep(delay)
        else:
            stop.wait(delay)

    def _token(self, refresh: bool, core: _SubscriptionCore) -> str:
        tokens = self._config.tokens
        if not refresh:
            return tokens.accept(_sync_value(tokens.get(), "token"))
        old = tokens.current
        if tokens.refresh is not None:
            new = tokens.accept(_sync_value(tokens.refresh(), "refresh"))
        else:
            if tokens.invalidate is not None:
                _sync_value(tokens.invalidate(), "invalidate")
            new = tokens.accept(_sync_value(tokens.get(), "token"))
        core.token_refreshed(old, new)
        return new

    def _open(self, url: str, headers: dict[str, str]) -> _SyncConnection:
        config = self._config
        stack = ExitStack()
        try:
            session: WebSocketSession = stack.enter_context(
                connect_ws(
                    url,
                    self._client,
                    headers=headers,
                    queue_size=config.queue_size,
                    keepalive_ping_interval_seconds=config.keepalive_interval,
                    keepalive_ping_timeout_seconds=config.keepalive_timeout,
                )
            )
        except BaseException:
            stack.close()
            raise
        return _SyncConnection(stack, session)


# --- Async I/O ---------------------------------------------------------------------------------

_OPEN = object()
_CLOSED = object()


class _AsyncConnection:
    """One WebSocket session run by its own task; frames and the end arrive through a queue."""

    def __init__(self, config: _StreamConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client
        self._queue: asyncio.Queue[object] = asyncio.Queue(config.queue_size)
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self, url: str, headers: dict[str, str]) -> None:
        """Start the session task and wait until the upgrade succeeded (or raise why not)."""
        self._task = asyncio.get_running_loop().create_task(self._run(url, headers))
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if item is _CLOSED:
            raise _Drop("closed by the client")

    async def _run(self, url: str, headers: dict[str, str]) -> None:
        config = self._config
        error: BaseException | None = None
        try:
            session: AsyncWebSocketSession
            async with aconnect_ws(
                url,
                self._client,
                headers=headers,
                queue_size=config.queue_size,
                keepalive_ping_interval_seconds=config.keepalive_interval,
                keepalive_ping_timeout_seconds=config.keepalive_timeout,
            ) as session:
                await self._queue.put(_OPEN)
                try:
                    while True:
                        data = _frame(await session.receive())
                        if data is not None:
                            await self._queue.put(data)
                except Exception as exc:
                    error = exc
        except Exception as exc:
            error = _leaf(exc)
        await self._queue.put(error if error is not None else _Drop("session ended"))

    async def receive(self, timeout: float | None) -> str | bytes:
        """The next frame; raises :class:`_ReceiveTimeout` or the drop cause."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            raise _ReceiveTimeout from None
        if isinstance(item, (str, bytes)):
            return item
        if isinstance(item, BaseException):
            raise item
        raise _Drop("closed by the client")

    async def close(self) -> None:
        """Cancel the session task (which closes the socket) and wake a waiting receiver."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_CLOSED)


class AsyncMarketSubscription(_SubscriptionBase, Generic[M]):
    """An async subscription to one stream: ``async for`` it; ``await close()`` ends it."""

    def __init__(self, owner: AsyncMarketStream, spec: _StreamSpec) -> None:
        self._owner = owner
        self._core = _SubscriptionCore(owner._config, spec)
        self._conn: _AsyncConnection | None = None
        self._closed = False
        self._stop: asyncio.Event | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> MarketEvent[M]:
        while True:
            conn = await self._connection()
            try:
                raw = await conn.receive(self._core.config.receive_timeout)
            except _ReceiveTimeout:
                if self._closed:
                    raise StopAsyncIteration from None
                raise self._core.receive_timeout_error() from None
            except Exception as exc:
                await self._discard(conn)
                if self._closed:
                    raise StopAsyncIteration from None
                self._core.on_drop(exc)
                continue
            if self._closed:
                raise StopAsyncIteration
            event = self._core.decode(raw)
            if event is not None:
                return cast(MarketEvent[M], event)

    async def connect(self) -> Self:
        """Open the connection now instead of on the first iteration; no later event is missed."""
        try:
            await self._connection()
        except StopAsyncIteration:
            raise FlexConnectionError("the subscription is closed") from None
        return self

    async def _connection(self) -> _AsyncConnection:
        """The open connection, (re)connecting with backoff as the policy allows."""
        core = self._core
        while True:
            if self._closed:
                raise StopAsyncIteration
            conn = self._conn
            if conn is not None:
                return conn
            try:
                attempt = core.plan()
            except FlexError:
                await self.close()
                raise
            if attempt.delay > 0:
                if self._stop is None:
                    self._stop = asyncio.Event()
                await self._owner._sleep_for(attempt.delay, self._stop)
                if self._closed:
                    raise StopAsyncIteration
            conn = None
            try:
                token = await self._owner._token(attempt.refresh, core)
                conn = _AsyncConnection(core.config, self._owner._client)
                await conn.open(core.url, core.headers(token))
                core.check_handshake(await conn.receive(core.config.handshake_timeout))
            except BaseException as exc:
                if conn is not None:
                    await conn.close()
                if not isinstance(exc, Exception):
                    raise
                if self._closed:
                    raise StopAsyncIteration from None
                try:
                    core.on_connect_failure(exc)
                except FlexError:
                    await self.close()
                    raise
                continue
            if self._closed:
                await conn.close()
                raise StopAsyncIteration
            self._conn = conn
            core.on_connected()

    async def _discard(self, conn: _AsyncConnection) -> None:
        if self._conn is conn:
            self._conn = None
        await conn.close()

    async def close(self) -> None:
        """End the subscription: close its connection and wake a waiting iteration."""
        self._closed = True
        conn, self._conn = self._conn, None
        if self._stop is not None:
            self._stop.set()
        if conn is not None:
            await conn.close()
        self._owner._forget(self)

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncMarketStream(
    _StreamBase[
        httpx.AsyncClient,
        httpx.AsyncBaseTransport,
        Callable[[float], Awaitable[None]],
        AsyncTokenProvider,
    ]
):
    """Async (asyncio) access to the market's WebSocket streams; see the module docstring.

    Takes the arguments of :class:`MarketStream`, with an ``httpx.AsyncClient`` /
    ``httpx.AsyncBaseTransport``, an awaitable ``sleep``, and a token provider whose ``token()``
    and ``refresh()`` may be coroutines (:class:`AsyncTokenSource`). Use it as ``async with``:
    entering opens a client the stream builds (``ASGIWebSocketTransport`` needs that).
    """

    def _init_io(self) -> None:
        self._subscriptions: list[AsyncMarketSubscription[Any]] = []
        self._entered = False

    def _new_client(
        self, transport: httpx.AsyncBaseTransport | None, timeout: httpx.Timeout
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, timeout=timeout)

    @overload
    def stream(self, kind: Literal["trade"]) -> AsyncMarketSubscription[TradeModel]: ...
    @overload
    def stream(self, kind: Literal["ticker"]) -> AsyncMarketSubscription[Ticker]: ...
    @overload
    def stream(self, kind: Literal["orderbook"]) -> AsyncMarketSubscription[Orderbook]: ...
    @overload
    def stream(self, kind: str) -> AsyncMarketSubscription[MarketModel]: ...
    def stream(self, kind: str) -> AsyncMarketSubscription[Any]:
        """Subscribe to ``kind``; the connection opens on the first iteration."""
        spec = _check_kind(kind)
        if self._closed:
            raise ConfigurationError("this AsyncMarketStream is closed")
        subscription: AsyncMarketSubscription[Any] = AsyncMarketSubscription(self, spec)
        self._subscriptions.append(subscription)
        return subscription

    async def close(self) -> None:
        """Close every subscription, then the HTTP client if the stream created it."""
        self._closed = True
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.close()
        if self._owns_client:
            if self._entered:
                self._entered = False
                await self._client.__aexit__(None, None, None)
            else:
                await self._client.aclose()

    aclose = close

    async def __aenter__(self) -> Self:
        if self._owns_client:
            # Entering the client enters its transport (ASGIWebSocketTransport needs that).
            await self._client.__aenter__()
            self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- I/O used by the subscriptions ------------------------------------------------------

    def _forget(self, subscription: AsyncMarketSubscription[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    async def _sleep_for(self, delay: float, stop: asyncio.Event) -> None:
        if self._sleep is not None:
            await self._sleep(delay)
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _token(self, refresh: bool, core: _SubscriptionCore) -> str:
        tokens = self._config.tokens
        if not refresh:
            return tokens.accept(await _async_value(tokens.get()))
        old = tokens.current
        if tokens.refresh is not None:
            new = tokens.accept(await _async_value(tokens.refresh()))
        else:
            if tokens.invalidate is not None:
                await _async_value(tokens.invalidate())
            new = tokens.accept(await _async_value(tokens.get()))
        core.token_refreshed(old, new)
        return new
