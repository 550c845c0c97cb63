"""Fleets: one program trades for many devices, and scales out over RabbitMQ shards.

- :mod:`._model`: devices, per-device and fleet totals, outcomes, the portfolio strategy;
- :mod:`._loop`: every device connection on one selector I/O loop, one thread;
- :mod:`._fleet`: :class:`Fleet` (generation 1), strategies per device or one portfolio;
- :mod:`._gen2`: :class:`Gen2Fleet` (generation 2: locations of one account, many accounts);
- :mod:`._logins`: devices from market logins;
- :mod:`._shards`: shard queues with single-active-consumer, and the take-over worker;
- :mod:`._cli`: ``python -m flxtrd fleet``.
"""

from __future__ import annotations

from ._fleet import Fleet
from ._gen2 import Gen2Device, Gen2Fleet
from ._logins import login_devices, sandbox_users
from ._model import (
    DeviceStats,
    FleetDevice,
    FleetOutcome,
    FleetStats,
    LatencySummary,
    PortfolioStrategy,
)

__all__ = [
    "DeviceStats",
    "Fleet",
    "FleetDevice",
    "FleetOutcome",
    "FleetStats",
    "Gen2Device",
    "Gen2Fleet",
    "LatencySummary",
    "PortfolioStrategy",
    "login_devices",
    "sandbox_users",
]
