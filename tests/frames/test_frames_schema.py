"""flxtrd.frames: pinned schemas, values, orders from frames, and life without pandas."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pandas as pd
import pytest
from glocalflex_messages.models import ContractStatusUpdate, Orderbook, OrderStatusUpdate, Ticker
from local_market import trade_gen1

from flxtrd import User, frames
from flxtrd._amqp._market_messages import decode_market_message
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import FlexValidationError
from flxtrd._streams._core import MarketEvent
from flxtrd._trading._runner import RunTimeline
from flxtrd._trading._strategy import MarketTick
from flxtrd.sandbox import EmbeddedSandbox, SandboxMarket
from flxtrd.sandbox._market_time import format_datetime_ms

UTC_NS = "datetime64[ns, UTC]"


def cat(*values: str) -> pd.CategoricalDtype:
    """A categorical dtype with exactly these categories, in this order."""
    return pd.CategoricalDtype(categories=list(values))


ORDER_STATUS = cat("pending", "awaiting_baseline_data", "selected_for_baseline_activation",
                   "accepted", "matching_active", "filled", "partial_filled", "cancelled",
                   "expired")  # fmt: skip

SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "deals": ("time", {
        "delivery_start": UTC_NS, "delivery_end": UTC_NS, "price_eur_per_kwh": "float64",
        "energy_wh": "float64", "power_w": "float64", "value_eur": "float64"}),
    "orders": ("delivery_start", {
        "id": "int64", "side": cat("buy", "sell"), "status": ORDER_STATUS,
        "power_w": "float64", "filled_power_w": "float64", "price_eur_per_kwh": "float64",
        "delivery_end": UTC_NS, "expiry_time": UTC_NS, "created_at": UTC_NS,
        "country_code": cat("", "CH", "CZ", "DE", "ES", "FI", "FR"), "location_ids": "object"}),
    "contracts": ("delivery_start", {
        "id": "int64", "buy_order_id": "int64", "sell_order_id": "int64",
        "status": cat("active", "settled", "cancelled"),
        "settlement_status": cat("awaiting_verification_completion", "processing_settlement",
                                 "completed_success", "completed_error"),
        "verification_status": cat("baseline_received", "baseline_accepted",
                                   "baseline_rejected", "awaiting_metering_data"),
        "power_w": "float64", "price_eur_per_kwh": "float64", "energy_wh": "float64",
        "value_eur": "float64", "delivery_end": UTC_NS, "created_at": UTC_NS}),
    "ticks": ("time", {
        "price_eur_per_kwh": "float64", "energy_wh": "float64", "power_w": "float64",
        "delivery_start": UTC_NS, "delivery_end": UTC_NS, "generation": "int64"}),
    "messages": ("time", {
        "kind": cat("tick", "ask_closed_order", "bid_closed_order", "cancel"),
        "price_eur_per_kwh": "float64", "energy_wh": "float64", "power_w": "float64",
        "delivery_start": UTC_NS, "delivery_end": UTC_NS, "reason": "string",
        "received_at": UTC_NS, "latency_ms": "Int64"}),
    "events": ("time", {
        "kind": cat("ticker", "orderbook", "order_status_update", "contract_status_update"),
        "status": cat(*ORDER_STATUS.categories, "active", "settled"),
        "order_id": "Int64", "contract_id": "Int64", "price_eur_per_kwh": "float64",
        "power_w": "float64", "energy_wh": "float64", "filled_power_w": "float64",
        "best_bid_eur_per_kwh": "float64", "best_ask_eur_per_kwh": "float64",
        "delivery_start": UTC_NS, "delivery_end": UTC_NS, "received_at": UTC_NS}),
    "run_prices": ("time", {"price_eur_per_kwh": "float64"}),
}  # fmt: skip

BUILDERS = {
    "deals": frames.deals_frame,
    "orders": frames.orders_frame,
    "contracts": frames.contracts_frame,
    "ticks": frames.ticks_frame,
    "messages": frames.messages_frame,
    "events": frames.events_frame,
    "run_prices": lambda items: frames.run_prices_frame(RunTimeline(ticks=list(items))),
}


def assert_schema(frame: pd.DataFrame, name: str) -> None:
    """The frame has exactly the pinned columns, in order, each with its pinned dtype."""
    index_name, columns = SCHEMAS[name]
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.dtype) == UTC_NS
    assert frame.index.name == index_name
    assert list(frame.columns) == list(columns)
    for column, dtype in columns.items():
        assert frame[column].dtype == dtype, f"{name}.{column}: {frame[column].dtype} != {dtype}"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_an_empty_input_gives_the_full_schema(name: str) -> None:
    """No rows still means every column with its dtype (so concat and plotting code works)."""
    frame = BUILDERS[name]([])
    assert len(frame) == 0
    assert_schema(frame, name)


# --- frames of real sandbox answers ------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    """An embedded sandbox market of its own (no broker)."""
    with EmbeddedSandbox(SandboxMarket(seed=9), broker=False, expiry_interval_s=None) as box:
        yield box


@pytest.fixture
def client(sandbox: EmbeddedSandbox) -> Iterator[FlexAPIClient]:
    """A client of that sandbox."""
    with FlexAPIClient(base_url="sandbox://", user=User(name="f@x.test", password="pw"),
                       transport=sandbox.transport(), env={}) as c:  # fmt: skip
        yield c


def slot(hours: int = 2) -> datetime:
    """A quarter hour ``hours`` ahead."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now.replace(minute=now.minute // 15 * 15) + timedelta(hours=hours)


