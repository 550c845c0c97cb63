"""How the REST and stream commands print: JSON lines (``--json``) or a readable table.

With ``--json`` every result is one JSON object on one line, written as soon as it is known (so
``| jq`` sees a stream's events live): the market's own JSON for an order, a contract or a deal
(the generated model's ``to_dict()``), and for a stream event the message as the WebSocket
carried it (``{"type": ..., "data": {...}}``) plus ``received_at``. Without it, list results
print as a table with units in the headers and UTC times; stream events print one fixed-width
row each. Nothing here prints credentials: only market data reaches these functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from glocalflex_rest.models import Contract, Deal, Order

    from flxtrd._streams._core import MarketEvent

__all__ = [
    "CONTRACT_COLUMNS",
    "DEAL_COLUMNS",
    "EVENT_COLUMNS",
    "ORDER_COLUMNS",
    "Printer",
    "StreamPrinter",
    "contract_cells",
    "deal_cells",
    "event_cells",
    "event_record",
    "json_line",
    "order_cells",
]

ORDER_COLUMNS = (
    "id", "side", "status", "power W", "filled W", "price EUR/kWh", "delivery start (UTC)",
    "delivery end", "expiry (UTC)", "country", "locations",
)  # fmt: skip
CONTRACT_COLUMNS = (
    "id", "buy order", "sell order", "status", "settlement", "verification", "power W",
    "price EUR/kWh", "energy Wh", "delivery start (UTC)", "delivery end",
)  # fmt: skip
DEAL_COLUMNS = (
    "time (UTC)", "delivery start (UTC)", "minutes", "power W", "energy Wh", "price",
    "value EUR",
)  # fmt: skip
#: (title, width) of each stream column; the last one is not padded.
EVENT_COLUMNS = (
    ("received (UTC)", 12), ("event", 22), ("id", 6), ("status", 16), ("price EUR/kWh", 13),
    ("power W", 9), ("energy Wh", 9), ("delivery start (UTC)", 0),
)  # fmt: skip
MS_PER_HOUR = 3_600_000


def json_line(record: Mapping[str, Any]) -> str:
    """One compact JSON object on one line (non-ASCII kept as it is)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


def _num(value: Any) -> str:
    if value is None or type(value).__name__ in ("Unset", "UnsetType"):
        return "-"
    return f"{float(value):g}"


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _minute(moment: Any) -> str:
    if not isinstance(moment, datetime):
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _second(moment: Any) -> str:
    if not isinstance(moment, datetime):
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:12]


def _from_ms(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def order_cells(order: Order) -> list[str]:
    """The table row of a generation-2 order."""
    ids = order.location.location_id
    locations = ",".join(str(i) for i in ids) if isinstance(ids, list) and ids else "-"
    return [
        str(order.id),
        _text(order.side),
        _text(order.status),
        _num(order.power),
        _num(order.filled_power),
        _num(order.price),
        _minute(order.delivery_start),
        _minute(order.delivery_end),
        _minute(order.expiry_time),
        _text(order.location.country_code) or "-",
        locations,
    ]


def contract_cells(contract: Contract) -> list[str]:
    """The table row of a generation-2 contract."""
    return [
        str(contract.id),
        str(contract.buy_order_id),
        str(contract.sell_order_id),
        _text(contract.status),
        _text(contract.settlement.status),
        _text(contract.verification_result.status),
        _num(contract.power),
        _num(contract.price),
        _num(contract.energy),
        _minute(contract.delivery_start),
        _minute(contract.delivery_end),
    ]


def deal_cells(deal: Deal) -> list[str]:
    """The table row of a generation-1 deal."""
    power = deal.totalenergy * MS_PER_HOUR / deal.runtime if deal.runtime else None
    return [
        _second(deal.time),
        _minute(_from_ms(deal.starttime)),
        _num(deal.runtime / 60_000),
        _num(power),
        _num(deal.totalenergy),
        _num(deal.price),
        _num(deal.totalprice),
    ]


def event_record(event: MarketEvent[Any]) -> dict[str, Any]:
    """A stream event as JSON: the message as received, plus ``received_at`` (ISO 8601 UTC)."""
    import msgspec

    record: dict[str, Any] = {"received_at": event.received_at.astimezone(UTC).isoformat()}
    record.update(msgspec.to_builtins(event.model))
    return record


def event_cells(event: MarketEvent[Any]) -> list[str]:
    """The stream row of an event: what it is about and its figures."""
    model = event.model
    data = model.data
    kind = type(model).__name__
    ident = status = price = power = energy = start = "-"
    if kind == "Ticker":
        price, power, energy = _num(data.price), _num(data.power), _num(data.energy)
        start = _minute(data.delivery_start)
        name = "ticker (trade)"
    elif kind == "Orderbook":
        bids = [level.price for level in data.bids]
        asks = [level.price for level in data.asks]
        best_bid = _num(max(bids)) if bids else "-"
        best_ask = _num(min(asks)) if asks else "-"
        name = "orderbook"
        status = f"{len(bids)} bids {len(asks)} asks"
        price = f"{best_bid}/{best_ask}"
    elif kind == "OrderStatusUpdate":
        name, ident, status = "order_status_update", str(data.order_id), _text(data.status)
        power = _num(getattr(data, "power", None))
    else:
        name, ident, status = "contract_status_update", str(data.contract_id), _text(data.status)
    return [_clock(event.received_at), name, ident, status, price, power, energy, start]


def _render(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    table = [list(columns), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


class Printer:
    """Results of a list or single-item command: JSON lines at once, or a table at the end."""

    def __init__(self, columns: Sequence[str], noun: str, *, json_mode: bool, out: TextIO) -> None:
        self.columns = tuple(columns)
        self.noun = noun
        self.json_mode = json_mode
        self.out = out
        self.rows: list[list[str]] = []
        self.count = 0

    def add(self, record: Mapping[str, Any], cells: Sequence[str]) -> None:
        """One result: ``record`` for ``--json``, ``cells`` for the table."""
        self.count += 1
        if self.json_mode:
            self.out.write(json_line(record) + "\n")
            self.out.flush()
        else:
            self.rows.append(list(cells))

    def finish(self, summary: str | None = None) -> None:
        """Print the table (tables only) and a summary line under it."""
        if self.json_mode:
            return
        if not self.rows:
            self.out.write(f"no {self.noun}s\n")
            return
        self.out.write(_render(self.columns, self.rows) + "\n")
        if summary:
            self.out.write(summary + "\n")
        self.out.flush()


class StreamPrinter:
    """Stream events as they arrive: a JSON line each, or a fixed-width row each."""

    def __init__(self, *, json_mode: bool, out: TextIO) -> None:
        self.json_mode = json_mode
        self.out = out
        self.count = 0

    def header(self) -> None:
        """The column titles (tables only)."""
        if not self.json_mode:
            self.out.write(self._row([title for title, _ in EVENT_COLUMNS]) + "\n")
            self.out.flush()

    def _row(self, cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, (_, width) in zip(cells, EVENT_COLUMNS, strict=True)]
        return "  ".join(padded).rstrip()

    def add(self, event: MarketEvent[Any]) -> None:
        """Print one event now."""
        self.count += 1
        line = json_line(event_record(event)) if self.json_mode else self._row(event_cells(event))
        self.out.write(line + "\n")
        self.out.flush()
