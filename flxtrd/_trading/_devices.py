"""The two device models that ship: a battery and a heat pump (a shiftable load).

Each implements :class:`~flxtrd._trading._energy.EnergyManagement`'s two hooks (what is left to
trade, and the physics over a stretch of time) with simple physics its class doc states; the
book keeping of reservations and obligations is the base class's.
"""

from __future__ import annotations

import itertools
import math

from flxtrd._errors import FlexValidationError
from flxtrd._log import get_logger
from flxtrd._trading._checks import check_finite, check_window
from flxtrd._trading._energy import EPS, MS_PER_HOUR, EnergyManagement, FlexOffer
from flxtrd._types import OrderType

__all__ = ["Battery", "HeatPump", "ShiftableLoad"]

_logger = get_logger("energy")


# --- battery ---------------------------------------------------------------------------------


class Battery(EnergyManagement):
    """A stationary battery: capacity, state of charge, power limits, losses.

    Physics (all energies in Wh, powers in W at the grid connection, t in h):

    - state of charge ``soc_wh`` stays within ``[min_soc, max_soc] * capacity_wh``;
    - selling (ASK) ``P`` W for ``t`` h exports ``P*t`` Wh and takes ``P*t / discharge_efficiency``
      Wh out of the cells; buying (BID) ``P`` W for ``t`` h imports ``P*t`` Wh and puts
      ``P*t * charge_efficiency`` Wh in;
    - ``round_trip_efficiency`` is split evenly (``charge = discharge = sqrt(round trip)``)
      unless ``charge_efficiency`` / ``discharge_efficiency`` are given;
    - power is limited to ``max_discharge_w`` (ASK) and ``max_charge_w`` (BID) at every moment,
      counting every order held for an overlapping window;
    - no self-discharge, no temperature or ageing effects.

    Refusing to oversell: an ASK is offered (and reserved) only for the energy left above
    ``min_soc`` after EVERY discharge already reserved or sold, whenever it is due (expected
    charges are not counted: they may not trade). Likewise a BID only fills the room below
    ``max_soc`` left after every charge held.

    Prices: the stored energy is worth ``energy_cost_per_kwh``; a delivered kWh costs
    ``energy_cost_per_kwh / discharge_efficiency + wear_cost_per_kwh`` (the ASK cost); a kWh
    bought is worth ``energy_cost_per_kwh * charge_efficiency - wear_cost_per_kwh`` (the BID
    limit).
    """

    def __init__(
        self,
        capacity_wh: float = 10_000.0,
        *,
        soc: float = 0.5,
        min_soc: float = 0.1,
        max_soc: float = 0.95,
        max_charge_w: float = 3_000.0,
        max_discharge_w: float = 3_000.0,
        round_trip_efficiency: float = 0.9,
        charge_efficiency: float | None = None,
        discharge_efficiency: float | None = None,
        energy_cost_per_kwh: float = 0.10,
        wear_cost_per_kwh: float = 0.02,
        now_ms: int | None = None,
    ) -> None:
        super().__init__(now_ms)
        check_finite("capacity_wh", capacity_wh)
        if not 0.0 <= min_soc < max_soc <= 1.0:
            raise FlexValidationError(
                "min_soc", "must satisfy 0 <= min_soc < max_soc <= 1", min_soc
            )
        if not min_soc <= soc <= max_soc:
            raise FlexValidationError("soc", "must lie within [min_soc, max_soc]", soc)
        for name, limit in (("max_charge_w", max_charge_w), ("max_discharge_w", max_discharge_w)):
            check_finite(name, limit, positive=False)
        if not 0.0 < round_trip_efficiency <= 1.0:
            raise FlexValidationError(
                "round_trip_efficiency", "must be in (0, 1]", round_trip_efficiency
            )
        split = math.sqrt(round_trip_efficiency)
        eta_c = split if charge_efficiency is None else charge_efficiency
        eta_d = split if discharge_efficiency is None else discharge_efficiency
        for name, eta in (("charge_efficiency", eta_c), ("discharge_efficiency", eta_d)):
            if not 0.0 < eta <= 1.0:
                raise FlexValidationError(name, "must be in (0, 1]", eta)
        self.capacity_wh = float(capacity_wh)
        self.soc_wh = soc * self.capacity_wh
        """Energy in the cells now, Wh."""
        self.min_soc_wh = min_soc * self.capacity_wh
        self.max_soc_wh = max_soc * self.capacity_wh
        self.max_charge_w = float(max_charge_w)
        self.max_discharge_w = float(max_discharge_w)
        self.charge_efficiency = eta_c
        self.discharge_efficiency = eta_d
        self.energy_cost_per_kwh = energy_cost_per_kwh
        self.wear_cost_per_kwh = wear_cost_per_kwh
        self.exported_wh = 0.0
        """Energy delivered to the grid so far (sold and delivered), Wh."""
        self.imported_wh = 0.0
        """Energy taken from the grid so far (bought and delivered), Wh."""

    @property
    def soc(self) -> float:
        """State of charge as a fraction of the capacity."""
        return self.soc_wh / self.capacity_wh

    @property
    def round_trip_efficiency(self) -> float:
        """``charge_efficiency * discharge_efficiency``."""
        return self.charge_efficiency * self.discharge_efficiency

    def offers(self, start_ms: int, end_ms: int) -> list[FlexOffer]:
        """The ASK (discharge) and BID (charge) the battery can still take on for the window."""
        check_window(start_ms, end_ms)
        hours = (end_ms - start_ms) / MS_PER_HOUR
        ask, bid = OrderType.ASK, OrderType.BID
        # Discharge: power left under the limit, and cell energy left above min_soc after every
        # discharge held for the future (whenever it is due).
        cell_left = (
            self.soc_wh - self.min_soc_wh - self.pending_energy_wh(ask) / self.discharge_efficiency
        )
        ask_power = min(
            self.max_discharge_w - self.held_power_w(ask, start_ms, end_ms),
            max(0.0, cell_left) * self.discharge_efficiency / hours,
        )
        room_left = (
            self.max_soc_wh - self.soc_wh - self.pending_energy_wh(bid) * self.charge_efficiency
        )
        bid_power = min(
            self.max_charge_w - self.held_power_w(bid, start_ms, end_ms),
            max(0.0, room_left) / self.charge_efficiency / hours,
        )
        result: list[FlexOffer] = []
        if ask_power > EPS:
            cost = self.energy_cost_per_kwh / self.discharge_efficiency + self.wear_cost_per_kwh
            result.append(FlexOffer(ask, start_ms, end_ms, ask_power, cost))
        if bid_power > EPS:
            value = self.energy_cost_per_kwh * self.charge_efficiency - self.wear_cost_per_kwh
            result.append(FlexOffer(bid, start_ms, end_ms, bid_power, max(0.0, value)))
        return result

    def run_physics(self, start_ms: int, end_ms: int) -> None:
        """Deliver the committed charges and discharges of ``[start_ms, end_ms)``."""
        points = self.schedule_breakpoints(start_ms, end_ms)
        for a, b in itertools.pairwise(points):
            hours = (b - a) / MS_PER_HOUR
            out_w = self.committed_power_w(OrderType.ASK, a)
            in_w = self.committed_power_w(OrderType.BID, a)
            self.exported_wh += out_w * hours
            self.imported_wh += in_w * hours
            self.soc_wh += in_w * hours * self.charge_efficiency
            self.soc_wh -= out_w * hours / self.discharge_efficiency
        if self.soc_wh < self.min_soc_wh - 1e-6 or self.soc_wh > self.max_soc_wh + 1e-6:
            _logger.warning("battery state of charge %.1f Wh left its bounds", self.soc_wh)

    def telemetry(self) -> dict[str, float]:
        """State of charge (Wh and %), energy exported and imported so far."""
        return {
            "soc_wh": self.soc_wh,
            "soc_pct": 100.0 * self.soc,
            "exported_wh": self.exported_wh,
            "imported_wh": self.imported_wh,
        }

    def __repr__(self) -> str:
        return (
            f"Battery(capacity_wh={self.capacity_wh:g}, soc_wh={self.soc_wh:.1f},"
            f" commitments={len(self.commitments)})"
        )


