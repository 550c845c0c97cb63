"""Energy management: device models that say what flexibility they can trade, and keep to it.

An :class:`EnergyManagement` is the device side of a strategy. It answers "what can I sell
(ASK) or buy (BID) over this delivery window, up to what power, at what cost?" with
:class:`FlexOffer` s, and keeps the books of what was promised:

- :meth:`~EnergyManagement.reserve` holds capacity for an order about to be placed, and refuses
  (:class:`OversellError`) an order the device could not deliver given everything already
  reserved or sold;
- :meth:`~EnergyManagement.commit` turns (part of) a reservation into a delivery obligation
  when the order trades;
- :meth:`~EnergyManagement.release` frees what was reserved and did not trade;
- :meth:`~EnergyManagement.advance` moves the device's physics to a new time, delivering the
  obligations whose windows have passed.

Like strategies, the models do no I/O and read no clock: time is an argument. Power is at the
grid connection, in W, always positive; ``OrderType.ASK`` means the device gives flexibility
(exports, or consumes less), ``OrderType.BID`` that it takes it (imports, or consumes more).

This module holds the offers, the obligations and the shared book keeping of the base class;
two models ship in :mod:`flxtrd._trading._devices`, each with simple documented physics:
:class:`~flxtrd.Battery` and :class:`~flxtrd.HeatPump` (a :class:`~flxtrd.ShiftableLoad`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from flxtrd._errors import OversellError
from flxtrd._log import get_logger
from flxtrd._trading._checks import check_finite, check_window
from flxtrd._types import Flexibility, OrderType

__all__ = [
    "EPS",
    "MS_PER_HOUR",
    "Commitment",
    "EnergyManagement",
    "FlexOffer",
    "OversellError",
    "check_window",
]

MS_PER_HOUR = 3_600_000
EPS = 1e-9
"""Below this (W, Wh) an amount counts as zero."""
_logger = get_logger("energy")


@dataclass(frozen=True, slots=True)
class FlexOffer:
    """What a device can trade over one delivery window ``[start_ms, end_ms)``.

    ``cost_per_kwh`` is the device's own price of the energy, EUR/kWh: for an ASK the least it
    should be paid, for a BID the most it should pay.
    """

    side: OrderType
    start_ms: int
    end_ms: int
    max_power_w: float
    cost_per_kwh: float

    @property
    def hours(self) -> float:
        """Length of the window, h."""
        return (self.end_ms - self.start_ms) / MS_PER_HOUR

    @property
    def max_energy_wh(self) -> float:
        """Energy at full power over the window, Wh."""
        return self.max_power_w * self.hours

    def to_flexibility(
        self, power_w: float | None = None, expiry_ms: int | None = None
    ) -> Flexibility:
        """The generation-1 :class:`~flxtrd.Flexibility` for ``power_w`` (default: all of it)."""
        return Flexibility(
            wattage=self.max_power_w if power_w is None else power_w,
            starttime=self.start_ms,
            duration=self.end_ms - self.start_ms,
            expirationtime=self.start_ms if expiry_ms is None else expiry_ms,
        )


@dataclass(slots=True)
class Commitment:
    """Power held for one order over ``[start_ms, end_ms)``: reserved, and committed (traded)."""

    side: OrderType
    start_ms: int
    end_ms: int
    reserved_w: float
    """Held for the part of the order that has not traded (yet)."""
    committed_w: float = 0.0
    """Traded: the device must deliver it."""

    @property
    def held_w(self) -> float:
        """Reserved plus committed power, W."""
        return self.reserved_w + self.committed_w


def _overlap_h(start_ms: int, end_ms: int, a_ms: int, b_ms: int) -> float:
    """Hours of ``[start_ms, end_ms)`` inside ``[a_ms, b_ms)``."""
    return max(0, min(end_ms, b_ms) - max(start_ms, a_ms)) / MS_PER_HOUR


class EnergyManagement(ABC):
    """The device side of a strategy: offers, reservations, obligations and physics.

    Subclasses implement :meth:`offers` (what is left to trade, given everything held) and
    :meth:`run_physics` (the physics over a stretch of time, delivering the committed
    schedule); the book keeping of reservations and commitments is shared (:attr:`commitments`,
    ref -> :class:`Commitment`), and so is :meth:`advance`, which calls :meth:`run_physics`.
    """

    def __init__(self, now_ms: int | None = None) -> None:
        self.now_ms = 0 if now_ms is None else now_ms
        """The time the physics has reached, ms since the epoch (set by the first `advance`
        when not given)."""
        self.commitments: dict[str, Commitment] = {}
        self._started = now_ms is not None

    # -- what subclasses provide --

    @abstractmethod
    def offers(self, start_ms: int, end_ms: int) -> list[FlexOffer]:
        """What the device can still trade over ``[start_ms, end_ms)`` (0, 1 or 2 sides)."""

    @abstractmethod
    def run_physics(self, start_ms: int, end_ms: int) -> None:
        """Run the physics over ``[start_ms, end_ms)`` with the committed schedule."""

    def advance(self, now_ms: int) -> None:
        """Run the physics up to ``now_ms``, delivering the obligations of the time passed.

        The first call of a model built without ``now_ms`` only sets the time.
        """
        if not self._started:
            self._started = True
            self.now_ms = now_ms
            return
        if now_ms <= self.now_ms:
            return
        self.run_physics(self.now_ms, now_ms)
        self.now_ms = now_ms
        self._forget_delivered()

    def telemetry(self) -> dict[str, float]:
        """The device's state as numbers (for progress lines and plots)."""
        return {}

    # -- shared book keeping --

    def offer(self, side: OrderType, start_ms: int, end_ms: int) -> FlexOffer | None:
        """The offer of ``side`` over the window, or None when there is nothing to trade."""
        for candidate in self.offers(start_ms, end_ms):
            if candidate.side is side and candidate.max_power_w > EPS:
                return candidate
        return None

    def reserve(
        self, ref: str, side: OrderType, power_w: float, start_ms: int, end_ms: int
    ) -> None:
        """Hold ``power_w`` of ``side`` over the window for order ``ref``.

        Raises :class:`OversellError` (nothing is held) when the device cannot deliver it on top
        of everything reserved and committed so far, and ValueError for a ref in use.
        """
        power = check_finite("power_w", power_w)
        check_window(start_ms, end_ms)
        if ref in self.commitments:
            raise ValueError(f"order ref {ref!r} already holds a reservation")
        found = self.offer(side, start_ms, end_ms)
        available = 0.0 if found is None else found.max_power_w
        if power > available + 1e-6:
            raise OversellError(
                "power_w",
                f"is more than the {type(self).__name__} can {_verb(side)} over this window"
                f" (at most {available:.1f} W)",
                power_w,
            )
        self.commitments[ref] = Commitment(side, start_ms, end_ms, reserved_w=power)

    def commit(self, ref: str, side: OrderType, power_w: float, start_ms: int, end_ms: int) -> None:
        """Order ``ref`` traded ``power_w`` of ``side`` over the window: an obligation now.

        That much of its reservation is used up. A fill beyond the reservation (say a late fill
        after :meth:`release`) is committed all the same, with a warning: the market holds the
        device to it.
        """
        power = check_finite("power_w", power_w)
        check_window(start_ms, end_ms)
        held = self.commitments.get(ref)
        if held is None or held.side is not side:
            if held is not None:
                raise ValueError(f"order ref {ref!r} holds a {held.side.name}, not a {side.name}")
            held = self.commitments[ref] = Commitment(side, start_ms, end_ms, reserved_w=0.0)
        if power > held.reserved_w + 1e-6:
            _logger.warning(
                "order %s traded %.1f W, more than the %.1f W still reserved for it",
                ref,
                power,
                held.reserved_w,
            )
        held.reserved_w = max(0.0, held.reserved_w - power)
        held.committed_w += power

    def release(self, ref: str) -> None:
        """Free what is still reserved for ``ref`` (it will not trade any more); idempotent."""
        held = self.commitments.get(ref)
        if held is None:
            return
        held.reserved_w = 0.0
        if held.committed_w <= 0.0:
            del self.commitments[ref]

    def held_power_w(self, side: OrderType, start_ms: int, end_ms: int) -> float:
        """The highest power of ``side`` held (reserved + committed) at any time of the window."""
        points = {start_ms}
        for c in self.commitments.values():
            if c.side is side and c.start_ms < end_ms and start_ms < c.end_ms:
                points.add(max(c.start_ms, start_ms))
        return max(
            (
                sum(
                    c.held_w
                    for c in self.commitments.values()
                    if c.side is side and c.start_ms <= t < c.end_ms
                )
                for t in points
            ),
            default=0.0,
        )

    def pending_energy_wh(self, side: OrderType, *, committed_only: bool = False) -> float:
        """Energy of ``side`` held for the future (from :attr:`now_ms` on), Wh."""
        total = 0.0
        for c in self.commitments.values():
            if c.side is side:
                power = c.committed_w if committed_only else c.held_w
                total += power * _overlap_h(c.start_ms, c.end_ms, self.now_ms, c.end_ms)
        return total

    def committed_power_w(self, side: OrderType, t_ms: int) -> float:
        """Committed power of ``side`` at time ``t_ms`` (what the device must deliver), W."""
        return sum(
            c.committed_w
            for c in self.commitments.values()
            if c.side is side and c.start_ms <= t_ms < c.end_ms
        )

    def schedule_breakpoints(self, a_ms: int, b_ms: int) -> list[int]:
        """Times in ``[a_ms, b_ms]`` where the committed power changes, with both ends, sorted."""
        points = {a_ms, b_ms}
        for c in self.commitments.values():
            for t in (c.start_ms, c.end_ms):
                if a_ms < t < b_ms:
                    points.add(t)
        return sorted(points)

    def _forget_delivered(self) -> None:
        """Drop commitments whose window has passed (their energy has been delivered)."""
        for ref in [r for r, c in self.commitments.items() if c.end_ms <= self.now_ms]:
            del self.commitments[ref]


def _verb(side: OrderType) -> str:
    return "deliver (sell)" if side is OrderType.ASK else "take (buy)"
