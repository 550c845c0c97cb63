"""Pre-send validation: one test per rule, generation 1 checks and the generation-2 OrderSpec."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from flxtrd._errors import FlexValidationError
from flxtrd._validation import (
    COUNTRY_CODES,
    MAX_LOCATION_IDS,
    OrderSpec,
    current_time_ms,
    format_utc,
    order_spec_to_body,
    require_at_most,
    require_finite,
    require_in_future,
    require_non_negative,
    require_not_after,
    require_number,
    require_positive,
    require_string,
    to_utc,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW_MS = 1_796_112_000_000  # 2026-12-01T08:00:00Z


def _spec(**changes: Any) -> OrderSpec:
    base = OrderSpec(
        side="buy",
        power_w=2500.0,
        price_eur_per_kwh=0.25,
        delivery_start=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        delivery_end=datetime(2026, 12, 1, 10, 15, tzinfo=UTC),
        expiry_time=datetime(2026, 12, 1, 9, 45, tzinfo=UTC),
        country_code="DE",
        location_ids=["loc-001"],
    )
    return dataclasses.replace(base, **changes)


def _broken(spec: OrderSpec) -> FlexValidationError:
    with pytest.raises(FlexValidationError) as info:
        spec.validate(NOW)
    return info.value


# --- generation 1 checks ----------------------------------------------------------------------


def test_now_ms_is_epoch_milliseconds() -> None:
    """current_time_ms is in ms (13 digits this century)."""
    assert len(str(current_time_ms())) == 13


@pytest.mark.parametrize("value", [True, "100", None, [1], 1j])
def test_number_rule_refuses_non_numbers(value: object) -> None:
    """Rule 'number': bools, strings, None and complex numbers are refused."""
    with pytest.raises(FlexValidationError) as info:
        require_number("power_w", value)
    assert info.value.field == "power_w"
    assert "real number" in info.value.rule


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
def test_finite_rule_refuses_nan_and_infinity(value: object) -> None:
    """Rule 'finite': NaN, infinities and ints too large for a float are refused."""
    with pytest.raises(FlexValidationError) as info:
        require_finite("wattage", value)
    assert info.value.field == "wattage"
    assert "finite" in info.value.rule


@pytest.mark.parametrize("value", [0, 0.0, -0.0, -1, -1e-300])
def test_positive_rule_refuses_zero_and_negatives(value: float) -> None:
    """Rule '> 0' (power, duration): zero and negatives are refused."""
    with pytest.raises(FlexValidationError, match=r"power_w must be > 0"):
        require_positive("power_w", value)


def test_positive_rule_returns_a_float() -> None:
    """A valid positive value comes back as a float."""
    assert require_positive("power_w", 5) == 5.0
    assert type(require_positive("power_w", 5)) is float


def test_non_negative_rule_refuses_negative_prices() -> None:
    """Rule '>= 0' (price): a negative price is refused and the rule says why."""
    with pytest.raises(FlexValidationError) as info:
        require_non_negative("price", -0.01)
    assert info.value.rule.startswith("must be >= 0")
    assert "negative prices are refused" in info.value.rule


def test_non_negative_rule_allows_zero() -> None:
    """A price of 0 is allowed."""
    assert require_non_negative("price", 0) == 0.0


def test_at_most_rule() -> None:
    """Rule '<= limit' (power, price upper bounds)."""
    assert require_at_most("power_w", 1e9, 1e9) == 1e9
    with pytest.raises(FlexValidationError, match=r"power_w must be <= 1e\+09"):
        require_at_most("power_w", 1.5e9, 1e9)


@pytest.mark.parametrize("epoch_ms", [NOW_MS, NOW_MS - 1, 0])
def test_in_future_rule_refuses_now_and_past(epoch_ms: int) -> None:
    """Rule 'in the future' (start, expiration) against an injected now."""
    with pytest.raises(FlexValidationError, match=r"starttime must be in the future"):
        require_in_future("starttime", epoch_ms, NOW_MS)


def test_in_future_rule_passes_later_times() -> None:
    """One ms after now is in the future."""
    require_in_future("starttime", NOW_MS + 1, NOW_MS)


def test_in_future_rule_hints_at_seconds_given_for_milliseconds() -> None:
    """An epoch in seconds where ms are expected gets a hint."""
    with pytest.raises(FlexValidationError, match="looks like epoch seconds"):
        require_in_future("starttime", NOW_MS // 1000 + 3600, NOW_MS)


def test_not_after_rule_refuses_expiration_after_start() -> None:
    """Rule 'not after the delivery start' (expiration)."""
    require_not_after("expirationtime", 10, "the delivery start", 10)
    with pytest.raises(
        FlexValidationError, match="expirationtime must not be after the delivery start"
    ):
        require_not_after("expirationtime", 11, "the delivery start", 10)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("", "non-empty"), (None, "non-empty"), (5, "non-empty"), ("x" * 129, "at most 128")],
)
def test_string_rule_refuses_empty_non_strings_and_long(value: object, fragment: str) -> None:
    """Rule 'bounded non-empty string'."""
    with pytest.raises(FlexValidationError, match=fragment):
        require_string("location_ids[0]", value, 128)


# --- generation 2: OrderSpec -------------------------------------------------------------------


def test_valid_spec_passes() -> None:
    """The reference order passes every rule."""
    _spec().validate(NOW)


def test_side_rule() -> None:
    """side must be 'buy' or 'sell' (ask/bid are generation-1 words)."""
    err = _broken(_spec(side="ask"))
    assert err.field == "side"
    assert "'buy' or 'sell'" in err.rule


def test_power_must_be_positive() -> None:
    """power_w must be > 0."""
    assert _broken(_spec(power_w=0)).field == "power_w"


def test_power_must_be_finite() -> None:
    """power_w must not be NaN."""
    assert "finite" in _broken(_spec(power_w=math.nan)).rule


def test_power_has_an_upper_bound() -> None:
    """power_w must be <= 1e9 W, the spec's maximum."""
    assert _broken(_spec(power_w=2e9)).rule == "must be <= 1e+09"


