"""What the CLI's command modules share: market options, the client they open, the clock.

``_cli._main`` (demo, login, order, listen) and ``_cli._rest`` (orders, contracts, deals,
stream) both build on this module, so neither imports the other at run time.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING

from flxtrd._defaults import ENV_MARKET_URL, ENV_PASSWORD, ENV_USERNAME
from flxtrd._types import User
from flxtrd._validation import current_time_ms

if TYPE_CHECKING:
    from flxtrd._client._client import FlexAPIClient

__all__ = [
    "MS_PER_MINUTE",
    "QUARTER_HOUR_MS",
    "_add_market_options",
    "_client_from",
    "next_quarter_hour_ms",
    "now_ms",
]

MS_PER_MINUTE = 60_000
QUARTER_HOUR_MS = 15 * MS_PER_MINUTE


def _add_market_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--market", "--market-url", default=None,
        help="market URL or host (default: FLXTRD_MARKET_URL)",
    )  # fmt: skip
    parser.add_argument("--broker", default=None, help="broker URL (default: FLXTRD_BROKER_URL)")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (development only)"
    )


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return current_time_ms()


def next_quarter_hour_ms(epoch_ms: int) -> int:
    """The first quarter hour (:00, :15, :30, :45) at or after ``epoch_ms``."""
    return -(-epoch_ms // QUARTER_HOUR_MS) * QUARTER_HOUR_MS


def _client_from(args: argparse.Namespace) -> FlexAPIClient:
    """A client for --market/--broker (else the environment) with credentials from the env."""
    from flxtrd._client._client import FlexAPIClient

    user = User(
        name=os.environ.get(ENV_USERNAME),
        password=os.environ.get(ENV_PASSWORD) or _prompt_password(),
    )
    return FlexAPIClient(
        base_url=args.market or os.environ.get(ENV_MARKET_URL),
        user=user,
        broker_url=args.broker,
        verify_ssl=not args.insecure,
    )


def _prompt_password() -> str | None:
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"password (or set {ENV_PASSWORD}): ") or None
