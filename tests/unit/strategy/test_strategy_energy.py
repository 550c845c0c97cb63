"""Energy models: battery and heat pump physics, offers, and refusing to oversell."""

from __future__ import annotations

import math

import pytest

from flxtrd import FlexValidationError, OrderType
from flxtrd._trading._devices import Battery, HeatPump
from flxtrd._trading._energy import FlexOffer, OversellError

HOUR = 3_600_000
Q = HOUR // 4
T0 = 1_900_000_800_000
ASK, BID = OrderType.ASK, OrderType.BID


def battery(**kwargs: float) -> Battery:
    """A 10 kWh battery at 50 %, 10..90 %, 3 kW both ways, 81 % round trip (0.9 each way)."""
    values: dict[str, float] = {
        "soc": 0.5,
        "min_soc": 0.1,
        "max_soc": 0.9,
        "max_charge_w": 3000.0,
        "max_discharge_w": 3000.0,
        "round_trip_efficiency": 0.81,
    }
    values.update(kwargs)
    return Battery(10_000.0, now_ms=T0, **values)  # type: ignore[arg-type]


def test_round_trip_efficiency_is_split_evenly_unless_given() -> None:
    """0.81 round trip is 0.9 charging and 0.9 discharging; explicit values win."""
    b = battery()
    assert (b.charge_efficiency, b.discharge_efficiency) == pytest.approx((0.9, 0.9))
    b = Battery(1000.0, charge_efficiency=0.95, discharge_efficiency=0.85)
    assert b.round_trip_efficiency == pytest.approx(0.95 * 0.85)


def test_ask_offer_is_capped_by_power_limit_when_energy_is_plenty() -> None:
    """4 kWh in the cells above min: a quarter hour can sell the full 3 kW."""
    offer = battery().offer(ASK, T0 + Q, T0 + 2 * Q)
    assert offer == FlexOffer(ASK, T0 + Q, T0 + 2 * Q, 3000.0, pytest.approx(0.10 / 0.9 + 0.02))


def test_ask_offer_is_capped_by_energy_above_min_soc_after_discharge_losses() -> None:
    """With 1 kWh above min_soc a one-hour window sells at most 900 W (900 Wh delivered)."""
    b = battery(soc=0.2)
    offer = b.offer(ASK, T0 + HOUR, T0 + 2 * HOUR)
    assert offer is not None
    assert offer.max_power_w == pytest.approx(900.0)
    assert offer.max_energy_wh == pytest.approx(900.0)


def test_reserving_more_than_the_battery_holds_is_refused_and_holds_nothing() -> None:
    """Overselling raises OversellError naming power_w, and nothing is reserved."""
    b = battery(soc=0.2)
    with pytest.raises(OversellError) as caught:
        b.reserve("big", ASK, 901.0, T0 + HOUR, T0 + 2 * HOUR)
    assert caught.value.field == "power_w"
    assert isinstance(caught.value, FlexValidationError)
    assert b.commitments == {}


def test_each_reservation_counts_against_every_later_offer() -> None:
    """After reserving 600 Wh for one window, another window only gets the 300 Wh left."""
    b = battery(soc=0.2)
    b.reserve("a", ASK, 600.0, T0 + HOUR, T0 + 2 * HOUR)
    later = b.offer(ASK, T0 + 3 * HOUR, T0 + 4 * HOUR)
    assert later is not None and later.max_power_w == pytest.approx(300.0)
    earlier = b.offer(ASK, T0, T0 + HOUR)  # even before it: the energy is promised
    assert earlier is not None and earlier.max_power_w == pytest.approx(300.0)
    with pytest.raises(OversellError):
        b.reserve("b", ASK, 301.0, T0 + 3 * HOUR, T0 + 4 * HOUR)


def test_power_limit_counts_overlapping_orders_only() -> None:
    """2 kW held in one window leaves 1 kW there; a window beside it keeps the full 3 kW."""
    b = battery()
    b.reserve("a", ASK, 2000.0, T0 + Q, T0 + 2 * Q)
    inside = b.offer(ASK, T0, T0 + 4 * Q)
    beside = b.offer(ASK, T0 + 2 * Q, T0 + 3 * Q)
    assert inside is not None and inside.max_power_w == pytest.approx(1000.0)
    assert beside is not None and beside.max_power_w == pytest.approx(3000.0)


