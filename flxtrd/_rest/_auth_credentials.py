"""What authentication holds: the generation-1 identity and the generation-2 token.

Kept apart from the flows that obtain them so the one rule they share is visible in one place:
a token is never shown. Both ``repr()`` s mask it, and :meth:`_Token.fresh` is the single
definition of "still fresh enough to send" that the single-flight checks of
:class:`~flxtrd.AuthPlugin` re-evaluate under their lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from glocalflex_rest.types import Unset

__all__ = ["Identity", "_Token", "_known"]


@dataclass(frozen=True)
class Identity:
    """The generation-1 identity of a device: AMQP user, application key, access token."""

    user_id: str
    application_key: str
    access_token: str | None
    location_name: str | None = None

    def __repr__(self) -> str:
        return (
            f"Identity(user_id={self.user_id!r}, application_key={self.application_key!r},"
            f" access_token={'***' if self.access_token else None})"
        )


@dataclass(frozen=True, repr=False)
class _Token:
    """A generation-2 access token and when (on the plugin's clock) it expires."""

    access: str
    refresh: str | None
    expires_at: float
    lifetime: float

    def __repr__(self) -> str:
        return f"_Token(access='***', refresh={'***' if self.refresh else None})"

    def fresh(self, now: float, margin: float) -> bool:
        """True while more than the refresh margin (at most half the lifetime) remains."""
        return now < self.expires_at - min(margin, self.lifetime / 2.0)


def _known(value: str | Unset | None) -> str | None:
    """The value of an optional generated field, ``None`` when unset or empty."""
    return value if isinstance(value, str) and value else None
