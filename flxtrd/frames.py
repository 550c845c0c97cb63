"""Market data as pandas DataFrames: deals, orders, contracts, ticks, messages, events, bot runs.

pandas is optional (``pip install 'flxtrd[pandas]'``) and imported only when a frame is built;
``import flxtrd`` and ``import flxtrd.frames`` never import it. Without pandas each function
raises :class:`~flxtrd.ConfigurationError` saying what to install.

Every frame has a tz-aware UTC :class:`pandas.DatetimeIndex` (nanosecond resolution), units in
its column names (``power_w``, ``energy_wh``, ``price_eur_per_kwh``, ``value_eur``) and
categorical statuses with the spec's full category list (so frames of different calls concat
cleanly). The schemas, one per function (index name, then columns and dtypes)::

    deals_frame        time             delivery_start, delivery_end (datetime64[ns, UTC]),
                                        price_eur_per_kwh, energy_wh, power_w, value_eur (float64)
    orders_frame       delivery_start   id (int64), side, status, country_code (category),
                                        power_w, filled_power_w, price_eur_per_kwh (float64),
                                        delivery_end, expiry_time, created_at (datetime),
                                        location_ids (object: tuple of str, or None)
    contracts_frame    delivery_start   id, buy_order_id, sell_order_id (int64), status,
                                        settlement_status, verification_status (category),
                                        power_w, price_eur_per_kwh, energy_wh, value_eur,
                                        delivery_end, created_at
    ticks_frame        time             price_eur_per_kwh, energy_wh, power_w, delivery_start,
                                        delivery_end, generation (int64)
    messages_frame     time             kind (category), price_eur_per_kwh, energy_wh, power_w,
                                        delivery_start, delivery_end, reason (string),
                                        received_at, latency_ms (Int64)
    events_frame       time             kind, status (category), order_id, contract_id (Int64),
                                        price_eur_per_kwh, power_w, energy_wh, filled_power_w,
                                        best_bid_eur_per_kwh, best_ask_eur_per_kwh,
                                        delivery_start, delivery_end, received_at
    run_prices_frame   time             price_eur_per_kwh
    run_states_frame   time             bot (category), then one float64 column per telemetry
                                        key the strategies report (soc_pct, t_indoor_c, ...)

Missing values are NaN / NaT / ``<NA>``. :func:`orders_from_frame` turns an orders frame back
into the generated ``Order`` models (lossless: frame -> orders -> frame gives the same frame), and
:func:`order_specs_from_frame` reads a frame you built (a schedule) as
:class:`~flxtrd.OrderSpec` s to place.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flxtrd._errors import ConfigurationError, FlexValidationError
from flxtrd._validation import OrderSpec

if TYPE_CHECKING:
    from glocalflex_rest.models import Contract, Deal, Order

    from flxtrd._trading._runner import RunTimeline

__all__ = [
    "INSTALL_HINT",
    "contracts_frame",
    "deals_frame",
    "events_frame",
    "messages_frame",
    "order_specs_from_frame",
    "orders_frame",
    "orders_from_frame",
    "run_prices_frame",
    "run_states_frame",
    "ticks_frame",
]

INSTALL_HINT = "pip install 'flxtrd[pandas]'  (or: pip install pandas)"
"""How to get the optional DataFrame dependency."""

UTC_DTYPE = "datetime64[ns, UTC]"
SIDES = ("buy", "sell")
ORDER_STATUSES = (
    "pending",
    "awaiting_baseline_data",
    "selected_for_baseline_activation",
    "accepted",
    "matching_active",
    "filled",
    "partial_filled",
    "cancelled",
    "expired",
)
CONTRACT_STATUSES = ("active", "settled", "cancelled")
SETTLEMENT_STATUSES = (
    "awaiting_verification_completion",
    "processing_settlement",
    "completed_success",
    "completed_error",
)
VERIFICATION_STATUSES = (
    "baseline_received",
    "baseline_accepted",
    "baseline_rejected",
    "awaiting_metering_data",
)
COUNTRY_CODES = ("", "CH", "CZ", "DE", "ES", "FI", "FR")
MESSAGE_KINDS = ("tick", "ask_closed_order", "bid_closed_order", "cancel")
EVENT_KINDS = ("ticker", "orderbook", "order_status_update", "contract_status_update")
EVENT_STATUSES = (*ORDER_STATUSES, "active", "settled")
_MS_PER_HOUR = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _pandas() -> Any:
    """The pandas module, or ConfigurationError naming the extra to install."""
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ConfigurationError(
            f"flxtrd.frames needs pandas, which is not installed; install it with: {INSTALL_HINT}"
        ) from None


# --- building blocks -------------------------------------------------------------------------


def _from_ms(ms: float | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


def _from_ns(ns: int | None) -> datetime | None:
    return None if ns is None else _EPOCH + timedelta(microseconds=ns // 1000)


def _set(value: Any) -> Any:
    """``None`` for the generated clients' UNSET (and for None), else the value."""
    return None if value is None or type(value).__name__ in ("Unset", "UnsetType") else value


