"""The sandbox market's generation-1 order broker: a kombu worker between AMQP and the market.

:class:`BrokerWorker` consumes orders from the exchange ``in`` (routing keys ``ask`` / ``bid``,
one line-protocol order per message), hands them to the ``SandboxMarket`` and publishes the
replies on ``ticker-out`` as ``specs/asyncapi.yaml`` says (what goes where:
:mod:`flxtrd.sandbox._broker_wire`). It runs in a thread (:meth:`BrokerWorker.start` /
:meth:`BrokerWorker.stop`) on ``memory://`` (the embedded sandbox) or ``amqp://`` /
``amqps://`` (a real RabbitMQ; the worker's login needs configure/write/read on the names below).

Topology (declared idempotently at every connect)
-------------------------------------------------
Exchanges ``in`` and ``ticker-out`` (direct, durable) and the order queue (default
``flxtrd.sandbox.orders``: not exclusive, not durable, not auto-deleted) bound to ``in`` with
``ask`` and ``bid``. A worker refuses to start when the queue already has a consumer (another
sandbox on the same broker would split the orders). On a clean :meth:`~BrokerWorker.stop` the
queue is deleted, so a client's mandatory order is returned as unroutable while no market runs.

Each order
----------
1. Identity (:func:`~flxtrd.sandbox._broker_wire.identify`): ``user_id`` must be a known account
   owning ``reply_to`` and the line's ``applicationKey`` (a trusted login, by default the
   worker's own, acts for the owner of ``reply_to``). Otherwise: ``cancel`` with the reason.
2. Decoding (:func:`flxtrd._line_protocol.decode_order_line`; the measurement must equal the
   routing key; at most 4096 bytes). A malformed order: ``cancel`` with the decoder's reason.
3. Deduplication by ``(user, message_id)``: an order whose ``message_id`` was already handed to
   the market (a client re-sending an order that was in doubt after a reconnect) is acknowledged
   and dropped without a reply (counted in ``stats.duplicates``); the market's own duplicate
   check (``RejectCode.DUPLICATE``) backs this up beyond the worker's memory
   (``dedup_capacity`` most recent ids). Orders without a ``message_id`` cannot be deduplicated.
4. ``SandboxMarket.submit_gen1``; the replies of the resulting events are published.
5. The order is acknowledged after its replies are published, and on ``amqp://`` after the
   broker has **confirmed** them.

Publisher confirms and acknowledgements
---------------------------------------
On ``amqp://`` the reply channel is in confirm mode (``confirm_replies=True``, the default).
Confirms are pipelined: replies are published at once (the confirm does not delay them), the
order's ack waits until every one of its replies is confirmed. So an acknowledged order always
has its replies inside RabbitMQ; a nacked reply is re-published (up to 5 times). If the
connection is lost first, RabbitMQ redelivers the order; the worker recognises it by its
``message_id``, does NOT submit it again, and re-publishes the replies that were not confirmed
(at-least-once replies, exactly-once matching). Replies to a device with no queue are dropped by
the broker (not mandatory): a device that is not connected misses them, as on the market.
``memory://`` has no confirms (an in-process put cannot fail): orders are acked right after
their replies are put.

Events the worker did not cause (an order expiring while it rests, noticed by the market's
expiry timer or by a REST call) reach it through ``SandboxMarket.subscribe`` and are published
from the worker's thread within ``poll_interval_s``.

Robustness
----------
Nothing an order contains stops the worker: undecodable bodies, wrong types, missing properties
and unexpected exceptions while handling one order are counted (``stats.malformed``,
``stats.errors``) and the order is acknowledged (never requeued: a poison message would loop).
A lost connection is re-opened with backoff (``retry_policy``) until :meth:`stop`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, fields
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from flxtrd._errors import MessageDecodeError
from flxtrd._line_protocol import OrderLine, decode_order_line
from flxtrd._log import get_logger, redact_url
from flxtrd._retry import RetryPolicy

from ._accounts import Accounts
from ._broker_link import AmqpLink, Delivery, MemoryLink, Topology, open_link
from ._broker_wire import (
    MAX_ORDER_BYTES,
    KeyDirectory,
    Refusal,
    Reply,
    cancel_reply,
    identify,
    replies_for_events,
)
from ._market_update import MarketUpdate
from ._types import RejectCode, SubmitResult

__all__ = [
    "DEFAULT_ORDER_QUEUE",
    "BrokerMarket",
    "BrokerStats",
    "BrokerWorker",
]

_log = get_logger("sandbox.broker")

DEFAULT_ORDER_QUEUE = "flxtrd.sandbox.orders"
"""The queue the worker consumes orders from."""

DEFAULT_RECONNECT_POLICY = RetryPolicy(
    max_retries=1_000_000, initial_delay_s=0.1, max_delay_s=5.0, jitter=0.25
)
"""Reconnect until stopped: 0.1 s, 0.2 s, ... at most 5 s apart."""

_SENDER_TIMESTAMP_HEADER = "sendertimestamp_in_ms"
_MAX_REPUBLISH = 5
_MAX_ORPHANS = 100_000
_STOP_CONFIRM_TIMEOUT_S = 5.0


class BrokerMarket(Protocol):
    """What the worker needs of the market (`SandboxMarket` provides it)."""

    @property
    def accounts(self) -> Accounts:
        """The market's accounts."""
        ...

    def submit_gen1(
        self,
        line: OrderLine,
        *,
        user_id: str,
        application_key: str | None = None,
        message_id: str | None = None,
        received_ns: int | None = None,
    ) -> SubmitResult:
        """Submit a generation-1 order line and publish its events."""
        ...

    def subscribe(self, callback: Callable[[MarketUpdate], None]) -> Callable[[], None]:
        """Call ``callback`` with every market update; returns the unsubscribe function."""
        ...


