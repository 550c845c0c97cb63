"""flxtrd 0.2.9's ``flxtrd.core.api_client``: the client and the names it imported."""

from flxtrd._amqp._api import AmpqAPI
from flxtrd._client._client import FlexAPIClient
from flxtrd._compat._client import MarketMessages
from flxtrd._compat._console import log
from flxtrd._compat._protocols import BaseAPI
from flxtrd._errors import FlexError
from flxtrd._rest._api import RestAPI
from flxtrd._rest._auth import AuthPlugin
from flxtrd._rest._plugins import BasePlugin
from flxtrd._types import FlexMarket, FlexResponse, FlexUser, MarketOrder, OrderType

__all__ = [
    "AmpqAPI",
    "AuthPlugin",
    "BaseAPI",
    "BasePlugin",
    "FlexAPIClient",
    "FlexError",
    "FlexMarket",
    "FlexResponse",
    "FlexUser",
    "MarketMessages",
    "MarketOrder",
    "OrderType",
    "RestAPI",
    "log",
]
