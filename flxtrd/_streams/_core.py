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

**Code.** The I/O-free core shared by :class:`~flxtrd.MarketStream` and its async twin.

Everything about a stream subscription except sockets lives here: the stream kinds and their
decoders, :class:`MarketEvent`, :class:`StreamStats`, :class:`ReconnectPolicy`, token-provider
normalisation, URL building, the first-control check, decoding with rejection counting, and the
reconnect decisions (:class:`_SubscriptionCore`). ``flxtrd._streams._async_stream`` (and the sync
``flxtrd._streams._stream`` generated from it) adds the
subscription and stream classes, ``flxtrd._streams._io`` the sockets.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import operator
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar, cast, runtime_checkable

import httpx
import msgspec
from glocalflex_messages.models import (
    ContractStatusUpdate,
    Control,
    ControlStatus,
    Orderbook,
    OrderStatusUpdate,
    Ticker,
)
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError

from flxtrd._backoff import Backoff
from flxtrd._defaults import (
    DEFAULT_KEEPALIVE_INTERVAL_S,
    DEFAULT_KEEPALIVE_TIMEOUT_S,
    DEFAULT_STREAM_CONNECT_TIMEOUT_S,
    DEFAULT_STREAM_HANDSHAKE_TIMEOUT_S,
    DEFAULT_STREAM_INITIAL_DELAY_S,
    DEFAULT_STREAM_JITTER,
    DEFAULT_STREAM_MAX_ATTEMPTS,
    DEFAULT_STREAM_MAX_DELAY_S,
    DEFAULT_STREAM_MULTIPLIER,
    DEFAULT_STREAM_QUEUE_SIZE,
    DEFAULT_STREAM_STABLE_AFTER_S,
)
from flxtrd._defaults import STREAM_AUTH_CLOSE_CODES as _AUTH_CLOSE_CODES
from flxtrd._defaults import STREAM_AUTH_STATUSES as _AUTH_STATUSES
from flxtrd._defaults import STREAM_RETRY_STATUSES as _RETRY_STATUSES
from flxtrd._errors import (
    AuthenticationError,
    ConfigurationError,
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    FlexValidationError,
    MessageDecodeError,
    StreamHandshakeError,
    parse_retry_after,
    status_error_for,
)
from flxtrd._log import get_logger, redact, redact_url, register_secret
from flxtrd._retry import is_certificate_error
from flxtrd._validation import require_optional_wait, require_wait

__all__ = [
    "STREAM_PATHS",
    "AsyncTokenSource",
    "MarketEvent",
    "MarketModel",
    "ReconnectPolicy",
    "StreamHandshakeError",
    "StreamKind",
    "StreamStats",
    "TokenSource",
    "TradeModel",
]

_logger = get_logger("streams")

_EXCERPT = 120

# --- Public types ------------------------------------------------------------------------------

StreamKind: TypeAlias = Literal["trade", "ticker", "orderbook"]
#: The models the ``trade`` stream yields.
TradeModel: TypeAlias = OrderStatusUpdate | ContractStatusUpdate
#: Any model a stream yields (``Control`` messages are never yielded).
MarketModel: TypeAlias = OrderStatusUpdate | ContractStatusUpdate | Ticker | Orderbook

M = TypeVar("M", covariant=True)


@dataclass(frozen=True)
class _StreamSpec:
    """What one stream kind is: its path, the models it carries and their ``type`` tags."""

    kind: str
    path: str
    decoder: msgspec.json.Decoder[Any]
    tags: frozenset[str]


def _spec(kind: str, *models: type[msgspec.Struct]) -> _StreamSpec:
    """Build the spec of a stream that carries ``Control`` and ``models``."""
    classes: tuple[type[msgspec.Struct], ...] = (Control, *models)
    union: Any = functools.reduce(operator.or_, classes)
    tags = frozenset(cast(str, m.__struct_config__.tag) for m in classes)
    return _StreamSpec(kind, f"/api/v1/ws/{kind}/", msgspec.json.Decoder(union), tags)


