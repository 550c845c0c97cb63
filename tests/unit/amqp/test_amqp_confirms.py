"""The confirm and reconnect state machine, driven by a scripted fake broker connection."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from market_double import make_order

from flxtrd._amqp._api import AmpqAPI, OrderInDoubtError
from flxtrd._amqp._backend import _BackendContext
from flxtrd._errors import (
    AlreadyConnectedError,
    FlexConnectionError,
    FlexValidationError,
    OrderNotConfirmedError,
    OrderUnroutableError,
)
from flxtrd._retry import RetryPolicy


class FakeChannelError(Exception):
    """The broker closed the channel."""


@dataclass
class Published:
    """One publish as the fake connection saw it."""

    connection: int
    tag: int
    routing_key: str
    message_id: str
    body: bytes


@dataclass
class FakeBroker:
    """Shared by every connection the API opens: a script of events and what was published.

    ``script`` entries are callables run by ``drain`` (with the API and the connection);
    when it is empty, ``auto_ack`` acks everything outstanding, else drain times out.
    """

    script: deque[Callable[[_BackendContext, FakeConnection], Any]] = field(default_factory=deque)
    auto_ack: bool = True
    open_errors: deque[BaseException] = field(default_factory=deque)
    publish_errors: deque[BaseException] = field(default_factory=deque)
    published: list[Published] = field(default_factory=list)
    opens: int = 0
    channel_resets: int = 0


class FakeConnection:
    """A _Backend whose I/O is the FakeBroker's script."""

    connection_errors = (OSError,)
    channel_errors = (FakeChannelError,)

    def __init__(self, ctx: _BackendContext, broker: FakeBroker) -> None:
        self.ctx, self.broker = ctx, broker
        self.number = 0
        self.tag = 0
        self.acked = 0

    def open(self) -> None:
        """Connect, or raise the next scripted open error."""
        if self.broker.open_errors:
            raise self.broker.open_errors.popleft()
        self.broker.opens += 1
        self.number = self.broker.opens

    def publish(self, body: bytes, routing_key: str, message_id: str, sent_at_ms: int) -> None:
        """Record the publish (its delivery tag is the count on this connection)."""
        if self.broker.publish_errors:
            raise self.broker.publish_errors.popleft()
        self.tag += 1
        self.broker.published.append(
            Published(self.number, self.tag, routing_key, message_id, body)
        )

    def drain(self, timeout: float | None) -> bool:
        """Play the next scripted event, or ack everything, or time out."""
        if self.broker.script:
            self.broker.script.popleft()(self.ctx, self)
            return True
        if self.broker.auto_ack and self.acked < self.tag:
            self.acked = self.tag
            self.ctx.on_ack(self.tag, True)
            return True
        return False

    def reset_channel(self) -> None:
        """A new channel: delivery tags restart."""
        self.broker.channel_resets += 1
        self.tag = self.acked = 0

    def close(self) -> None:
        """Nothing to close."""

    def abandon(self) -> None:
        """Nothing to drop."""


def ack(tag: int, multiple: bool = False) -> Callable[[_BackendContext, FakeConnection], Any]:
    """Script: the broker acks ``tag``."""

    def event(ctx: _BackendContext, conn: FakeConnection) -> None:
        conn.acked = max(conn.acked, tag)
        ctx.on_ack(tag, multiple)

    return event


def nack(tag: int, multiple: bool = False) -> Callable[[_BackendContext, FakeConnection], Any]:
    """Script: the broker nacks ``tag``."""

    def event(ctx: _BackendContext, conn: FakeConnection) -> None:
        conn.acked = max(conn.acked, tag)
        ctx.on_nack(tag, multiple)

    return event


def returned(index: int) -> Callable[[_BackendContext, FakeConnection], Any]:
    """Script: the broker returns the ``index``-th published message (NO_ROUTE)."""

    def event(ctx: _BackendContext, conn: FakeConnection) -> None:
        ctx.on_return(conn.broker.published[index].message_id, 312, "NO_ROUTE")

    return event


def fail(exc: BaseException) -> Callable[[_BackendContext, FakeConnection], Any]:
    """Script: reading from the connection raises ``exc``."""

    def event(ctx: _BackendContext, conn: FakeConnection) -> None:
        raise exc

    return event


