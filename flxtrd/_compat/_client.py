"""``MarketMessages``: flxtrd 0.2.9's placeholder for a session's market messages."""

from __future__ import annotations

from typing import Any

__all__ = ["MarketMessages"]


class MarketMessages:
    """0.2.9's empty placeholder class; use ``client.market_messages()`` for the messages.

    Kept so that ``from flxtrd.core.api_client import MarketMessages`` still imports. As in
    0.2.9, :attr:`ticks` and :meth:`closed_deals` return ``None``.
    """

    @property
    def ticks(self) -> Any:
        """The ticks of the session: ``None``, as in 0.2.9."""
        return None

    def closed_deals(self) -> Any:
        """The closed deals of the session: ``None``, as in 0.2.9."""
        return None
