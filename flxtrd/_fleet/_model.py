"""What a fleet is made of and what it reports: devices, per-device and fleet totals, outcomes.

Kept apart from the I/O (:mod:`flxtrd._fleet._loop`) so that the numbers a fleet reports can be
built and checked without a broker. Latencies are the publish-to-confirm time of each order as
the fleet measured it (``time.perf_counter``), in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flxtrd._errors import FlexError, FlexValidationError

if TYPE_CHECKING:
    from flxtrd._amqp._results import OrderReceipt
    from flxtrd._trading._energy import EnergyManagement
    from flxtrd._trading._strategy import StrategyAction, StrategyEvent, TradingStrategy
    from flxtrd._types import OrderType

__all__ = [
    "DeviceStats",
    "FleetDevice",
    "FleetOutcome",
    "FleetStats",
    "LatencySummary",
    "PortfolioStrategy",
    "check_device_ids",
    "check_run",
    "order_message_id",
]

_SHORTSTR_MAX = 255


@dataclass(frozen=True)
class FleetDevice:
    """One device of a fleet: its broker identity and, optionally, what trades for it.

    Attributes:
        device_id: the fleet's name for the device (unique in the fleet).
        user_id: the broker login (the account's ``userId``).
        access_token: the broker password (the device access token); never shown.
        application_key: the device's application key (its exclusive reply queue).
        strategy: a :class:`~flxtrd.TradingStrategy` trading for this device alone.
        energy: the device's :class:`~flxtrd.EnergyManagement` (advanced on every fleet step).
    """

    device_id: str
    user_id: str | None
    access_token: str | None = field(repr=False)
    application_key: str
    strategy: TradingStrategy | None = field(default=None, compare=False)
    energy: EnergyManagement | None = field(default=None, compare=False)


RUN_MAX = 16
"""Longest fleet run name, characters (it prefixes every message id)."""


def order_message_id(run: str, device_id: str, sequence: int) -> str:
    """The AMQP ``message_id`` of order ``sequence`` of ``device_id`` in ``run`` (deterministic).

    A process that takes a device over re-sends from the last checkpoint with these ids; the
    market (the sandbox's broker: by ``(user, message_id)``) drops the ones it already has. The
    run name keeps a new run's orders from being taken for an old run's duplicates.
    """
    return f"{run}:{device_id}:{sequence}"


def check_run(run: object) -> str:
    """A fleet run name: 1 to 16 letters, digits, ``-`` or ``_``."""
    if not isinstance(run, str) or not 0 < len(run) <= RUN_MAX:
        raise FlexValidationError("run", "must be 1 to 16 characters", run)
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in run):
        raise FlexValidationError("run", "must hold only letters, digits, '-' and '_'", run)
    return run


def check_device_ids(ids: Iterable[object]) -> list[str]:
    """The device ids, checked: non-empty strings of at most 255 bytes, none twice.

    Raises :class:`~flxtrd.FlexValidationError` naming the offending id before anything
    connects.
    """
    seen: set[str] = set()
    out: list[str] = []
    for device_id in ids:
        if not isinstance(device_id, str) or not device_id:
            raise FlexValidationError("device_id", "must be a non-empty string", device_id)
        if len(device_id.encode("utf-8", "surrogatepass")) > _SHORTSTR_MAX - 38:
            raise FlexValidationError(
                "device_id",
                "must be at most 217 UTF-8 bytes (it is part of message ids)",
                device_id,
            )
        if device_id in seen:
            raise FlexValidationError(
                "device_id", f"must be unique in the fleet; {device_id!r} appears twice", device_id
            )
        seen.add(device_id)
        out.append(device_id)
    return out


@dataclass(frozen=True, slots=True)
class FleetOutcome:
    """What happened to one order of a fleet batch: a receipt or an error, for one device.

    ``message_id`` is the AMQP message id (generation 1) or the market's order id (2).
    """

    device_id: str
    message_id: str
    order: object
    receipt: OrderReceipt | Any = None
    """The broker's :class:`~flxtrd.OrderReceipt` (generation 1) or the placed order (2)."""
    error: FlexError | None = None
    latency_ms: float | None = None
    """Publish to confirm (or to failure), ms."""

    @property
    def ok(self) -> bool:
        """True when the broker confirmed the order."""
        return self.receipt is not None

    def unwrap(self) -> Any:
        """Return the receipt or raise the error."""
        if self.receipt is None:
            raise self.error if self.error is not None else FlexError("order has no outcome")
        return self.receipt


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0..100) of sorted values; None when empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Publish-to-confirm latency of a set of orders, ms (None: no order confirmed yet)."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    worst_ms: float | None

    @classmethod
    def of(cls, samples: Iterable[float]) -> LatencySummary:
        """The summary of ``samples`` (ms)."""
        ordered = sorted(samples)
        worst = ordered[-1] if ordered else None
        return cls(len(ordered), _percentile(ordered, 50), _percentile(ordered, 99), worst)


@dataclass
class DeviceStats:
    """What one device of a fleet has done so far."""

    device_id: str
    connected: bool = False
    error: FlexError | None = None
    """Why the device is not trading (bad credentials, queue locked...), else None."""
    orders: int = 0
    """Orders handed to the broker (published)."""
    confirmed: int = 0
    """Orders the broker confirmed."""
    failed: int = 0
    """Orders that ended as an error (not routed, nacked, in doubt, not sent)."""
    deals: int = 0
    energy_sold_wh: float = 0.0
    energy_bought_wh: float = 0.0
    revenue_eur: float = 0.0
    cost_eur: float = 0.0
    replies: int = 0
    """Market replies (ticks, closed orders, cancels) routed to this device."""
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def pnl_eur(self) -> float:
        """Revenue minus cost, EUR."""
        return self.revenue_eur - self.cost_eur

    @property
    def energy_wh(self) -> float:
        """Energy traded (sold plus bought), Wh."""
        return self.energy_sold_wh + self.energy_bought_wh

    @property
    def latency(self) -> LatencySummary:
        """Publish-to-confirm latency of this device's orders."""
        return LatencySummary.of(self.latencies_ms)


@dataclass(frozen=True)
class FleetStats:
    """Fleet totals, summed over the devices (latency over every order of every device)."""

    devices: int
    connected: int
    failed_devices: int
    orders: int
    confirmed: int
    failed: int
    deals: int
    energy_wh: float
    pnl_eur: float
    replies: int
    latency: LatencySummary

    @classmethod
    def of(cls, devices: Sequence[DeviceStats]) -> FleetStats:
        """The totals of ``devices``."""
        return cls(
            devices=len(devices),
            connected=sum(d.connected for d in devices),
            failed_devices=sum(d.error is not None for d in devices),
            orders=sum(d.orders for d in devices),
            confirmed=sum(d.confirmed for d in devices),
            failed=sum(d.failed for d in devices),
            deals=sum(d.deals for d in devices),
            energy_wh=sum(d.energy_wh for d in devices),
            pnl_eur=sum(d.pnl_eur for d in devices),
            replies=sum(d.replies for d in devices),
            latency=LatencySummary.of(x for d in devices for x in d.latencies_ms),
        )


DeviceAction = tuple[str, "StrategyAction"]
"""An action of a portfolio strategy: ``(device_id, PlaceOrder | CancelOrder)``."""


class PortfolioStrategy:
    """One strategy for a whole fleet: it sees every device's events and acts per device.

    Override :meth:`on_timer` (once per timer interval, for the fleet) and :meth:`on_event`
    (each event of each device). Both return ``(device_id, action)`` pairs; make orders with
    :meth:`place`, which gives each a ref unique in the fleet. The fleet keeps each device's
    order book (``fleet.book(device_id)``, a :class:`~flxtrd.TradingStrategy`'s ``orders``).
    """

    timer_interval_ms: int = 60_000

    def __init__(self) -> None:
        self._makers: dict[str, TradingStrategy] = {}

    def on_timer(self, now_ms: int, device_ids: Sequence[str]) -> Iterable[DeviceAction] | None:
        """Market time ``now_ms`` has come for the fleet of ``device_ids``."""
        return None

    def on_event(self, device_id: str, event: StrategyEvent) -> Iterable[DeviceAction] | None:
        """``event`` happened to device ``device_id`` (a tick, a fill, an order closed...)."""
        return None

    def place(
        self,
        device_id: str,
        side: OrderType,
        power_w: float,
        price: float,
        start_ms: int,
        end_ms: int,
        expiry_ms: int | None = None,
    ) -> DeviceAction:
        """``(device_id, PlaceOrder)`` with a fresh ref, as ``TradingStrategy.place`` makes it."""
        from flxtrd._trading._strategy import TradingStrategy

        maker = self._makers.get(device_id)
        if maker is None:
            maker = self._makers[device_id] = TradingStrategy(ref_prefix=f"{device_id}-p")
        return device_id, maker.place(side, power_w, price, start_ms, end_ms, expiry_ms)
