"""``argparse`` types of the command line's numbers: ``--wait nan`` is a usage error (exit 2).

Each type runs the library's own check (:func:`flxtrd._validation.require_wait`), so a flag
and the argument it feeds refuse the same values with the same rule.
"""

from __future__ import annotations

import argparse

from flxtrd._errors import FlexValidationError
from flxtrd._validation import require_wait

__all__ = ["positive_factor", "positive_int", "positive_seconds", "seconds"]


def _parse(text: str, *, positive: bool, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    try:
        return require_wait("value", value, positive=positive)
    except FlexValidationError as exc:
        raise argparse.ArgumentTypeError(f"{exc.rule}, got {text!r}") from None


def seconds(text: str) -> float:
    """A number of seconds: finite and >= 0 (``nan``, ``inf`` and ``-1`` are refused)."""
    return _parse(text, positive=False, what="a number of seconds")


def positive_seconds(text: str) -> float:
    """A number of seconds: finite and > 0."""
    return _parse(text, positive=True, what="a number of seconds")


def positive_factor(text: str) -> float:
    """A finite number > 0 (e.g. a speed-up factor)."""
    return _parse(text, positive=True, what="a number")


def positive_int(text: str) -> int:
    """A whole number >= 1 (a count, a page size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value
