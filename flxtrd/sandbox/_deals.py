"""The records one fill produces: the `Trade` between a bid and an ask, and, in generation 2,
the `Contract` that follows from it.

Pure constructors (the engine draws the ids and stores the results), so what a trade says about
its two orders is written once, apart from the matching and the bookkeeping in `_engine`.
"""

from __future__ import annotations

from . import _rules as rules
from ._book import RestingOrder
from ._types import Contract, Trade

__all__ = ["contract_of", "make_trade"]


def make_trade(
    bid: RestingOrder,
    ask: RestingOrder,
    take: float,
    now: int,
    trade_id: int,
    contract_id: int | None,
) -> Trade:
    """The trade of `take` W from `ask` to `bid` at `now` (pay-as-bid, the sell's window)."""
    start, end = rules.contract_window(bid.start, bid.end, ask.start, ask.end)
    return Trade(
        trade_id=trade_id,
        generation=ask.generation,
        time_ms=now,
        price=rules.deal_price(bid.price, ask.price),
        power=take,
        energy=rules.energy_wh(take, start, end),
        delivery_start_ms=start,
        delivery_end_ms=end,
        country_code=ask.country,
        buy_order_id=bid.order_id,
        sell_order_id=ask.order_id,
        buyer_id=bid.owner,
        seller_id=ask.owner,
        buy_application_key=bid.application_key,
        sell_application_key=ask.application_key,
        buy_message_id=bid.message_id,
        sell_message_id=ask.message_id,
        buy_power=bid.power,
        sell_power=ask.power,
        buy_energy=rules.energy_wh(bid.power, bid.start, bid.end),
        sell_energy=rules.energy_wh(ask.power, ask.start, ask.end),
        buy_time_ms=bid.created_ms,
        sell_time_ms=ask.created_ms,
        contract_id=contract_id,
    )


def contract_of(trade: Trade, contract_id: int) -> Contract:
    """The new generation-2 contract a trade creates (created and updated at the trade's time)."""
    return Contract(
        contract_id=contract_id,
        buy_order_id=trade.buy_order_id,
        sell_order_id=trade.sell_order_id,
        buyer_id=trade.buyer_id,
        seller_id=trade.seller_id,
        price=trade.price,
        power=trade.power,
        energy=trade.energy,
        delivery_start_ms=trade.delivery_start_ms,
        delivery_end_ms=trade.delivery_end_ms,
        country_code=trade.country_code,
        created_ms=trade.time_ms,
        updated_ms=trade.time_ms,
    )