_SPECS: dict[str, _StreamSpec] = {
    "trade": _spec("trade", OrderStatusUpdate, ContractStatusUpdate),
    "ticker": _spec("ticker", Ticker),
    "orderbook": _spec("orderbook", Orderbook),
}
#: The URL path of each stream kind.
STREAM_PATHS: dict[str, str] = {kind: spec.path for kind, spec in _SPECS.items()}
_CONTROL_DECODER = msgspec.json.Decoder(Control)


@dataclass(frozen=True)
class MarketEvent(Generic[M]):
    """One typed message from a market stream, with the raw frame and its arrival time (UTC)."""

    kind: str
    model: M
    raw: str | bytes = field(repr=False)
    received_at: datetime


@dataclass
class StreamStats:
    """Live counters of one subscription."""

    received: int = 0
    """Frames received, the handshake control messages included."""
    delivered: int = 0
    """Events yielded to the caller."""
    rejected: int = 0
    """Frames skipped because they did not decode (``unknown`` ones included)."""
    unknown: int = 0
    """Rejected frames whose ``type`` this stream does not carry."""
    controls: int = 0
    """Control messages after the handshake."""
    connects: int = 0
    """Successful handshakes (the first connect and every reconnect)."""
    reconnects: int = 0
    """Successful handshakes after the first."""
    token_refreshes: int = 0
    """Token refreshes the stream asked for after a 401/403 or an auth close code."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """Backoff and bounds for reconnecting a stream; see the module docstring for the rules."""

    max_attempts: int | None = DEFAULT_STREAM_MAX_ATTEMPTS
    initial_delay: float = DEFAULT_STREAM_INITIAL_DELAY_S
    max_delay: float = DEFAULT_STREAM_MAX_DELAY_S
    multiplier: float = DEFAULT_STREAM_MULTIPLIER
    jitter: float = DEFAULT_STREAM_JITTER
    stable_after: float = DEFAULT_STREAM_STABLE_AFTER_S

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 0:
            raise FlexValidationError("max_attempts", "must be >= 0 or None", self.max_attempts)
        require_wait("initial_delay", self.initial_delay)
        require_wait("max_delay", self.max_delay)
        if self.max_delay < self.initial_delay:
            raise FlexValidationError("max_delay", "must be >= initial_delay", self.max_delay)
        multiplier = self.multiplier
        if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)):
            raise FlexValidationError("multiplier", "must be a finite number >= 1", multiplier)
        if not (math.isfinite(multiplier) and multiplier >= 1):
            raise FlexValidationError("multiplier", "must be a finite number >= 1", multiplier)
        if not 0.0 <= self.jitter <= 1.0:  # NaN fails too
            raise FlexValidationError("jitter", "must be between 0 and 1", self.jitter)
        require_wait("stable_after", self.stable_after)

    @property
    def backoff(self) -> Backoff:
        """The backoff this policy waits by (``flxtrd._backoff``, shared with REST retries)."""
        return Backoff(self.initial_delay, self.max_delay, self.multiplier, self.jitter)

    def bounds(self, attempt: int) -> tuple[float, float]:
        """The shortest and longest wait before retry ``attempt`` (1-based)."""
        return self.backoff.bounds(attempt - 1)

    def delay(self, attempt: int, random_fraction: float) -> float:
        """The wait before retry ``attempt`` (1-based) for a ``random_fraction`` in [0, 1)."""
        return self.backoff.delay(attempt - 1, random_fraction)


@runtime_checkable
class TokenSource(Protocol):
    """Where a stream gets its bearer token; the client's OAuth2 auth implements it.

    ``token()`` returns the current access token and should itself renew one that is about to
    expire; ``refresh()`` obtains a new one (refresh-token grant or a new login) and returns it.
    A plain ``Callable[[], str]`` works too; when it has a ``refresh()`` or ``invalidate()``
    attribute the stream calls it before asking again.
    """

    def token(self) -> str:
        """Return the current access token."""
        ...

    def refresh(self) -> str:
        """Obtain a new access token and return it."""
        ...


@runtime_checkable
class AsyncTokenSource(Protocol):
    """The async twin of :class:`TokenSource`, accepted by :class:`AsyncMarketStream`."""

    async def token(self) -> str:
        """Return the current access token."""
        ...

    async def refresh(self) -> str:
        """Obtain a new access token and return it."""
        ...


TokenProvider: TypeAlias = str | TokenSource | Callable[[], str]
AsyncTokenProvider: TypeAlias = (
    str | TokenSource | AsyncTokenSource | Callable[[], str] | Callable[[], Awaitable[str]]
)
InvalidHook: TypeAlias = Callable[[str | bytes, MessageDecodeError], object]
ControlHook: TypeAlias = Callable[[Control], object]

# --- The shared core: tokens, URL, decoding, handshake, reconnect decisions -------------------


class _Tokens:
    """The token provider, normalised: how to get one, how to refresh one, the last one seen."""

    def __init__(self, provider: object) -> None:
        self.static: str | None = None
        self.get: Callable[[], object]
        self.refresh: Callable[[], object] | None = None
        self.invalidate: Callable[[], object] | None = None
        if isinstance(provider, str):
            self.static = self._check(provider)
            self.get = lambda: provider
        elif callable(token_method := getattr(provider, "token", None)):
            self.get = token_method
            self._hooks(provider)
        elif callable(provider):
            self.get = provider
            self._hooks(provider)
        else:
            raise ConfigurationError(
                "token_provider must be a token string, a TokenSource or a callable returning a"
                f" token, not {type(provider).__name__}"
            )
        self.current: str | None = None

    def _hooks(self, provider: object) -> None:
        refresh = getattr(provider, "refresh", None)
        invalidate = getattr(provider, "invalidate", None)
        self.refresh = refresh if callable(refresh) else None
        self.invalidate = invalidate if callable(invalidate) else None

    @property
    def refreshable(self) -> bool:
        """False for a static token string: a rejected one cannot be replaced."""
        return self.static is None

    @staticmethod
    def _check(token: object) -> str:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError(
                "the token provider returned no token (expected a non-empty str, got"
                f" {type(token).__name__})"
            )
        return token

    def accept(self, token: object) -> str:
        """Validate a token that was just obtained, register it as a secret, remember it."""
        value = self._check(token)
        register_secret(value)
        self.current = value
        return value


def _sync_value(value: object, what: str) -> object:
    """Return ``value``; refuse an awaitable (an async token source given to the sync stream)."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise ConfigurationError(
            f"the token provider's {what}() is async; use AsyncMarketStream with it"
        )
    return value


