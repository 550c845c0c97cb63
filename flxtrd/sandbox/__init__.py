"""The sandbox market: matching engine (pure Python, no I/O), accounts, and the servers on it.

See `flxtrd.sandbox._engine` for the matching semantics, `flxtrd.sandbox._rules` for every
market rule as one named function, `flxtrd.sandbox._market` for `SandboxMarket` (engine +
accounts + clock + event hub) that the REST app, the broker worker and the streams share, and
`flxtrd.sandbox._accounts` for the account and token rules. Importing this package stays light:
no starlette, uvicorn or kombu until a server is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._accounts import Account, Accounts, AuthError, IssuedToken, Location
from ._clock import Clock, ManualClock, SystemClock
from ._engine import MatchingEngine
from ._market import SandboxMarket
from ._market_input import OrderInputError
from ._market_update import MarketUpdate, SandboxEvent

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette

    from ._app import RateLimit
    from ._embedded import EmbeddedSandbox
from ._types import (
    ActionError,
    ActionResult,
    BookLevel,
    BookSnapshot,
    ClosedOrder,
    Contract,
    ContractCreated,
    ContractStatus,
    ContractStatusChanged,
    Event,
    Expired,
    Gen1Order,
    Gen2Order,
    OrderStatus,
    OrderStatusChanged,
    OrderView,
    RejectCode,
    Rejected,
    SettlementStatus,
    Side,
    SubmitResult,
    Tick,
    Trade,
    VerificationStatus,
)

__all__ = [
    "Account",
    "Accounts",
    "ActionError",
    "ActionResult",
    "AuthError",
    "BookLevel",
    "BookSnapshot",
    "Clock",
    "ClosedOrder",
    "Contract",
    "ContractCreated",
    "ContractStatus",
    "ContractStatusChanged",
    "EmbeddedSandbox",
    "Event",
    "Expired",
    "Gen1Order",
    "Gen2Order",
    "IssuedToken",
    "Location",
    "ManualClock",
    "MarketUpdate",
    "MatchingEngine",
    "OrderInputError",
    "OrderStatus",
    "OrderStatusChanged",
    "OrderView",
    "RateLimit",
    "RejectCode",
    "Rejected",
    "SandboxEvent",
    "SandboxMarket",
    "SettlementStatus",
    "Side",
    "SubmitResult",
    "SystemClock",
    "Tick",
    "Trade",
    "VerificationStatus",
    "create_app",
    "embedded_async_transport",
    "embedded_sandbox",
    "embedded_transport",
    "reset_embedded_sandbox",
]


# Servers: imported on first use, so `import flxtrd.sandbox` loads no starlette/uvicorn/kombu.
_LAZY = {
    "EmbeddedSandbox": "._embedded",
    "RateLimit": "._app",
    "embedded_sandbox": "._embedded",
    "reset_embedded_sandbox": "._embedded",
}


def __getattr__(name: str) -> Any:
    """Import the server-side names (`create_app`, `EmbeddedSandbox`, ...) on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def embedded_transport() -> httpx.BaseTransport:
    """A sync httpx transport to the process-wide embedded sandbox (what ``sandbox://`` uses)."""
    from ._embedded import embedded_transport as make

    return make()


def embedded_async_transport() -> httpx.AsyncBaseTransport:
    """An async httpx transport to the process-wide embedded sandbox (``sandbox://``, async)."""
    from ._embedded import embedded_async_transport as make

    return make()


def create_app(market: SandboxMarket, *, rate_limit: RateLimit | None = None) -> Starlette:
    """The sandbox's ASGI app (REST + WebSocket streams) over ``market``."""
    from ._app import create_app as make

    return make(market, rate_limit=rate_limit)