def test_price_must_not_be_negative() -> None:
    """price_eur_per_kwh must be >= 0."""
    assert _broken(_spec(price_eur_per_kwh=-1)).field == "price_eur_per_kwh"


def test_price_must_be_finite() -> None:
    """price_eur_per_kwh must not be infinite."""
    assert "finite" in _broken(_spec(price_eur_per_kwh=math.inf)).rule


def test_price_has_an_upper_bound() -> None:
    """price_eur_per_kwh must be <= 1e6, the spec's maximum."""
    assert _broken(_spec(price_eur_per_kwh=2e6)).rule == "must be <= 1e+06"


def test_zero_price_is_allowed() -> None:
    """A price of 0 is a valid order."""
    _spec(price_eur_per_kwh=0.0).validate(NOW)


@pytest.mark.parametrize("code", ["de", "AT", "DEU", None])
def test_country_code_rule(code: object) -> None:
    """country_code must be one of the market's codes, case-sensitive."""
    err = _broken(_spec(country_code=code))
    assert err.field == "country_code"
    assert "'DE'" in err.rule


@pytest.mark.parametrize("code", sorted(COUNTRY_CODES))
def test_every_market_country_code_passes(code: str) -> None:
    """Each listed code, and '' for any country, is accepted."""
    _spec(country_code=code).validate(NOW)


@pytest.mark.parametrize("ids", ["loc-001", b"loc", 7, ["x"] * (MAX_LOCATION_IDS + 1)])
def test_location_ids_must_be_none_or_a_bounded_list(ids: object) -> None:
    """location_ids: None or a list (not a bare string) of at most 1000 ids."""
    assert _broken(_spec(location_ids=ids)).field == "location_ids"


