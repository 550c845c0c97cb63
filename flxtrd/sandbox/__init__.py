"""The sandbox market: matching engine (pure Python, no I/O), accounts, and the servers on it.

See `flxtrd.sandbox._engine` for the matching semantics, `flxtrd.sandbox._rules` for every
market rule as one named function, `flxtrd.sandbox._market` for `SandboxMarket` (engine +
accounts + clock + event hub) that the REST app, the broker worker and the streams share, and
`flxtrd.sandbox._accounts` for the account and token rules. Importing this package stays light:
no starlette, uvicorn or kombu until a server is asked for.
"""

from ._accounts import Account, Accounts, AuthError, IssuedToken, Location
from ._clock import Clock, ManualClock, SystemClock
from ._engine import MatchingEngine
from ._market import MarketUpdate, OrderInputError, SandboxEvent, SandboxMarket
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
]
