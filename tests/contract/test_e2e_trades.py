"""End-to-end trades on the sandbox, one set of cases run embedded and served (``market``).

Clients are `FlexAPIClient` s used as a user uses them: generation 1 sends line-protocol orders
over AMQP and reads the replies of its device queue; generation 2 places, reads and cancels
orders over REST and follows its WebSocket streams. Each test trades in a delivery window of its
own (``sandbox.slot()``), so resting orders of other tests never match. Expiry steps the manual
clock of the embedded sandbox and waits for the wall clock on the served one (a short expiry,
awaited with a deadline). Every message and request of each test is checked against the specs
when it ends (``sandbox`` fixture).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from glocalflex_messages.models import ContractStatusUpdate, OrderStatusUpdate, Ticker

from flxtrd import ConflictError, UnprocessableEntityError

QUARTER_MS = 15 * 60_000
HOUR_MS = 3_600_000
SHORT_EXPIRY_MS = 1_500


def energy_wh(watts: float, runtime_ms: int) -> float:
    """Energy of ``watts`` over ``runtime_ms``: W x ms / 3.6e6 = Wh."""
    return watts * runtime_ms / 3.6e6


def value(enum_or_str: Any) -> str:
    """The string of a generated enum member (or of a string)."""
    return str(getattr(enum_or_str, "value", enum_or_str))


def is_closed(kind: str, start_ms: int) -> Any:
    """Predicate: a ``kind`` closed order for the window starting at ``start_ms``."""
    return lambda m: m["msg_type"] == kind and m["closed_order"]["starttime"] == start_ms


def is_tick(start_ms: int) -> Any:
    """Predicate: a tick for the window starting at ``start_ms``."""
    return lambda m: (
        m["msg_type"] == "tick"
        and datetime.fromisoformat(m["start_time"]).timestamp() * 1000 == start_ms
    )


def is_cancel(message_id: str) -> Any:
    """Predicate: the cancel of the order published with ``message_id``."""
    return lambda m: m["msg_type"] == "cancel" and m.get("message_id") == message_id


def is_status(order_id: int, status: str) -> Any:
    """Predicate on trade-stream models: order ``order_id`` reached ``status``."""
    return lambda m: (
        isinstance(m, OrderStatusUpdate)
        and m.data.order_id == order_id
        and value(m.data.status) == status
    )


# --- generation 1: AMQP --------------------------------------------------------------------------


def test_ask_and_bid_close_both_orders_and_tick_both(sandbox: Any) -> None:
    """An ask and a crossing bid: each owner gets its closed order at the bid price, both a tick."""
    seller, buyer = sandbox.trader("seller"), sandbox.trader("buyer")
    start = sandbox.slot()
    seller.send(sandbox.order("ask", 1000, 10, start))
    buyer.send(sandbox.order("bid", 1000, 12, start))

    ask = seller.wait("the seller's ask_closed_order", is_closed("ask_closed_order", start))
    bid = buyer.wait("the buyer's bid_closed_order", is_closed("bid_closed_order", start))
    for message, owner in ((ask, seller), (bid, buyer)):
        assert message["application_key"] == owner.app_key
        order = message["closed_order"]
        assert order["price"] == 12  # pay-as-bid
        assert order["ask_user"] == seller.user_id
        assert order["bid_user"] == buyer.user_id
        assert (order["starttime"], order["runtime"]) == (start, QUARTER_MS)
        assert order["endtime"] == start + QUARTER_MS
        assert order["wattage"] == order["power"] == 1000
        assert order["totalenergy"] == order["energy"] == pytest.approx(energy_wh(1000, QUARTER_MS))
    for trader in (seller, buyer):
        tick = trader.wait("a tick", is_tick(start))
        assert tick["price"] == 12
        assert tick["energy"] == pytest.approx(energy_wh(1000, QUARTER_MS))
        assert tick.latency_ms is not None  # the header sendertimestamp_in_ms came along
    # Replies of one queue arrive in order: nothing else came before the ticks.
    assert [m["msg_type"] for m in seller.messages] == ["ask_closed_order", "tick"]
    assert [m["msg_type"] for m in buyer.messages] == ["bid_closed_order", "tick"]


def test_gen1_bid_fills_partially_and_rests_with_the_rest(sandbox: Any) -> None:
    """A big bid is filled by a smaller ask (whole), then completed by a second ask."""
    seller, buyer = sandbox.trader("seller"), sandbox.trader("buyer")
    start = sandbox.slot()
    buyer.send(sandbox.order("bid", 3000, 12, start))
    seller.send(sandbox.order("ask", 1000, 10, start))

    first = buyer.wait("the first bid_closed_order", is_closed("bid_closed_order", start))
    order = first["closed_order"]
    assert (order["wattage"], order["power"]) == (3000, 1000)  # the bid's power, this fill's
    assert order["totalenergy"] == pytest.approx(energy_wh(3000, QUARTER_MS))
    assert order["energy"] == pytest.approx(energy_wh(1000, QUARTER_MS))
    ask = seller.wait("ask_closed_order", is_closed("ask_closed_order", start))["closed_order"]
    assert ask["wattage"] == ask["power"] == 1000  # sells fill whole

    seller.send(sandbox.order("ask", 2000, 11, start))
    second = buyer.wait(
        "the second bid_closed_order",
        lambda m: is_closed("bid_closed_order", start)(m) and m["closed_order"]["power"] == 2000,
    )
    assert second["closed_order"]["price"] == 12  # still the bid's price
    fills = [m for m in buyer.messages if m["msg_type"] == "bid_closed_order"]
    assert sum(m["closed_order"]["power"] for m in fills) == 3000


def test_gen1_resting_order_expires_with_a_cancel(sandbox: Any) -> None:
    """A resting order reaching its expirationtime is cancelled ("expired: ...", its message id)."""
    seller = sandbox.trader("seller")
    expiry = sandbox.now_ms() + SHORT_EXPIRY_MS
    receipt = seller.send(sandbox.order("ask", 500, 10, sandbox.slot(), expiration_ms=expiry))
    seller.barrier()  # the ask rests in the book before time passes
    assert not [m for m in seller.messages if m["msg_type"] != "cancel"]

    sandbox.pass_time_to(expiry)
    cancel = seller.wait("the expiry cancel", is_cancel(receipt.message_id))
    assert cancel["reason"].startswith("expired:")
    assert cancel["application_key"] == seller.app_key


def test_gen1_order_expired_on_arrival_is_refused_with_a_cancel(sandbox: Any) -> None:
    """An order whose expirationtime has passed (the seed's 1970 one) gets a cancel with reason."""
    buyer = sandbox.trader("buyer")
    order = sandbox.order("bid", 500, 10, sandbox.slot(), expiration_ms=60_000)
    receipt = buyer.send(order)
    cancel = buyer.wait("the refusal", is_cancel(receipt.message_id))
    assert "expired" in cancel["reason"]
    assert cancel["application_key"] == buyer.app_key


@pytest.mark.parametrize(
    ("body", "routing_key", "reason"),
    [
        (b"not an order line", "ask", "malformed order"),
        (b"bid,applicationKey=KEY,version=1 starttime=1i", "bid", "malformed order"),
    ],
    ids=["garbage", "missing-fields"],
)
def test_gen1_malformed_order_gets_a_cancel_with_the_reason(
    sandbox: Any, body: bytes, routing_key: str, reason: str
) -> None:
    """A body that is no valid order line is answered with a cancel saying why."""
    trader = sandbox.trader("buyer")
    message_id = trader.publish_raw(body.replace(b"KEY", trader.app_key.encode()), routing_key)
    cancel = trader.wait("the malformed-order cancel", is_cancel(message_id))
    assert cancel["reason"].startswith(reason)
    assert len(cancel["reason"]) > len(reason)  # says what is wrong


# --- generation 2: REST + streams --------------------------------------------------------------


def test_gen2_partial_fill_creates_a_contract(sandbox: Any) -> None:
    """A big buy and a smaller sell: buy partial_filled, sell filled, a contract, a ticker entry."""
    buyer, seller = sandbox.client("buyer"), sandbox.client("seller")
    trade = sandbox.watch(buyer, "trade")
    ticker = sandbox.watch(seller, "ticker")
    start = sandbox.slot()

    buy = sandbox.place(buyer, "buy", 3000, 0.30, start)
    assert value(buy.status) == "matching_active"
    sell = sandbox.place(seller, "sell", 1000, 0.20, start)
    assert value(sell.status) == "filled"

    buy = buyer.orders.get(buy.id)
    assert value(buy.status) == "partial_filled"
    assert buy.filled_power == 1000
    contract = next(c for c in buyer.contracts.list().items if c.buy_order_id == buy.id)
    assert contract.sell_order_id == sell.id
    assert (contract.power, contract.price) == (1000, 0.30)  # pay-as-bid
    assert contract.energy == pytest.approx(energy_wh(1000, QUARTER_MS))
    assert seller.contracts.get(contract.id).id == contract.id  # the seller's contract too

    update = trade.wait("partial_filled", is_status(buy.id, "partial_filled"))
    assert update.data.filled_power == 1000
    created = trade.wait(
        "the contract's update",
        lambda m: isinstance(m, ContractStatusUpdate) and m.data.contract_id == contract.id,
    )
    assert (created.data.buy_order_id, created.data.sell_order_id) == (buy.id, sell.id)
    entry = ticker.wait(
        "the ticker entry",
        lambda m: isinstance(m, Ticker) and m.data.delivery_start.timestamp() * 1000 == start,
    )
    assert (entry.data.price, entry.data.power) == (0.30, 1000)


def test_gen2_order_expires(sandbox: Any) -> None:
    """An unmatched order reaching its expiry_time becomes expired (stream and REST agree)."""
    buyer = sandbox.client("buyer")
    trade = sandbox.watch(buyer, "trade")
    expiry = sandbox.now_ms() + SHORT_EXPIRY_MS
    order = sandbox.place(buyer, "buy", 800, 0.30, sandbox.slot(), expiry_ms=expiry)
    assert value(order.status) == "matching_active"

    sandbox.pass_time_to(expiry)
    trade.wait("expired", is_status(order.id, "expired"))
    assert value(buyer.orders.get(order.id).status) == "expired"


def test_gen2_cancel(sandbox: Any) -> None:
    """orders.cancel cancels an open order; cancelling it again is a 409 ConflictError."""
    buyer = sandbox.client("buyer")
    trade = sandbox.watch(buyer, "trade")
    order = sandbox.place(buyer, "buy", 800, 0.30, sandbox.slot())

    assert value(buyer.orders.cancel(order.id).status) == "cancelled"
    assert value(buyer.orders.get(order.id).status) == "cancelled"
    trade.wait("cancelled", is_status(order.id, "cancelled"))
    with pytest.raises(ConflictError) as caught:
        buyer.orders.cancel(order.id)
    assert caught.value.status_code == 409


def test_gen2_bad_order_is_422_naming_the_field(sandbox: Any) -> None:
    """An order expired on arrival (client clock 1 h slow): 422 naming expiry_time, not stored."""
    late = sandbox.client("buyer", clock=lambda: time.time() - 3600)
    now = sandbox.now_ms()
    before = late.orders.list().total

    with pytest.raises(UnprocessableEntityError) as caught:
        sandbox.place(late, "buy", 800, 0.30, sandbox.slot(), expiry_ms=now - HOUR_MS // 2)
    error = caught.value
    assert error.status_code == 422
    assert [e.loc for e in error.field_errors] == [("body", "expiry_time")]
    assert "expired" in error.field_errors[0].msg
    assert late.orders.list().total == before
