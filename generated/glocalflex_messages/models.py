# Generated from specs/asyncapi.yaml by datamodel-code-generator 0.89.0; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, TypeAlias

from msgspec import UNSET, Meta, Struct, UnsetType


class OrderHeaders(Struct):
    sendertimestamp_in_ms: Annotated[
        int,
        Meta(
            description="When the client sent the order, ms since epoch, at most 9999-12-31T23:59:59.999Z.",
            ge=0,
            le=253402300799999,
        ),
    ]


class ReplyHeaders(Struct):
    sendertimestamp_in_ms: (
        Annotated[
            int,
            Meta(
                description="When the market sent the reply, ms since epoch, at most 9999-12-31T23:59:59.999Z; a client counts a larger value as invalid (no latency).",
                ge=0,
                le=253402300799999,
            ),
        ]
        | UnsetType
    ) = UNSET


AskOrderLineText: TypeAlias = Annotated[
    str,
    Meta(
        description="An ask in line protocol; fields as in `OrderLine` with the price field `askingprice`.",
        examples=[
            "ask,applicationKey=abc,version=1 starttime=1796202000000i,wattage=2500.0,runtime=900000i,totalenergy=625.0,askingprice=10.0,expirationtime=1796201100000i"
        ],
        max_length=4096,
        pattern="^ask,",
    ),
]


BidOrderLineText: TypeAlias = Annotated[
    str,
    Meta(
        description="A bid in line protocol; fields as in `OrderLine` with the price field `biddingprice`.",
        examples=[
            "bid,applicationKey=abc,version=1 starttime=1796202000000i,wattage=2500.0,runtime=900000i,totalenergy=625.0,biddingprice=12.0,expirationtime=1796201100000i"
        ],
        max_length=4096,
        pattern="^bid,",
    ),
]


class OrderSide(StrEnum):
    ask = "ask"
    bid = "bid"


class OrderLine(Struct):
    side: OrderSide
    applicationKey: Annotated[
        str,
        Meta(
            description="The device's application key (tag).",
            max_length=256,
            min_length=1,
        ),
    ]
    version: Annotated[
        str, Meta(description="Order format version (tag), `1`.", min_length=1)
    ]
    starttime: Annotated[
        int,
        Meta(
            description="Delivery start, ms since epoch, at most 9999-12-31T23:59:59.999Z.",
            ge=0,
            le=253402300799999,
        ),
    ]
    wattage: Annotated[
        float,
        Meta(
            description="Power, W, at most 1e9 W (1 GW), as in generation 2.",
            gt=0.0,
            le=1000000000.0,
        ),
    ]
    runtime: Annotated[
        int,
        Meta(
            description="Delivery duration, ms, at most 366 days (31 622 400 000 ms).",
            gt=0,
            le=31622400000,
        ),
    ]
    totalenergy: Annotated[float, Meta(description="Energy, Wh.", ge=0.0)]
    price: Annotated[
        float,
        Meta(
            description="Limit price in the generation-1 price unit (EUR/kWh on current deployments), at most 1e6 as in generation 2; the field is `askingprice` for an ask and `biddingprice` for a bid.",
            ge=0.0,
            le=1000000.0,
        ),
    ]
    expirationtime: Annotated[
        int,
        Meta(
            description="When the order expires if unmatched, ms since epoch, at most 9999-12-31T23:59:59.999Z. An order expires at its `expirationtime` or at its `starttime`, whichever is first; a later `expirationtime` is accepted, not refused.",
            ge=0,
            le=253402300799999,
        ),
    ]


class Tick(Struct, tag_field="msg_type", tag="tick"):
    trade_time: Annotated[
        datetime, Meta(tz=True, description="When the trade happened, ISO 8601 UTC.")
    ]
    price: Annotated[
        float,
        Meta(
            description="Trade price, the market's generation-1 price unit (EUR/kWh on current deployments)."
        ),
    ]
    start_time: Annotated[
        datetime,
        Meta(
            tz=True,
            description="Delivery start of the traded flexibility, ISO 8601 UTC.",
        ),
    ]
    energy: Annotated[float, Meta(description="Energy traded, Wh.", ge=0.0)]


