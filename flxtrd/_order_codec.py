"""Glue between the domain order types and the AMQP wire: routing key and line-protocol body.

:func:`encode_order` turns what a caller hands to ``send_order`` into what is published:

- a :class:`~flxtrd.MarketOrder` is turned into an :class:`~flxtrd._line_protocol.OrderLine`
  for the device's application key (``MarketOrder.to_order_line``);
- an :class:`OrderLine` is sent as it is (its own application key);

and the line is encoded with :func:`~flxtrd._line_protocol.encode_order_line`. The routing key
is the order's side (``"ask"`` or ``"bid"``): the order type decides, never a routing hint.
"""

from __future__ import annotations

from flxtrd._errors import FlexValidationError
from flxtrd._line_protocol import PRICE_FIELDS, OrderLine, encode_order_line
from flxtrd._types import MarketOrder

__all__ = ["encode_order", "order_side"]


def order_side(order: object) -> str:
    """The routing key of an order: ``"ask"`` or ``"bid"``."""
    if isinstance(order, MarketOrder):
        return order.order_type.value
    if isinstance(order, OrderLine):
        side = order.side
        if side in PRICE_FIELDS:
            return side
        raise FlexValidationError("order.side", "must be 'ask' or 'bid'", side)
    raise FlexValidationError("order", "must be a MarketOrder or an OrderLine", order)


def encode_order(order: object, application_key: str) -> tuple[str, bytes]:
    """Return ``(routing_key, body)`` for ``order`` sent by the device ``application_key``.

    Raises :class:`~flxtrd.FlexValidationError` for something that is not an order and
    :class:`~flxtrd.MessageEncodeError` for values line protocol cannot carry.
    """
    if isinstance(order, MarketOrder):
        line = order.to_order_line(application_key)
    elif isinstance(order, OrderLine):
        line = order
    else:
        raise FlexValidationError("order", "must be a MarketOrder or an OrderLine", order)
    text = encode_order_line(line)
    return line.side, text.encode("utf-8")
