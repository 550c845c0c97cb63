"""Where a stream's bearer token comes from: the token-source protocols and their normalisation.

A stream accepts a token string, a :class:`TokenSource` (sync or async) or a plain callable;
:class:`_Tokens` turns any of them into "get one", "refresh one" and "the last one seen", and
registers every token it sees with the secrets filter so none reaches a log record.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias, runtime_checkable

from flxtrd._errors import ConfigurationError
from flxtrd._log import register_secret

__all__ = [
    "AsyncTokenProvider",
    "AsyncTokenSource",
    "TokenProvider",
    "TokenSource",
    "_Tokens",
    "_async_value",
    "_sync_value",
]


@runtime_checkable
class TokenSource(Protocol):
    """Where a stream gets its bearer token; the client's OAuth2 auth implements it.

    ``token()`` returns the current access token and should itself renew one that is about to
    expire; ``refresh()`` obtains a new one (refresh-token grant or a new login) and returns it.
    A plain ``Callable[[], str]`` works too; when it has a ``refresh()`` or ``invalidate()``
    attribute the stream calls it before asking again.
    """

    def token(self) -> str:
        """Return the current access token."""
        ...

    def refresh(self) -> str:
        """Obtain a new access token and return it."""
        ...


@runtime_checkable
class AsyncTokenSource(Protocol):
    """The async twin of :class:`TokenSource`, accepted by :class:`AsyncMarketStream`."""

    async def token(self) -> str:
        """Return the current access token."""
        ...

    async def refresh(self) -> str:
        """Obtain a new access token and return it."""
        ...


TokenProvider: TypeAlias = str | TokenSource | Callable[[], str]
AsyncTokenProvider: TypeAlias = (
    str | TokenSource | AsyncTokenSource | Callable[[], str] | Callable[[], Awaitable[str]]
)


class _Tokens:
    """The token provider, normalised: how to get one, how to refresh one, the last one seen."""

    def __init__(self, provider: object) -> None:
        self.static: str | None = None
        self.get: Callable[[], object]
        self.refresh: Callable[[], object] | None = None
        self.invalidate: Callable[[], object] | None = None
        if isinstance(provider, str):
            self.static = self._check(provider)
            self.get = lambda: provider
        elif callable(token_method := getattr(provider, "token", None)):
            self.get = token_method
            self._hooks(provider)
        elif callable(provider):
            self.get = provider
            self._hooks(provider)
        else:
            raise ConfigurationError(
                "token_provider must be a token string, a TokenSource or a callable returning a"
                f" token, not {type(provider).__name__}"
            )
        self.current: str | None = None

    def _hooks(self, provider: object) -> None:
        refresh = getattr(provider, "refresh", None)
        invalidate = getattr(provider, "invalidate", None)
        self.refresh = refresh if callable(refresh) else None
        self.invalidate = invalidate if callable(invalidate) else None

    @property
    def refreshable(self) -> bool:
        """False for a static token string: a rejected one cannot be replaced."""
        return self.static is None

    @staticmethod
    def _check(token: object) -> str:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError(
                "the token provider returned no token (expected a non-empty str, got"
                f" {type(token).__name__})"
            )
        return token

    def accept(self, token: object) -> str:
        """Validate a token that was just obtained, register it as a secret, remember it."""
        value = self._check(token)
        register_secret(value)
        self.current = value
        return value


def _sync_value(value: object, what: str) -> object:
    """Return ``value``; refuse an awaitable (an async token source given to the sync stream)."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise ConfigurationError(
            f"the token provider's {what}() is async; use AsyncMarketStream with it"
        )
    return value


async def _async_value(value: object, what: str = "") -> object:
    """Await ``value`` if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value
