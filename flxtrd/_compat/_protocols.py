"""flxtrd 0.2.9's protocol helpers: ``BaseAPI``, ``create_line_message``, ``get_current_time_ms``.

``BaseAPI`` was the abstract base of 0.2.9's ``RestAPI`` and ``AmpqAPI``. Today's protocols do
not inherit from it, but any class with a ``send_request`` method counts as one, so
``isinstance(client.request_protocol, BaseAPI)`` holds as it did.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from flxtrd._errors import FlexValidationError
from flxtrd._line_protocol import encode_order_line
from flxtrd._types import Flexibility, MarketOrder, User
from flxtrd._validation import current_time_ms

__all__ = ["BaseAPI", "create_line_message", "get_current_time_ms"]


class BaseAPI(ABC):
    """Base class of 0.2.9's protocol classes: a ``base_url`` and ``send_request(**kwargs)``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    @abstractmethod
    def send_request(self, **kwargs: Any) -> Any:
        """Send one request; what it returns is the protocol's business."""

    @classmethod
    def __subclasshook__(cls, subclass: type) -> Any:
        """Any class with a callable ``send_request`` is a protocol (e.g. ``RestAPI``)."""
        if cls is BaseAPI:
            return callable(getattr(subclass, "send_request", None))
        return NotImplemented


def create_line_message(
    user: User, flexibility: Flexibility, marketOrder: MarketOrder, version: int = 1
) -> str:
    """The line-protocol body of ``marketOrder`` for ``flexibility`` and the user's app key.

    As 0.2.9's helper of the same name; numbers are written in the codec's exact form
    (``wattage=100.0`` where 0.2.9 wrote ``wattage=100``; both decode to the same order).
    """
    order = MarketOrder(
        order_type=marketOrder.order_type, price_eur=marketOrder.price_eur, resource=flexibility
    )
    if not user.app_key:
        raise FlexValidationError(
            "app_key", "is required: authenticate the user first (its application key)", None
        )
    return encode_order_line(order.to_order_line(user.app_key, version=str(version)))


def get_current_time_ms() -> int:
    """The current time in epoch milliseconds (0.2.9's AMQP header timestamp)."""
    return current_time_ms()