def test_deals_frame_of_the_markets_deals(sandbox: EmbeddedSandbox, client: FlexAPIClient) -> None:
    """client.deals() -> frame: trade-time index, delivery window, price, energy, power, value."""
    trade = trade_gen1(sandbox.market, price=0.2, wattage=2000.0)
    deals = client.deals("1h")
    frame = frames.deals_frame(deals)
    assert_schema(frame, "deals")
    row = frame.iloc[0]
    assert frame.index[0] == pd.Timestamp(deals[0].time)
    assert row["delivery_start"] == pd.Timestamp(trade.delivery_start_ms, unit="ms", tz="UTC")
    assert row["delivery_end"] - row["delivery_start"] == pd.Timedelta(minutes=15)
    assert (row["price_eur_per_kwh"], row["energy_wh"], row["power_w"]) == (0.2, 500.0, 2000.0)
    assert row["value_eur"] == pytest.approx(0.1)


def test_orders_and_contracts_frames_of_a_match(
    sandbox: EmbeddedSandbox, client: FlexAPIClient
) -> None:
    """A bought order matched by a sell: the orders and contracts frames say so, in their units."""
    start = slot()
    bought = client.orders.place(side="buy", power_w=1000.0, price_eur_per_kwh=0.3,
                                 delivery_start=start, delivery_end=start + timedelta(minutes=15),
                                 expiry_time=start - timedelta(minutes=30), country_code="DE",
                                 location_ids=["loc-1"])  # fmt: skip
    seller = sandbox.market.login("s@x.test", "pw")
    sandbox.market.place_order(seller, {
        "side": "sell", "power": 1000.0, "price": 0.25,
        "delivery_start": format_datetime_ms(int(start.timestamp() * 1000)),
        "delivery_end": format_datetime_ms(int(start.timestamp() * 1000) + 900_000),
        "expiry_time": format_datetime_ms(int(start.timestamp() * 1000) - 1_800_000),
        "location": {"location_id": None, "country_code": "DE"},
        "baseline": {"metering_id": "m"}})  # fmt: skip
    orders = frames.orders_frame(client.orders.list())
    assert_schema(orders, "orders")
    row = orders.iloc[0]
    assert (row["id"], row["side"], row["power_w"]) == (bought.id, "buy", 1000.0)
    assert row["status"] == "filled" and row["filled_power_w"] == 1000.0
    assert orders.index[0] == pd.Timestamp(start) and row["location_ids"] == ("loc-1",)
    contracts = frames.contracts_frame(client.contracts.pages())
    assert_schema(contracts, "contracts")
    c = contracts.iloc[0]
    assert (c["buy_order_id"], c["status"], c["power_w"]) == (bought.id, "active", 1000.0)
    assert c["energy_wh"] == 250.0 and c["value_eur"] == pytest.approx(c["price_eur_per_kwh"] / 4)


# --- market messages, ticks, stream events ---------------------------------------------------

CLOSED = {"bid_time": 1_796_198_400_000_000_000, "ask_time": 1_796_198_300_000_000_000,
          "ask_user": "seller", "bid_user": "buyer", "price": 12.0, "totalenergy": 625.0,
          "energy": 625.0, "starttime": 1_796_202_000_000, "endtime": 1_796_202_900_000.0,
          "runtime": 900_000, "wattage": 2500.0, "power": 2500.0,
          "match_time": 1_796_198_500_000_000_000}  # fmt: skip
TICK = {"msg_type": "tick", "trade_time": "2026-12-01T10:00:00Z", "price": 12.5,
        "start_time": "2026-12-01T11:00:00Z", "energy": 625.0}  # fmt: skip
