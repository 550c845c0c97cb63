"""Public value types of the sandbox matching engine: orders in, snapshots and events out.

Everything here is plain data (slotted dataclasses and `str` enums); the engine never does I/O.
Orders in and snapshots out are frozen. Events and results are not frozen, only because a frozen
dataclass costs five times as much to build and the engine builds several per order: treat them
as read-only. Units follow `specs/`: power in W, energy in Wh, times in ms since the Unix epoch
(fields ending in `_ms`), except the generation-1 closed-order record, whose field names and
units are those of the wire (`bid_time`, `ask_time`, `match_time` in ns; `starttime`,
`endtime`, `runtime` in ms) so the broker can serialise it with `dataclasses.asdict`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "ActionError",
    "ActionResult",
    "BookLevel",
    "BookSnapshot",
    "ClosedOrder",
    "Contract",
    "ContractCreated",
    "ContractStatus",
    "ContractStatusChanged",
    "Event",
    "Expired",
    "Gen1Order",
    "Gen2Order",
    "OrderStatus",
    "OrderStatusChanged",
    "OrderView",
    "RejectCode",
    "Rejected",
    "SettlementStatus",
    "Side",
    "SubmitResult",
    "Tick",
    "Trade",
    "VerificationStatus",
]


class Side(enum.StrEnum):
    """The side of an order: buy (a bid) or sell (an ask)."""

    BUY = "buy"
    SELL = "sell"

    @classmethod
    def parse(cls, value: str) -> Side:
        """Read a side from its generation-2 (`buy`/`sell`) or generation-1 (`bid`/`ask`) name."""
        try:
            return _SIDE_NAMES[value]
        except (KeyError, TypeError):
            raise ValueError(f"unknown side {value!r}; expected buy, sell, bid or ask") from None

    @property
    def gen1_name(self) -> str:
        """The generation-1 name of the side: `bid` or `ask`."""
        return "bid" if self is Side.BUY else "ask"


_SIDE_NAMES = {"buy": Side.BUY, "bid": Side.BUY, "sell": Side.SELL, "ask": Side.SELL}


class OrderStatus(enum.StrEnum):
    """Lifecycle status of an order (the generation-2 values; generation 1 uses the same)."""

    PENDING = "pending"
    AWAITING_BASELINE_DATA = "awaiting_baseline_data"
    SELECTED_FOR_BASELINE_ACTIVATION = "selected_for_baseline_activation"
    ACCEPTED = "accepted"
    MATCHING_ACTIVE = "matching_active"
    FILLED = "filled"
    PARTIAL_FILLED = "partial_filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ContractStatus(enum.StrEnum):
    """Lifecycle status of a contract (values inferred in `specs/openapi.yaml`)."""

    ACTIVE = "active"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class SettlementStatus(enum.StrEnum):
    """Settlement status of a contract."""

    AWAITING_VERIFICATION_COMPLETION = "awaiting_verification_completion"
    PROCESSING_SETTLEMENT = "processing_settlement"
    COMPLETED_SUCCESS = "completed_success"
    COMPLETED_ERROR = "completed_error"


class VerificationStatus(enum.StrEnum):
    """Verification status of a contract's delivery."""

    BASELINE_RECEIVED = "baseline_received"
    BASELINE_ACCEPTED = "baseline_accepted"
    BASELINE_REJECTED = "baseline_rejected"
    AWAITING_METERING_DATA = "awaiting_metering_data"


class RejectCode(enum.StrEnum):
    """Why a submitted order was refused."""

    INVALID = "invalid"
    EXPIRED_AT_ARRIVAL = "expired_at_arrival"
    DUPLICATE = "duplicate"


class ActionError(enum.StrEnum):
    """Why an action on an existing order (cancel, baseline) was refused."""

    NOT_FOUND = "not_found"
    NOT_OWNER = "not_owner"
    WRONG_STATUS = "wrong_status"


# --------------------------------------------------------------------------------------------
# Orders in


@dataclass(frozen=True, slots=True)
class Gen1Order:
    """A generation-1 order as read off the AMQP line protocol (times in ms since the epoch)."""

    side: str
    """`ask` (sell) or `bid` (buy): the routing key / line-protocol measurement."""
    application_key: str
    """The device's application key (also its reply queue)."""
    user: str
    """The broker user id (AMQP `user_id`), the order's owner."""
    wattage: float
    """Power, W."""
    starttime: int
    """Delivery start, ms since the epoch."""
    runtime: int
    """Delivery duration, ms."""
    price: float
    """Limit price (`askingprice` or `biddingprice`)."""
    expirationtime: int
    """When the order expires if unmatched, ms since the epoch."""
    message_id: str | None = None
    """The AMQP `message_id`, used to detect duplicates and to tie a `cancel` to its order."""