@pytest.fixture
def broker() -> FakeBroker:
    """A fresh scripted broker."""
    return FakeBroker()


@pytest.fixture
def api(broker: FakeBroker) -> AmpqAPI:
    """An AmpqAPI whose connections are FakeConnections; backoff waits are recorded."""
    client = AmpqAPI(
        "amqp://broker.invalid//",
        "user",
        "token",
        "device",
        retry_policy=RetryPolicy(max_retries=3, initial_delay_s=0.1, jitter=0.0),
        confirm_timeout=5,
    )
    client._backend_factory = lambda a: FakeConnection(a, broker)
    client.waits = []  # type: ignore[attr-defined]
    client._sleep = client.waits.append  # type: ignore[attr-defined]
    return client


def test_multiple_acks_confirm_every_order_up_to_the_tag(api: AmpqAPI, broker: FakeBroker) -> None:
    """ack(3, multiple) then ack(5, multiple) confirm orders 1-5 with their delivery tags."""
    broker.script.extend([ack(3, True), ack(5, True)])
    outcomes = api.send_orders([make_order()] * 5)
    assert [o.receipt.delivery_tag for o in outcomes if o.receipt] == [1, 2, 3, 4, 5]
    assert api._pending == {} and api._low_tag == 6


def test_single_acks_out_of_order(api: AmpqAPI, broker: FakeBroker) -> None:
    """Acks in any order each confirm their own order."""
    broker.script.extend([ack(2), ack(1), ack(3)])
    outcomes = api.send_orders([make_order()] * 3)
    assert all(o.ok for o in outcomes) and api._low_tag == 4


def test_return_before_ack_makes_exactly_that_order_unroutable(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """basic.return of the 2nd order, then one ack for all three: only the 2nd fails."""
    broker.script.extend([returned(1), ack(3, True)])
    outcomes = api.send_orders([make_order()] * 3)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, OrderUnroutableError)
    assert outcomes[1].message_id in str(outcomes[1].error)
    assert (api.stats.unroutable, api.stats.confirmed, api.stats.failed) == (1, 2, 1)


def test_nacks_fail_orders_as_not_confirmed(api: AmpqAPI, broker: FakeBroker) -> None:
    """nack(2, multiple) fails orders 1 and 2; ack(3) confirms the 3rd."""
    broker.script.extend([nack(2, True), ack(3)])
    outcomes = api.send_orders([make_order()] * 3)
    assert [o.ok for o in outcomes] == [False, False, True]
    assert all(isinstance(o.error, OrderNotConfirmedError) and o.error.nacked for o in outcomes[:2])
    assert api.stats.nacked == 2