async def _async_value(value: object, what: str = "") -> object:
    """Await ``value`` if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


@dataclass(frozen=True)
class _Attempt:
    """The plan for the next connect attempt."""

    delay: float
    refresh: bool


class _Drop(Exception):
    """The connection ended while reading (server close, network error, local close)."""


class _ReceiveTimeout(Exception):
    """No frame arrived within the timeout."""


def _leaf(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (anyio wraps task-group failures), else ``exc``."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, (list, tuple)) or not inner:
            return exc
        exc = inner[0]


def _excerpt(raw: str | bytes) -> str:
    """A short, redacted rendering of a frame for error messages."""
    shown = raw if isinstance(raw, str) else repr(raw)
    if len(shown) > _EXCERPT:
        shown = shown[: _EXCERPT - 3] + "..."
    return redact(shown)


def _describe(exc: BaseException) -> str:
    """A one-line, redacted description of a connection failure for messages and logs."""
    exc = _leaf(exc)
    if isinstance(exc, WebSocketDisconnect):
        reason = f" {exc.reason!r}" if exc.reason else ""
        return f"closed by the server (code {exc.code}{reason})"
    if isinstance(exc, WebSocketUpgradeError):
        return f"upgrade rejected with HTTP {exc.response.status_code}"
    if isinstance(exc, WebSocketNetworkError):
        return "network error or keepalive ping timeout"
    if isinstance(exc, FlexError):
        return redact(str(exc))
    text = str(exc)
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _ws_url(base_url: str | httpx.URL, path: str) -> str:
    """``https://host/prefix`` + ``/api/v1/ws/x/`` -> ``wss://host/prefix/api/v1/ws/x/``."""
    try:
        url = httpx.URL(str(base_url))
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {redact_url(str(base_url))}") from exc
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(url.scheme)
    if scheme is None or not url.host:
        raise ConfigurationError(
            f"base_url must be an http(s):// or ws(s):// URL with a host, got"
            f" {redact_url(str(base_url))!r}"
        )
    prefix = url.path.rstrip("/")
    return str(url.copy_with(scheme=scheme, path=prefix + path, query=None, fragment=None))


