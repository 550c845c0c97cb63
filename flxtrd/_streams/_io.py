"""The socket side of the WebSocket streams: one sync and one async connection, and waits.

What cannot be written once for both stream clients lives here: the sync connection (httpx-ws
runs the socket in background threads; a cross-thread ``close()`` wakes a blocked receive) and
the async one (each connection runs in its own task, so a session's task group never spans the
caller's code), opening them, and the interruptible backoff wait. The subscriptions and streams
above (``_streams._async_stream`` and the sync ``_streams._stream`` generated from it) call only
these functions, so their logic is written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

import httpx
import wsproto.events
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketSession,
    aconnect_ws,
    connect_ws,
)

from flxtrd._log import get_logger
from flxtrd._streams._failures import _describe, _Drop, _leaf, _ReceiveTimeout
from flxtrd._streams._settings import _StreamConfig

__all__ = [
    "_AsyncConnection",
    "_SyncConnection",
    "async_enter_client",
    "async_open_connection",
    "async_sleep_for",
    "enter_client",
    "open_connection",
    "sleep_for",
]

_logger = get_logger("streams")

_OPEN = object()
_CLOSED = object()


def _frame(event: wsproto.events.Event) -> str | bytes | None:
    """The payload of a text or bytes message event, else ``None``."""
    if isinstance(event, wsproto.events.TextMessage):
        return event.data
    if isinstance(event, wsproto.events.BytesMessage):
        return bytes(event.data)
    return None


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

    def wake(self) -> None:
        """Nothing to wake: :meth:`close` ends a waiting receive (kept for the sync twin)."""

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


def open_connection(
    config: _StreamConfig, client: httpx.Client, url: str, headers: dict[str, str]
) -> _SyncConnection:
    """Upgrade to a WebSocket session on ``client`` (raises why not; nothing left open)."""
    stack = ExitStack()
    try:
        session: WebSocketSession = stack.enter_context(
            connect_ws(
                url,
                client,
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


async def async_open_connection(
    config: _StreamConfig, client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> _AsyncConnection:
    """Async :func:`open_connection`: the session runs in its own task."""
    conn = _AsyncConnection(config, client)
    try:
        await conn.open(url, headers)
    except BaseException:
        await conn.close()
        raise
    return conn


def sleep_for(delay: float, stop: threading.Event, sleep: Callable[[float], None] | None) -> None:
    """The backoff wait: ``sleep`` if one was injected, else a wait ``stop`` ends early."""
    if sleep is not None:
        sleep(delay)
    else:
        stop.wait(delay)


async def async_sleep_for(
    delay: float, stop: asyncio.Event, sleep: Callable[[float], Awaitable[None]] | None
) -> None:
    """Async :func:`sleep_for`."""
    if sleep is not None:
        await sleep(delay)
    else:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


def enter_client(client: httpx.Client) -> bool:
    """Entering a sync stream leaves its client as it is (it opens on the first request)."""
    return False


async def async_enter_client(client: httpx.AsyncClient) -> bool:
    """Enter a client the async stream built, which enters its transport (an ASGI test
    transport needs that); True, so closing the stream exits it."""
    await client.__aenter__()
    return True