class ClosedOrder(Struct):
    bid_time: Annotated[
        int, Meta(description="When the market received the bid, ns since epoch.", ge=0)
    ]
    ask_time: Annotated[
        int, Meta(description="When the market received the ask, ns since epoch.", ge=0)
    ]
    ask_user: Annotated[str, Meta(description="The seller's user id.")]
    bid_user: Annotated[str, Meta(description="The buyer's user id.")]
    price: Annotated[
        float,
        Meta(
            description="Deal price (pay-as-bid), the generation-1 price unit (EUR/kWh on current deployments)."
        ),
    ]
    totalenergy: Annotated[float, Meta(description="Energy of the order, Wh.", ge=0.0)]
    energy: Annotated[
        float, Meta(description="Energy traded in this match, Wh.", ge=0.0)
    ]
    starttime: Annotated[int, Meta(description="Delivery start, ms since epoch.", ge=0)]
    endtime: Annotated[
        float,
        Meta(
            description="Delivery end, ms since epoch (some deployments send a float).",
            ge=0.0,
        ),
    ]
    runtime: Annotated[int, Meta(description="Delivery duration, ms.", ge=0)]
    wattage: Annotated[float, Meta(description="Power of the order, W.", ge=0.0)]
    power: Annotated[float, Meta(description="Power traded in this match, W.", ge=0.0)]
    match_time: Annotated[
        int, Meta(description="When the match happened, ns since epoch.", ge=0)
    ]


class AskClosedOrder(Struct, tag_field="msg_type", tag="ask_closed_order"):
    application_key: Annotated[
        str, Meta(description="The application key the ask was sent with.")
    ]
    closed_order: ClosedOrder


class BidClosedOrder(Struct, tag_field="msg_type", tag="bid_closed_order"):
    application_key: Annotated[
        str, Meta(description="The application key the bid was sent with.")
    ]
    closed_order: ClosedOrder


class Cancel(Struct, tag_field="msg_type", tag="cancel"):
    reason: Annotated[str, Meta(description="Why the order was rejected or cancelled.")]
    application_key: (
        Annotated[str, Meta(description="The application key the order was sent with.")]
        | UnsetType
    ) = UNSET
    message_id: (
        Annotated[
            str,
            Meta(
                description="The `message_id` of the rejected order, when it had one."
            ),
        ]
        | UnsetType
    ) = UNSET


MarketReply: TypeAlias = Annotated[
    Tick | AskClosedOrder | BidClosedOrder | Cancel,
    Meta(description="Any reply on a device's queue, told apart by `msg_type`."),
]


class ControlData(Struct):
    message: Annotated[str, Meta(description="Human-readable status.")]


class ControlStatus(StrEnum):
    success = "success"
    error = "error"


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class ContractStatus(StrEnum):
    active = "active"
    settled = "settled"
    cancelled = "cancelled"


class SettlementStatus(StrEnum):
    awaiting_verification_completion = "awaiting_verification_completion"
    processing_settlement = "processing_settlement"
    completed_success = "completed_success"
    completed_error = "completed_error"


class VerificationStatus(StrEnum):
    baseline_received = "baseline_received"
    baseline_accepted = "baseline_accepted"
    baseline_rejected = "baseline_rejected"
    awaiting_metering_data = "awaiting_metering_data"


class OrderStatus(StrEnum):
    pending = "pending"
    awaiting_baseline_data = "awaiting_baseline_data"
    selected_for_baseline_activation = "selected_for_baseline_activation"
    accepted = "accepted"
    matching_active = "matching_active"
    filled = "filled"
    partial_filled = "partial_filled"
    cancelled = "cancelled"
    expired = "expired"


class OrderStatusData(Struct):
    order_id: Annotated[int, Meta(description="The order's id.", ge=1)]
    status: OrderStatus
    timestamp: Annotated[
        datetime, Meta(tz=True, description="When the status changed, ISO 8601 UTC.")
    ]
    side: Side | UnsetType = UNSET
    power: (
        Annotated[float, Meta(description="The order's power, W.", ge=0.0)] | UnsetType
    ) = UNSET
    filled_power: (
        Annotated[float, Meta(description="Power matched so far, W.", ge=0.0)]
        | UnsetType
    ) = UNSET