class _SubscriptionCore:
    """Everything about one subscription except I/O: URL, decode, handshake, retry decisions."""

    def __init__(self, config: _StreamConfig, spec: _StreamSpec) -> None:
        self.config = config
        self.spec = spec
        self.kind = spec.kind
        self.url = _ws_url(config.base_url, spec.path)
        self.shown_url = redact_url(self.url)
        self.stats = StreamStats()
        self.policy = config.policy
        self._started = False
        self._failures = 0
        self._immediate = False
        self._refresh_due = False
        self._refreshed_since_connect = False
        self._auth_error: FlexStatusError | None = None
        self._retry_after: float | None = None
        self._last_error: BaseException | None = None
        self._connected_at = 0.0
        self._delivered_on_connection = 0

    # -- connecting --------------------------------------------------------------------------

    def plan(self) -> _Attempt:
        """Decide the wait before the next connect attempt, or give up (raises)."""
        if not self._started:
            self._started = True
            return _Attempt(0.0, self._refresh_due)
        limit = self.policy.max_attempts
        if limit is not None and self._failures > limit:
            last = self._last_error
            cause = f": {_describe(last)}" if last is not None else ""
            raise FlexConnectionError(
                f"{self.kind} stream: gave up after {limit} reconnect attempts{cause}"
            ) from last
        if self._immediate:
            delay = 0.0
        else:
            delay = self.policy.delay(self._failures, self.config.random())
            if self._retry_after is not None:
                delay = max(delay, min(self._retry_after, self.policy.max_delay))
        self._immediate = False
        self._retry_after = None
        if _logger.isEnabledFor(logging.INFO):
            of = f" of {limit}" if limit is not None else ""
            _logger.info(
                "%s stream: reconnect attempt %d%s in %.3f s%s",
                self.kind,
                self._failures,
                of,
                delay,
                " with a refreshed token" if self._refresh_due else "",
            )
        return _Attempt(delay, self._refresh_due)

    def headers(self, token: str) -> dict[str, str]:
        """The upgrade request's headers."""
        return {"Authorization": f"Bearer {token}"}

    def token_refreshed(self, old: str | None, new: str) -> None:
        """Record a refresh; raise the pending auth error when it produced the same token."""
        self._refresh_due = False
        self._refreshed_since_connect = True
        self.stats.token_refreshes += 1
        if old is not None and new == old:
            error = self._auth_error
            self._auth_error = None
            if error is not None:
                raise error
            raise AuthenticationError(
                401, message=f"{self.kind} stream: the token was refused and could not be renewed"
            )

    def check_handshake(self, raw: str | bytes) -> None:
        """Require the first message to be ``control``/``success``; raise otherwise."""
        self.stats.received += 1
        try:
            control = _CONTROL_DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            raise StreamHandshakeError(
                f"{self.kind} stream: expected a control message first, got {_excerpt(raw)!r}"
                f" ({exc})",
                kind=self.kind,
            ) from exc
        if control.status is not ControlStatus.success:
            text = redact(control.data.message)
            raise StreamHandshakeError(
                f"{self.kind} stream: the server refused the subscription: {text}",
                kind=self.kind,
                server_message=text,
            )

    def on_connected(self) -> None:
        """A handshake succeeded."""
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self._refreshed_since_connect = False
        self._auth_error = None
        self._connected_at = self.config.clock()
        self._delivered_on_connection = 0
        _logger.info("%s stream: connected to %s", self.kind, self.shown_url)

    def on_connect_failure(self, exc: Exception) -> None:
        """Record a failed connect attempt; raise (translated) when it must not be retried."""
        leaf = _leaf(exc)
        if isinstance(leaf, FlexError) and not isinstance(leaf, FlexConnectionError):
            raise leaf
        if isinstance(leaf, StreamHandshakeError):
            raise leaf
        if is_certificate_error(leaf):  # another attempt cannot change the certificate
            raise FlexConnectionError(
                f"{self.kind} stream: TLS certificate verification failed ({_describe(leaf)});"
                " connect with an httpx client that trusts the CA (verify=...), or verify=False"
                " for a self-signed development server"
            ) from leaf
        self._failures += 1
        self._last_error = exc
        if isinstance(leaf, WebSocketUpgradeError):
            status = leaf.response.status_code
            error = status_error_for(status, leaf.response)
            self._last_error = error
            if status in _AUTH_STATUSES:
                self._auth_rejected(error, leaf)
                return
            if status not in _RETRY_STATUSES:
                raise error from leaf
            self._retry_after = parse_retry_after(leaf.response.headers)
        elif isinstance(leaf, WebSocketDisconnect) and leaf.code in _AUTH_CLOSE_CODES:
            error = AuthenticationError(
                401, message=f"{self.kind} stream: {_describe(leaf)} before the handshake"
            )
            self._last_error = error
            self._auth_rejected(error, leaf)
            return
        elif isinstance(leaf, _ReceiveTimeout):
            self._last_error = FlexTimeoutError(
                f"{self.kind} stream: no control message within {self.config.handshake_timeout:g} s"
            )
        _logger.warning("%s stream: connect failed: %s", self.kind, _describe(self._last_error))

    def _auth_rejected(self, error: FlexStatusError, cause: BaseException) -> None:
        """401/403: refresh and retry at once, unless a refresh was already tried."""
        if self._refreshed_since_connect or not self.config.tokens.refreshable:
            raise error from cause
        self._auth_error = error
        self._refresh_due = True
        self._immediate = True
        _logger.info(
            "%s stream: %s; refreshing the token and reconnecting", self.kind, _describe(cause)
        )

    def on_drop(self, exc: BaseException) -> None:
        """A live connection ended; plan the reconnect."""
        healthy = (
            self._delivered_on_connection > 0
            or self.config.clock() - self._connected_at >= self.policy.stable_after
        )
        self._failures = 1 if healthy else self._failures + 1
        self._last_error = exc
        leaf = _leaf(exc)
        if (
            isinstance(leaf, WebSocketDisconnect)
            and leaf.code in _AUTH_CLOSE_CODES
            and self.config.tokens.refreshable
        ):
            self._refresh_due = True
        _logger.warning("%s stream: connection lost: %s", self.kind, _describe(exc))

    # -- receiving ---------------------------------------------------------------------------

    def receive_timeout_error(self) -> FlexTimeoutError:
        """The error raised when no event arrived within ``receive_timeout``."""
        return FlexTimeoutError(
            f"{self.kind} stream: no event within {self.config.receive_timeout:g} s"
        )

    def decode(self, raw: str | bytes) -> MarketEvent[Any] | None:
        """Decode one frame into an event; ``None`` for control and rejected frames."""
        self.stats.received += 1
        try:
            model = self.spec.decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeError) as exc:
            # Hostile frames also nest past the recursion limit or are not UTF-8: skip them too.
            self._reject(raw, exc)
            return None
        if isinstance(model, Control):
            self._control(model)
            return None
        self.stats.delivered += 1
        self._delivered_on_connection += 1
        received_at = datetime.fromtimestamp(self.config.wall_clock(), tz=UTC)
        return MarketEvent(self.kind, model, raw, received_at)

    def _reject(self, raw: str | bytes, exc: Exception) -> None:
        self.stats.rejected += 1
        type_tag = _peek_type(raw)
        if type_tag is not None and type_tag not in self.spec.tags:
            self.stats.unknown += 1
            what = f"unknown message type {type_tag[:_EXCERPT]!r} on the {self.kind} stream"
        else:
            what = f"invalid message on the {self.kind} stream: {exc}"
        error = MessageDecodeError(redact(what))
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("%s; skipped: %s", error, _excerpt(raw))
        hook = self.config.on_invalid
        if hook is not None:
            try:
                hook(raw, error)
            except Exception:
                _logger.exception("%s stream: the on_invalid hook raised", self.kind)

    def _control(self, control: Control) -> None:
        self.stats.controls += 1
        if control.status is ControlStatus.success:
            _logger.debug("%s stream: control: %s", self.kind, redact(control.data.message))
        else:
            _logger.warning("%s stream: control error: %s", self.kind, redact(control.data.message))
        hook = self.config.on_control
        if hook is not None:
            try:
                hook(control)
            except Exception:
                _logger.exception("%s stream: the on_control hook raised", self.kind)


