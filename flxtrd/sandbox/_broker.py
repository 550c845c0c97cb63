"""The sandbox market's generation-1 order broker: a kombu worker between AMQP and the market.

:class:`BrokerWorker` consumes orders from the exchange ``in`` (routing keys ``ask`` / ``bid``,
one line-protocol order per message), hands them to the ``SandboxMarket`` and publishes the
replies on ``ticker-out`` as ``specs/asyncapi.yaml`` says (what goes where:
:mod:`flxtrd.sandbox._broker_wire`). It runs in a thread (:meth:`BrokerWorker.start` /
:meth:`BrokerWorker.stop`) on ``memory://`` (the embedded sandbox) or ``amqp://`` /
``amqps://`` (a real RabbitMQ; the worker's login needs configure/write/read on the names below).

This module is the worker's thread, connection lifecycle and per-order decisions; its other
jobs sit beside it: the connection (:mod:`~flxtrd.sandbox._broker_link`), the wire format and
identities (:mod:`~flxtrd.sandbox._broker_wire`), the reply ledger of confirms and acks
(:mod:`~flxtrd.sandbox._broker_confirms`) and the counters
(:mod:`~flxtrd.sandbox._broker_stats`).

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
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from flxtrd._line_protocol import OrderLine
from flxtrd._log import get_logger, redact_url
from flxtrd._retry import RetryPolicy

from ._accounts import Accounts
from ._broker_confirms import Key, ReplyLedger
from ._broker_link import AmqpLink, Delivery, MemoryLink, Topology, open_link
from ._broker_stats import BrokerStats, Counters
from ._broker_wire import (
    KeyDirectory,
    Refusal,
    Reply,
    cancel_reply,
    decode_order,
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
        self._counters = Counters()
        self._ledger = ReplyLedger(reply_exchange, self._counters)
        self._link: AmqpLink | MemoryLink | None = None
        self._inbox: deque[Delivery] = deque()
        self._foreign: deque[MarketUpdate] = deque()
        self._seen: OrderedDict[Key, None] = OrderedDict()
        self._orphans: OrderedDict[Key, list[Reply]] = OrderedDict()
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
            self._ledger.on_confirm,
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
        self._ledger.settle(link)

    def _lost(self, exc: BaseException) -> None:
        """The connection died: keep the unconfirmed replies for the redeliveries, reconnect."""
        _log.warning("broker connection lost (%s); reconnecting", _describe(exc))
        link, self._link = self._link, None
        if link is not None:
            link.abandon()
        self._inbox.clear()  # their delivery tags died with the channel; they are redelivered
        for key, replies in self._ledger.lose():
            self._orphans[key] = replies
            while len(self._orphans) > _MAX_ORPHANS:
                self._orphans.popitem(last=False)

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
            while self._ledger.waiting and time.monotonic() < deadline:
                link.drain(min(0.1, max(0.0, deadline - time.monotonic())))
                self._after_drain(link)
            if self._ledger.waiting:
                _log.warning("%d replies not confirmed at stop", self._ledger.waiting)
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
            self._ledger.publish(link, None, None, replies)

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
        decoded = decode_order(d.body, d.routing_key)  # the line, or why it is malformed
        line_key = None if isinstance(decoded, str) else decoded.application_key
        who = identify(self._directory, d.user_id, d.reply_to, line_key, self.trusted_logins)
        if isinstance(who, Refusal):
            counters.refused += 1
            _log.info("refused order %r: %s", d.message_id, who.reason)
            self._reply_cancel(link, d, who.reason, who.targets, who.application_key)
            return
        if isinstance(decoded, str):
            counters.malformed += 1
            _log.info("malformed order %r: %s", d.message_id, decoded)
            self._reply_cancel(link, d, decoded, (who.reply_key,), who.reply_key)
            return
        key = (who.user_id, d.message_id) if d.message_id else None
        if key is not None:
            orphan = self._orphans.pop(key, None)
            if orphan is not None:
                counters.republished += 1
                self._ledger.publish(link, d.delivery_tag, key, orphan)
                return
            if key in self._seen:
                counters.duplicates += 1
                _log.info("dropping duplicate order %r of %r", d.message_id, who.user_id)
                link.ack(d.delivery_tag)
                counters.acked += 1
                return
        self._directory.remember(who.reply_key)
        result = self.market.submit_gen1(
            decoded,
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
        self._ledger.publish(link, d.delivery_tag, key, replies)

    def _reply_cancel(
        self,
        link: AmqpLink | MemoryLink,
        d: Delivery,
        reason: str,
        targets: Iterable[str],
        application_key: str | None,
    ) -> None:
        replies = cancel_reply(reason, targets, application_key, d.message_id)
        self._ledger.publish(link, d.delivery_tag, None, replies)
