"""What the sync and async stream classes share without I/O: their constructor and read-only faces.

:class:`_StreamBase` is the one constructor of :class:`~flxtrd.MarketStream` and
:class:`~flxtrd.AsyncMarketStream`, :class:`_SubscriptionBase` the properties and repr of both
subscription classes; ``_streams._async_stream`` (and the sync module generated from it) adds the
I/O on top.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import httpx

from flxtrd._defaults import (
    DEFAULT_KEEPALIVE_INTERVAL_S,
    DEFAULT_KEEPALIVE_TIMEOUT_S,
    DEFAULT_STREAM_CONNECT_TIMEOUT_S,
    DEFAULT_STREAM_HANDSHAKE_TIMEOUT_S,
    DEFAULT_STREAM_QUEUE_SIZE,
)
from flxtrd._errors import ConfigurationError
from flxtrd._log import redact_url
from flxtrd._streams._core import StreamStats, _SubscriptionCore
from flxtrd._streams._settings import ControlHook, InvalidHook, ReconnectPolicy, _StreamConfig
from flxtrd._streams._tokens import _Tokens
from flxtrd._validation import require_wait

__all__ = ["_StreamBase", "_SubscriptionBase"]


class _SubscriptionBase:
    """The read-only surface the sync and async subscriptions share."""

    _core: _SubscriptionCore
    _closed: bool

    @property
    def kind(self) -> str:
        """The stream kind: ``trade``, ``ticker`` or ``orderbook``."""
        return self._core.kind

    @property
    def url(self) -> str:
        """The stream's WebSocket URL (redacted)."""
        return self._core.shown_url

    @property
    def stats(self) -> StreamStats:
        """Live counters: received, delivered, rejected, unknown, reconnects, ..."""
        return self._core.stats

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called or the stream gave up."""
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.kind} {self.url} {state}>"


C = TypeVar("C")  # the httpx client (sync or async)
X = TypeVar("X")  # the httpx transport
S = TypeVar("S")  # the backoff sleep
P = TypeVar("P")  # the token provider


class _StreamBase(Generic[C, X, S, P]):
    """The constructor, repr and base URL of both stream classes; they add the I/O.

    One constructor for :class:`~flxtrd.MarketStream` and :class:`~flxtrd.AsyncMarketStream`
    (its arguments are documented on them), typed by what differs: the httpx client and
    transport, the sleep and the token provider. A subclass only sets up its own state
    (:meth:`_init_io`) and makes its client (:meth:`_new_client`).
    """

    _config: _StreamConfig

    def __init__(
        self,
        base_url: str | httpx.URL,
        token_provider: P,
        *,
        client: C | None = None,
        transport: X | None = None,
        connect_timeout: float = DEFAULT_STREAM_CONNECT_TIMEOUT_S,
        reconnect: ReconnectPolicy | None = None,
        receive_timeout: float | None = None,
        handshake_timeout: float = DEFAULT_STREAM_HANDSHAKE_TIMEOUT_S,
        keepalive_interval: float | None = DEFAULT_KEEPALIVE_INTERVAL_S,
        keepalive_timeout: float | None = DEFAULT_KEEPALIVE_TIMEOUT_S,
        queue_size: int = DEFAULT_STREAM_QUEUE_SIZE,
        on_invalid: InvalidHook | None = None,
        on_control: ControlHook | None = None,
        sleep: S | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] | None = None,
    ) -> None:
        if client is not None and transport is not None:
            raise ConfigurationError("pass client= or transport=, not both")
        connect_timeout = require_wait("connect_timeout", connect_timeout, positive=True)
        self._init_io()
        self._config = _StreamConfig(
            base_url=str(base_url),
            tokens=_Tokens(token_provider),
            policy=reconnect if reconnect is not None else ReconnectPolicy(),
            receive_timeout=receive_timeout,
            handshake_timeout=handshake_timeout,
            keepalive_interval=keepalive_interval,
            keepalive_timeout=keepalive_timeout,
            queue_size=queue_size,
            on_invalid=on_invalid,
            on_control=on_control,
            clock=clock,
            wall_clock=wall_clock,
            random=rng if rng is not None else random.random,
        )
        self._owns_client = client is None
        self._client: C = (
            client
            if client is not None
            else self._new_client(transport, httpx.Timeout(connect_timeout))
        )
        self._sleep: S | None = sleep
        self._closed = False

    def _init_io(self) -> None:
        """Set up what the subclass's I/O keeps (its subscriptions, locks)."""
        raise NotImplementedError

    def _new_client(self, transport: X | None, timeout: httpx.Timeout) -> C:
        """The httpx client a stream builds (and closes) when it is given none."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={redact_url(self._config.base_url)!r})"

    @property
    def base_url(self) -> str:
        """The market's base URL (redacted)."""
        return redact_url(self._config.base_url)
