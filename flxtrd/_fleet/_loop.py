"""One I/O loop for many devices: every device's py-amqp connection on one selector, one thread.

Why not one :class:`~flxtrd.AmpqAPI` driven per thread: a thread per device is what the issue
forbids (1,000 devices would be 1,000 threads, each with its stack and GIL hand-offs). Each
device still has its own :class:`~flxtrd.AmpqAPI` (its own login, exclusive reply queue,
publisher-confirm channel, encoder, validation, reconnect and in-doubt rules: nothing is written
twice), but nobody blocks in it. The loop publishes through its private pipeline (frames built
by ``_PublishFrames``, buffered until the next flush), then waits on all the sockets at once
(``selectors``) and lets each readable device read what arrived without waiting
(``AmpqAPI._pump``), which settles confirms and routes replies to the device's ``on_message``.

Connecting is blocking in py-amqp (TCP + the AMQP handshake + declarations); it is done by a
short-lived pool of ``connect_concurrency`` threads that ends when every device has connected or
failed, so a 1,000-device fleet never has more than that many extra threads, and none after.

``memory://`` devices (the embedded sandbox) have no socket: the loop reads them in turn, briefly.
"""

from __future__ import annotations

import contextlib
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._results import _Pending
from flxtrd._errors import FlexError, FlexValidationError
from flxtrd._log import get_logger

from ._model import DeviceStats, FleetOutcome

__all__ = ["DEFAULT_CONNECT_CONCURRENCY", "DeviceLink", "FleetLoop", "OnOutcome"]

_log = get_logger("fleet")
DEFAULT_CONNECT_CONCURRENCY = 16
_MEMORY_WAIT_S = 0.002
_PUMP_LIMIT = 4096

OnOutcome = Callable[[FleetOutcome], object]


class DeviceLink:
    """One device in the loop: its :class:`AmpqAPI`, orders waiting to go, orders in flight."""

    __slots__ = ("api", "device_id", "inflight", "queued", "sock", "stats")

    def __init__(self, device_id: str, api: AmpqAPI) -> None:
        self.device_id = device_id
        self.api = api
        self.stats = DeviceStats(device_id)
        self.queued: deque[tuple[object, str, OnOutcome | None]] = deque()
        self.inflight: deque[tuple[_Pending, float, OnOutcome | None]] = deque()
        self.sock: Any = None

    def current_socket(self) -> Any:
        """The socket of the open connection, or None (``memory://``, or not connected)."""
        backend: Any = self.api._backend
        raw = getattr(backend, "raw", None)
        transport = getattr(raw, "transport", None)
        return getattr(transport, "sock", None)