def test_release_frees_the_reservation_but_not_what_traded() -> None:
    """Release after a partial fill keeps the committed part and frees the rest."""
    b = battery(soc=0.2)
    b.reserve("a", ASK, 900.0, T0 + HOUR, T0 + 2 * HOUR)
    b.commit("a", ASK, 400.0, T0 + HOUR, T0 + 2 * HOUR)
    b.release("a")
    assert b.commitments["a"].committed_w == 400.0
    assert b.commitments["a"].reserved_w == 0.0
    offer = b.offer(ASK, T0 + 3 * HOUR, T0 + 4 * HOUR)
    assert offer is not None and offer.max_power_w == pytest.approx(500.0)
    b.release("nothing")  # idempotent, unknown refs are fine


def test_advance_delivers_sold_energy_with_discharge_losses() -> None:
    """Selling 2 kW for 15 min exports 500 Wh and takes 500/0.9 Wh out of the cells."""
    b = battery()
    b.reserve("a", ASK, 2000.0, T0 + Q, T0 + 2 * Q)
    b.commit("a", ASK, 2000.0, T0 + Q, T0 + 2 * Q)
    b.advance(T0 + Q + Q // 2)  # half-way: half delivered
    assert b.exported_wh == pytest.approx(250.0)
    b.advance(T0 + 3 * Q)
    assert b.exported_wh == pytest.approx(500.0)
    assert b.soc_wh == pytest.approx(5000.0 - 500.0 / 0.9)
    assert b.commitments == {}  # delivered obligations are forgotten


def test_advance_delivers_bought_energy_with_charge_losses_and_ignores_reservations() -> None:
    """Buying 1 kW for an hour stores 900 Wh; an untraded reservation changes nothing."""
    b = battery()
    b.reserve("r", ASK, 1000.0, T0, T0 + HOUR)
    b.commit("c", BID, 1000.0, T0, T0 + HOUR)
    b.advance(T0 + HOUR)
    assert b.soc_wh == pytest.approx(5000.0 + 900.0)
    assert b.imported_wh == pytest.approx(1000.0)
    assert b.telemetry()["soc_pct"] == pytest.approx(59.0)


def test_bid_offer_is_capped_by_room_below_max_soc() -> None:
    """At 85 % of 10 kWh with max 90 %, an hour can buy 500/0.9 W."""
    offer = battery(soc=0.85).offer(BID, T0 + HOUR, T0 + 2 * HOUR)
    assert offer is not None
    assert offer.max_power_w == pytest.approx(500.0 / 0.9)


def test_an_empty_battery_offers_no_ask() -> None:
    """At min_soc there is nothing to sell: no offer, and any reservation is refused."""
    b = battery(soc=0.1)
    assert b.offer(ASK, T0 + Q, T0 + 2 * Q) is None
    assert [o.side for o in b.offers(T0 + Q, T0 + 2 * Q)] == [BID]
    with pytest.raises(OversellError):
        b.reserve("a", ASK, 1.0, T0 + Q, T0 + 2 * Q)


def test_a_model_without_a_start_time_starts_at_its_first_advance() -> None:
    """Battery() without now_ms takes its time from the first advance, delivering nothing."""
    b = Battery(1000.0)
    b.commit("a", ASK, 100.0, T0 - HOUR, T0)
    b.advance(T0)
    assert (b.now_ms, b.exported_wh) == (T0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"soc": 0.05}, "soc"),
        ({"min_soc": 0.95}, "min_soc"),
        ({"round_trip_efficiency": 0.0}, "round_trip_efficiency"),
        ({"charge_efficiency": 1.5}, "charge_efficiency"),
        ({"max_discharge_w": -1.0}, "max_discharge_w"),
    ],
)
def test_battery_refuses_impossible_parameters(kwargs: dict[str, float], field: str) -> None:
    """Each parameter rule names its field."""
    with pytest.raises(FlexValidationError) as caught:
        battery(**kwargs)
    assert caught.value.field == field


def test_commit_of_the_other_side_with_the_same_ref_is_refused() -> None:
    """A ref holds one side; committing the other side under it is a ValueError."""
    b = battery()
    b.reserve("a", ASK, 100.0, T0 + Q, T0 + 2 * Q)
    with pytest.raises(ValueError, match="holds a ASK"):
        b.commit("a", BID, 100.0, T0 + Q, T0 + 2 * Q)
    with pytest.raises(ValueError, match="already"):
        b.reserve("a", ASK, 100.0, T0 + Q, T0 + 2 * Q)