def _peek_type(raw: str | bytes) -> str | None:
    """The ``type`` of a JSON object frame, if it has a string one."""
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return None
    if isinstance(value, dict):
        tag = value.get("type")
        if isinstance(tag, str):
            return tag
    return None


@dataclass
class _StreamConfig:
    """The settings every subscription of one stream object shares."""

    base_url: str
    tokens: _Tokens
    policy: ReconnectPolicy
    receive_timeout: float | None
    handshake_timeout: float
    keepalive_interval: float | None
    keepalive_timeout: float | None
    queue_size: int
    on_invalid: InvalidHook | None
    on_control: ControlHook | None
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    random: Callable[[], float]


def _make_config(
    base_url: str | httpx.URL,
    token_provider: object,
    *,
    reconnect: ReconnectPolicy | None,
    receive_timeout: float | None,
    handshake_timeout: float,
    keepalive_interval: float | None,
    keepalive_timeout: float | None,
    queue_size: int,
    on_invalid: InvalidHook | None,
    on_control: ControlHook | None,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    rng: Callable[[], float] | None,
) -> _StreamConfig:
    """Validate the constructor arguments shared by both stream classes."""
    base = str(base_url)
    _ws_url(base, "/")  # fail early on a bad URL
    receive_timeout = require_optional_wait("receive_timeout", receive_timeout, positive=True)
    handshake_timeout = require_wait("handshake_timeout", handshake_timeout, positive=True)
    keepalive_interval = require_optional_wait(
        "keepalive_interval", keepalive_interval, positive=True, none_means="no pings"
    )
    keepalive_timeout = require_optional_wait(
        "keepalive_timeout", keepalive_timeout, positive=True, none_means="no pong limit"
    )
    if queue_size < 1:
        raise FlexValidationError("queue_size", "must be >= 1", queue_size)
    return _StreamConfig(
        base_url=base,
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


def _check_kind(kind: str) -> _StreamSpec:
    spec = _SPECS.get(kind)
    if spec is None:
        raise FlexValidationError("kind", f"must be one of {sorted(_SPECS)}", kind)
    return spec


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
        self._config = _make_config(
            base_url,
            token_provider,
            reconnect=reconnect,
            receive_timeout=receive_timeout,
            handshake_timeout=handshake_timeout,
            keepalive_interval=keepalive_interval,
            keepalive_timeout=keepalive_timeout,
            queue_size=queue_size,
            on_invalid=on_invalid,
            on_control=on_control,
            clock=clock,
            wall_clock=wall_clock,
            rng=rng,
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
