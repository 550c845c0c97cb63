"""The argument checks that strategies, their orders and device models share.

Each refuses a bad argument with a :class:`~flxtrd.FlexValidationError` naming the field; one
function per rule keeps the rule's text (``"must be finite and > 0"``) the same wherever the
trading layer refuses a number or a delivery window.
"""

from __future__ import annotations

import math

from flxtrd._errors import FlexValidationError

__all__ = ["check_finite", "check_window"]


def check_finite(field: str, value: float, *, positive: bool = True) -> float:
    """Return ``value`` as a float if it is finite and > 0 (``positive``) or >= 0; refuse it
    otherwise."""
    if not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
        rule = "must be finite and > 0" if positive else "must be finite and >= 0"
        raise FlexValidationError(field, rule, value)
    return float(value)


def check_window(start_ms: int, end_ms: int) -> None:
    """Refuse a delivery window that does not end after it starts."""
    if end_ms <= start_ms:
        raise FlexValidationError("end_ms", "must be after start_ms", end_ms)