@dataclass(frozen=True, slots=True)
class Gen2Order:
    """A generation-2 order as posted to `POST /api/v1/order/` (times in ms since the epoch)."""

    side: str
    """`buy` or `sell`."""
    owner: str
    """The user id of the account placing the order."""
    power: float
    """Power, W."""
    price: float
    """Limit price, EUR/kWh."""
    delivery_start_ms: int
    """Start of delivery."""
    delivery_end_ms: int
    """End of delivery."""
    expiry_time_ms: int
    """When the order expires if unmatched (see `_rules.gen2_expires_at_ms`)."""
    country_code: str = ""
    """Country of delivery; empty for none."""
    location_ids: tuple[str | None, ...] | None = None
    """Location ids (or ``.*`` patterns) the order may be matched in; None, empty or only
    None items for any (see `_rules.normalize_location_ids`)."""
    baseline: object | None = None
    """Baseline metering data of a sell order (opaque to the engine); None to send it later."""


# --------------------------------------------------------------------------------------------
# Snapshots out


@dataclass(frozen=True, slots=True)
class OrderView:
    """A snapshot of one order as the market holds it."""

    order_id: int
    generation: int
    side: Side
    owner: str
    price: float
    power: float
    filled_power: float
    status: OrderStatus
    delivery_start_ms: int
    delivery_end_ms: int
    expiry_time_ms: int
    """The expiry as submitted (`expiry_time` / `expirationtime`)."""
    expires_at_ms: int
    """The effective expiry the engine applies (see `_rules`)."""
    country_code: str
    location_ids: tuple[str, ...] | None
    created_ms: int
    updated_ms: int
    application_key: str | None
    message_id: str | None
    baseline: object | None

    @property
    def remaining_power(self) -> float:
        """Power not yet matched, W (zero once the order is closed)."""
        if self.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            return 0.0
        return self.power - self.filled_power


@dataclass(frozen=True, slots=True)
class Contract:
    """A generation-2 contract: one buy order matched with one sell order."""

    contract_id: int
    buy_order_id: int
    sell_order_id: int
    buyer_id: str
    seller_id: str
    price: float
    """Deal price, EUR/kWh (pay-as-bid)."""
    power: float
    """Power traded, W."""
    energy: float
    """Energy traded, Wh."""
    delivery_start_ms: int
    delivery_end_ms: int
    country_code: str
    created_ms: int
    updated_ms: int
    status: ContractStatus = ContractStatus.ACTIVE
    settlement_status: SettlementStatus = SettlementStatus.AWAITING_VERIFICATION_COMPLETION
    verification_status: VerificationStatus = VerificationStatus.AWAITING_METERING_DATA


@dataclass(frozen=True, slots=True)
class ClosedOrder:
    """The generation-1 `closed_order` record of one side of a trade, with wire names and units."""

    bid_time: int
    """When the market received the bid, ns since the epoch."""
    ask_time: int
    """When the market received the ask, ns since the epoch."""
    ask_user: str
    bid_user: str
    price: float
    """Deal price (pay-as-bid)."""
    totalenergy: float
    """Energy of this side's order, Wh."""
    energy: float
    """Energy traded in this match, Wh."""
    starttime: int
    """Delivery start, ms."""
    endtime: int
    """Delivery end, ms."""
    runtime: int
    """Delivery duration, ms."""
    wattage: float
    """Power of this side's order, W."""
    power: float
    """Power traded in this match, W."""
    match_time: int
    """When the match happened, ns since the epoch."""


@dataclass(frozen=True, slots=True)
class Tick:
    """The generation-1 `tick` of a trade (the broker formats the times as ISO 8601)."""

    trade_time_ms: int
    price: float
    start_time_ms: int
    energy: float
    """Energy traded, Wh."""


