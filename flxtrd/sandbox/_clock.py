"""Clocks for the sandbox market: the engine reads time only through a `Clock`.

`SystemClock` is the default (wall clock, ms since the Unix epoch); `ManualClock` is set and
advanced by hand, so tests and simulations control time without sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in milliseconds since the Unix epoch."""

    def now_ms(self) -> int:
        """Return the current time, ms since the Unix epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time, ms since the Unix epoch."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """Return the clock's current time, ms."""
        with self._lock:
            return self._now

    def set(self, now_ms: int) -> None:
        """Move the clock to `now_ms` (it may not go backwards)."""
        with self._lock:
            if now_ms < self._now:
                raise ValueError(f"clock cannot go backwards: {now_ms} < {self._now}")
            self._now = int(now_ms)

    def advance(self, delta_ms: int) -> int:
        """Move the clock forward by `delta_ms` and return the new time."""
        if delta_ms < 0:
            raise ValueError(f"delta_ms must be >= 0, got {delta_ms}")
        with self._lock:
            self._now += int(delta_ms)
            return self._now
