"""flxtrd: the Python SDK for the GLocalFlex Market.

Trade energy flexibility (a power in W over a delivery window, at a price) on the GLocalFlex
Market: REST (login, orders, contracts, deals), confirmed AMQP orders with typed market replies,
WebSocket streams, and a local sandbox market (``FLXTRD_MARKET_URL=sandbox://``).

The domain types and errors import eagerly and cheaply; the clients, the AMQP protocol and the
streams (httpx, kombu, the generated client) load on first use, so ``import flxtrd`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flxtrd._errors import (
    AlreadyConnectedError,
    AuthenticationError,
    BrokerError,
    ConfigurationError,
    ConflictError,
    FieldError,
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    FlexValidationError,
    MessageDecodeError,
    MessageEncodeError,
    MessageError,
    NotFoundError,
    OrderNotConfirmedError,
    OrderUnroutableError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from flxtrd._line_protocol import OrderLine, decode_order_line, encode_order_line
from flxtrd._log import log
from flxtrd._types import (
    ASK,
    BID,
    Broker,
    FlexBroker,
    FlexDevice,
    Flexibility,
    FlexMarket,
    FlexResource,
    FlexResponse,
    FlexUser,
    Market,
    MarketOrder,
    OrderType,
    User,
)
from flxtrd._validation import OrderSpec

if TYPE_CHECKING:
    from flxtrd import utils
    from flxtrd._amqp import AmpqAPI, AmqpStats, OrderInDoubtError, OrderOutcome, OrderReceipt
    from flxtrd._async_client import AsyncFlexAPIClient
    from flxtrd._auth import AuthPlugin, Identity
    from flxtrd._base_client import RawResponse
    from flxtrd._client import FlexAPIClient
    from flxtrd._market_messages import MarketMessage
    from flxtrd._plugins import BasePlugin
    from flxtrd._rest import AsyncRestAPI, RestAPI
    from flxtrd._retry import RetryPolicy
    from flxtrd._streams import (
        AsyncMarketStream,
        MarketEvent,
        MarketStream,
        ReconnectPolicy,
        StreamHandshakeError,
        StreamStats,
        TokenSource,
    )

#: Names loaded on first access, and the private module each lives in.
_LAZY = {
    "AmpqAPI": "flxtrd._amqp",
    "AmqpStats": "flxtrd._amqp",
    "AsyncFlexAPIClient": "flxtrd._async_client",
    "AsyncMarketStream": "flxtrd._streams",
    "AsyncRestAPI": "flxtrd._rest",
    "AuthPlugin": "flxtrd._auth",
    "BasePlugin": "flxtrd._plugins",
    "FlexAPIClient": "flxtrd._client",
    "Identity": "flxtrd._auth",
    "MarketEvent": "flxtrd._streams",
    "MarketMessage": "flxtrd._market_messages",
    "MarketStream": "flxtrd._streams",
    "OrderInDoubtError": "flxtrd._amqp",
    "OrderOutcome": "flxtrd._amqp",
    "OrderReceipt": "flxtrd._amqp",
    "RawResponse": "flxtrd._base_client",
    "ReconnectPolicy": "flxtrd._streams",
    "RestAPI": "flxtrd._rest",
    "RetryPolicy": "flxtrd._retry",
    "StreamHandshakeError": "flxtrd._streams",
    "StreamStats": "flxtrd._streams",
    "TokenSource": "flxtrd._streams",
}


def __getattr__(name: str) -> Any:
    """Load a heavy public name (a client, the AMQP protocol, a stream) on first access."""
    if name == "utils":
        return importlib.import_module("flxtrd.utils")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flxtrd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, the lazy ones included."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ASK",
    "BID",
    "AlreadyConnectedError",
    "AmpqAPI",
    "AmqpStats",
    "AsyncFlexAPIClient",
    "AsyncMarketStream",
    "AsyncRestAPI",
    "AuthPlugin",
    "AuthenticationError",
    "BasePlugin",
    "Broker",
    "BrokerError",
    "ConfigurationError",
    "ConflictError",
    "FieldError",
    "FlexAPIClient",
    "FlexBroker",
    "FlexConnectionError",
    "FlexDevice",
    "FlexError",
    "FlexMarket",
    "FlexResource",
    "FlexResponse",
    "FlexStatusError",
    "FlexTimeoutError",
    "FlexUser",
    "FlexValidationError",
    "Flexibility",
    "Identity",
    "Market",
    "MarketEvent",
    "MarketMessage",
    "MarketOrder",
    "MarketStream",
    "MessageDecodeError",
    "MessageEncodeError",
    "MessageError",
    "NotFoundError",
    "OrderInDoubtError",
    "OrderLine",
    "OrderNotConfirmedError",
    "OrderOutcome",
    "OrderReceipt",
    "OrderSpec",
    "OrderType",
    "OrderUnroutableError",
    "PermissionDeniedError",
    "RateLimitError",
    "RawResponse",
    "ReconnectPolicy",
    "RestAPI",
    "RetryPolicy",
    "ServerError",
    "StreamHandshakeError",
    "StreamStats",
    "TokenSource",
    "UnprocessableEntityError",
    "User",
    "decode_order_line",
    "encode_order_line",
    "log",
    "utils",
]
