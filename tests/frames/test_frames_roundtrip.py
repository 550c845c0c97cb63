"""Orders frames round-trip: frame -> orders -> frame loses nothing (a property over any orders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
from glocalflex_rest.models import CountryCode, Order, OrderLocation, OrderStatus, Side
from glocalflex_rest.types import UNSET
from hypothesis import given
from hypothesis import strategies as st

from flxtrd import frames

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """Any order the spec allows (location ids: none, or a list of ids)."""
    return Order(
        id=draw(st.integers(min_value=1, max_value=2**62)),
        side=draw(st.sampled_from(Side)),
        power=draw(positive),
        price=draw(non_negative),
        delivery_start=draw(moments),
        delivery_end=draw(moments),
        expiry_time=draw(moments),
        location=OrderLocation(
            country_code=draw(st.sampled_from(CountryCode)),
            location_id=draw(st.none() | st.lists(st.text(max_size=12), max_size=3)),
        ),
        status=draw(st.sampled_from(OrderStatus)),
        filled_power=draw(st.just(UNSET) | non_negative),
        created_at=draw(st.just(UNSET) | moments),
    )


@given(st.lists(orders(), max_size=6))
def test_orders_to_frame_and_back_gives_the_same_orders(given_orders: list[Order]) -> None:
    """orders_from_frame(orders_frame(orders)) == orders: every field, every instant."""
    assert frames.orders_from_frame(frames.orders_frame(given_orders)) == given_orders


@given(st.lists(orders(), max_size=6))
def test_frame_to_orders_and_back_gives_the_same_frame(given_orders: list[Order]) -> None:
    """frame -> orders -> frame is the identical frame: values, dtypes, index."""
    frame = frames.orders_frame(given_orders)
    again = frames.orders_frame(frames.orders_from_frame(frame))
    pd.testing.assert_frame_equal(again, frame, check_exact=True)


def test_the_round_trip_keeps_missing_optional_fields_missing() -> None:
    """UNSET filled_power/created_at become NaN/NaT and come back UNSET; times come back UTC."""
    start = datetime(2026, 12, 1, 11, tzinfo=timezone(timedelta(hours=1)))
    order = Order(id=3, side=Side.SELL, power=10.0, price=0.0, delivery_start=start,
                  delivery_end=start + timedelta(minutes=15), expiry_time=start,
                  location=OrderLocation(country_code=CountryCode.NONE, location_id=None),
                  status=OrderStatus.EXPIRED)  # fmt: skip
    frame = frames.orders_frame([order])
    assert pd.isna(frame["filled_power_w"].iloc[0]) and pd.isna(frame["created_at"].iloc[0])
    (back,) = frames.orders_from_frame(frame)
    assert back.filled_power is UNSET and back.created_at is UNSET
    assert back.delivery_start == start and back.delivery_start.tzinfo == UTC
    assert back.location.location_id is None