@dataclass(frozen=True, slots=True)
class BrokerStats:
    """Counters of a :class:`BrokerWorker` (a snapshot)."""

    received: int = 0
    """Order messages delivered (redeliveries included)."""
    submitted: int = 0
    """Orders handed to the market: one per distinct ``(user, message_id)``."""
    duplicates: int = 0
    """Orders dropped because their ``message_id`` was already submitted."""
    malformed: int = 0
    """Orders that did not decode (answered with ``cancel``)."""
    refused: int = 0
    """Orders refused for their identity (answered with ``cancel``)."""
    errors: int = 0
    """Orders whose handling raised unexpectedly (acknowledged and dropped)."""
    trades: int = 0
    """Generation-1 trades replied to."""
    cancels: int = 0
    """``cancel`` replies published."""
    replies: int = 0
    """Replies published, one per device addressed (a tick sent to N keys in one ``BCC``
    message counts N; re-publications included)."""
    confirmed: int = 0
    """Replies the broker confirmed (``amqp://`` only; counted like ``replies``)."""
    nacked: int = 0
    """Replies the broker nacked (then re-published)."""
    acked: int = 0
    """Orders acknowledged."""
    redelivered: int = 0
    """Deliveries flagged as redelivered by the broker."""
    republished: int = 0
    """Redelivered orders whose unconfirmed replies were published again."""
    reconnects: int = 0
    """Connections re-opened after a loss."""


class _Counters:
    """Mutable counters behind :class:`BrokerStats` (touched by the worker thread only)."""

    def __init__(self) -> None:
        for f in fields(BrokerStats):
            setattr(self, f.name, 0)

    def snapshot(self) -> BrokerStats:
        """The counters as a frozen :class:`BrokerStats`."""
        return BrokerStats(**{f.name: getattr(self, f.name) for f in fields(BrokerStats)})

    received: int
    submitted: int
    duplicates: int
    malformed: int
    refused: int
    errors: int
    trades: int
    cancels: int
    replies: int
    confirmed: int
    nacked: int
    acked: int
    redelivered: int
    republished: int
    reconnects: int


class _Pending:
    """An order (or an unprompted update) whose replies await their confirms."""

    __slots__ = ("delivery_tag", "key", "unconfirmed")

    def __init__(self, delivery_tag: int | None, key: tuple[str, str] | None) -> None:
        self.delivery_tag = delivery_tag
        self.key = key
        self.unconfirmed: dict[int, tuple[Reply, int]] = {}


