"""The market rules as functions: each decision of the engine in isolation."""

from __future__ import annotations

import pytest

from flxtrd.sandbox import OrderStatus, Side
from flxtrd.sandbox import _rules as rules

Q = rules.QUARTER_HOUR_MS
START = 1_796_202_000_000 + 8 * Q


def test_deal_price_is_the_bid_price() -> None:
    """Pay-as-bid: the deal price is the buy order's price, whatever the ask."""
    assert rules.deal_price(12.0, 10.0) == 12.0
    assert rules.deal_price(10.0, 10.0) == 10.0


def test_prices_cross_when_bid_at_least_ask() -> None:
    """A bid crosses an ask at or below its price, and not above."""
    assert rules.prices_cross(10.0, 10.0)
    assert rules.prices_cross(10.0, 9.0)
    assert not rules.prices_cross(9.0, 10.0)


def test_gen1_expiry_is_the_expirationtime() -> None:
    """Generation 1 expires exactly at its expirationtime."""
    assert rules.gen1_expires_at_ms(START - 5, START) == START - 5


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [(START - 2 * Q, START - 2 * Q), (START - Q, START - Q), (START, START - Q)],
)
def test_gen2_expiry_is_the_earlier_of_expiry_time_and_15_min_before_start(
    expiry: int, expected: int
) -> None:
    """Generation 2 expires at expiry_time or 15 min before delivery, whichever is first."""
    assert rules.gen2_expires_at_ms(expiry, START) == expected


def test_an_order_is_expired_from_its_expiry_instant() -> None:
    """is_expired is true at and after the expiry instant, false before."""
    assert not rules.is_expired(100, 99)
    assert rules.is_expired(100, 100)
    assert rules.is_expired(100, 101)


def test_energy_is_power_times_duration() -> None:
    """2.5 kW over a quarter hour is 625 Wh."""
    assert rules.energy_wh(2500.0, 0, Q) == 625.0


def test_contract_window_is_the_sell_window() -> None:
    """A trade delivers over the sell window."""
    assert rules.contract_window(0, 4 * Q, Q, 2 * Q) == (Q, 2 * Q)


@pytest.mark.parametrize(
    ("buy", "sell", "matches"),
    [
        (None, None, True),
        (frozenset(), frozenset({"a"}), True),
        (frozenset({"a", "b"}), frozenset({"b"}), True),
        (frozenset({"a"}), frozenset({"b"}), False),
    ],
)
def test_locations_match_when_sets_intersect_or_either_is_any(
    buy: frozenset[str] | None, sell: frozenset[str] | None, matches: bool
) -> None:
    """Location sets must intersect; None or empty means any."""
    assert rules.locations_match(buy, sell) is matches


def test_only_sells_without_baseline_wait_for_one() -> None:
    """A sell without baseline awaits it; buys and sells with one are accepted."""
    assert rules.initial_status(Side.SELL, False) is OrderStatus.AWAITING_BASELINE_DATA
    assert rules.initial_status(Side.SELL, True) is OrderStatus.ACCEPTED
    assert rules.initial_status(Side.BUY, False) is OrderStatus.ACCEPTED


def test_terminal_statuses_have_no_way_out() -> None:
    """filled, cancelled and expired are final, and every status has an entry."""
    for status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        assert rules.STATUS_TRANSITIONS[status] == frozenset()
    assert set(rules.STATUS_TRANSITIONS) == {None, *OrderStatus}


def test_quarter_hour_alignment() -> None:
    """Generation-2 delivery times lie on the quarter hour."""
    assert rules.is_quarter_hour(START)
    assert not rules.is_quarter_hour(START + 60_000)
