"""The embedded sandbox: the whole market in this process, no services (``sandbox://``).

`EmbeddedSandbox` holds a `SandboxMarket`, its ASGI app (`_app.create_app`), the expiry timer
and the broker worker on ``memory://`` (kombu's in-process transport, which every kombu
connection of the process shares). `embedded_sandbox()` is the process-wide one, started on first
use; the client's ``sandbox://`` URL reaches it through:

- `embedded_transport()`: a SYNC ``httpx.BaseTransport`` for ``httpx.Client`` (REST and, through
  httpx-ws, the WebSocket streams);
- `embedded_async_transport()`: an ``httpx.AsyncBaseTransport`` for ``httpx.AsyncClient`` (REST
  and, once the client is entered, the WebSocket streams).

Why a bridge
------------
httpx can run an ASGI app in-process only from async code (``httpx.ASGITransport``). The sync
transport therefore forwards each request to one event loop running in a daemon thread
(``asyncio.run_coroutine_threadsafe``) and waits for the answer: requests of any number of
threads share the loop (and so the app, whose WebSocket streams live there). A WebSocket upgrade
returns a network stream whose ``read``/``write``/``close`` are forwarded the same way, so
httpx-ws's sync session works on it unchanged. The thread is a daemon: a process exits without
closing the sandbox.

httpx-ws's in-process transport does not answer WebSocket pings (its stream raises on them) and
does not advertise the ASGI WebSocket denial-response extension it implements; the transport
here adds both, so the streams client's keep-alive and its 401 handling work embedded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpcore
import httpx
import wsproto
import wsproto.events
from httpx_ws.transport import (
    ASGIWebSocketAsyncNetworkStream,
    ASGIWebSocketTransport,
    UnhandledASGIMessageType,
    UnhandledWebSocketEvent,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from ._accounts import DEFAULT_ACCESS_LIFETIME_S, DEFAULT_REFRESH_LIFETIME_S
from ._app import RateLimit, create_app
from ._market import DEFAULT_EXPIRY_INTERVAL_S, SandboxMarket

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "EmbeddedSandbox",
    "embedded_async_transport",
    "embedded_sandbox",
    "embedded_transport",
    "market_from_env",
    "reset_embedded_sandbox",
]

_logger = logging.getLogger("flxtrd.sandbox")
T = TypeVar("T")

ENV_SEED = "FLXTRD_SANDBOX_SEED"
"""The embedded sandbox's seed (default 0)."""
ENV_ACCOUNTS = "FLXTRD_SANDBOX_ACCOUNTS"
"""Path of an accounts file (JSON or TOML): the embedded sandbox's accounts become strict."""
ENV_TOKEN_LIFETIME = "FLXTRD_SANDBOX_TOKEN_LIFETIME_S"
"""Lifetime of the embedded sandbox's OAuth2 access tokens, s (default 300)."""


# --------------------------------------------------------------------------------------------
# In-process WebSocket transport that answers pings and may deny upgrades


