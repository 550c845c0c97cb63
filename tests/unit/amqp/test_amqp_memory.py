"""AmpqAPI on kombu's memory:// transport with the market test double: the full order flow."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from market_double import MarketDouble, make_order

from flxtrd._amqp._api import AmpqAPI, OrderOutcome, OrderReceipt
from flxtrd._amqp._market_messages import MarketMessage
from flxtrd._errors import (
    AlreadyConnectedError,
    BrokerError,
    FlexValidationError,
    MessageDecodeError,
    OrderUnroutableError,
)
from flxtrd._line_protocol import decode_order_line
from flxtrd._types import OrderType

MakeApi = Callable[..., AmpqAPI]


def test_send_order_returns_a_receipt_and_the_market_gets_the_documented_message(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """A confirmed order carries the line body, routing key, user_id, reply_to, id and timestamp."""
    api = make_api()
    order = make_order(OrderType.BID, price=11.0)
    receipt = api.send_order(order)
    market.pump()
    (seen,) = market.orders
    assert isinstance(receipt, OrderReceipt)
    assert receipt.order is order and receipt.routing_key == "bid"
    assert seen.routing_key == "bid" and seen.message_id == receipt.message_id
    assert seen.reply_to == api.application_key and seen.user_id == "user-1"
    assert seen.headers["sendertimestamp_in_ms"] == receipt.sent_at_ms
    assert seen.line == order.to_order_line(api.application_key)
    assert len(receipt.message_id) == 32 and receipt.confirm_ms >= 0
    assert api.stats.sent == api.stats.confirmed == 1


def test_the_connection_opens_on_first_use(make_api: MakeApi, market: MarketDouble) -> None:
    """send_order connects lazily, as the seed README says."""
    api = make_api()
    assert not api.is_connected()
    api.send_order(make_order())
    assert api.is_connected()


def test_unroutable_order_is_an_error_not_a_silent_loss(make_api: MakeApi) -> None:
    """With no market queue bound the order fails with OrderUnroutableError."""
    api = make_api()
    with pytest.raises(OrderUnroutableError) as info:
        api.send_order(make_order())
    assert info.value.routing_key == "ask" and info.value.reply_code == 312
    stats = api.stats
    assert (stats.sent, stats.confirmed, stats.failed, stats.unroutable) == (1, 0, 1, 1)


def test_disagreeing_routing_hint_is_logged_and_the_order_type_decides(
    make_api: MakeApi, market: MarketDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """The seed's endpoint='bi' for an ask is logged; the order still goes out as 'ask'."""
    api = make_api()
    with caplog.at_level(logging.WARNING, logger="flxtrd"):
        receipt = api.send_order(make_order(OrderType.ASK), routing_hint="bi")
    market.pump()
    assert receipt.routing_key == "ask" and market.orders[0].routing_key == "ask"
    assert "routing hint 'bi' disagrees" in caplog.text


