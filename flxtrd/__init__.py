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

from flxtrd._compat._console import log
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
    OrderInDoubtError,
    OrderNotConfirmedError,
    OrderPlacementInDoubtError,
    OrderPlacementTimeoutError,
    OrderUnroutableError,
    OversellError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamHandshakeError,
    UnprocessableEntityError,
)
from flxtrd._line_protocol import OrderLine, decode_order_line, encode_order_line
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
    from flxtrd import frames, utils
    from flxtrd._amqp._api import AmpqAPI
    from flxtrd._amqp._market_messages import MarketMessage
    from flxtrd._amqp._results import AmqpStats, OrderOutcome, OrderReceipt
    from flxtrd._client._async_client import AsyncFlexAPIClient
    from flxtrd._client._client import FlexAPIClient
    from flxtrd._compat._auth import AuthResponse
    from flxtrd._fleet import (
        DeviceStats,
        Fleet,
        FleetDevice,
        FleetOutcome,
        FleetStats,
        Gen2Device,
        Gen2Fleet,
        LatencySummary,
        PortfolioStrategy,
        login_devices,
    )
    from flxtrd._rest._api import RestAPI
    from flxtrd._rest._async_api import AsyncRestAPI
    from flxtrd._rest._audit_plugin import AuditLogPlugin
    from flxtrd._rest._auth import AuthPlugin, Identity
    from flxtrd._rest._http import RawResponse
    from flxtrd._rest._pagination import AsyncPage, AsyncPaginator, SyncPage
    from flxtrd._rest._plugins import BasePlugin
    from flxtrd._retry import RetryPolicy
    from flxtrd._streams._async_stream import AsyncMarketStream
    from flxtrd._streams._core import MarketEvent, StreamStats
    from flxtrd._streams._settings import ReconnectPolicy
    from flxtrd._streams._stream import MarketStream
    from flxtrd._streams._tokens import TokenSource
    from flxtrd._trading._bot import Bot, BotStats
    from flxtrd._trading._connections import Gen1Connection, Gen2Connection
    from flxtrd._trading._devices import Battery, HeatPump, ShiftableLoad
    from flxtrd._trading._energy import Commitment, EnergyManagement, FlexOffer
    from flxtrd._trading._plot import plot_run
    from flxtrd._trading._runner import BotRunner
    from flxtrd._trading._simulation import SandboxSimulation
    from flxtrd._trading._strategies import FixedMarginSeller, RandomBot, TickFollowingBuyer
    from flxtrd._trading._strategy import (
        CancelOrder,
        ContractUpdate,
        Fill,
        MarketTick,
        OrderAccepted,
        OrderClosed,
        OrderState,
        PlaceOrder,
        StrategyAction,
        StrategyEvent,
        Timer,
        TrackedOrder,
        TradingStrategy,
    )

#: Modules reachable as attributes before they are imported: ``utils`` and flxtrd 0.2.9's
#: packages ``core`` and ``protocols`` (alias modules, see ``flxtrd._compat``).
_SUBPACKAGES = frozenset({"core", "frames", "protocols", "utils"})