def _value(value: Any) -> Any:
    """An enum's value (str), else the value itself."""
    return getattr(value, "value", value)


class _Columns:
    """Columns of one frame, each with its dtype, in the order added."""

    def __init__(self, pd: Any) -> None:
        self.pd = pd
        self.data: dict[str, Any] = {}

    def utc_index(self, values: Sequence[datetime | None]) -> Any:
        pd = self.pd
        converted = pd.to_datetime(list(values), utc=True) if values else pd.DatetimeIndex([])
        index = pd.DatetimeIndex(converted)
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        return index.as_unit("ns")

    def datetimes(self, name: str, values: Sequence[datetime | None]) -> None:
        self.data[name] = self.utc_index(values).array

    def floats(self, name: str, values: Sequence[float | None]) -> None:
        cleaned = [math.nan if v is None else float(v) for v in values]
        self.data[name] = self.pd.Series(cleaned, dtype="float64").array

    def ints(self, name: str, values: Sequence[int]) -> None:
        self.data[name] = self.pd.Series(list(values), dtype="int64").array

    def nullable_ints(self, name: str, values: Sequence[int | None]) -> None:
        self.data[name] = self.pd.array(list(values), dtype="Int64")

    def categorical(self, name: str, values: Sequence[str | None], cats: Sequence[str]) -> None:
        dtype = self.pd.CategoricalDtype(categories=list(cats))
        self.data[name] = self.pd.Categorical(list(values), dtype=dtype)

    def strings(self, name: str, values: Sequence[str | None]) -> None:
        self.data[name] = self.pd.array(list(values), dtype="string")

    def objects(self, name: str, values: Sequence[Any]) -> None:
        series = self.pd.Series([None] * len(values), dtype=object)
        for i, value in enumerate(values):
            series.iat[i] = value
        self.data[name] = series.array

    def frame(self, index_name: str, index: Sequence[datetime | None]) -> Any:
        times = self.utc_index(index).rename(index_name)
        return self.pd.DataFrame(self.data, index=times)


# --- REST models -----------------------------------------------------------------------------


def deals_frame(deals: Iterable[Deal]) -> Any:
    """Generation-1 deals (``client.deals()``) indexed by trade time; see the module doc."""
    pd = _pandas()
    rows = list(deals or [])
    cols = _Columns(pd)
    cols.datetimes("delivery_start", [_from_ms(d.starttime) for d in rows])
    cols.datetimes("delivery_end", [_from_ms(d.starttime + d.runtime) for d in rows])
    cols.floats("price_eur_per_kwh", [d.price for d in rows])
    cols.floats("energy_wh", [d.totalenergy for d in rows])
    cols.floats("power_w", [d.totalenergy * _MS_PER_HOUR / d.runtime for d in rows])
    cols.floats("value_eur", [d.totalprice for d in rows])
    return cols.frame("time", [d.time for d in rows])


def _items(models: Any) -> list[Any]:
    """The items of a list answer (``OrderList``, ``ContractList``, a page) or an iterable."""
    items = getattr(models, "items", None)
    if isinstance(items, list):
        return list(items)
    return list(models or [])


def orders_frame(orders: Iterable[Order] | Any) -> Any:
    """Generation-2 orders (an ``OrderList``, a page or any iterable of ``Order``); see above."""
    pd = _pandas()
    rows = _items(orders)
    cols = _Columns(pd)
    cols.ints("id", [o.id for o in rows])
    cols.categorical("side", [_value(o.side) for o in rows], SIDES)
    cols.categorical("status", [_value(o.status) for o in rows], ORDER_STATUSES)
    cols.floats("power_w", [o.power for o in rows])
    cols.floats("filled_power_w", [_set(o.filled_power) for o in rows])
    cols.floats("price_eur_per_kwh", [o.price for o in rows])
    cols.datetimes("delivery_end", [o.delivery_end for o in rows])
    cols.datetimes("expiry_time", [o.expiry_time for o in rows])
    cols.datetimes("created_at", [_set(o.created_at) for o in rows])
    cols.categorical("country_code", [_value(o.location.country_code) for o in rows], COUNTRY_CODES)
    ids = [_set(o.location.location_id) for o in rows]
    cols.objects("location_ids", [None if i is None else tuple(i) for i in ids])
    return cols.frame("delivery_start", [o.delivery_start for o in rows])