def test_agreeing_routing_hint_is_not_logged(
    make_api: MakeApi, market: MarketDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """A hint that matches the order type is silent."""
    api = make_api()
    with caplog.at_level(logging.WARNING, logger="flxtrd"):
        api.send_order(make_order(OrderType.BID), routing_hint="bid")
    assert "disagrees" not in caplog.text


def test_caller_message_id_is_used_and_can_be_reused_after_the_outcome(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """A caller-supplied message_id goes on the wire; re-sending it later is allowed."""
    api = make_api()
    first = api.send_order(make_order(), message_id="order-42")
    second = api.send_order(make_order(), message_id="order-42")
    market.pump()
    assert first.message_id == second.message_id == "order-42"
    assert [o.message_id for o in market.orders] == ["order-42", "order-42"]


def test_send_orders_returns_one_outcome_per_order_in_order(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """Pipelined send: every order confirmed, outcomes in input order, ids unique."""
    api = make_api(max_in_flight=7)
    orders = [make_order(OrderType.ASK if i % 2 else OrderType.BID, price=i) for i in range(50)]
    outcomes = api.send_orders(orders)
    market.pump()
    assert [o.order for o in outcomes] == orders
    assert all(isinstance(o, OrderOutcome) and o.ok for o in outcomes)
    assert len({o.message_id for o in outcomes}) == 50
    assert [o.message_id for o in market.orders] == [o.message_id for o in outcomes]
    assert api.stats.confirmed == 50


def test_send_orders_reports_bad_items_without_stopping(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """A non-order item fails alone; its neighbours are still sent."""
    api = make_api()
    outcomes = api.send_orders([make_order(), "not an order", make_order()])
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, FlexValidationError)
    with pytest.raises(FlexValidationError):
        outcomes[1].unwrap()
    assert outcomes[0].unwrap() is outcomes[0].receipt
    assert api.stats.failed == 1 and api.stats.sent == 2


def test_send_orders_takes_explicit_message_ids(make_api: MakeApi, market: MarketDouble) -> None:
    """(order, message_id) pairs re-send orders under the ids they had."""
    api = make_api()
    outcomes = api.send_orders([(make_order(), "a"), make_order(), (make_order(), "c")])
    assert [o.message_id for o in outcomes][::2] == ["a", "c"]


def test_send_orders_per_order_unroutable(make_api: MakeApi, names: dict[str, str]) -> None:
    """When only asks are routed, each bid fails as unroutable and each ask is confirmed."""
    api = make_api()
    api.connect()
    with MarketDouble(
        "memory://", exchange=names["exchange"], reply_exchange=names["reply_exchange"]
    ) as m:
        m._channel.queue_unbind(m.queue, names["exchange"], "bid")
        outcomes = api.send_orders([make_order(OrderType.ASK), make_order(OrderType.BID)] * 3)
    assert [o.ok for o in outcomes] == [True, False] * 3
    assert all(isinstance(o.error, OrderUnroutableError) for o in outcomes[1::2])


def test_ask_and_bid_that_match_produce_three_replies(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """A matching ask and bid give a tick and both closed-order replies, typed."""
    api = make_api()
    api.send_order(make_order(OrderType.ASK, price=10))
    api.send_order(make_order(OrderType.BID, price=12))
    market.pump()
    replies = api.check_market_responses()
    assert [r.msg_type for r in replies] == ["tick", "ask_closed_order", "bid_closed_order"]
    assert all(isinstance(r, MarketMessage) for r in replies)
    assert replies[2].model.closed_order.price == 12  # type: ignore[union-attr]
    assert all(r.latency_ms is not None and r.latency_ms >= 0 for r in replies)


def test_check_market_responses_keeps_the_buffer_until_emptied(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """As in 0.2.9: check returns everything buffered until empty_market_responses()."""
    api = make_api()
    api.connect()
    assert api.check_market_responses() == []
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "one"})
    first = api.check_market_responses()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "two"})
    second = api.check_market_responses()
    assert [m["reason"] for m in first] == ["one"]
    assert [m["reason"] for m in second] == ["one", "two"]
    api.empty_market_responses()
    assert api.check_market_responses() == []


def test_market_messages_consumes_the_buffer_and_stops_when_idle(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """The iterator yields each reply once and ends after `timeout` without a new one."""
    api = make_api()
    api.connect()
    for reason in ("a", "b", "c"):
        market.reply(api.application_key, {"msg_type": "cancel", "reason": reason})
    assert [m["reason"] for m in api.market_messages(timeout=0)] == ["a", "b", "c"]
    assert list(api.market_messages(timeout=0.05)) == []
    assert api.check_market_responses() == []


def test_on_message_receives_replies_instead_of_the_buffer(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """With on_message set, replies go to the callback and the buffer stays empty."""
    seen: list[MarketMessage] = []
    api = make_api(on_message=seen.append)
    api.connect()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "x"})
    assert api.check_market_responses() == []
    assert [m.msg_type for m in seen] == ["cancel"]


def test_invalid_replies_are_counted_reported_and_do_not_stop_later_ones(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """Garbage goes to on_invalid with the raw body; the valid reply after it still arrives."""
    invalid: list[tuple[bytes, MessageDecodeError]] = []
    api = make_api(on_invalid=lambda raw, err: invalid.append((raw, err)))
    api.connect()
    for body in (b"\x00garbage", b'{"msg_type": "nope"}', b'{"msg_type": "tick"}'):
        market.send_raw(api.application_key, body)
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "ok"})
    replies = api.check_market_responses()
    assert [m["reason"] for m in replies] == ["ok"]
    assert [raw for raw, _ in invalid] == [
        b"\x00garbage",
        b'{"msg_type": "nope"}',
        b'{"msg_type": "tick"}',
    ]
    assert all(isinstance(err, MessageDecodeError) for _, err in invalid)
    assert (api.stats.received, api.stats.rejected_inbound) == (4, 3)