class OrderStatusUpdate(Struct, tag_field="type", tag="order_status_update"):
    data: OrderStatusData


class ContractStatusData(Struct):
    contract_id: Annotated[int, Meta(description="The contract's id.", ge=1)]
    status: ContractStatus
    settlement_status: SettlementStatus
    verification_status: VerificationStatus
    timestamp: Annotated[
        datetime, Meta(tz=True, description="When the status changed, ISO 8601 UTC.")
    ]
    buy_order_id: (
        Annotated[int, Meta(description="The matched buy order.", ge=1)] | UnsetType
    ) = UNSET
    sell_order_id: (
        Annotated[int, Meta(description="The matched sell order.", ge=1)] | UnsetType
    ) = UNSET


class ContractStatusUpdate(Struct, tag_field="type", tag="contract_status_update"):
    data: ContractStatusData


class TickerData(Struct):
    price: Annotated[float, Meta(description="Trade price, EUR/kWh.", ge=0.0)]
    power: Annotated[float, Meta(description="Power traded, W.", ge=0.0)]
    energy: Annotated[float, Meta(description="Energy traded, Wh.", ge=0.0)]
    delivery_start: Annotated[
        datetime, Meta(tz=True, description="Start of delivery, ISO 8601 UTC.")
    ]
    delivery_end: Annotated[
        datetime, Meta(tz=True, description="End of delivery, ISO 8601 UTC.")
    ]
    trade_time: Annotated[
        datetime, Meta(tz=True, description="When the trade happened, ISO 8601 UTC.")
    ]
    country_code: (
        Annotated[str, Meta(description="Country of delivery.")] | UnsetType
    ) = UNSET


class Ticker(Struct, tag_field="type", tag="ticker"):
    data: TickerData


class BookLevel(Struct):
    price: Annotated[float, Meta(description="Limit price, EUR/kWh.", ge=0.0)]
    power: Annotated[float, Meta(description="Open power at this price, W.", ge=0.0)]
    delivery_start: Annotated[
        datetime, Meta(tz=True, description="Start of delivery, ISO 8601 UTC.")
    ]
    delivery_end: Annotated[
        datetime, Meta(tz=True, description="End of delivery, ISO 8601 UTC.")
    ]
    orders: Annotated[
        int, Meta(description="Number of open orders at this level.", ge=0)
    ]


class OrderbookData(Struct):
    timestamp: Annotated[
        datetime,
        Meta(tz=True, description="When the snapshot was taken, ISO 8601 UTC."),
    ]
    bids: list[BookLevel]
    asks: list[BookLevel]


class Orderbook(Struct, tag_field="type", tag="orderbook"):
    data: OrderbookData


AskOrderPayload: TypeAlias = AskOrderLineText


AskOrderHeaders: TypeAlias = OrderHeaders


BidOrderPayload: TypeAlias = BidOrderLineText


TickPayload: TypeAlias = Tick


TickHeaders: TypeAlias = ReplyHeaders


AskClosedOrderPayload: TypeAlias = AskClosedOrder


AskClosedOrderHeaders: TypeAlias = ReplyHeaders


BidClosedOrderPayload: TypeAlias = BidClosedOrder


BidClosedOrderHeaders: TypeAlias = ReplyHeaders


CancelPayload: TypeAlias = Cancel


CancelHeaders: TypeAlias = ReplyHeaders


OrderStatusUpdatePayload: TypeAlias = OrderStatusUpdate


ContractStatusUpdatePayload: TypeAlias = ContractStatusUpdate


TickerPayload: TypeAlias = Ticker


OrderbookPayload: TypeAlias = Orderbook


class Control(Struct, tag_field="type", tag="control"):
    status: ControlStatus
    data: ControlData


StreamEvent: TypeAlias = Annotated[
    Control | OrderStatusUpdate | ContractStatusUpdate | Ticker | Orderbook,
    Meta(description="Any WebSocket stream message, told apart by `type`."),
]


ControlPayload: TypeAlias = Control
