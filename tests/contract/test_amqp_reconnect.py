"""Losing the broker connection mid-stream: every order is accounted for exactly once."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from kombu import Connection
from market_double import close_connections, make_order

from flxtrd._amqp._api import AmpqAPI, OrderInDoubtError, OrderOutcome
from flxtrd._retry import RetryPolicy
from flxtrd._types import OrderType

pytestmark = pytest.mark.broker

#: Quick reconnects: the broker is local.
FAST_RETRY = RetryPolicy(max_retries=10, initial_delay_s=0.05, max_delay_s=0.5, jitter=0.25)


@pytest.fixture
def counted(amqp_url: str) -> Iterator[dict[str, str]]:
    """Exchanges plus a durable counting queue bound to ask and bid; removed afterwards."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed to force-close connections in CI")
        pytest.skip("rabbitmqctl is not on PATH")
    tag = uuid.uuid4().hex[:10]
    names = {
        "exchange": f"r-in-{tag}",
        "reply_exchange": f"r-out-{tag}",
        "queue": f"r-count-{tag}",
        "key": f"r-dev-{tag}",
    }
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        channel.exchange_declare(names["exchange"], "direct", durable=True, auto_delete=False)
        channel.queue_declare(names["queue"], durable=False, auto_delete=False)
        for side in ("ask", "bid"):
            channel.queue_bind(names["queue"], names["exchange"], side)
        yield names
        channel.queue_delete(names["queue"])
        channel.exchange_delete(names["exchange"])
        channel.exchange_delete(names["reply_exchange"])


def delivered_ids(amqp_url: str, queue: str) -> list[str]:
    """Every message_id in the counting queue (consumed); duplicates kept."""
    ids: list[str] = []
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        expected = channel.queue_declare(queue, passive=True).message_count
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            ids.append(message.properties["message_id"])
    assert len(ids) == expected
    return ids


def check_accounting(outcomes: list[OrderOutcome], delivered: list[str], total: int) -> None:
    """confirmed ⊆ delivered; each order confirmed xor failed; nothing delivered twice."""
    assert len(outcomes) == total
    ids = [o.message_id for o in outcomes]
    assert len(set(ids)) == total
    confirmed = {o.message_id for o in outcomes if o.ok}
    failed = {o.message_id for o in outcomes if o.error is not None}
    assert all((o.receipt is None) != (o.error is None) for o in outcomes)
    assert confirmed.isdisjoint(failed) and confirmed | failed == set(ids)
    assert confirmed <= set(delivered)
    assert set(delivered) <= set(ids)
    assert not [i for i, n in Counter(delivered).items() if n > 1]
    assert all(isinstance(o.error, OrderInDoubtError) for o in outcomes if not o.ok)


def test_forced_close_during_a_pipelined_stream_of_2000(
    amqp_url: str, counted: dict[str, str]
) -> None:
    """rabbitmqctl close_connection mid-stream: reconnect, in-doubt orders reported, none lost."""
    api = AmpqAPI(
        amqp_url,
        "unused",
        "unused",
        counted["key"],
        exchange=counted["exchange"],
        reply_exchange=counted["reply_exchange"],
        retry_policy=FAST_RETRY,
        max_in_flight=256,
    )
    closed: list[int] = []

    def stream() -> Iterator[object]:
        for i in range(2000):
            if i == 1000:
                closed.append(close_connections(api.connection_name, "contract test"))
            yield make_order(OrderType.ASK if i % 2 else OrderType.BID, price=i)

    with api:
        outcomes = api.send_orders(stream())
        assert closed == [1]
        stats = api.stats
        assert (stats.connection_losses, stats.reconnects) == (1, 1)
        assert stats.sent == 2000 and stats.confirmed + stats.failed == 2000
        assert stats.in_doubt == stats.failed >= 1  # at least the first order after the close
        delivered = delivered_ids(amqp_url, counted["queue"])
        check_accounting(outcomes, delivered, 2000)
        assert len(delivered) >= stats.confirmed >= 1000

        # Re-sending the in-doubt orders under their ids makes duplicates detectable downstream.
        again = api.send_orders([(o.order, o.message_id) for o in outcomes if not o.ok])
        assert all(o.ok for o in again)
        resent = delivered_ids(amqp_url, counted["queue"])
        assert set(delivered) | set(resent) == {o.message_id for o in outcomes}
        assert api.is_connected()


def test_forced_close_between_single_sends(amqp_url: str, counted: dict[str, str]) -> None:
    """Per-order sends across a forced close: each returns a receipt or raises in doubt, once."""
    api = AmpqAPI(
        amqp_url,
        "unused",
        "unused",
        counted["key"],
        exchange=counted["exchange"],
        reply_exchange=counted["reply_exchange"],
        retry_policy=FAST_RETRY,
    )
    outcomes: list[OrderOutcome] = []
    with api:
        for i in range(400):
            if i == 200:
                assert close_connections(api.connection_name, "contract test") == 1
            order = make_order(price=i)
            message_id = uuid.uuid4().hex
            try:
                receipt = api.send_order(order, message_id=message_id)
            except OrderInDoubtError as exc:
                assert exc.message_id == message_id
                outcomes.append(OrderOutcome(order, message_id, None, exc))
            else:
                outcomes.append(OrderOutcome(order, message_id, receipt, None))
        check_accounting(outcomes, delivered_ids(amqp_url, counted["queue"]), 400)
        assert api.stats.reconnects == 1
        assert sum(not o.ok for o in outcomes) <= 1  # only an order in flight at the loss

        # The reply queue and its consumer are back: a reply reaches the client.
        with Connection(amqp_url) as conn:
            producer = conn.Producer()
            producer.publish(
                b'{"msg_type": "cancel", "reason": "after reconnect"}',
                exchange=counted["reply_exchange"],
                routing_key=api.application_key,
                content_type="application/json",
            )
        reply = next(api.market_messages(timeout=5))
        assert reply["reason"] == "after reconnect"
