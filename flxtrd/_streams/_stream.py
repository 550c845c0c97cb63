# Generated from flxtrd/_streams/_async_stream.py by scripts/unasync.py; do not edit.
# Change the async source and run `make regenerate`.
"""The market stream clients: subscriptions that reconnect, and the stream that makes them.

:class:`MarketStream` and :class:`MarketSubscription` are written once here; the sync
:class:`~flxtrd.MarketStream` and ``MarketSubscription`` are generated from them. What a stream
does (events, handshake, invalid messages, reconnect, tokens, timeouts) is described in
``flxtrd._streams._core``, which decides it without I/O; the sockets are ``flxtrd._streams._io``'s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, cast, overload

import httpx
from glocalflex_messages.models import Orderbook, Ticker

from flxtrd._errors import ConfigurationError, FlexConnectionError, FlexError
from flxtrd._streams._bases import _StreamBase, _SubscriptionBase
from flxtrd._streams._core import M, MarketEvent, _SubscriptionCore
from flxtrd._streams._failures import _ReceiveTimeout
from flxtrd._streams._io import (
    _SyncConnection,
    enter_client,
    open_connection,
    sleep_for,
)
from flxtrd._streams._kinds import MarketModel, TradeModel, _check_kind, _StreamSpec
from flxtrd._streams._tokens import TokenProvider, _sync_value

if TYPE_CHECKING:
    from typing import Self

__all__ = ["MarketStream", "MarketSubscription"]


class _ClosingContext:
    """``with`` for what ``close()`` ends: entering gives the object, leaving closes it."""

    def close(self) -> None:
        """End what this object holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MarketSubscription(_ClosingContext, _SubscriptionBase, Generic[M]):
    """A subscription to one stream: iterate it for :class:`MarketEvent`; close() ends it."""

    def __init__(self, owner: MarketStream, spec: _StreamSpec) -> None:
        self._owner = owner
        self._core = _SubscriptionCore(owner._config, spec)
        self._lock = threading.Lock()  # held only around state, never while waiting
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
                closed = self._closed
                if not closed:
                    self._conn = conn
            if closed:
                conn.close()
                raise StopIteration
            core.on_connected()

    def _discard(self, conn: _SyncConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.close()

    def close(self) -> None:
        """End the subscription: close its connection and wake a waiting iteration."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        self._stop.set()
        if conn is not None:
            conn.wake()
            conn.close()
        self._owner._forget(self)


class MarketStream(
    _ClosingContext,
    _StreamBase[
        httpx.Client,
        httpx.BaseTransport,
        Callable[[float], None],
        TokenProvider,
    ],
):
    """Access to the market's WebSocket streams; see ``flxtrd._streams._core``.

    Args:
        base_url: the market, e.g. ``https://test.glocalflexmarket.com`` (``https`` -> ``wss``,
            ``http`` -> ``ws``; a path prefix is kept).
        token_provider: a :class:`TokenSource` (the client's OAuth2 auth), a callable returning
            the current access token, or a fixed token string (which cannot be refreshed); with
            asyncio, ``token()`` and ``refresh()`` may also be coroutines.
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

    Use it as a context manager; with asyncio, entering it opens a client the stream builds
    (``ASGIWebSocketTransport`` needs that).
    """

    def _init_io(self) -> None:
        self._subscriptions: list[MarketSubscription[Any]] = []
        self._lock = threading.Lock()
        self._entered = False

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
            if self._entered:
                self._entered = False
                self._client.__exit__(None, None, None)
            else:
                self._client.close()

    def __enter__(self) -> Self:
        if self._owns_client:
            self._entered = enter_client(self._client)
        return self

    # -- I/O used by the subscriptions ------------------------------------------------------

    def _forget(self, subscription: MarketSubscription[Any]) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def _sleep_for(self, delay: float, stop: threading.Event) -> None:
        sleep_for(delay, stop, self._sleep)

    def _open(self, url: str, headers: dict[str, str]) -> _SyncConnection:
        return open_connection(self._config, self._client, url, headers)

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
