"""Glue between the domain order types and the AMQP wire: routing key and line-protocol body.

:func:`encode_order` turns what a caller hands to ``send_order`` into what is published:

- a :class:`~flxtrd.MarketOrder` is turned into an :class:`~flxtrd._line_protocol.OrderLine`
  for the device's application key (``MarketOrder.to_order_line``);
- an :class:`OrderLine` is sent as it is (its own application key);

and the line is encoded with :func:`~flxtrd._line_protocol.encode_order_line`. The routing key
is the order's side (``"ask"`` or ``"bid"``): the order type decides, never a routing hint.

:class:`OrderEncoder` does the same for one device, faster: a connection sends every order with
the same application key, so when the key needs no line-protocol escaping its constant prefix is
built once, and a :class:`~flxtrd.MarketOrder` (whose fields the domain types have validated:
int64 times, finite floats) is formatted with one f-string, exactly as the codec would format it
(a property test pins the equality). Anything else takes the codec's path.
"""

from __future__ import annotations

import math
import re

from flxtrd._errors import FlexValidationError
from flxtrd._line_protocol import PRICE_FIELDS, OrderLine, encode_order_line
from flxtrd._types import MAX_APPLICATION_KEY_LENGTH, MarketOrder

__all__ = ["OrderEncoder", "encode_order", "order_side"]

#: Application keys that line protocol carries as they are (no ``,``, ``=``, space or ``\\``).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:@+-]+")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


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


class OrderEncoder:
    """Encode orders for one device (application key), with a fast path for MarketOrder."""

    __slots__ = ("_prefix", "application_key")

    def __init__(self, application_key: str) -> None:
        self.application_key = application_key
        plain = (
            isinstance(application_key, str)
            and 0 < len(application_key) <= MAX_APPLICATION_KEY_LENGTH
            and _PLAIN_KEY.fullmatch(application_key) is not None
        )
        self._prefix: dict[str, str] | None = (
            {
                side: f"{side},applicationKey={application_key},version=1 starttime="
                for side in PRICE_FIELDS
            }
            if plain
            else None
        )

    def encode(self, order: object) -> tuple[str, bytes]:
        """Return ``(routing_key, body)``, byte for byte what :func:`encode_order` returns."""
        prefix = self._prefix
        if prefix is not None and type(order) is MarketOrder:
            flex = order.resource
            side = order.order_type.value
            start, runtime, expiry = flex.start_ms, flex.runtime_ms, flex.expiration_ms
            power, price, energy = flex.power_w, order.price_eur, flex.totalenergy_wh
            if (
                type(start) is int
                and type(runtime) is int
                and type(expiry) is int
                and _INT64_MIN <= start <= _INT64_MAX
                and _INT64_MIN <= runtime <= _INT64_MAX
                and _INT64_MIN <= expiry <= _INT64_MAX
                and type(power) is float
                and type(price) is float
                and type(energy) is float
                and math.isfinite(power)
                and math.isfinite(price)
                and math.isfinite(energy)
            ):
                text = (
                    f"{prefix[side]}{start}i,wattage={power!r},runtime={runtime}i,"
                    f"totalenergy={energy!r},{PRICE_FIELDS[side]}={price!r},"
                    f"expirationtime={expiry}i"
                )
                return side, text.encode()
        return encode_order(order, self.application_key)
