"""The one exponential backoff with jitter: REST retries, stream reconnects and broker reconnects.

:class:`~flxtrd.RetryPolicy` (REST, and the broker's ``DEFAULT_BROKER_RETRY_POLICY``) and
:class:`~flxtrd.ReconnectPolicy` (streams) each keep their own public fields and validation, and
both compute their waits here, so "how long before the next try" has one formula: the wait
before retry ``n`` (0-based) is ``min(initial_delay_s * multiplier**n, max_delay_s)`` shortened by
a random fraction of at most ``jitter`` ("equal jitter"). No I/O and no third-party import.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter; the policies that use it validate the numbers."""

    initial_delay_s: float
    max_delay_s: float
    multiplier: float = 2.0
    jitter: float = 0.25

    def bounds(self, retry_index: int) -> tuple[float, float]:
        """The shortest and longest wait before retry ``retry_index`` (0-based)."""
        try:
            base = min(
                self.initial_delay_s * self.multiplier ** max(retry_index, 0), self.max_delay_s
            )
        except OverflowError:
            base = self.max_delay_s
        return base * (1.0 - self.jitter), base

    def delay(self, retry_index: int, random_fraction: float) -> float:
        """The wait before retry ``retry_index`` (0-based) for a ``random_fraction`` in [0, 1)."""
        base = self.bounds(retry_index)[1]
        return base * (1.0 - self.jitter * random_fraction)
