"""The sandbox market's matching engine (pure Python, no I/O); servers build on it.

See `flxtrd.sandbox._engine` for the matching semantics and `flxtrd.sandbox._rules` for every
market rule as one named function.
"""

from ._clock import Clock, ManualClock, SystemClock
from ._engine import MatchingEngine
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
    "ActionError",
    "ActionResult",
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
    "ManualClock",
    "MatchingEngine",
    "OrderStatus",
    "OrderStatusChanged",
    "OrderView",
    "RejectCode",
    "Rejected",
    "SettlementStatus",
    "Side",
    "SubmitResult",
    "SystemClock",
    "Tick",
    "Trade",
    "VerificationStatus",
]