def contracts_frame(contracts: Iterable[Contract] | Any) -> Any:
    """Generation-2 contracts (a ``ContractList``, a page or an iterable); see the module doc."""
    pd = _pandas()
    rows = _items(contracts)
    cols = _Columns(pd)
    cols.ints("id", [c.id for c in rows])
    cols.ints("buy_order_id", [c.buy_order_id for c in rows])
    cols.ints("sell_order_id", [c.sell_order_id for c in rows])
    cols.categorical("status", [_value(c.status) for c in rows], CONTRACT_STATUSES)
    cols.categorical(
        "settlement_status", [_value(c.settlement.status) for c in rows], SETTLEMENT_STATUSES
    )
    cols.categorical(
        "verification_status",
        [_value(c.verification_result.status) for c in rows],
        VERIFICATION_STATUSES,
    )
    cols.floats("power_w", [c.power for c in rows])
    cols.floats("price_eur_per_kwh", [c.price for c in rows])
    cols.floats("energy_wh", [c.energy for c in rows])
    cols.floats("value_eur", [c.price * c.energy / 1000 for c in rows])
    cols.datetimes("delivery_end", [c.delivery_end for c in rows])
    cols.datetimes("created_at", [_set(c.created_at) for c in rows])
    return cols.frame("delivery_start", [c.delivery_start for c in rows])


def _py_time(value: Any) -> datetime | None:
    """A frame cell (Timestamp or NaT) as an aware UTC datetime, or None."""
    pd = _pandas()
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    moment: datetime = stamp.to_pydatetime(warn=False)
    return moment.astimezone(UTC)


def _py_float(value: Any) -> float | None:
    return None if value is None or math.isnan(float(value)) else float(value)


def _require_columns(frame: Any, needed: Sequence[str]) -> None:
    present = set(frame.columns) | {frame.index.name}
    for name in needed:
        if name not in present:
            raise FlexValidationError(name, "is a required column (or the index)", None)


def _column(frame: Any, name: str) -> list[Any]:
    """A column's values, or the index's when the index has that name."""
    if name in frame.columns:
        return list(frame[name])
    return list(frame.index)


def orders_from_frame(frame: Any) -> list[Order]:
    """The generated ``Order`` models of an :func:`orders_frame` (lossless round trip)."""
    from glocalflex_rest.models import CountryCode, Order, OrderLocation, OrderStatus, Side
    from glocalflex_rest.types import UNSET

    needed = ("id", "side", "status", "power_w", "price_eur_per_kwh", "delivery_start")
    _require_columns(frame, (*needed, "delivery_end", "expiry_time", "country_code"))
    columns = {name: _column(frame, name) for name in (*needed, "delivery_end", "expiry_time")}
    optional = {
        name: _column(frame, name) if name in frame.columns else [None] * len(frame)
        for name in ("filled_power_w", "created_at", "location_ids")
    }
    countries = _column(frame, "country_code")
    orders: list[Order] = []
    for i in range(len(frame)):
        filled = _py_float(optional["filled_power_w"][i])
        created = _py_time(optional["created_at"][i])
        ids = optional["location_ids"][i]
        orders.append(
            Order(
                id=int(columns["id"][i]),
                side=Side(str(columns["side"][i])),
                power=float(columns["power_w"][i]),
                price=float(columns["price_eur_per_kwh"][i]),
                delivery_start=_required_time("delivery_start", columns["delivery_start"][i]),
                delivery_end=_required_time("delivery_end", columns["delivery_end"][i]),
                expiry_time=_required_time("expiry_time", columns["expiry_time"][i]),
                location=OrderLocation(
                    country_code=CountryCode(str(countries[i])),
                    location_id=None if ids is None else [str(x) for x in ids],
                ),
                status=OrderStatus(str(columns["status"][i])),
                filled_power=UNSET if filled is None else filled,
                created_at=UNSET if created is None else created,
            )
        )
    return orders


def _required_time(name: str, value: Any) -> datetime:
    moment = _py_time(value)
    if moment is None:
        raise FlexValidationError(name, "must be a date-time, not missing", value)
    return moment


