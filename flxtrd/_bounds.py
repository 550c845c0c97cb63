"""The upper bounds of an order, the same for both API generations.

The specs are the source: ``OrderLine`` in ``specs/asyncapi.yaml`` (generation 1) and
``OrderRequest`` in ``specs/openapi.yaml`` (generation 2) carry these maximums, each with its
``x-inferred-reason``; a test compares the constants here with both specs. The SDK's validation
(``flxtrd._validation``, ``flxtrd._types``) and the sandbox market's rules
(``flxtrd.sandbox._rules``) both read them from this module, so the client and the sandbox
refuse the same values.

The generation-2 market caps power at 1e9 W and price at 1e6 EUR/kWh; generation 1 had no caps
(the embedded sandbox confirmed an order of 2**64 W), so it now shares generation 2's. Delivery
is at most 366 days (a leap year), and every time is at most the end of year 9999 UTC, the
last instant an ISO 8601 date with four digits (and a Python ``datetime``) can carry.
"""

from __future__ import annotations

__all__ = [
    "MAX_DURATION_MS",
    "MAX_POWER_W",
    "MAX_PRICE_EUR_PER_KWH",
    "MAX_TIME_MS",
]

MAX_POWER_W = 1e9
"""Largest power of an order, W (``wattage`` / ``power``)."""

MAX_PRICE_EUR_PER_KWH = 1e6
"""Largest limit price, EUR/kWh (``askingprice`` / ``biddingprice`` / ``price``)."""

MAX_DURATION_MS = 366 * 24 * 60 * 60 * 1000
"""Longest delivery, ms (``runtime``; ``delivery_end - delivery_start``): 366 days."""

MAX_TIME_MS = 253_402_300_799_999
"""Latest time, ms since the epoch: 9999-12-31T23:59:59.999Z."""
