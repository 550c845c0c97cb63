"""flxtrd 0.2.9's rule that a client is given a user and a market.

0.2.9 raised ``ValueError`` for ``FlexAPIClient(user=None)`` (without ``access_token=``) and for
``FlexAPIClient(market=None)`` (without ``market_url=``/``base_url=``). flxtrd keeps the rule and
counts the environment as giving them, so configuration by environment variables keeps working:

- the user: ``user=``, ``access_token=``, ``FLXTRD_ACCESS_TOKEN`` or ``FLXTRD_USERNAME``;
- the market: ``market=``, ``base_url=``/``market_url=`` or ``FLXTRD_MARKET_URL``.

A ``FlexMarket(market_url=None)`` (which 0.2.9 accepted) is a market: its URL comes from
``FLXTRD_MARKET_URL``, else the public test deployment (``flxtrd._config``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flxtrd._defaults import ENV_ACCESS_TOKEN, ENV_MARKET_URL, ENV_PASSWORD, ENV_USERNAME
from flxtrd._errors import FlexValidationError
from flxtrd._types import Market, User

__all__ = ["require_user_and_market"]


def require_user_and_market(
    *,
    user: User | None,
    access_token: str | None,
    market: Market | None,
    market_url: str | None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Raise ``ValueError`` (FlexValidationError) naming ``user`` or ``market`` when missing."""
    environ = os.environ if env is None else env
    if user is None and not (
        access_token or environ.get(ENV_ACCESS_TOKEN) or environ.get(ENV_USERNAME)
    ):
        raise FlexValidationError(
            "user",
            "is required: pass user=FlexUser(...) or access_token=..., or set"
            f" {ENV_ACCESS_TOKEN} or {ENV_USERNAME} and {ENV_PASSWORD}",
            None,
        )
    if market is None and market_url is None and not environ.get(ENV_MARKET_URL):
        raise FlexValidationError(
            "market",
            "is required: pass market=FlexMarket(...) or base_url=/market_url=..., or set"
            f" {ENV_MARKET_URL}",
            None,
        )