def order_specs_from_frame(frame: Any) -> list[OrderSpec]:
    """Read a schedule frame as OrderSpecs to place (delivery_start: the index or a column).

    Needs ``side``, ``power_w``, ``price_eur_per_kwh``, ``delivery_start``, ``delivery_end`` and
    ``expiry_time``; ``country_code`` and ``location_ids`` are optional. The specs are not
    validated here: ``client.orders.place(spec)`` validates each before sending.
    """
    _pandas()
    needed = ("side", "power_w", "price_eur_per_kwh", "delivery_start", "delivery_end")
    _require_columns(frame, (*needed, "expiry_time"))
    columns = {name: _column(frame, name) for name in (*needed, "expiry_time")}
    countries = _column(frame, "country_code") if "country_code" in frame.columns else None
    locations = _column(frame, "location_ids") if "location_ids" in frame.columns else None
    specs: list[OrderSpec] = []
    for i in range(len(frame)):
        ids = locations[i] if locations is not None else None
        specs.append(
            OrderSpec(
                side=str(columns["side"][i]),
                power_w=float(columns["power_w"][i]),
                price_eur_per_kwh=float(columns["price_eur_per_kwh"][i]),
                delivery_start=_required_time("delivery_start", columns["delivery_start"][i]),
                delivery_end=_required_time("delivery_end", columns["delivery_end"][i]),
                expiry_time=_required_time("expiry_time", columns["expiry_time"][i]),
                country_code="" if countries is None else str(countries[i]),
                location_ids=None if ids is None else [str(x) for x in ids],
            )
        )
    return specs


# --- market messages, ticks, stream events ---------------------------------------------------


def _tag(model: Any) -> str:
    """The msgspec tag of a generated message model (``tick``, ``ticker``, ...)."""
    config = getattr(type(model), "__struct_config__", None)
    return str(getattr(config, "tag", "")) if config is not None else ""


def _tick_row(item: Any) -> tuple[datetime, float, float, float | None, Any, Any, int] | None:
    """(time, price, energy, power, start, end, generation) of a tick-like item, else None."""
    from flxtrd._trading._strategy import MarketTick

    if isinstance(item, MarketTick):
        end = _from_ms(item.end_ms) if item.end_ms is not None else None
        start, moment = _from_ms(item.start_ms), _from_ms(item.time_ms)
        assert moment is not None
        return moment, item.price, item.energy_wh, item.power_w, start, end, item.generation
    model = getattr(item, "model", item)  # a MarketMessage or a MarketEvent wraps the model
    tag = _tag(model)
    if tag == "tick":
        return model.trade_time, model.price, model.energy, None, model.start_time, None, 1
    if tag == "ticker":
        d = model.data
        return d.trade_time, d.price, d.energy, d.power, d.delivery_start, d.delivery_end, 2
    return None


def ticks_frame(ticks: Iterable[Any]) -> Any:
    """Trades of the market, indexed by trade time, from any mix of tick-like items.

    Takes generation-1 ``tick`` replies (``client.market_messages()``), generation-2 ``ticker``
    stream events, and the strategies' :class:`~flxtrd.MarketTick`; other items (closed orders,
    order updates) are skipped, so an iterator of everything can be passed as it is.
    """
    pd = _pandas()
    rows = [row for row in (_tick_row(item) for item in ticks) if row is not None]
    cols = _Columns(pd)
    cols.floats("price_eur_per_kwh", [r[1] for r in rows])
    cols.floats("energy_wh", [r[2] for r in rows])
    cols.floats("power_w", [r[3] for r in rows])
    cols.datetimes("delivery_start", [r[4] for r in rows])
    cols.datetimes("delivery_end", [r[5] for r in rows])
    cols.ints("generation", [r[6] for r in rows])
    return cols.frame("time", [r[0] for r in rows])


def messages_frame(messages: Iterable[Any]) -> Any:
    """Generation-1 market replies (``MarketMessage``), every kind, indexed by market time.

    The index is the trade time of a tick, the match time of a closed order, and the receive
    time of a cancel (which carries no time of its own).
    """
    pd = _pandas()
    rows: list[dict[str, Any]] = []
    for message in messages:
        model = message.model
        kind = _tag(model)
        received = _from_ms(message.received_at_ms)
        row: dict[str, Any] = {"kind": kind, "received_at": received, "reason": None}
        row["latency_ms"] = message.latency_ms
        if kind == "tick":
            row |= {"time": model.trade_time, "price": model.price, "energy": model.energy,
                    "power": None, "start": model.start_time, "end": None}  # fmt: skip
        elif kind in ("ask_closed_order", "bid_closed_order"):
            c = model.closed_order
            row |= {"time": _from_ns(c.match_time), "price": c.price, "energy": c.energy,
                    "power": c.power, "start": _from_ms(c.starttime),
                    "end": _from_ms(c.endtime)}  # fmt: skip
        else:
            row |= {"time": received, "price": None, "energy": None, "power": None,
                    "start": None, "end": None, "reason": str(model.reason)}  # fmt: skip
        rows.append(row)
    cols = _Columns(pd)
    cols.categorical("kind", [r["kind"] for r in rows], MESSAGE_KINDS)
    cols.floats("price_eur_per_kwh", [r["price"] for r in rows])
    cols.floats("energy_wh", [r["energy"] for r in rows])
    cols.floats("power_w", [r["power"] for r in rows])
    cols.datetimes("delivery_start", [r["start"] for r in rows])
    cols.datetimes("delivery_end", [r["end"] for r in rows])
    cols.strings("reason", [r["reason"] for r in rows])
    cols.datetimes("received_at", [r["received_at"] for r in rows])
    cols.nullable_ints("latency_ms", [r["latency_ms"] for r in rows])
    return cols.frame("time", [r["time"] for r in rows])