@pytest.mark.parametrize("ids", [[], [None], ["loc.*"], ["loc1", None]])
def test_location_ids_the_market_takes_are_sent_as_given(ids: list[str | None]) -> None:
    """[], [None] (the vendor client's default) and ``.*`` patterns pass and are sent unchanged."""
    spec = _spec(location_ids=ids)
    spec.validate(NOW)
    assert spec.to_body()["location"] == {"location_id": ids, "country_code": "DE"}


@pytest.mark.parametrize("item", ["", 42, "x" * 129])
def test_location_id_items_are_bounded_non_empty_strings(item: object) -> None:
    """Each location id is a non-empty string of at most 128 characters."""
    assert _broken(_spec(location_ids=["ok", item])).field == "location_ids[1]"


def test_location_ids_none_means_any_location() -> None:
    """None is accepted and sent as null."""
    spec = _spec(location_ids=None)
    spec.validate(NOW)
    assert spec.to_body()["location"] == {"location_id": None, "country_code": "DE"}


@pytest.mark.parametrize("field", ["delivery_start", "delivery_end", "expiry_time"])
def test_naive_datetimes_are_refused(field: str) -> None:
    """A naive datetime is refused with a message explaining why."""
    aware: datetime = getattr(_spec(), field)
    err = _broken(_spec(**{field: aware.replace(tzinfo=None)}))
    assert err.field == field
    assert "timezone-aware" in err.rule
    assert "naive" in err.rule


def test_non_datetimes_are_refused() -> None:
    """An ISO string or epoch number is not accepted for a datetime field."""
    assert _broken(_spec(delivery_start="2026-12-01T10:00:00Z")).rule == "must be a datetime"