def test_loss_mid_stream_reports_in_doubt_and_continues_on_a_new_connection(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """Unconfirmed orders at the loss are in doubt; later orders go out after the reconnect."""
    # Window 3: orders 1-3 out, ack(1) frees a slot, order 4 out, then the connection dies.
    broker.script.extend([ack(1), fail(ConnectionResetError("peer reset"))])
    outcomes = api.send_orders([make_order()] * 6, max_in_flight=3)
    assert [o.ok for o in outcomes] == [True, False, False, False, True, True]
    assert all(isinstance(o.error, OrderInDoubtError) for o in outcomes[1:4])
    assert "peer reset" in str(outcomes[1].error)
    assert [(p.connection, p.tag) for p in broker.published] == [
        (1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2),
    ]  # fmt: skip
    assert [o.receipt.delivery_tag for o in outcomes[4:] if o.receipt] == [1, 2]
    stats = api.stats
    assert (stats.connection_losses, stats.reconnects, stats.in_doubt) == (1, 1, 3)
    assert stats.sent == 6 and stats.confirmed + stats.failed == 6


def test_in_doubt_error_carries_the_message_id_for_a_resend(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """Re-sending an in-doubt order under its message_id puts the same id on the wire."""
    broker.script.append(fail(ConnectionResetError()))
    with pytest.raises(OrderInDoubtError) as info:
        api.send_order(make_order(), message_id="order-7")
    assert info.value.message_id == "order-7"
    api.send_order(make_order(), message_id=info.value.message_id)
    assert [p.message_id for p in broker.published] == ["order-7", "order-7"]


def test_publish_failure_is_in_doubt_and_reconnects(api: AmpqAPI, broker: FakeBroker) -> None:
    """A write error while publishing: that order is in doubt, the next goes out again."""
    broker.publish_errors.append(BrokenPipeError("broken pipe"))
    with pytest.raises(OrderInDoubtError, match="broken pipe"):
        api.send_order(make_order())
    assert api.send_order(make_order()).delivery_tag == 1
    assert broker.opens == 2


def test_failed_reconnect_fails_the_rest_of_the_batch_without_hanging(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """If the connection cannot come back, the remaining orders fail with the connect error."""
    consumed: list[int] = []

    def orders() -> Any:
        for i in range(10):
            consumed.append(i)
            yield make_order()

    api.connect()
    broker.script.extend([ack(1), fail(ConnectionResetError())])
    broker.open_errors.extend([ConnectionRefusedError("refused")] * 8)
    outcomes = api.send_orders(orders(), max_in_flight=3)
    assert len(outcomes) == len(consumed) == 10
    assert outcomes[0].ok
    assert all(isinstance(o.error, OrderInDoubtError) for o in outcomes[1:4])
    assert all(isinstance(o.error, FlexConnectionError) for o in outcomes[4:])
    assert api.waits == [0.1, 0.2, 0.4, 0.1, 0.2, 0.4]  # type: ignore[attr-defined]
    assert not api.is_connected()


def test_resource_locked_is_retried_on_reconnect_but_not_on_first_connect(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """RESOURCE_LOCKED at the first connect is final; after a loss it is waited out."""
    broker.open_errors.append(AlreadyConnectedError(application_key="device"))
    with pytest.raises(AlreadyConnectedError):
        api.connect()
    assert api.waits == []  # type: ignore[attr-defined]
    api.connect()
    broker.script.append(fail(ConnectionResetError()))
    broker.open_errors.extend([AlreadyConnectedError(application_key="device")] * 2)
    with pytest.raises(OrderInDoubtError):
        api.send_order(make_order())
    assert api.is_connected() and api.waits == [0.1, 0.2]  # type: ignore[attr-defined]


def test_confirm_timeout_is_in_doubt_and_a_late_ack_is_ignored(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """No confirm in time: in doubt; the ack that comes later does not confirm it twice."""
    broker.auto_ack = False
    with pytest.raises(OrderInDoubtError, match="no confirm within"):
        api.send_order(make_order(), timeout=0.01)
    broker.auto_ack = True
    broker.script.append(ack(1))  # the late ack of the first order
    receipt = api.send_order(make_order())
    assert receipt.delivery_tag == 2
    stats = api.stats
    assert (stats.confirmed, stats.in_doubt, stats.failed) == (1, 1, 1)


def test_channel_error_fails_in_flight_and_reopens_the_channel(
    api: AmpqAPI, broker: FakeBroker
) -> None:
    """A channel closed by the broker: in doubt, channel reopened, tags start again at 1."""
    broker.script.append(fail(FakeChannelError("PRECONDITION_FAILED")))
    with pytest.raises(OrderInDoubtError, match="PRECONDITION_FAILED"):
        api.send_order(make_order())
    assert broker.channel_resets == 1
    assert api.send_order(make_order()).delivery_tag == 1
    assert broker.opens == 1


def test_message_id_in_flight_twice_is_refused(api: AmpqAPI, broker: FakeBroker) -> None:
    """Two in-flight orders with one message_id: the second fails (a return could not be told)."""
    outcomes = api.send_orders([(make_order(), "same"), (make_order(), "same")])
    assert outcomes[0].ok
    assert isinstance(outcomes[1].error, FlexValidationError)
    assert len(broker.published) == 1


@pytest.mark.parametrize("message_id", ["", "x" * 256, "é" * 128])
def test_message_id_must_be_an_amqp_short_string(api: AmpqAPI, message_id: str) -> None:
    """message_id is an AMQP short string: 1 to 255 UTF-8 bytes."""
    with pytest.raises(FlexValidationError, match="message_id"):
        api.send_order(make_order(), message_id=message_id)