# --- heat pump -----------------------------------------------------------------------------


def heat_pump(**kwargs: float) -> HeatPump:
    """A heat pump at its 21 °C setpoint, 5 °C outside, tau = 25 h, 19.5..23 °C band."""
    return HeatPump(now_ms=T0, **kwargs)  # type: ignore[arg-type]


def test_baseline_power_holds_the_setpoint() -> None:
    """Without commitments the temperature stays at the setpoint, at the baseline power."""
    hp = heat_pump()
    assert hp.baseline_power_w == pytest.approx(16 / (0.005 * 3.0))
    hp.advance(T0 + 6 * HOUR)
    assert hp.t_indoor_c == pytest.approx(21.0)
    assert hp.consumed_wh == pytest.approx(6 * hp.baseline_power_w)
    assert hp.consumed_wh == pytest.approx(hp.baseline_wh)


def test_turn_down_offer_stops_exactly_at_the_comfort_minimum() -> None:
    """The largest turn-down over 4 h ends at t_min; the RC solution says how much."""
    hp = heat_pump()
    start, end = T0 + HOUR, T0 + 5 * HOUR
    offer = hp.offer(ASK, start, end)
    assert offer is not None
    decay = math.exp(-4 / hp.tau_h)
    lowest = (19.5 - (5.0 * (1 - decay) + 21.0 * decay)) / (0.005 * 3.0 * (1 - decay))
    assert offer.max_power_w == pytest.approx(hp.baseline_power_w - lowest)
    hp.reserve("down", ASK, offer.max_power_w, start, end)
    assert hp.offer(ASK, start, end) is None  # nothing more to give in that window
    with pytest.raises(OversellError):
        hp.reserve("more", ASK, 1.0, start, end)
    hp.commit("down", ASK, offer.max_power_w, start, end)
    hp.advance(end)
    assert hp.t_indoor_c == pytest.approx(19.5, abs=1e-9)


def test_a_short_window_can_turn_the_pump_off_completely() -> None:
    """Over 15 minutes the building barely cools: the whole baseline can be sold."""
    hp = heat_pump()
    offer = hp.offer(ASK, T0 + Q, T0 + 2 * Q)
    assert offer is not None
    assert offer.max_power_w == pytest.approx(hp.baseline_power_w)


def test_turn_up_is_capped_by_the_comfort_maximum_and_the_rated_power() -> None:
    """Pre-heating is limited by t_max over long windows and by rated power over short ones."""
    hp = heat_pump()
    short = hp.offer(BID, T0, T0 + Q)
    assert short is not None
    assert short.max_power_w == pytest.approx(hp.rated_power_w - hp.baseline_power_w)
    long = hp.offer(BID, T0, T0 + 24 * HOUR)
    assert long is not None
    hp.commit("up", BID, long.max_power_w, T0, T0 + 24 * HOUR)
    hp.advance(T0 + 24 * HOUR)
    assert hp.t_indoor_c == pytest.approx(23.0, abs=1e-9)


def test_after_a_turn_down_the_pump_recovers_to_the_setpoint_at_full_power() -> None:
    """Outside sold windows the controller heats at full power until the setpoint, then holds."""
    hp = heat_pump()
    hp.commit("down", ASK, hp.baseline_power_w, T0, T0 + HOUR)
    hp.advance(T0 + HOUR)
    cooled = hp.t_indoor_c
    assert cooled < 21.0
    hp.advance(T0 + HOUR + 1000)
    assert hp.power_w == pytest.approx(hp.rated_power_w)
    hp.advance(T0 + 10 * HOUR)
    assert hp.t_indoor_c == pytest.approx(21.0)
    assert hp.power_w == pytest.approx(hp.baseline_power_w)
    assert hp.telemetry()["t_indoor_c"] == pytest.approx(21.0)


def test_heat_pump_refuses_a_setpoint_outside_the_band() -> None:
    """The setpoint must lie in the comfort band."""
    with pytest.raises(FlexValidationError) as caught:
        HeatPump(t_set_c=25.0)
    assert caught.value.field == "t_set_c"