class FleetLoop:
    """Connects device links and moves their orders and replies on one selector (see module)."""

    def __init__(
        self,
        links: Sequence[DeviceLink],
        *,
        connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
        max_in_flight: int = 256,
        confirm_timeout: float = 10.0,
    ) -> None:
        for field, value in (
            ("connect_concurrency", connect_concurrency),
            ("max_in_flight", max_in_flight),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise FlexValidationError(field, "must be an integer >= 1", value)
        self.links = list(links)
        self.connect_concurrency = connect_concurrency
        self.max_in_flight = max_in_flight
        self.confirm_timeout = confirm_timeout
        self._selector = selectors.DefaultSelector()
        self._memory: list[DeviceLink] = []
        self._busy: set[DeviceLink] = set()
        self._touched: set[DeviceLink] = set()
        """Links read from or given orders since the last turn: only they need settling."""
        self._next_sweep = 0.0
        self._clock = time.perf_counter

    # -- connecting --

    def connect(self, links: Iterable[DeviceLink] | None = None) -> dict[str, FlexError]:
        """Connect ``links`` (default all not yet connected), ``connect_concurrency`` at a time.

        A device that cannot connect keeps its error in ``link.stats.error`` and is left out of
        the loop; the others trade. Returns the errors by device id.
        """
        todo = [
            link for link in (self.links if links is None else links) if not link.stats.connected
        ]
        errors: dict[str, FlexError] = {}

        def attempt(link: DeviceLink) -> FlexError | None:
            try:
                link.api.connect()
            except FlexError as exc:
                return exc
            return None

        if todo:
            workers = min(self.connect_concurrency, len(todo))
            with ThreadPoolExecutor(workers, thread_name_prefix="flxtrd-fleet-connect") as pool:
                results = list(pool.map(attempt, todo))
            for link, error in zip(todo, results, strict=True):
                if error is None:
                    link.stats.connected, link.stats.error = True, None
                    self._watch(link)
                else:
                    link.stats.connected, link.stats.error = False, error
                    errors[link.device_id] = error
                    _log.warning("device %s did not connect: %s", link.device_id, error)
        return errors

    def _watch(self, link: DeviceLink) -> None:
        """(Re-)register the link's socket after a connect or a reconnect."""
        if link.api._memory:
            if link not in self._memory:
                self._memory.append(link)
            return
        sock = link.current_socket()
        if sock is link.sock:
            return
        if link.sock is not None:
            self._unregister(link.sock)
        link.sock = sock
        if sock is not None:
            self._selector.register(sock, selectors.EVENT_READ, link)

    def _unregister(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(sock)

    def forget(self, link: DeviceLink) -> None:
        """Take ``link`` out of the loop (before closing it)."""
        if link.sock is not None:
            self._unregister(link.sock)
            link.sock = None
        if link in self._memory:
            self._memory.remove(link)
        self._busy.discard(link)

    # -- orders --

    def submit(
        self, link: DeviceLink, order: object, message_id: str, sink: OnOutcome | None
    ) -> None:
        """Queue one order of ``link``; it goes out on the next :meth:`run` (or :meth:`poll`)."""
        link.queued.append((order, message_id, sink))
        self._busy.add(link)
        self._touched.add(link)

    def _fail(
        self, link: DeviceLink, order: object, message_id: str, sink: OnOutcome | None,
        error: FlexError,
    ) -> None:  # fmt: skip
        link.stats.failed += 1
        self._emit(FleetOutcome(link.device_id, message_id, order, None, error, None), sink)

    @staticmethod
    def _emit(outcome: FleetOutcome, sink: OnOutcome | None) -> None:
        if sink is not None:
            try:
                sink(outcome)
            except Exception:
                _log.exception("an outcome callback raised")

    def _top_up(self, link: DeviceLink) -> None:
        """Publish queued orders of ``link`` while its window has room."""
        api, queued, inflight = link.api, link.queued, link.inflight
        if not queued:
            return
        if not link.stats.connected:
            error = link.stats.error or FlexError(f"device {link.device_id} is not connected")
            while queued:
                self._fail(link, *queued.popleft(), error)
            return
        clock = self._clock
        while queued and len(api._pending) < self.max_in_flight:
            order, message_id, sink = queued.popleft()
            try:
                routing_key, body = api._prepare(order, None)
                p = api._publish(order, routing_key, body, message_id)
            except FlexError as exc:
                api._counters.failed += 1
                self._fail(link, order, message_id, sink, exc)
                continue
            link.stats.orders += 1
            inflight.append((p, clock(), sink))

    def _settle(self, link: DeviceLink) -> None:
        """Report the orders of ``link`` that have an outcome, oldest first."""
        inflight, stats, now = link.inflight, link.stats, self._clock()
        while inflight and inflight[0][0].done:
            p, t0, sink = inflight.popleft()
            latency = (now - t0) * 1000.0
            if p.receipt is not None:
                stats.confirmed += 1
                stats.latencies_ms.append(latency)
            else:
                stats.failed += 1
            self._emit(
                FleetOutcome(link.device_id, p.message_id, p.order, p.receipt, p.error, latency),
                sink,
            )
        if inflight and now - inflight[0][1] > self.confirm_timeout:
            link.api._give_up(f"no confirm within {self.confirm_timeout:g} s")
            self._settle(link)

    def _flush(self, link: DeviceLink) -> None:
        backend: Any = link.api._backend
        if backend is None or not getattr(backend, "_out", None):
            return
        try:
            backend.flush()
        except Exception as exc:  # the connection broke while writing
            link.api._lost(exc)
            self._watch(link)

    def _read(self, link: DeviceLink) -> None:
        api = link.api
        api._pump(_PUMP_LIMIT)
        self._touched.add(link)
        if link.sock is not link.current_socket():
            self._watch(link)  # reconnected (or lost): follow the new socket

    def busy(self) -> bool:
        """True while some order is queued or waits for its confirm."""
        return bool(self._busy)

    def step(self, timeout: float) -> None:
        """One turn: publish what fits, wait up to ``timeout`` s for input, read it, settle."""
        busy = self._busy
        touched, self._touched = self._touched, set()
        for link in touched:
            self._top_up(link)
            self._flush(link)
        self._wait(timeout)
        now = self._clock()
        if now >= self._next_sweep:  # now and then every busy link: confirm timeouts
            self._next_sweep = now + 0.5
            self._touched |= busy
        for link in self._touched:
            self._settle(link)
            if not link.queued and not link.inflight:
                busy.discard(link)
        # only links with orders still to publish need the next turn's top-up without input
        self._touched = {link for link in self._touched if link.queued}

    def _wait(self, timeout: float) -> None:
        if self._memory:
            self._touched.update(self._memory)
            for link in self._memory:
                link.api._pump(_PUMP_LIMIT)
            if not self._selector.get_map():
                if timeout > 0:
                    time.sleep(min(timeout, _MEMORY_WAIT_S))  # in-process queues: no fd to wait on
                    for link in self._memory:
                        link.api._pump(_PUMP_LIMIT)
                return
            timeout = min(timeout, _MEMORY_WAIT_S)
        if not self._selector.get_map():
            if timeout > 0:
                time.sleep(timeout)
            return
        for key, _ in self._selector.select(timeout):
            self._read(key.data)
        for link in list(self._busy):  # TLS may hold decrypted bytes the selector cannot see
            sock = link.sock
            pending = getattr(sock, "pending", None)
            if pending is not None and pending():
                self._read(link)

    def run(self, deadline_s: float | None = None) -> None:
        """Step until every queued order has an outcome (or ``deadline_s`` seconds passed)."""
        end = None if deadline_s is None else time.monotonic() + deadline_s
        while self._busy:
            if end is not None and time.monotonic() > end:
                for link in list(self._busy):
                    link.api._give_up("the fleet's deadline passed")
                    while link.queued:
                        self._fail(link, *link.queued.popleft(), FlexError("deadline passed"))
                    self._settle(link)
                self._busy.clear()
                return
            self.step(0.05)

    def poll(self, timeout: float) -> None:
        """Read replies for up to ``timeout`` s (and move any queued orders)."""
        if self._busy:
            self.step(timeout)
        else:
            self._wait(timeout)

    def close(self) -> None:
        """Close every device connection and the selector."""
        for link in self.links:
            self.forget(link)
            try:
                link.api.close_connection()
            except Exception as exc:
                _log.debug("closing device %s failed: %s", link.device_id, exc)
            link.stats.connected = False
        self._selector.close()