# --- shiftable load: heat pump ---------------------------------------------------------------


class ShiftableLoad(EnergyManagement):
    """A load whose consumption can move in time within limits (the device side of demand
    response): it sells flexibility (ASK) by consuming less than its baseline over a window,
    and buys it (BID) by consuming more. :class:`HeatPump` is the shipped example."""


class HeatPump(ShiftableLoad):
    """A modulating heat pump heating a building, kept within a comfort band.

    Thermal model (one node, "RC"): the indoor temperature ``T`` (°C) follows

        C * dT/dt = (T_out - T) / R + COP * P

    with ``C`` the heat capacity (``thermal_capacity_wh_per_k``, Wh/K), ``R`` the thermal
    resistance to outside (``thermal_resistance_k_per_w``, K/W), ``COP`` the coefficient of
    performance and ``P`` the electrical power (W). For constant ``P`` over ``t`` hours it
    has the exact solution ``T(t) = T_eq + (T0 - T_eq) * exp(-t / (R*C))``, with
    ``T_eq = T_out + R * COP * P``; the model steps with it, so it has no step-size error.

    Control: the baseline power ``P_base = (T_set - T_out) / (R * COP)`` (clamped to
    ``[0, rated_power_w]``) holds the setpoint. Outside sold windows the pump runs at the
    baseline when at the setpoint, at full power below it and off above it (until it is back).
    Inside a window where ``P`` W of turn-down was sold (ASK) it runs at ``P_base - P``; where
    turn-up was bought (BID) at ``P_base + P``.

    Flexibility: the largest turn-down (turn-up) over a window that keeps ``T`` at or above
    ``t_min_c`` (at or below ``t_max_c``) throughout, starting from the temperature the model
    predicts for the window's start. ``T`` moves monotonically at constant power, so checking the
    window's end suffices; ``T_end`` is linear in ``P``, so the limit is solved exactly.
    Turn-down is offered at ``comfort_cost_per_kwh``; turn-up is worth ``preheat_value_per_kwh``.
    """

    def __init__(
        self,
        *,
        rated_power_w: float = 3_000.0,
        cop: float = 3.0,
        thermal_capacity_wh_per_k: float = 5_000.0,
        thermal_resistance_k_per_w: float = 0.005,
        t_indoor_c: float = 21.0,
        t_outdoor_c: float = 5.0,
        t_set_c: float = 21.0,
        t_min_c: float = 19.5,
        t_max_c: float = 23.0,
        comfort_cost_per_kwh: float = 0.08,
        preheat_value_per_kwh: float = 0.05,
        now_ms: int | None = None,
    ) -> None:
        super().__init__(now_ms)
        for name, value in (
            ("rated_power_w", rated_power_w),
            ("cop", cop),
            ("thermal_capacity_wh_per_k", thermal_capacity_wh_per_k),
            ("thermal_resistance_k_per_w", thermal_resistance_k_per_w),
        ):
            check_finite(name, value)
        if not t_min_c <= t_set_c <= t_max_c:
            raise FlexValidationError("t_set_c", "must lie within [t_min_c, t_max_c]", t_set_c)
        self.rated_power_w = rated_power_w
        self.cop = cop
        self.capacity_wh_per_k = thermal_capacity_wh_per_k
        self.resistance_k_per_w = thermal_resistance_k_per_w
        self.t_indoor_c = t_indoor_c
        self.t_outdoor_c = t_outdoor_c
        self.t_set_c = t_set_c
        self.t_min_c = t_min_c
        self.t_max_c = t_max_c
        self.comfort_cost_per_kwh = comfort_cost_per_kwh
        self.preheat_value_per_kwh = preheat_value_per_kwh
        self.consumed_wh = 0.0
        """Electrical energy consumed so far, Wh."""
        self.baseline_wh = 0.0
        """What the baseline power would have consumed over the same time, Wh."""
        self.power_w = self.baseline_power_w
        """Electrical power in the last step, W."""

    @property
    def tau_h(self) -> float:
        """The building's time constant ``R * C``, h."""
        return self.resistance_k_per_w * self.capacity_wh_per_k

    @property
    def baseline_power_w(self) -> float:
        """Electrical power that holds the setpoint, W (clamped to the pump's range)."""
        needed = (self.t_set_c - self.t_outdoor_c) / (self.resistance_k_per_w * self.cop)
        return min(self.rated_power_w, max(0.0, needed))

    def _equilibrium(self, power_w: float) -> float:
        return self.t_outdoor_c + self.resistance_k_per_w * self.cop * power_w

    def _temperature_after(self, t0_c: float, power_w: float, hours: float) -> float:
        """Indoor temperature after ``hours`` at constant ``power_w`` (exact solution)."""
        eq = self._equilibrium(power_w)
        return eq + (t0_c - eq) * math.exp(-hours / self.tau_h)

    def _hours_to_reach(self, t0_c: float, power_w: float, target_c: float) -> float | None:
        """Hours until ``target_c`` at constant ``power_w``; None when it is never reached."""
        eq = self._equilibrium(power_w)
        if (t0_c - eq) == 0 or (target_c - eq) / (t0_c - eq) <= 0:
            return None
        ratio = (target_c - eq) / (t0_c - eq)
        return None if ratio >= 1 else -self.tau_h * math.log(ratio)

    def _free_power(self, t_c: float) -> float:
        """The controller's power outside sold windows at temperature ``t_c``."""
        if t_c < self.t_set_c - 1e-6:
            return self.rated_power_w
        if t_c > self.t_set_c + 1e-6:
            return 0.0
        return self.baseline_power_w

    def _scheduled_power(self, t_ms: int, *, held: bool) -> float | None:
        """Power forced by commitments at ``t_ms`` (None: the controller decides)."""
        down = up = 0.0
        found = False
        for c in self.commitments.values():
            if c.start_ms <= t_ms < c.end_ms:
                power = c.held_w if held else c.committed_w
                if power <= 0:
                    continue
                found = True
                if c.side is OrderType.ASK:
                    down += power
                else:
                    up += power
        if not found:
            return None
        return min(self.rated_power_w, max(0.0, self.baseline_power_w - down + up))

    def _simulate(
        self, t0_c: float, a_ms: int, b_ms: int, *, held: bool
    ) -> tuple[float, float, float]:
        """From ``t0_c`` at ``a_ms`` to ``b_ms``: the temperature then, the energy used (Wh) and
        the power at the end (W). ``held`` counts reservations as if they had traded."""
        temperature, energy, power = t0_c, 0.0, self._free_power(t0_c)
        points = self.schedule_breakpoints(a_ms, b_ms)
        for a, b in itertools.pairwise(points):
            hours = (b - a) / MS_PER_HOUR
            forced = self._scheduled_power(a, held=held)
            if forced is not None:
                temperature = self._temperature_after(temperature, forced, hours)
                energy += forced * hours
                power = forced
                continue
            while hours > 1e-12:  # free running: full power / off until the setpoint, then hold
                power = self._free_power(temperature)
                if power == self.baseline_power_w:
                    temperature = self._temperature_after(temperature, power, hours)
                    energy += power * hours
                    break
                reach = self._hours_to_reach(temperature, power, self.t_set_c)
                step = hours if reach is None else min(hours, reach)
                temperature = self._temperature_after(temperature, power, step)
                if reach is not None and step == reach:
                    temperature = self.t_set_c
                energy += power * step
                hours -= step
            power = self._free_power(temperature)
        return temperature, energy, power

    def _limits(self, start_ms: int, end_ms: int) -> tuple[float, float]:
        """Largest extra turn-down and turn-up over the window that keep the comfort band."""
        t_start, _, _ = self._simulate(self.t_indoor_c, self.now_ms, start_ms, held=True)
        hours = (end_ms - start_ms) / MS_PER_HOUR
        decay = math.exp(-hours / self.tau_h)
        gain = self.resistance_k_per_w * self.cop * (1.0 - decay)
        rest = self.t_outdoor_c * (1.0 - decay) + t_start * decay
        lowest_power = (self.t_min_c - rest) / gain  # T_end(P) = rest + gain * P
        highest_power = (self.t_max_c - rest) / gain
        held_down = self.held_power_w(OrderType.ASK, start_ms, end_ms)
        held_up = self.held_power_w(OrderType.BID, start_ms, end_ms)
        now_power = min(self.rated_power_w, max(0.0, self.baseline_power_w - held_down + held_up))
        down = now_power - max(0.0, lowest_power)
        up = min(self.rated_power_w, highest_power) - now_power
        if t_start < self.t_min_c:
            down = 0.0
        if t_start > self.t_max_c:
            up = 0.0
        return max(0.0, down), max(0.0, up)

    def offers(self, start_ms: int, end_ms: int) -> list[FlexOffer]:
        """Turn-down (ASK) and turn-up (BID) the comfort band allows over the window."""
        check_window(start_ms, end_ms)
        down, up = self._limits(start_ms, end_ms)
        result: list[FlexOffer] = []
        if down > EPS:
            result.append(
                FlexOffer(OrderType.ASK, start_ms, end_ms, down, self.comfort_cost_per_kwh)
            )
        if up > EPS:
            result.append(
                FlexOffer(OrderType.BID, start_ms, end_ms, up, self.preheat_value_per_kwh)
            )
        return result

    def run_physics(self, start_ms: int, end_ms: int) -> None:
        """Run the thermal model over ``[start_ms, end_ms)`` with the committed schedule."""
        self.t_indoor_c, used, self.power_w = self._simulate(
            self.t_indoor_c, start_ms, end_ms, held=False
        )
        self.consumed_wh += used
        self.baseline_wh += self.baseline_power_w * (end_ms - start_ms) / MS_PER_HOUR

    def telemetry(self) -> dict[str, float]:
        """Indoor temperature, electrical power, energy consumed and the baseline's."""
        return {
            "t_indoor_c": self.t_indoor_c,
            "power_w": self.power_w,
            "consumed_wh": self.consumed_wh,
            "baseline_wh": self.baseline_wh,
        }

    def __repr__(self) -> str:
        return (
            f"HeatPump(t_indoor_c={self.t_indoor_c:.2f}, rated_power_w={self.rated_power_w:g},"
            f" commitments={len(self.commitments)})"
        )