WINDOW = {"delivery_start": "2026-12-01T11:00:00Z", "delivery_end": "2026-12-01T11:15:00Z"}


def replies() -> list[Any]:
    """One reply of each generation-1 kind, as the AMQP consumer decodes them."""
    closed = {"msg_type": "ask_closed_order", "application_key": "k", "closed_order": CLOSED}
    cancel = {"msg_type": "cancel", "reason": "expired", "message_id": "m-1"}
    headers = {"sendertimestamp_in_ms": 1_000}
    return [
        decode_market_message(msgspec.json.encode(body), headers, received_at_ms=1_250)
        for body in (TICK, closed, cancel)
    ]


def event(kind: str, model_type: type, body: dict[str, Any]) -> MarketEvent[Any]:
    """A stream event as the stream client yields it."""
    raw = msgspec.json.encode(body)
    received = datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC)
    return MarketEvent(kind, msgspec.json.decode(raw, type=model_type), raw, received)


def stream_events() -> list[MarketEvent[Any]]:
    """One event of each generation-2 kind."""
    level = {"price": 0.2, "power": 100.0, "orders": 1, **WINDOW}
    return [
        event("ticker", Ticker, {"type": "ticker", "data": {
            "price": 0.21, "power": 2500.0, "energy": 625.0, "trade_time": "2026-12-01T10:00:00Z",
            **WINDOW}}),
        event("orderbook", Orderbook, {"type": "orderbook", "data": {
            "timestamp": "2026-12-01T10:00:02Z", "bids": [level, {**level, "price": 0.22}],
            "asks": [{**level, "price": 0.3}]}}),
        event("trade", OrderStatusUpdate, {"type": "order_status_update", "data": {
            "order_id": 7, "status": "partial_filled", "timestamp": "2026-12-01T10:00:03Z",
            "power": 2500.0, "filled_power": 1000.0}}),
        event("trade", ContractStatusUpdate, {"type": "contract_status_update", "data": {
            "contract_id": 3, "status": "settled", "settlement_status": "completed_success",
            "verification_status": "baseline_accepted", "timestamp": "2026-12-01T10:00:04Z"}}),
    ]  # fmt: skip


def test_messages_frame_keeps_every_reply_kind() -> None:
    """Tick, closed order and cancel: each a row at its market time, with latency and reason."""
    frame = frames.messages_frame(replies())
    assert_schema(frame, "messages")
    assert list(frame["kind"]) == ["tick", "ask_closed_order", "cancel"]
    assert frame.index[0] == pd.Timestamp("2026-12-01T10:00:00Z")
    assert frame.index[1] == pd.Timestamp(1_796_198_500_000, unit="ms", tz="UTC")
    assert frame.index[2] == pd.Timestamp(1_250, unit="ms", tz="UTC")  # cancel: received time
    assert list(frame["latency_ms"]) == [250, 250, 250]
    assert frame["power_w"].iloc[1] == 2500.0 and pd.isna(frame["power_w"].iloc[0])
    assert frame["reason"].iloc[2] == "expired" and frame["reason"].isna().iloc[0]
    assert frame["delivery_end"].iloc[1] == pd.Timestamp(1_796_202_900_000, unit="ms", tz="UTC")


def test_ticks_frame_takes_any_tick_like_item_and_skips_the_rest() -> None:
    """Gen-1 tick replies, gen-2 ticker events and MarketTick are rows; other items are not."""
    strategy_tick = MarketTick(time_ms=1_796_198_600_000, price=0.19, energy_wh=100.0,
                               start_ms=1_796_202_000_000, end_ms=1_796_202_900_000,
                               power_w=400.0, generation=2)  # fmt: skip
    frame = frames.ticks_frame([*replies(), *stream_events(), strategy_tick])
    assert_schema(frame, "ticks")
    assert list(frame["price_eur_per_kwh"]) == [12.5, 0.21, 0.19]
    assert list(frame["generation"]) == [1, 2, 2]
    assert pd.isna(frame["power_w"].iloc[0]) and frame["power_w"].iloc[1] == 2500.0
    assert pd.isna(frame["delivery_end"].iloc[0])
    assert frame.index[2] == pd.Timestamp(1_796_198_600_000, unit="ms", tz="UTC")