@dataclass(frozen=True, slots=True)
class BookLevel:
    """Open orders at one price for one delivery window (one side of the book)."""

    price: float
    power: float
    """Open (remaining) power at this level, W."""
    orders: int
    delivery_start_ms: int
    delivery_end_ms: int
    country_code: str
    generation: int


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The best levels of each side of the book, best price first."""

    time_ms: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


# --------------------------------------------------------------------------------------------
# Events


@dataclass(slots=True)
class OrderStatusChanged:
    """An order entered a status, or a resting buy filled further (then `previous == status`)."""

    order_id: int
    generation: int
    side: Side
    owner: str
    previous: OrderStatus | None
    status: OrderStatus
    power: float
    filled_power: float
    time_ms: int
    application_key: str | None
    message_id: str | None


@dataclass(slots=True)
class Expired(OrderStatusChanged):
    """An order expired unmatched (or partly matched); its status is now `expired`."""


@dataclass(slots=True)
class Trade:
    """One buy order matched one sell order for `power` W at the bid's price (pay-as-bid)."""

    trade_id: int
    generation: int
    time_ms: int
    price: float
    power: float
    energy: float
    """Energy traded, Wh."""
    delivery_start_ms: int
    delivery_end_ms: int
    country_code: str
    buy_order_id: int
    sell_order_id: int
    buyer_id: str
    seller_id: str
    buy_application_key: str | None
    sell_application_key: str | None
    buy_message_id: str | None
    sell_message_id: str | None
    buy_power: float
    """Power of the whole buy order, W."""
    sell_power: float
    """Power of the whole sell order, W."""
    buy_energy: float
    """Energy of the whole buy order, Wh."""
    sell_energy: float
    """Energy of the whole sell order, Wh."""
    buy_time_ms: int
    """When the market received the buy order."""
    sell_time_ms: int
    """When the market received the sell order."""
    contract_id: int | None
    """The contract this trade created (generation 2), else None."""

    def _closed_order(self, wattage: float, totalenergy: float) -> ClosedOrder:
        return ClosedOrder(
            bid_time=self.buy_time_ms * 1_000_000,
            ask_time=self.sell_time_ms * 1_000_000,
            ask_user=self.seller_id,
            bid_user=self.buyer_id,
            price=self.price,
            totalenergy=totalenergy,
            energy=self.energy,
            starttime=self.delivery_start_ms,
            endtime=self.delivery_end_ms,
            runtime=self.delivery_end_ms - self.delivery_start_ms,
            wattage=wattage,
            power=self.power,
            match_time=self.time_ms * 1_000_000,
        )

    def ask_closed_order(self) -> ClosedOrder:
        """The `closed_order` record sent to the seller (`ask_closed_order`)."""
        return self._closed_order(self.sell_power, self.sell_energy)

    def bid_closed_order(self) -> ClosedOrder:
        """The `closed_order` record sent to the buyer (`bid_closed_order`)."""
        return self._closed_order(self.buy_power, self.buy_energy)

    def tick(self) -> Tick:
        """The `tick` broadcast for this trade."""
        return Tick(
            trade_time_ms=self.time_ms,
            price=self.price,
            start_time_ms=self.delivery_start_ms,
            energy=self.energy,
        )


@dataclass(slots=True)
class ContractCreated:
    """A generation-2 match created a contract."""

    contract: Contract


@dataclass(slots=True)
class ContractStatusChanged:
    """A contract's status, settlement status or verification status changed."""

    contract: Contract
    time_ms: int


@dataclass(slots=True)
class Rejected:
    """A submitted order was refused and not stored; `reason` is the text for a `cancel` reply."""

    generation: int
    side: str
    owner: str
    code: RejectCode
    reason: str
    field: str | None
    """The offending input field, when one is to blame."""
    time_ms: int
    application_key: str | None
    message_id: str | None


Event: TypeAlias = OrderStatusChanged | Trade | ContractCreated | ContractStatusChanged | Rejected
"""Anything the engine reports; `Expired` is an `OrderStatusChanged`."""


@dataclass(slots=True)
class SubmitResult:
    """The outcome of `MatchingEngine.submit`."""

    order_id: int | None
    """The new order's id, or None if it was rejected."""
    status: OrderStatus | None
    """The order's status after matching, or None if it was rejected."""
    events: tuple[Event, ...]
    """Everything that happened, in order (expiries due first, then this order's story)."""
    rejected: Rejected | None = None
    """Why the order was refused, if it was."""

    @property
    def accepted(self) -> bool:
        """Whether the order was stored (it may still have matched, rested or be waiting)."""
        return self.rejected is None


@dataclass(slots=True)
class ActionResult:
    """The outcome of an action on an existing order (`cancel`, `provide_baseline`)."""

    order_id: int
    status: OrderStatus | None
    """The order's status afterwards, or None if it does not exist (for this owner)."""
    events: tuple[Event, ...]
    error: ActionError | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the action was carried out."""
        return self.error is None
