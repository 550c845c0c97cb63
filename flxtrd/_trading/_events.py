"""Market messages to strategy events: what a strategy sees of each reply or stream model.

The connections (:mod:`flxtrd._trading._connections`) read the market; this module only
translates, with no I/O, so the mapping below is tested with plain model objects::

    generation 1 (AMQP reply)         generation 2 (WebSocket stream)          strategy event
    tick                              ticker                                   MarketTick
    ask/bid_closed_order              contract_status_update (new contract)    Fill
    cancel (with the message id)      order_status_update cancelled/expired    OrderClosed
    -                                 contract_status_update                   ContractUpdate
    broker confirm (send_order)       201/200 of orders.place                  OrderAccepted
    send refused (FlexError)          place refused (FlexError)                OrderClosed rejected

Other generation-2 order statuses (``accepted``, ``filled``, ...) add nothing the events above
do not say, and are not passed on. A contract needs a REST call to become a fill; the
generation-2 connection makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flxtrd._log import get_logger
from flxtrd._trading._strategy import Fill, MarketTick, OrderClosed, StrategyEvent
from flxtrd._types import OrderType

if TYPE_CHECKING:
    from flxtrd._amqp._market_messages import MarketMessage

__all__ = ["EPOCH", "Incoming", "epoch_ms", "gen1_events", "gen2_events"]

_logger = get_logger("bot")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch, aware (market times are ms since it)."""
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """An aware datetime as ms since the epoch (exact, no float rounding)."""
    return (moment - EPOCH) // _ONE_MS


@dataclass(frozen=True, slots=True)
class Incoming:
    """A market event for one bot, before the bot knows which of its orders it concerns.

    ``market_id`` is the order's message id (generation 1) or order id (generation 2) when the
    market said it; ``order_power_w`` the power of the order a generation-1 closed order
    belongs to (closed orders carry no id).
    """

    event: StrategyEvent
    market_id: str | None = None
    order_power_w: float | None = None


def gen1_events(message: MarketMessage, now_ms: int) -> list[Incoming]:
    """The strategy events of one generation-1 reply (``now_ms`` dates a ``cancel``)."""
    from glocalflex_messages.models import AskClosedOrder, BidClosedOrder, Cancel
    from glocalflex_messages.models import Tick as TickModel

    model = message.model
    if isinstance(model, TickModel):
        tick = MarketTick(
            time_ms=epoch_ms(model.trade_time),
            price=model.price,
            energy_wh=model.energy,
            start_ms=epoch_ms(model.start_time),
            generation=1,
        )
        return [Incoming(tick)]
    if isinstance(model, (AskClosedOrder, BidClosedOrder)):
        closed = model.closed_order
        fill = Fill(
            ref=None,
            side=OrderType.ASK if isinstance(model, AskClosedOrder) else OrderType.BID,
            price=closed.price,
            power_w=closed.power,
            start_ms=closed.starttime,
            end_ms=closed.starttime + closed.runtime,
            time_ms=closed.match_time // 1_000_000,
            generation=1,
        )
        return [Incoming(fill, order_power_w=closed.wattage)]
    if isinstance(model, Cancel):
        message_id = model.message_id if isinstance(model.message_id, str) else None
        if message_id is None:
            _logger.info("a cancel without a message id: %s", model.reason)
            return []
        status = "expired" if model.reason.startswith("expired") else "cancelled"
        closed_event = OrderClosed(ref="", status=status, reason=model.reason, time_ms=now_ms)
        return [Incoming(closed_event, market_id=message_id)]
    return []  # pragma: no cover - the reply union has no other member


def gen2_events(model: Any, now_ms: int) -> list[Incoming]:
    """The strategy events of one generation-2 stream model (ticker and order status).

    Contracts need a REST call to become fills; :class:`Gen2Connection` does that.
    """
    from glocalflex_messages.models import OrderStatusUpdate, Ticker

    if isinstance(model, Ticker):
        data = model.data
        tick = MarketTick(
            time_ms=epoch_ms(data.trade_time),
            price=data.price,
            energy_wh=data.energy,
            start_ms=epoch_ms(data.delivery_start),
            end_ms=epoch_ms(data.delivery_end),
            power_w=data.power,
            generation=2,
        )
        return [Incoming(tick)]
    if isinstance(model, OrderStatusUpdate):
        update = model.data
        status = str(update.status)
        if status in ("cancelled", "expired"):
            closed = OrderClosed(
                ref="",
                status=status,
                reason=f"order {update.order_id} {status}",
                time_ms=epoch_ms(update.timestamp),
            )
            return [Incoming(closed, market_id=str(update.order_id))]
    return []