def test_callback_exceptions_are_counted_and_consumption_goes_on(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """A raising on_message or on_invalid never breaks the consumer."""
    calls: list[str] = []

    def boom(message: MarketMessage) -> None:
        calls.append(message["reason"])
        raise RuntimeError("user bug")

    def boom_invalid(raw: bytes, err: MessageDecodeError) -> None:
        raise RuntimeError("user bug")

    api = make_api(on_message=boom, on_invalid=boom_invalid)
    api.connect()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "1"})
    market.send_raw(api.application_key, b"junk")
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "2"})
    api.check_market_responses()
    assert calls == ["1", "2"]
    assert api.stats.callback_errors == 3


def test_buffer_is_bounded_and_drops_the_oldest(make_api: MakeApi, market: MarketDouble) -> None:
    """buffer_size caps memory: the newest replies stay, drops are counted."""
    api = make_api(buffer_size=3)
    api.connect()
    for i in range(5):
        market.reply(api.application_key, {"msg_type": "cancel", "reason": str(i)})
    assert [m["reason"] for m in api.check_market_responses()] == ["2", "3", "4"]
    assert api.stats.dropped == 2


def test_callback_may_send_an_order(make_api: MakeApi, market: MarketDouble) -> None:
    """A strategy reacting to a reply from on_message can send an order right there."""
    receipts: list[OrderReceipt] = []
    api = make_api()
    api.on_message = lambda message: receipts.append(api.send_order(make_order()))
    api.connect()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "go"})
    api.check_market_responses()
    market.pump()
    assert len(receipts) == 1 and market.orders[0].message_id == receipts[0].message_id


def test_second_connection_for_the_same_key_is_refused(make_api: MakeApi) -> None:
    """memory:// emulates the exclusive queue: one live connection per application key."""
    first = make_api()
    first.connect()
    second = make_api()
    with pytest.raises(AlreadyConnectedError) as info:
        second.connect()
    assert info.value.application_key == first.application_key
    assert not second.is_connected()
    first.close_connection()
    second.connect()
    assert second.is_connected()


def test_replies_sent_while_disconnected_are_gone(make_api: MakeApi, market: MarketDouble) -> None:
    """Like an exclusive queue, the reply queue dies with the connection (memory:// too)."""
    api = make_api()
    api.connect()
    api.close_connection()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "lost"})
    assert api.check_market_responses() == []


def test_close_connection_is_idempotent_and_a_no_op_before_connect(make_api: MakeApi) -> None:
    """close_connection() never raises, whether or not a connection was ever opened."""
    api = make_api()
    api.close_connection()
    api.connect()
    api.close_connection()
    api.close_connection()
    assert not api.is_connected()


def test_context_manager_connects_and_closes(make_api: MakeApi) -> None:
    """`with AmpqAPI(...)` opens on entry and closes on exit."""
    api = make_api()
    with api as opened:
        assert opened is api and api.is_connected()
    assert not api.is_connected()


def test_connect_is_idempotent(make_api: MakeApi) -> None:
    """A second connect() keeps the one connection (no RESOURCE_LOCKED against itself)."""
    api = make_api()
    api.connect()
    api.connect()
    assert api.is_connected()


def test_missing_exchanges_are_an_error_when_not_declaring(make_api: MakeApi) -> None:
    """declare_exchanges=False only checks; an absent exchange is a BrokerError."""
    api = make_api(declare_exchanges=False)
    with pytest.raises(BrokerError, match="does not exist"):
        api.connect()
    assert not api.is_connected()


def test_sleep_reads_replies_while_waiting(make_api: MakeApi, market: MarketDouble) -> None:
    """sleep() (0.2.9's trading_client.sleep) keeps consuming."""
    api = make_api()
    api.connect()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "z"})
    api.sleep(0.01)
    assert [m["reason"] for m in list(api._buffer)] == ["z"]


def test_replies_are_json_serialisable_for_029_handlers(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """0.2.9 examples json.dumps() each response: that works on MarketMessage."""
    api = make_api()
    api.connect()
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "r"})
    (reply,) = api.check_market_responses()
    assert json.loads(json.dumps(reply)) == {"msg_type": "cancel", "reason": "r"}


def test_order_line_body_round_trips_through_the_broker(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """What the market decodes equals what the client encoded."""
    api = make_api()
    order = make_order(OrderType.ASK, price=1e-7)
    api.send_order(order)
    market.pump()
    assert decode_order_line(market.orders[0].body).price == 1e-7