Key = tuple[str, str]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _url_login(url: str) -> str | None:
    try:
        user = urlsplit(url).username
    except ValueError:
        return None
    return unquote(user) if user else None


class BrokerWorker:
    """Order broker: consumes ``in``, submits to the market, replies on ``ticker-out``.

    Args:
        market: the market (a `SandboxMarket`).
        broker_url: ``memory://``, ``amqp://user:pass@host:5672//`` or ``amqps://...``.
        exchange: where orders arrive (``"in"``).
        reply_exchange: where replies go (``"ticker-out"``).
        queue: the order queue's name.
        prefetch_count: orders delivered ahead of their acks.
        confirm_replies: use publisher confirms for replies on ``amqp://`` (see the module).
        trusted_logins: broker logins allowed to act for the owner of ``reply_to``; default the
            worker's own login on ``amqp://`` (none on ``memory://``).
        dedup_capacity: how many recent ``(user, message_id)`` the worker remembers.
        poll_interval_s: longest wait for a delivery before looking at stop requests and
            unprompted market updates.
        connect_timeout: seconds one connection attempt may take.
        retry_policy: backoff between reconnect attempts (default: until stopped).
        ssl: kombu's ``ssl`` argument for ``amqps://`` (default: verify with the system CAs).
        delete_queue_on_stop: delete the order queue on a clean stop.
        bcc_ticks: on ``amqp://``, send a trade's ticks as ONE message with every device's key
            in RabbitMQ's ``BCC`` header instead of one message per device. Off by default:
            it cuts the worker's CPU for a fleet of 1,000 devices from ~30 s to ~2 s, but
            RabbitMQ 3.10 spent ~2.6x the CPU on those copies and the ticks arrived ~3x later
            on a 2-core machine (``benchmarks/bench_sandbox_scale.py``); worth it only when
            the broker has cores to spare.
    """

    def __init__(
        self,
        market: BrokerMarket,
        broker_url: str,
        *,
        exchange: str = "in",
        reply_exchange: str = "ticker-out",
        queue: str = DEFAULT_ORDER_QUEUE,
        prefetch_count: int = 256,
        confirm_replies: bool = True,
        trusted_logins: Collection[str] | None = None,
        dedup_capacity: int = 100_000,
        poll_interval_s: float = 0.1,
        connect_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        ssl: Any = None,
        delete_queue_on_stop: bool = True,
        bcc_ticks: bool = False,
    ) -> None:
        scheme = broker_url.split(":", 1)[0].lower() if isinstance(broker_url, str) else ""
        if scheme not in ("memory", "amqp", "amqps", "pyamqp"):
            raise ValueError(
                "broker_url must be memory://, amqp:// or amqps://, got"
                f" {redact_url(str(broker_url))}"
            )
        if prefetch_count < 1 or dedup_capacity < 1 or poll_interval_s <= 0:
            raise ValueError("prefetch_count, dedup_capacity and poll_interval_s must be positive")
        self.market = market
        self._url = broker_url
        self._memory = scheme == "memory"
        self.topology = Topology(
            exchange=exchange,
            reply_exchange=reply_exchange,
            queue=queue,
            prefetch_count=prefetch_count,
            consumer_tag=f"flxtrd-sandbox-worker.{queue}",
        )
        self.confirm_replies = confirm_replies and not self._memory
        if trusted_logins is None:
            login = None if self._memory else (_url_login(broker_url) or "guest")
            trusted_logins = () if login is None else (login,)
        self.trusted_logins = frozenset(trusted_logins)
        self._dedup_capacity = dedup_capacity
        self._poll = poll_interval_s
        self._connect_timeout = connect_timeout
        self._retry = retry_policy or DEFAULT_RECONNECT_POLICY
        self._ssl = (ssl if ssl is not None else True) if scheme == "amqps" else False
        self._delete_queue_on_stop = delete_queue_on_stop
        self.bcc_ticks = bcc_ticks

        self._directory = KeyDirectory(market.accounts)
        self._counters = _Counters()
        self._link: AmqpLink | MemoryLink | None = None
        self._inbox: deque[Delivery] = deque()
        self._foreign: deque[MarketUpdate] = deque()
        self._seen: OrderedDict[Key, None] = OrderedDict()
        self._orphans: OrderedDict[Key, list[Reply]] = OrderedDict()
        self._by_tag: dict[int, _Pending] = {}
        self._low_tag = 1
        self._high_tag = 0
        self._ackable: list[_Pending] = []
        self._nacked: list[tuple[_Pending, Reply, int]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._thread_ident: int | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    # -- introspection ------------------------------------------------------------------------

    @property
    def broker_url(self) -> str:
        """The broker URL with any password replaced by ``***``."""
        return redact_url(self._url)

    @property
    def stats(self) -> BrokerStats:
        """A snapshot of the counters (see :class:`BrokerStats`)."""
        return self._counters.snapshot()

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and the end of :meth:`stop`."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._started.is_set()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BrokerWorker {self.broker_url} queue={self.topology.queue!r} {state}>"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> None:
        """Connect and start consuming in a daemon thread; raise if the first connect fails."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("a BrokerWorker can be started once")
            self._thread = threading.Thread(
                target=self._run, name="flxtrd-sandbox-broker", daemon=True
            )
            self._thread.start()
        if not self._started.wait(timeout if timeout is not None else self._connect_timeout + 5):
            self.stop()
            raise TimeoutError(f"the broker worker did not connect to {self.broker_url}")
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop consuming, finish the orders in hand, delete the queue, close (idempotent)."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                _log.warning("the broker worker did not stop within %.1f s", timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the worker has stopped (for whatever reason); True if it has."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> BrokerWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        self._thread_ident = threading.get_ident()
        try:
            try:
                self._link = self._open()
            except BaseException as exc:
                self._start_error = exc
                return
            finally:
                self._started.set()
            self._unsubscribe = self.market.subscribe(self._on_update)
            _log.info("broker worker consuming %r on %s", self.topology.queue, self.broker_url)
            self._loop()
            self._shutdown()
        except Exception:
            _log.exception("the broker worker failed")
        finally:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            if unsubscribe is not None:
                unsubscribe()
            link, self._link = self._link, None
            if link is not None:
                link.abandon()
            self._stopped.set()

    def _open(self) -> AmqpLink | MemoryLink:
        return open_link(
            self._url,
            self.topology,
            self._inbox.append,
            self._on_confirm,
            confirms=self.confirm_replies,
            connect_timeout=self._connect_timeout,
            ssl=self._ssl,
            connection_name=f"flxtrd sandbox broker worker ({self.topology.queue})",
        )

    def _loop(self) -> None:
        poll = self._poll
        stopping = self._stopping
        while not stopping.is_set():
            link = self._link
            if link is None:
                if not self._reconnect():
                    return
                continue
            try:
                link.drain(poll)
                self._after_drain(link)
            except link.connection_errors as exc:
                self._lost(exc)

    def _after_drain(self, link: AmqpLink | MemoryLink) -> None:
        """Handle what the last drain brought: orders, confirms, unprompted updates."""
        inbox = self._inbox
        while inbox:
            self._handle(link, inbox.popleft())
        foreign = self._foreign
        while foreign:
            self._publish_update(link, foreign.popleft())
        if self._nacked:
            self._republish_nacked(link)
        if self._ackable:
            ackable, self._ackable = self._ackable, []
            for pending in ackable:
                self._ack(link, pending)

    def _lost(self, exc: BaseException) -> None:
        """The connection died: keep the unconfirmed replies for the redeliveries, reconnect."""
        _log.warning("broker connection lost (%s); reconnecting", _describe(exc))
        link, self._link = self._link, None
        if link is not None:
            link.abandon()
        self._inbox.clear()  # their delivery tags died with the channel; they are redelivered
        self._nacked.clear()
        self._ackable.clear()
        for pending in {id(p): p for p in self._by_tag.values()}.values():
            if pending.key is not None and pending.delivery_tag is not None:
                replies = [reply for reply, _ in pending.unconfirmed.values()]
                self._orphans[pending.key] = replies
                while len(self._orphans) > _MAX_ORPHANS:
                    self._orphans.popitem(last=False)
        self._by_tag.clear()
        self._low_tag = 1
        self._high_tag = 0

    def _reconnect(self) -> bool:
        policy = self._retry
        attempt = 0
        while not self._stopping.is_set():
            try:
                self._link = self._open()
            except Exception as exc:
                if attempt >= policy.max_retries:
                    _log.error("giving up reconnecting to %s: %s", self.broker_url, _describe(exc))
                    return False
                delay = policy.backoff_s(attempt, random.random())
                attempt += 1
                _log.warning(
                    "reconnecting to %s failed (%s); next attempt in %.2f s",
                    self.broker_url,
                    _describe(exc),
                    delay,
                )
                self._stopping.wait(delay)
                continue
            self._counters.reconnects += 1
            _log.info("broker worker reconnected to %s", self.broker_url)
            return True
        return False

    def _shutdown(self) -> None:
        """Clean stop: stop consuming, finish what was delivered, wait for confirms, delete."""
        link = self._link
        if link is None:
            return
        try:
            link.cancel()
            self._after_drain(link)
            deadline = time.monotonic() + _STOP_CONFIRM_TIMEOUT_S
            while self._by_tag and time.monotonic() < deadline:
                link.drain(min(0.1, max(0.0, deadline - time.monotonic())))
                self._after_drain(link)
            if self._by_tag:
                _log.warning("%d replies not confirmed at stop", len(self._by_tag))
            if self._delete_queue_on_stop:
                link.delete_queue()
        except link.connection_errors as exc:
            _log.warning("broker connection lost while stopping (%s)", _describe(exc))
            link.abandon()
            self._link = None
            return
        self._link = None
        link.close()
        _log.info("broker worker stopped")

    # -- market updates from other threads ----------------------------------------------------

    def _on_update(self, update: MarketUpdate) -> None:
        """Market subscriber: queue updates of other threads (ours come with submit's result)."""
        if threading.get_ident() != self._thread_ident:
            self._foreign.append(update)

    def _publish_update(self, link: AmqpLink | MemoryLink, update: MarketUpdate) -> None:
        replies = replies_for_events(
            (e.event for e in update.events), self._directory, bcc=self.bcc_ticks and link.fan_out
        )
        if replies:
            self._publish(link, None, None, replies)

    # -- one order ----------------------------------------------------------------------------

    def _handle(self, link: AmqpLink | MemoryLink, delivery: Delivery) -> None:
        counters = self._counters
        counters.received += 1
        if delivery.redelivered:
            counters.redelivered += 1
        try:
            self._handle_order(link, delivery)
        except link.connection_errors:
            raise
        except Exception:
            counters.errors += 1
            _log.exception("handling order %r failed; dropping it", delivery.message_id)
            link.ack(delivery.delivery_tag)
            counters.acked += 1

    def _handle_order(self, link: AmqpLink | MemoryLink, d: Delivery) -> None:
        counters = self._counters
        line: OrderLine | None = None
        problem: str | None = None
        if len(d.body) > MAX_ORDER_BYTES:
            problem = f"malformed order: body longer than {MAX_ORDER_BYTES} bytes"
        else:
            try:
                line = decode_order_line(d.body)
            except MessageDecodeError as exc:
                problem = f"malformed order: {exc}"
            else:
                if line.side != d.routing_key:
                    problem = (
                        f"malformed order: a {line.side!r} order published with routing key"
                        f" {d.routing_key!r}"
                    )
        line_key = line.application_key if line is not None else None
        who = identify(self._directory, d.user_id, d.reply_to, line_key, self.trusted_logins)
        if isinstance(who, Refusal):
            counters.refused += 1
            _log.info("refused order %r: %s", d.message_id, who.reason)
            self._reply_cancel(link, d, who.reason, who.targets, who.application_key)
            return
        if problem is not None or line is None:
            counters.malformed += 1
            reason = problem or "malformed order"
            _log.info("malformed order %r: %s", d.message_id, reason)
            self._reply_cancel(link, d, reason, (who.reply_key,), who.reply_key)
            return
        key = (who.user_id, d.message_id) if d.message_id else None
        if key is not None:
            orphan = self._orphans.pop(key, None)
            if orphan is not None:
                counters.republished += 1
                self._publish(link, d.delivery_tag, key, orphan)
                return
            if key in self._seen:
                counters.duplicates += 1
                _log.info("dropping duplicate order %r of %r", d.message_id, who.user_id)
                link.ack(d.delivery_tag)
                counters.acked += 1
                return
        self._directory.remember(who.reply_key)
        result = self.market.submit_gen1(
            line,
            user_id=who.user_id,
            application_key=who.reply_key,
            message_id=d.message_id,
            received_ns=d.received_ns,
        )
        counters.submitted += 1
        if key is not None:
            seen = self._seen
            seen[key] = None
            if len(seen) > self._dedup_capacity:
                seen.popitem(last=False)
        rejected = result.rejected
        if rejected is not None and rejected.code is RejectCode.DUPLICATE:
            counters.duplicates += 1
        replies = replies_for_events(
            result.events, self._directory, bcc=self.bcc_ticks and link.fan_out
        )
        self._publish(link, d.delivery_tag, key, replies)

    def _reply_cancel(
        self,
        link: AmqpLink | MemoryLink,
        d: Delivery,
        reason: str,
        targets: Iterable[str],
        application_key: str | None,
    ) -> None:
        replies = cancel_reply(reason, targets, application_key, d.message_id)
        self._publish(link, d.delivery_tag, None, replies)

    # -- publishing, confirms, acks -----------------------------------------------------------

    def _publish(
        self,
        link: AmqpLink | MemoryLink,
        delivery_tag: int | None,
        key: Key | None,
        replies: list[Reply],
    ) -> None:
        """Publish ``replies``; ack the order now (no confirms) or when they are confirmed."""
        pending = _Pending(delivery_tag, key)
        counters = self._counters
        exchange = self.topology.reply_exchange
        for reply in replies:
            tag = link.publish(exchange, reply.routing_key, reply.body, self._headers(), reply.bcc)
            counters.replies += reply.copies
            if reply.msg_type == "cancel":
                counters.cancels += 1
            elif reply.msg_type == "bid_closed_order":
                counters.trades += 1
            if tag is not None:
                pending.unconfirmed[tag] = (reply, 0)
                self._by_tag[tag] = pending
                self._high_tag = tag
        if not pending.unconfirmed:
            self._ack(link, pending)

    @staticmethod
    def _headers() -> dict[str, Any]:
        return {_SENDER_TIMESTAMP_HEADER: _now_ms()}

    def _ack(self, link: AmqpLink | MemoryLink, pending: _Pending) -> None:
        if pending.delivery_tag is not None:
            link.ack(pending.delivery_tag)
            self._counters.acked += 1

    def _on_confirm(self, tag: int, multiple: bool, ok: bool) -> None:
        """Channel event (inside drain): settle confirmed replies; acks happen after drain."""
        by_tag = self._by_tag
        tags: Iterable[int] = range(self._low_tag, tag + 1) if multiple else (tag,)
        counters = self._counters
        for t in tags:
            pending = by_tag.pop(t, None)
            if pending is None:
                continue
            reply, attempts = pending.unconfirmed.pop(t)
            if ok:
                counters.confirmed += reply.copies
                if not pending.unconfirmed:
                    self._ackable.append(pending)
            else:
                counters.nacked += 1
                self._nacked.append((pending, reply, attempts + 1))
        low = max(self._low_tag, tag + 1) if multiple else self._low_tag
        high = self._high_tag
        while low <= high and low not in by_tag:
            low += 1
        self._low_tag = low

    def _republish_nacked(self, link: AmqpLink | MemoryLink) -> None:
        nacked, self._nacked = self._nacked, []
        exchange = self.topology.reply_exchange
        for pending, reply, attempts in nacked:
            if attempts > _MAX_REPUBLISH:
                _log.error("reply to %r nacked %d times; dropping it", reply.routing_key, attempts)
                if not pending.unconfirmed:
                    self._ackable.append(pending)
                continue
            tag = link.publish(exchange, reply.routing_key, reply.body, self._headers(), reply.bcc)
            self._counters.replies += reply.copies
            if tag is None:
                if not pending.unconfirmed:
                    self._ackable.append(pending)
                continue
            pending.unconfirmed[tag] = (reply, attempts)
            self._by_tag[tag] = pending
            self._high_tag = tag