def test_naive_now_is_refused() -> None:
    """The injected clock must be aware too."""
    with pytest.raises(FlexValidationError, match="now must be timezone-aware"):
        _spec().validate(NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 12, 1, 10, 7, tzinfo=UTC),
        datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 10, 0, 0, 1, tzinfo=UTC),
    ],
)
def test_delivery_start_on_the_quarter_hour(start: datetime) -> None:
    """delivery_start must be :00/:15/:30/:45 with zero seconds and microseconds."""
    err = _broken(
        _spec(delivery_start=start, delivery_end=datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    )
    assert err.field == "delivery_start"
    assert "quarter hour" in err.rule


def test_delivery_end_on_the_quarter_hour() -> None:
    """delivery_end must be on the quarter hour too."""
    assert (
        _broken(_spec(delivery_end=datetime(2026, 12, 1, 10, 20, tzinfo=UTC))).field
        == "delivery_end"
    )


def test_quarter_hour_is_checked_in_utc() -> None:
    """An offset of +05:30 still lands on a UTC quarter hour and passes."""
    india = timezone(timedelta(hours=5, minutes=30))
    _spec(
        delivery_start=datetime(2026, 12, 1, 15, 30, tzinfo=india),
        delivery_end=datetime(2026, 12, 1, 15, 45, tzinfo=india),
    ).validate(NOW)


@pytest.mark.parametrize("minutes", [0, -15])
def test_delivery_end_after_start(minutes: int) -> None:
    """delivery_end must be strictly after delivery_start."""
    start = _spec().delivery_start
    err = _broken(_spec(delivery_end=start + timedelta(minutes=minutes)))
    assert err.field == "delivery_end"
    assert err.rule == "must be after delivery_start"


def test_expiry_not_after_delivery_start() -> None:
    """expiry_time must be at or before delivery_start."""
    start = _spec().delivery_start
    _spec(expiry_time=start).validate(NOW)
    err = _broken(_spec(expiry_time=start + timedelta(seconds=1)))
    assert err.field == "expiry_time"
    assert err.rule == "must not be after delivery_start"


def test_delivery_start_in_the_future() -> None:
    """delivery_start must be after now."""
    err = _broken(
        _spec(
            delivery_start=NOW,
            delivery_end=NOW + timedelta(minutes=15),
            expiry_time=NOW - timedelta(minutes=1),
        )
    )
    assert (err.field, err.rule) == ("delivery_start", "must be in the future")


def test_expiry_in_the_future() -> None:
    """expiry_time must be after now."""
    err = _broken(_spec(expiry_time=NOW))
    assert (err.field, err.rule) == ("expiry_time", "must be in the future")


def test_validate_defaults_to_the_real_clock() -> None:
    """Without now, the current UTC time is used (an order in 2026 is in the past by 2100)."""
    far = datetime(2100, 1, 1, tzinfo=UTC)
    _spec(delivery_start=far, delivery_end=far + timedelta(hours=1), expiry_time=far).validate()


def test_body_has_the_generation_2_shape() -> None:
    """to_body gives the exact JSON of POST /api/v1/order/, times as ISO 8601 with Z."""
    assert _spec().to_body() == {
        "side": "buy",
        "power": 2500.0,
        "price": 0.25,
        "delivery_start": "2026-12-01T10:00:00Z",
        "delivery_end": "2026-12-01T10:15:00Z",
        "expiry_time": "2026-12-01T09:45:00Z",
        "location": {"location_id": ["loc-001"], "country_code": "DE"},
        "baseline": None,
    }


def test_body_converts_local_times_to_utc() -> None:
    """Berlin winter time (+01:00) becomes UTC in the body."""
    spec = _spec(
        delivery_start=datetime(2026, 12, 1, 11, 0, tzinfo=BERLIN),
        delivery_end=datetime(2026, 12, 1, 11, 15, tzinfo=BERLIN),
        expiry_time=datetime(2026, 12, 1, 10, 45, 30, 250000, tzinfo=BERLIN),
    )
    body = order_spec_to_body(spec)
    assert body["delivery_start"] == "2026-12-01T10:00:00Z"
    assert body["expiry_time"] == "2026-12-01T09:45:30.250000Z"


def test_body_refuses_naive_datetimes() -> None:
    """Serialising a naive datetime is refused too, so a wrong time is never sent."""
    with pytest.raises(FlexValidationError, match="timezone-aware"):
        order_spec_to_body(_spec(expiry_time=datetime(2026, 12, 1, 9, 45)))


def test_dst_end_in_berlin_converts_exactly() -> None:
    """On 2025-10-26 (last Sunday of October) 02:30 Berlin happens twice; fold picks which.

    Wall-clock comparison of the two would say they are equal; the UTC conversion is an hour
    apart, so a one-hour delivery from the first 02:30 to the second is valid.
    """
    first = datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN, fold=0)  # CEST, +02:00
    second = datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN, fold=1)  # CET, +01:00
    assert first == second  # same tzinfo: Python compares wall clocks
    spec = _spec(
        delivery_start=first,
        delivery_end=second,
        expiry_time=datetime(2025, 10, 26, 1, 0, tzinfo=BERLIN),
    )
    spec.validate(datetime(2025, 10, 25, 12, 0, tzinfo=UTC))
    body = spec.to_body()
    assert body["delivery_start"] == "2025-10-26T00:30:00Z"
    assert body["delivery_end"] == "2025-10-26T01:30:00Z"
    assert body["expiry_time"] == "2025-10-25T23:00:00Z"
    assert to_utc("delivery_end", second) - to_utc("delivery_start", first) == timedelta(hours=1)


def test_dst_end_refuses_a_window_that_only_looks_positive() -> None:
    """The second 02:30 (CET) to the first 02:45 (CEST) looks positive but is -45 min in UTC."""
    start = datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN, fold=1)  # 01:30Z
    end = datetime(2025, 10, 26, 2, 45, tzinfo=BERLIN, fold=0)  # 00:45Z
    spec = _spec(delivery_start=start, delivery_end=end, expiry_time=start)
    with pytest.raises(FlexValidationError, match="delivery_end must be after delivery_start"):
        spec.validate(datetime(2025, 10, 25, 12, 0, tzinfo=UTC))


def test_format_utc_uses_z() -> None:
    """format_utc writes Z, not +00:00."""
    assert format_utc("t", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
