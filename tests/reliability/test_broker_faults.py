"""Broker faults during a stream of 10,000 confirmed orders through the sandbox on RabbitMQ.

The sandbox is a :class:`~flxtrd.sandbox._broker.BrokerWorker` in this process on the real
RabbitMQ (exchanges and order queue of its own, as ``tests/contract/test_sandbox_broker.py``
does), in front of a `SandboxMarket` wrapped by :class:`CountingMarket`, which counts every
``submit_gen1`` call per ``message_id``: that is what "delivered to matching" means here. The
client is flxtrd's :class:`~flxtrd._amqp._api.AmpqAPI`, sending pipelined confirmed orders.

The client's re-send rule (:func:`send_until_settled`), which is what a careful caller does with
flxtrd's outcomes:

- an order whose failure says it may not have arrived -- :class:`OrderInDoubtError` (published,
  confirm lost), :class:`OrderUnroutableError` (returned: the market's queue was missing, so it
  certainly did not arrive), :class:`FlexConnectionError` (not published: no connection) -- is
  re-sent with the **same** ``message_id``, round after round with backoff, until it is
  confirmed or ``MAX_ROUNDS`` rounds are spent;
- any other failure, or one still in doubt after the last round, is reported failed.

What is asserted, with the counts printed (``pytest -s``):

- every order has exactly one final outcome, confirmed or failed;
- no ``message_id`` reaches matching twice (the worker's dedup drops re-sends of orders that had
  arrived after all);
- every confirmed order reached matching, and what reached matching without being confirmed is
  an order that was still in doubt when the client gave up (the in-doubt rule): so the
  sandbox's count of distinct ``message_id`` s equals the confirmed count plus those.

Orders never cross (asks at 100, bids at 1): the stream measures the order path, not matching.

The broker restart and the sandbox's queue: a publisher confirm means "enqueued". Orders are
persistent messages (the spec's ``deliveryMode: 2``) in the sandbox's durable order queue, so
orders confirmed but still *queued* when RabbitMQ stops reach matching after it restarts;
``test_orders_queued_during_a_broker_restart_reach_matching`` stalls matching on purpose to pin
that (before orders were persistent, a stream lost 1,671 of 10,000 confirmed orders that way).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kombu import Connection
from rel_broker import (
    broker_accepts,
    broker_restarted,
    close_connections,
    need_rabbitmqctl,
    wait_until,
)

from flxtrd._amqp._api import AmpqAPI, OrderInDoubtError, OrderOutcome
from flxtrd._errors import FlexConnectionError, OrderUnroutableError
from flxtrd._retry import RetryPolicy
from flxtrd._types import Flexibility, MarketOrder, OrderType
from flxtrd.sandbox._broker import BrokerWorker
from flxtrd.sandbox._market import SandboxMarket

pytestmark = pytest.mark.broker

N_ORDERS = 10_000
FAULT_AT = N_ORDERS // 2
MAX_ROUNDS = 8
"""Re-send rounds for orders that may not have arrived, before they are reported failed."""
RESEND_BACKOFF = RetryPolicy(max_retries=MAX_ROUNDS, initial_delay_s=0.05, max_delay_s=1.0)
CLIENT_RECONNECT = RetryPolicy(max_retries=12, initial_delay_s=0.05, max_delay_s=1.0, jitter=0.25)
WORKER_RECONNECT = RetryPolicy(
    max_retries=1_000_000, initial_delay_s=0.05, max_delay_s=0.5, jitter=0.25
)
SETTLE_TIMEOUT_S = 30.0
GATE_TIMEOUT_S = 60.0
HOUR_MS = 3_600_000
RETRYABLE = (OrderInDoubtError, OrderUnroutableError, FlexConnectionError)


class CountingMarket:
    """A `SandboxMarket` that counts what reaches matching, per ``message_id``."""

    def __init__(self, market: SandboxMarket) -> None:
        self.market = market
        self.submits: Counter[str | None] = Counter()
        self.gate = threading.Event()
        self.gate.set()

    @property
    def accounts(self) -> Any:
        """The market's accounts (the worker checks identities against them)."""
        return self.market.accounts

    def submit_gen1(self, line: Any, **kwargs: Any) -> Any:
        """Count the order, then hand it to the market (once the gate is open)."""
        self.gate.wait(GATE_TIMEOUT_S)
        self.submits[kwargs.get("message_id")] += 1
        return self.market.submit_gen1(line, **kwargs)

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """The market's event hub."""
        return self.market.subscribe(callback)