class _PingAnsweringStream(ASGIWebSocketAsyncNetworkStream):
    """httpx-ws's in-process WebSocket stream, answering the client's pings with pongs."""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Feed client bytes to the app; answer pings instead of raising on them."""
        self.connection.receive_data(buffer)
        for event in self.connection.events():
            if isinstance(event, wsproto.events.Ping):
                await self.send_pong(event.payload)
            elif isinstance(event, wsproto.events.Pong):
                continue
            elif isinstance(event, wsproto.events.CloseConnection):
                await self.send(
                    {"type": "websocket.disconnect", "code": event.code, "reason": event.reason}
                )
            elif isinstance(event, wsproto.events.TextMessage):
                await self.send({"type": "websocket.receive", "text": event.data})
            elif isinstance(event, wsproto.events.BytesMessage):
                await self.send({"type": "websocket.receive", "bytes": event.data})
            elif not isinstance(event, wsproto.events.Request):
                raise UnhandledWebSocketEvent(event)

    async def send_pong(self, payload: bytes) -> None:
        """Queue a pong for the client (it travels with the app's messages)."""
        await self._send_queue.send({"type": "flxtrd.pong", "payload": bytes(payload)})

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """The next bytes for the client: a pong, or an app message as httpx-ws encodes it."""
        message = await self.receive(timeout=timeout)
        kind = message["type"]
        event: wsproto.events.Event
        if kind == "flxtrd.pong":
            event = wsproto.events.Pong(message["payload"])
        elif kind == "websocket.send":
            text = message.get("text")
            if text is not None:
                event = wsproto.events.TextMessage(text)
            else:
                event = wsproto.events.BytesMessage(message.get("bytes") or b"")
        elif kind == "websocket.close":
            event = wsproto.events.CloseConnection(message["code"], message.get("reason"))
        else:
            raise UnhandledASGIMessageType(message)
        return self.connection.send(event)


class EmbeddedWebSocketTransport(ASGIWebSocketTransport):
    """httpx-ws's ASGI transport with pongs and the denial-response extension (module doc)."""

    def __init__(self, app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(app=_with_denial_extension(app), **kwargs)

    async def _handle_ws_request(
        self, request: httpx.Request, scope: dict[str, Any]
    ) -> httpx.Response:
        """Open the in-process WebSocket for ``scope`` (passed along, not kept on ``self``).

        httpx-ws keeps the scope on the transport between two awaits, so two upgrades at once
        could swap scopes (a trade stream opened as a ticker stream); here each gets its own.
        """
        stream, accept = await self._task_group.start(functools.partial(self._open, scope))
        lines = accept.decode("utf-8").splitlines()
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line.strip()]
        return httpx.Response(
            status_code=101,
            headers=headers,
            extensions={"network_stream": stream},
        )

    async def _open(
        self,
        scope: dict[str, Any],
        *,
        task_status: anyio.abc.TaskStatus[tuple[ASGIWebSocketAsyncNetworkStream, bytes]],
    ) -> None:
        stream = _PingAnsweringStream(
            self.app,  # type: ignore[arg-type]
            scope,
            self._task_group,
            self._initial_receive_timeout,
        )
        assert self._exit_stack is not None
        result = await self._exit_stack.enter_async_context(stream)
        task_status.started(result)


def _with_denial_extension(app: ASGIApp) -> ASGIApp:
    """``app`` seeing WebSocket scopes that advertise ``websocket.http.response``."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            extensions = dict(scope.get("extensions") or {})
            extensions.setdefault("websocket.http.response", {})
            scope = {**scope, "extensions": extensions}
        await app(scope, receive, send)

    return wrapped


# --------------------------------------------------------------------------------------------
# The sync bridge


class _LoopThread:
    """An asyncio event loop running forever in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (``TimeoutError`` after ``timeout``)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("the embedded sandbox cannot be called from its own event loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None

    def stop(self) -> None:
        """Stop the loop and wait for the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class _SyncNetworkStream(httpcore.NetworkStream):
    """A sync view of an in-process WebSocket stream living on the bridge's loop."""

    def __init__(self, runner: _LoopThread, stream: ASGIWebSocketAsyncNetworkStream) -> None:
        self._runner = runner
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Bytes from the app; ``b""`` once the stream is closed."""
        try:
            return self._runner.call(self._stream.read(max_bytes, timeout))
        except (anyio.EndOfStream, anyio.ClosedResourceError, RuntimeError):
            return b""
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Bytes to the app."""
        try:
            self._runner.call(self._stream.write(buffer, timeout))
        except (anyio.EndOfStream, anyio.ClosedResourceError) as exc:
            raise httpcore.WriteError("the WebSocket is closed") from exc

    def close(self) -> None:
        """Disconnect from the app."""
        with contextlib.suppress(Exception):
            self._runner.call(self._stream.aclose(), 5)

    def get_extra_info(self, info: str) -> Any:
        """No socket details in-process."""
        return None


class SyncASGIBridge(httpx.BaseTransport):
    """A sync httpx transport running an ASGI app on a `_LoopThread` (REST and WebSockets).

    ``close()`` does not stop the shared loop (the `EmbeddedSandbox` owns it).
    """

    def __init__(
        self, runner: _LoopThread, http: httpx.AsyncBaseTransport, ws: EmbeddedWebSocketTransport
    ) -> None:
        self._runner = runner
        self._http = http
        self._ws = ws

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward ``request`` to the app on the loop and return its buffered response."""
        body = request.read()
        forwarded = httpx.Request(
            request.method,
            request.url,
            headers=request.headers,
            content=body,
            extensions=request.extensions,
        )
        timeouts = request.extensions.get("timeout", {})
        timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
        try:
            if _is_upgrade(request):
                return self._upgrade(forwarded)
            return self._runner.call(self._exchange(forwarded), timeout)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("the embedded sandbox did not answer", request=request) from exc

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        response = await self._http.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            extensions=response.extensions,
        )

    def _upgrade(self, request: httpx.Request) -> httpx.Response:
        response = self._runner.call(self._ws.handle_async_request(request))
        stream = response.extensions.get("network_stream")
        if not isinstance(stream, ASGIWebSocketAsyncNetworkStream):  # pragma: no cover
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            extensions={"network_stream": _SyncNetworkStream(self._runner, stream)},
        )


def _is_upgrade(request: httpx.Request) -> bool:
    return request.url.scheme in ("ws", "wss") or request.headers.get("upgrade") == "websocket"


# --------------------------------------------------------------------------------------------
# The embedded sandbox


class EmbeddedSandbox:
    """A market, its app, expiry timer and ``memory://`` broker worker, all in this process.

    ``market`` defaults to a permissive `SandboxMarket` (wall clock, ``seed``); ``broker``
    starts the broker worker (if ``flxtrd.sandbox._broker`` is available); ``expiry_interval_s``
    (None: off) drives expiry on the wall clock.
    """

    def __init__(
        self,
        market: SandboxMarket | None = None,
        *,
        seed: int = 0,
        rate_limit: RateLimit | None = None,
        broker: bool = True,
        broker_url: str = "memory://",
        expiry_interval_s: float | None = DEFAULT_EXPIRY_INTERVAL_S,
    ) -> None:
        self.market = market if market is not None else SandboxMarket(seed=seed)
        self.app: Starlette = create_app(self.market, rate_limit=rate_limit)
        self.broker_url = broker_url
        self._want_broker = broker
        self._expiry_interval_s = expiry_interval_s
        self._lock = threading.Lock()
        self._runner: _LoopThread | None = None
        self._ws: EmbeddedWebSocketTransport | None = None
        self._http: httpx.ASGITransport | None = None
        self._hold: concurrent.futures.Future[None] | None = None
        self._release: asyncio.Event | None = None
        self.broker: Any = None
        """The running broker worker (`flxtrd.sandbox._broker.BrokerWorker`), if any."""

    def start(self) -> EmbeddedSandbox:
        """Start the loop thread, the expiry timer and the broker worker (idempotent)."""
        with self._lock:
            if self._runner is not None:
                return self
            runner = _LoopThread("flxtrd-sandbox-loop")
            self._http = httpx.ASGITransport(app=self.app)
            self._ws = EmbeddedWebSocketTransport(self.app)
            entered: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._hold = asyncio.run_coroutine_threadsafe(self._hold_ws(entered), runner.loop)
            entered.result(10)
            self._runner = runner
            if self._expiry_interval_s is not None:
                self.market.start_expiry_timer(self._expiry_interval_s)
            if self._want_broker:
                self.broker = self._start_broker()
            return self

    async def _hold_ws(self, entered: concurrent.futures.Future[None]) -> None:
        """Keep the WebSocket transport entered (its task group open) until `close`."""
        assert self._ws is not None
        self._release = asyncio.Event()
        async with self._ws:
            entered.set_result(None)
            await self._release.wait()

    def _start_broker(self) -> Any:
        """The broker worker on ``broker_url``, started; None if the broker is not available."""
        try:
            from ._broker import BrokerWorker
        except ImportError:  # pragma: no cover - the broker ships with the package
            _logger.warning("flxtrd.sandbox._broker is missing: the embedded sandbox has no broker")
            return None
        worker = BrokerWorker(self.market, self.broker_url)
        worker.start()
        return worker

    def transport(self) -> httpx.BaseTransport:
        """A sync transport to the app (REST and WebSockets); starts the sandbox."""
        self.start()
        assert self._runner is not None and self._http is not None and self._ws is not None
        return SyncASGIBridge(self._runner, self._http, self._ws)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """An async transport to the app (REST; WebSockets once entered); starts the sandbox."""
        self.start()
        return EmbeddedWebSocketTransport(self.app)

    def close(self) -> None:
        """Stop the broker worker, the expiry timer and the loop thread."""
        with self._lock:
            runner, self._runner = self._runner, None
            broker, self.broker = self.broker, None
        if broker is not None:
            broker.stop()
        self.market.stop_expiry_timer()
        if runner is None:
            return
        release = self._release
        if release is not None:
            runner.loop.call_soon_threadsafe(release.set)
        if self._hold is not None:
            with contextlib.suppress(Exception):
                self._hold.result(5)
        runner.stop()

    def __enter__(self) -> EmbeddedSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


_sandbox: EmbeddedSandbox | None = None
_sandbox_lock = threading.Lock()


def market_from_env(env: Mapping[str, str] | None = None) -> SandboxMarket:
    """A wall-clock market configured by ``FLXTRD_SANDBOX_SEED``, ``FLXTRD_SANDBOX_ACCOUNTS``
    and ``FLXTRD_SANDBOX_TOKEN_LIFETIME_S`` (all optional; ValueError for unusable values)."""
    environ = os.environ if env is None else env
    try:
        seed = int(environ.get(ENV_SEED) or 0)
        lifetime = int(environ.get(ENV_TOKEN_LIFETIME) or DEFAULT_ACCESS_LIFETIME_S)
    except ValueError as exc:
        raise ValueError(f"{ENV_SEED} and {ENV_TOKEN_LIFETIME} must be integers: {exc}") from None
    return SandboxMarket.configured(
        seed=seed,
        accounts_file=environ.get(ENV_ACCOUNTS) or None,
        access_lifetime_s=lifetime,
        refresh_lifetime_s=max(lifetime, DEFAULT_REFRESH_LIFETIME_S),
    )


def embedded_sandbox() -> EmbeddedSandbox:
    """The process-wide embedded sandbox, made and started on first use.

    Its market comes from the environment (`market_from_env`): wall clock, seed 0, permissive
    accounts and 300 s access tokens unless ``FLXTRD_SANDBOX_*`` says otherwise.
    """
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            _sandbox = EmbeddedSandbox(market_from_env())
        sandbox = _sandbox
    return sandbox.start()


def reset_embedded_sandbox() -> None:
    """Close the process-wide embedded sandbox; the next use starts a fresh one."""
    global _sandbox
    with _sandbox_lock:
        sandbox, _sandbox = _sandbox, None
    if sandbox is not None:
        sandbox.close()


def embedded_transport() -> httpx.BaseTransport:
    """A sync httpx transport to the process-wide embedded sandbox (``sandbox://``)."""
    return embedded_sandbox().transport()


def embedded_async_transport() -> httpx.AsyncBaseTransport:
    """An async httpx transport to the process-wide embedded sandbox (``sandbox://``)."""
    return embedded_sandbox().async_transport()
