"""flxtrd 0.2.9's ``flxtrd.protocols.ampq``: ``AmpqAPI`` (kombu) and its line-message helpers."""

from flxtrd import utils
from flxtrd._amqp._api import AmpqAPI
from flxtrd._compat._console import log
from flxtrd._compat._protocols import BaseAPI, create_line_message, get_current_time_ms
from flxtrd._errors import FlexError
from flxtrd._types import (
    FlexBroker,
    FlexMarket,
    FlexResource,
    FlexUser,
    MarketOrder,
    OrderType,
)

__all__ = [
    "AmpqAPI",
    "BaseAPI",
    "FlexBroker",
    "FlexError",
    "FlexMarket",
    "FlexResource",
    "FlexUser",
    "MarketOrder",
    "OrderType",
    "create_line_message",
    "get_current_time_ms",
    "log",
    "utils",
]