#: Names loaded on first access, and the private module each lives in.
_LAZY = {
    "DeviceStats": "flxtrd._fleet",
    "Fleet": "flxtrd._fleet",
    "FleetDevice": "flxtrd._fleet",
    "FleetOutcome": "flxtrd._fleet",
    "FleetStats": "flxtrd._fleet",
    "Gen2Device": "flxtrd._fleet",
    "Gen2Fleet": "flxtrd._fleet",
    "LatencySummary": "flxtrd._fleet",
    "PortfolioStrategy": "flxtrd._fleet",
    "login_devices": "flxtrd._fleet",
    "AmpqAPI": "flxtrd._amqp._api",
    "AmqpStats": "flxtrd._amqp._results",
    "AsyncFlexAPIClient": "flxtrd._client._async_client",
    "AsyncMarketStream": "flxtrd._streams._async_stream",
    "AsyncPage": "flxtrd._rest._pagination",
    "AsyncPaginator": "flxtrd._rest._pagination",
    "AsyncRestAPI": "flxtrd._rest._async_api",
    "AuditLogPlugin": "flxtrd._rest._audit_plugin",
    "AuthPlugin": "flxtrd._rest._auth",
    "AuthResponse": "flxtrd._compat._auth",
    "BasePlugin": "flxtrd._rest._plugins",
    "Battery": "flxtrd._trading._devices",
    "Bot": "flxtrd._trading._bot",
    "BotRunner": "flxtrd._trading._runner",
    "BotStats": "flxtrd._trading._bot",
    "CancelOrder": "flxtrd._trading._strategy",
    "Commitment": "flxtrd._trading._energy",
    "ContractUpdate": "flxtrd._trading._strategy",
    "EnergyManagement": "flxtrd._trading._energy",
    "Fill": "flxtrd._trading._strategy",
    "FixedMarginSeller": "flxtrd._trading._strategies",
    "FlexAPIClient": "flxtrd._client._client",
    "FlexOffer": "flxtrd._trading._energy",
    "Gen1Connection": "flxtrd._trading._connections",
    "Gen2Connection": "flxtrd._trading._connections",
    "HeatPump": "flxtrd._trading._devices",
    "Identity": "flxtrd._rest._auth",
    "MarketEvent": "flxtrd._streams._core",
    "MarketMessage": "flxtrd._amqp._market_messages",
    "MarketStream": "flxtrd._streams._stream",
    "MarketTick": "flxtrd._trading._strategy",
    "OrderAccepted": "flxtrd._trading._strategy",
    "OrderClosed": "flxtrd._trading._strategy",
    "OrderOutcome": "flxtrd._amqp._results",
    "OrderReceipt": "flxtrd._amqp._results",
    "OrderState": "flxtrd._trading._strategy",
    "PlaceOrder": "flxtrd._trading._strategy",
    "RandomBot": "flxtrd._trading._strategies",
    "RawResponse": "flxtrd._rest._http",
    "ReconnectPolicy": "flxtrd._streams._settings",
    "RestAPI": "flxtrd._rest._api",
    "RetryPolicy": "flxtrd._retry",
    "SandboxSimulation": "flxtrd._trading._simulation",
    "ShiftableLoad": "flxtrd._trading._devices",
    "StrategyAction": "flxtrd._trading._strategy",
    "StrategyEvent": "flxtrd._trading._strategy",
    "StreamStats": "flxtrd._streams._core",
    "SyncPage": "flxtrd._rest._pagination",
    "TickFollowingBuyer": "flxtrd._trading._strategies",
    "Timer": "flxtrd._trading._strategy",
    "TokenSource": "flxtrd._streams._tokens",
    "TrackedOrder": "flxtrd._trading._strategy",
    "TradingStrategy": "flxtrd._trading._strategy",
    "plot_run": "flxtrd._trading._plot",
}


def __getattr__(name: str) -> Any:
    """Load a heavy public name (a client, the AMQP protocol, a stream) on first access."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"flxtrd.{name}")
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
    "AsyncPage",
    "AsyncPaginator",
    "AsyncRestAPI",
    "AuditLogPlugin",
    "AuthPlugin",
    "AuthResponse",
    "AuthenticationError",
    "BasePlugin",
    "Battery",
    "Bot",
    "BotRunner",
    "BotStats",
    "Broker",
    "BrokerError",
    "CancelOrder",
    "Commitment",
    "ConfigurationError",
    "ConflictError",
    "ContractUpdate",
    "DeviceStats",
    "EnergyManagement",
    "FieldError",
    "Fill",
    "FixedMarginSeller",
    "Fleet",
    "FleetDevice",
    "FleetOutcome",
    "FleetStats",
    "FlexAPIClient",
    "FlexBroker",
    "FlexConnectionError",
    "FlexDevice",
    "FlexError",
    "FlexMarket",
    "FlexOffer",
    "FlexResource",
    "FlexResponse",
    "FlexStatusError",
    "FlexTimeoutError",
    "FlexUser",
    "FlexValidationError",
    "Flexibility",
    "Gen1Connection",
    "Gen2Connection",
    "Gen2Device",
    "Gen2Fleet",
    "HeatPump",
    "Identity",
    "LatencySummary",
    "Market",
    "MarketEvent",
    "MarketMessage",
    "MarketOrder",
    "MarketStream",
    "MarketTick",
    "MessageDecodeError",
    "MessageEncodeError",
    "MessageError",
    "NotFoundError",
    "OrderAccepted",
    "OrderClosed",
    "OrderInDoubtError",
    "OrderLine",
    "OrderNotConfirmedError",
    "OrderOutcome",
    "OrderPlacementInDoubtError",
    "OrderPlacementTimeoutError",
    "OrderReceipt",
    "OrderSpec",
    "OrderState",
    "OrderType",
    "OrderUnroutableError",
    "OversellError",
    "PermissionDeniedError",
    "PlaceOrder",
    "PortfolioStrategy",
    "RandomBot",
    "RateLimitError",
    "RawResponse",
    "ReconnectPolicy",
    "RestAPI",
    "RetryPolicy",
    "SandboxSimulation",
    "ServerError",
    "ShiftableLoad",
    "StrategyAction",
    "StrategyEvent",
    "StreamHandshakeError",
    "StreamStats",
    "SyncPage",
    "TickFollowingBuyer",
    "Timer",
    "TokenSource",
    "TrackedOrder",
    "TradingStrategy",
    "UnprocessableEntityError",
    "User",
    "decode_order_line",
    "encode_order_line",
    "frames",
    "log",
    "login_devices",
    "plot_run",
    "utils",
]