@dataclass
class Sandbox:
    """A worker on its own exchanges and queue, its counting market, and one device client."""

    amqp_url: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def __post_init__(self) -> None:
        self.exchange, self.reply_exchange = f"rel-in-{self.tag}", f"rel-out-{self.tag}"
        self.queue = f"rel-orders-{self.tag}"
        self.market = SandboxMarket(seed=int(self.tag, 16) % 2**31)
        self.counting = CountingMarket(self.market)
        self.worker = BrokerWorker(
            self.counting,
            self.amqp_url,
            exchange=self.exchange,
            reply_exchange=self.reply_exchange,
            queue=self.queue,
            poll_interval_s=0.02,
            retry_policy=WORKER_RECONNECT,
        )
        self.worker_name = f"flxtrd sandbox broker worker ({self.queue})"
        account = self.market.login(f"reliability-{self.tag}@example.com", "pw")
        location = account.locations[0]
        self.api = AmpqAPI(
            self.amqp_url,
            account.user_id,
            location.token,
            location.id,
            exchange=self.exchange,
            reply_exchange=self.reply_exchange,
            retry_policy=CLIENT_RECONNECT,
            confirm_timeout=10.0,
            max_in_flight=512,
            connection_name=f"flxtrd reliability client {self.tag}",
        )
        self.start_ms = (time.time_ns() // 1_000_000 // HOUR_MS + 3) * HOUR_MS

    def orders(self, n: int, fault: Callable[[], None] | None = None) -> Iterator[MarketOrder]:
        """``n`` orders that never cross; ``fault()`` runs before order ``FAULT_AT``."""
        for i in range(n):
            if i == FAULT_AT and fault is not None:
                fault()
            side = OrderType.ASK if i % 2 else OrderType.BID
            flex = Flexibility(
                wattage=1000.0 + i,
                starttime=self.start_ms + (i % 4) * 900_000,
                duration=900_000,
                expirationtime=self.start_ms - HOUR_MS,
            )
            yield MarketOrder(
                type=side, price=100.0 if side is OrderType.ASK else 1.0, flexibility=flex
            )

    def ready_messages(self) -> int:
        """Orders waiting in the worker's queue (0 when the queue is gone)."""
        try:
            with Connection(self.amqp_url, connect_timeout=2) as conn:
                return int(conn.default_channel.queue_declare(self.queue, passive=True)[1])
        except Exception:
            return 0

    def close(self) -> None:
        """Close the client, stop the worker, delete the exchanges."""
        self.api.close_connection()
        self.worker.stop()
        if broker_accepts(self.amqp_url):
            with Connection(self.amqp_url) as conn:
                channel = conn.channel()
                for name in (self.exchange, self.reply_exchange):
                    channel.exchange_delete(name)
                channel.queue_delete(self.queue)


@pytest.fixture
def sandbox(amqp_url: str) -> Iterator[Sandbox]:
    """A started sandbox worker on RabbitMQ with a connected client."""
    need_rabbitmqctl()
    s = Sandbox(amqp_url)
    s.worker.start()
    s.api.connect()
    try:
        yield s
    finally:
        s.close()


# --- the client's re-send rule ---------------------------------------------------------------


@dataclass
class Ledger:
    """The final outcome of every order, and what the re-sending cost."""

    final: dict[str, OrderOutcome]
    rounds: int
    resent: int
    first_pass_failed: int


def send_until_settled(api: AmpqAPI, orders: Iterable[MarketOrder]) -> Ledger:
    """Send, then re-send what may not have arrived (same ``message_id``) until it settles."""
    items = ((order, uuid.uuid4().hex) for order in orders)
    outcomes = api.send_orders(items)
    final = {o.message_id: o for o in outcomes}
    assert len(final) == len(outcomes), "message_ids must be unique"
    retry = [o for o in outcomes if isinstance(o.error, RETRYABLE)]
    first_pass_failed = sum(not o.ok for o in outcomes)
    rng = random.Random(7)
    rounds = resent = 0
    while retry and rounds < MAX_ROUNDS:
        api.sleep(RESEND_BACKOFF.backoff_s(rounds, rng.random()))  # reads replies meanwhile
        rounds += 1
        resent += len(retry)
        again = api.send_orders([(o.order, o.message_id) for o in retry])
        for outcome in again:
            final[outcome.message_id] = outcome
        retry = [o for o in again if isinstance(o.error, RETRYABLE)]
    return Ledger(final, rounds, resent, first_pass_failed)


def check_and_report(s: Sandbox, ledger: Ledger, fault: str, total: int = N_ORDERS) -> None:
    """Wait for the worker to settle, print the counts, assert the accounting."""
    final = ledger.final
    confirmed = {mid for mid, o in final.items() if o.ok}
    failed = {mid for mid, o in final.items() if not o.ok}
    in_doubt_failed = {mid for mid in failed if isinstance(final[mid].error, OrderInDoubtError)}
    submits = s.counting.submits

    seen = [-1]

    def settled() -> bool:
        """All confirmed orders arrived; or nothing moves any more (then the asserts tell)."""
        ready = s.ready_messages()
        if ready == 0 and confirmed <= submits.keys():
            return True
        count = sum(submits.values())
        quiet = ready == 0 and count == seen[0]
        seen[0] = count
        return quiet

    wait_until(settled, SETTLE_TIMEOUT_S, "the worker settling", poll=0.25)
    delivered = set(submits) - {None}
    duplicates = sum(n - 1 for n in submits.values() if n > 1)
    stats, wstats = s.api.stats, s.worker.stats
    print(
        f"\n[{fault}] sent={len(final)} (publishes incl. re-sends: {stats.sent},"
        f" re-sent {ledger.resent} in {ledger.rounds} rounds, first pass failed"
        f" {ledger.first_pass_failed}) confirmed={len(confirmed)} failed={len(failed)}"
        f" delivered={len(delivered)} duplicates={duplicates}"
        f" | client: connection_losses={stats.connection_losses}"
        f" reconnects={stats.reconnects} in_doubt={stats.in_doubt}"
        f" unroutable={stats.unroutable}"
        f" | worker: received={wstats.received} submitted={wstats.submitted}"
        f" dropped_duplicates={wstats.duplicates} redelivered={wstats.redelivered}"
        f" reconnects={wstats.reconnects}"
    )
    assert len(final) == total
    assert all(o.ok != (o.error is not None) for o in final.values())
    assert confirmed.isdisjoint(failed) and len(confirmed) + len(failed) == total
    assert duplicates == 0, f"{duplicates} orders reached matching twice"
    assert delivered <= final.keys(), "matching saw a message_id nobody sent"
    lost = confirmed - delivered
    assert not lost, f"{len(lost)} confirmed orders never reached matching, e.g. {sorted(lost)[:3]}"
    assert delivered - confirmed <= in_doubt_failed, "unconfirmed arrivals must be in-doubt ones"
    assert len(delivered) == len(confirmed) + len(delivered & in_doubt_failed)
    assert s.market.engine.resting_count() == len(delivered)
    assert s.worker.running


def test_forced_close_of_client_and_worker_connections_mid_stream(sandbox: Sandbox) -> None:
    """rabbitmqctl close_connection (client, then worker) mid-stream: each order settles once."""
    s = sandbox
    closed: list[int] = []

    def fault() -> None:
        closed.append(close_connections(s.api.connection_name, "reliability: client"))
        closed.append(close_connections(s.worker_name, "reliability: worker"))

    ledger = send_until_settled(s.api, s.orders(N_ORDERS, fault))
    assert closed == [1, 1]
    check_and_report(s, ledger, "forced close")
    assert s.api.stats.reconnects >= 1 and s.worker.stats.reconnects >= 1
    assert all(o.ok for o in ledger.final.values())  # the broker stayed up: nothing failed


def test_broker_stop_app_start_app_mid_stream(sandbox: Sandbox, amqp_url: str) -> None:
    """rabbitmqctl stop_app / start_app mid-stream: each order settles once, none lost."""
    s = sandbox

    with broker_restarted(amqp_url) as restart:
        ledger = send_until_settled(s.api, s.orders(N_ORDERS, restart.stop_then_start))
    print(f"\n[broker restart] outage {restart.outage_s or float('nan'):.2f} s")
    check_and_report(s, ledger, "broker restart")
    assert s.api.stats.reconnects >= 1


def test_orders_queued_during_a_broker_restart_reach_matching(
    sandbox: Sandbox, amqp_url: str
) -> None:
    """Confirmed orders still queued (matching stalled) when the broker restarts reach matching."""
    s, total = sandbox, 2_000
    s.counting.gate.clear()  # matching stalls: the orders wait in the queue
    try:
        ledger = send_until_settled(s.api, s.orders(total))
        assert all(o.ok for o in ledger.final.values())  # every order was confirmed
        with broker_restarted(amqp_url) as restart:
            restart.stop_then_start()
    finally:
        s.counting.gate.set()
    check_and_report(s, ledger, "restart with a backlog", total)