def _event_row(event: Any) -> dict[str, Any]:
    model = event.model
    kind = _tag(model)
    data = model.data
    row: dict[str, Any] = {"kind": kind, "received_at": event.received_at}
    if kind == "ticker":
        row |= {"time": data.trade_time, "price": data.price, "power": data.power,
                "energy": data.energy, "start": data.delivery_start,
                "end": data.delivery_end}  # fmt: skip
    elif kind == "orderbook":
        bids = [level.price for level in data.bids]
        asks = [level.price for level in data.asks]
        row |= {"time": data.timestamp, "bid": max(bids) if bids else None,
                "ask": min(asks) if asks else None}  # fmt: skip
    elif kind == "order_status_update":
        row |= {"time": data.timestamp, "order_id": data.order_id, "status": _value(data.status),
                "power": _set(data.power), "filled": _set(data.filled_power)}  # fmt: skip
    else:
        row |= {"time": data.timestamp, "contract_id": data.contract_id,
                "status": _value(data.status)}  # fmt: skip
    return row


def events_frame(events: Iterable[Any]) -> Any:
    """Generation-2 WebSocket stream events (``MarketEvent``), every kind, by market time.

    One row per event: a ticker's trade, an order book's best bid and ask, an order's or a
    contract's new status (``status`` holds both kinds' values).
    """
    pd = _pandas()
    rows = [_event_row(event) for event in events]
    cols = _Columns(pd)
    cols.categorical("kind", [r["kind"] for r in rows], EVENT_KINDS)
    cols.categorical("status", [r.get("status") for r in rows], EVENT_STATUSES)
    cols.nullable_ints("order_id", [r.get("order_id") for r in rows])
    cols.nullable_ints("contract_id", [r.get("contract_id") for r in rows])
    cols.floats("price_eur_per_kwh", [r.get("price") for r in rows])
    cols.floats("power_w", [r.get("power") for r in rows])
    cols.floats("energy_wh", [r.get("energy") for r in rows])
    cols.floats("filled_power_w", [r.get("filled") for r in rows])
    cols.floats("best_bid_eur_per_kwh", [r.get("bid") for r in rows])
    cols.floats("best_ask_eur_per_kwh", [r.get("ask") for r in rows])
    cols.datetimes("delivery_start", [r.get("start") for r in rows])
    cols.datetimes("delivery_end", [r.get("end") for r in rows])
    cols.datetimes("received_at", [r["received_at"] for r in rows])
    return cols.frame("time", [r["time"] for r in rows])


# --- bot runs --------------------------------------------------------------------------------


def run_prices_frame(timeline: RunTimeline) -> Any:
    """The trade prices a bot run saw (``runner.timeline``), indexed by trade time."""
    pd = _pandas()
    cols = _Columns(pd)
    cols.floats("price_eur_per_kwh", [price for _, price in timeline.ticks])
    return cols.frame("time", [_from_ms(t) for t, _ in timeline.ticks])


def run_states_frame(timeline: RunTimeline) -> Any:
    """Each bot's telemetry after each step (long format: one row per bot and step)."""
    pd = _pandas()
    samples: Mapping[str, list[tuple[int, dict[str, float]]]] = timeline.samples
    rows = sorted(
        ((t, name, values) for name, series in samples.items() for t, values in series),
        key=lambda row: (row[0], row[1]),
    )
    keys = sorted({key for _, _, values in rows for key in values})
    cols = _Columns(pd)
    cols.categorical("bot", [name for _, name, _ in rows], sorted(samples))
    for key in keys:
        cols.floats(key, [values.get(key) for _, _, values in rows])
    return cols.frame("time", [_from_ms(t) for t, _, _ in rows])