def test_events_frame_flattens_each_stream_kind() -> None:
    """Ticker, order book (best bid/ask), order and contract updates: one row each."""
    frame = frames.events_frame(stream_events())
    assert_schema(frame, "events")
    assert list(frame["kind"]) == ["ticker", "orderbook", "order_status_update",
                                   "contract_status_update"]  # fmt: skip
    assert frame["price_eur_per_kwh"].iloc[0] == 0.21
    assert (frame["best_bid_eur_per_kwh"].iloc[1], frame["best_ask_eur_per_kwh"].iloc[1]) == (
        0.22,
        0.3,
    )
    assert frame["order_id"].iloc[2] == 7 and frame["filled_power_w"].iloc[2] == 1000.0
    assert frame["contract_id"].iloc[3] == 3 and frame["status"].iloc[3] == "settled"
    assert frame["order_id"].isna().iloc[3] and frame["status"].isna().iloc[0]
    assert frame.index[3] == pd.Timestamp("2026-12-01T10:00:04Z")
    assert (frame["received_at"] == pd.Timestamp("2026-12-01T10:00:01Z")).all()


def test_run_frames_of_a_timeline() -> None:
    """A bot run's ticks and telemetry: prices by time; states long-format by time and bot."""
    timeline = RunTimeline(
        ticks=[(1_000, 0.2), (61_000, 0.25)],
        samples={
            "battery": [(0, {"soc_pct": 50.0, "soc_wh": 5000.0}), (60_000, {"soc_pct": 40.0,
                                                                              "soc_wh": 4000.0})],
            "heatpump": [(0, {"t_indoor_c": 21.0})],
        },
    )  # fmt: skip
    prices = frames.run_prices_frame(timeline)
    assert_schema(prices, "run_prices")
    assert list(prices["price_eur_per_kwh"]) == [0.2, 0.25]
    states = frames.run_states_frame(timeline)
    assert str(states.index.dtype) == UTC_NS and states.index.name == "time"
    assert list(states.columns) == ["bot", "soc_pct", "soc_wh", "t_indoor_c"]
    assert states["bot"].dtype == cat("battery", "heatpump")
    assert all(states[c].dtype == "float64" for c in ("soc_pct", "soc_wh", "t_indoor_c"))
    assert list(states["bot"]) == ["battery", "heatpump", "battery"]
    assert states["soc_pct"].iloc[2] == 40.0 and pd.isna(states["soc_pct"].iloc[1])
    assert states.index[2] == pd.Timestamp(60_000, unit="ms", tz="UTC")


# --- frames back to orders -------------------------------------------------------------------


def test_order_specs_from_a_schedule_frame_are_placed(client: FlexAPIClient) -> None:
    """A frame an analyst builds (index = delivery start) becomes OrderSpecs the client places."""
    start = slot()
    index = pd.DatetimeIndex([start, start + timedelta(minutes=15)], name="delivery_start")
    schedule = pd.DataFrame(
        {"side": ["buy", "buy"], "power_w": [500.0, 750.0], "price_eur_per_kwh": [0.2, 0.21]},
        index=index,
    )
    schedule["delivery_end"] = schedule.index + pd.Timedelta(minutes=15)
    schedule["expiry_time"] = schedule.index - pd.Timedelta(minutes=30)
    placed = [client.orders.place(spec) for spec in frames.order_specs_from_frame(schedule)]
    assert [o.power for o in placed] == [500.0, 750.0]
    assert [o.delivery_start for o in placed] == [start, start + timedelta(minutes=15)]
    with pytest.raises(FlexValidationError, match="expiry_time"):
        frames.order_specs_from_frame(schedule.drop(columns=["expiry_time"]))


# --- no pandas -------------------------------------------------------------------------------


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return what it printed."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    return result.stdout.strip()


def test_import_flxtrd_and_flxtrd_frames_do_not_import_pandas() -> None:
    """pandas loads only when a frame is built, not with flxtrd or flxtrd.frames."""
    code = ("import sys, flxtrd, flxtrd.frames; before = 'pandas' in sys.modules; "
            "flxtrd.frames.deals_frame([]); print(before, 'pandas' in sys.modules)")  # fmt: skip
    assert run_python(code) == "False True"


def test_without_pandas_a_frame_call_names_the_extra_to_install() -> None:
    """Without pandas, building a frame raises ConfigurationError naming flxtrd[pandas]."""
    code = ("import sys; sys.modules['pandas'] = None\n"
            "from flxtrd import ConfigurationError, frames\n"
            "try:\n    frames.orders_frame([])\n"
            "except ConfigurationError as exc:\n    print(exc)\n")  # fmt: skip
    assert "pip install 'flxtrd[pandas]'" in run_python(code)
    assert "needs pandas" in run_python(code)
