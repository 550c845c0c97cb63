"""flxtrd 0.2.9's ``flxtrd.core.types``: the domain types (the same classes as ``flxtrd.*``)."""

from flxtrd import utils
from flxtrd._errors import FlexError
from flxtrd._types import (
    FlexBroker,
    FlexDevice,
    FlexMarket,
    FlexResource,
    FlexResponse,
    FlexUser,
    MarketOrder,
    OrderType,
)
from flxtrd.utils import MILLI

__all__ = [
    "MILLI",
    "FlexBroker",
    "FlexDevice",
    "FlexError",
    "FlexMarket",
    "FlexResource",
    "FlexResponse",
    "FlexUser",
    "MarketOrder",
    "OrderType",
    "utils",
]
