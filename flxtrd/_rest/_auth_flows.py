"""The HTTP exchanges of authentication, written once as I/O-free generator "flows".

A flow yields an ``httpx.Request`` and is sent the ``httpx.Response``; its return value is the
result (an identity, a login, a token). :class:`~flxtrd.AuthPlugin` runs the same flow with a sync
driver (its client's ``_auth_send``) or an async one (``_auth_asend``), so the login, device-token,
OAuth2 grant and 401 re-login logic exists once for both clients and can be tested without a
network. :class:`_AuthFlows` is the plugin's half that decides what to send and what to keep; the
plugin itself adds the locks, the drivers and the hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol, TypeVar

import httpx
from glocalflex_rest.models import Location, LoginResponse, MptokenResponse, TokenResponse

from flxtrd._errors import (
    AuthenticationError,
    ConfigurationError,
    FlexStatusError,
    FlexValidationError,
    NotFoundError,
)
from flxtrd._log import forget_secret, get_logger, register_secret
from flxtrd._rest._auth_credentials import Identity, _known, _Token
from flxtrd._rest._http import Operation, error_for_response, parse_with
from flxtrd._rest._operations import login_op, mptoken_op, token_password_op, token_refresh_op
from flxtrd._types import User

__all__ = ["Flow", "_AuthFlows", "_AuthHost", "_done"]

_logger = get_logger("auth")
T = TypeVar("T")

#: A flow yields requests and receives their responses; its return value is the result.
Flow = Generator[httpx.Request, httpx.Response, T]


class _AuthHost(Protocol):
    """What the plugin needs of the client it is attached to: who, where, and its transport."""

    user: User
    location_id: str | None
    base_url: str

    @property
    def endpoint(self) -> Any: ...
    def _op_request(self, op: Operation[Any]) -> httpx.Request: ...
    def _auth_send(self, request: httpx.Request) -> httpx.Response: ...
    async def _auth_asend(self, request: httpx.Request) -> httpx.Response: ...


class _AuthFlows:
    """The auth flows and the state they fill (identity, JWT, token); no locks, no I/O."""

    user: User | None
    location_id: str | None
    client_id: str
    _clock: Callable[[], float]
    _host: _AuthHost | None
    _identity: Identity | None
    _jwt: str | None
    _token: _Token | None

    def _bound(self) -> _AuthHost:
        """The client the plugin is attached to (ConfigurationError before ``attach``)."""
        if self._host is None:
            raise ConfigurationError(
                "AuthPlugin is not attached to a client; use client.add_plugin()"
            )
        return self._host

    def _user(self) -> User:
        """The user the flows authenticate (ConfigurationError when there is none)."""
        if self.user is None:
            raise ConfigurationError("AuthPlugin has no user; pass user= or add it to a client")
        return self.user

    def _exchange(self, op: Operation[T]) -> Flow[T]:
        """Send one auth operation; return its parsed model or raise the mapped error."""
        response = yield self._bound()._op_request(op)
        error = error_for_response(response)
        if error is not None:
            if response.status_code == 400 and op.name == "get_token":
                # RFC 6749: a refused grant (bad credentials, expired refresh token) is a 400.
                raise AuthenticationError(400, response)
            raise error
        return parse_with(op, response)

    def _choose(self, locations: Sequence[Location]) -> Location:
        """The location named by location_id / user.app_key, else by token, else the first."""
        user = self._user()
        if not locations:
            raise ConfigurationError(
                "the account has no location (device); add one on the market before trading"
            )
        wanted = self.location_id or user.app_key
        if wanted:
            for location in locations:
                if location.field_id == wanted:
                    return location
            raise FlexValidationError(
                "location_id",
                "must be the _id of one of the account's locations "
                + ", ".join(repr(loc.field_id) for loc in locations),
                wanted,
            )
        if user.access_token:
            for location in locations:
                if _known(location.token) == user.access_token:
                    return location
        return locations[0]

    def _remember(self, user_id: str, location: Location, access_token: str | None) -> Identity:
        """Store the identity on the plugin and, as 0.2.9 did, on the user."""
        user = self._user()
        identity = Identity(
            user_id=user_id,
            application_key=location.field_id,
            access_token=access_token,
            location_name=_known(location.name),
        )
        user.user_id = identity.user_id
        user.app_key = identity.application_key
        user.access_token = identity.access_token
        self._identity = identity
        if _logger.isEnabledFor(logging.INFO):
            _logger.info(
                "Authenticated user %s for application key %s",
                identity.user_id,
                identity.application_key,
            )
        return identity

    def _login_flow(self) -> Flow[LoginResponse]:
        """``POST /users/login``: identity and bearer JWT."""
        user = self._user()
        if not (user.name and user.password):
            raise ConfigurationError(
                "logging in needs the account e-mail and password: User(name=, password=)"
                " or FLXTRD_USERNAME and FLXTRD_PASSWORD"
            )
        login: LoginResponse = yield from self._exchange(login_op(user.name, user.password))
        register_secret(_known(login.token), *(_known(loc.token) for loc in login.locations))
        location = self._choose(login.locations)
        self._jwt = _known(login.token)
        self._remember(login.user_id, location, _known(location.token) or user.access_token)
        return login

    def _identity_flow(self, need_jwt: bool) -> Flow[Identity]:
        """Device token lookup, or login when there is no token (or a JWT is needed)."""
        user = self._user()
        if user.user_id and user.app_key and user.access_token and not need_jwt:
            identity = Identity(user.user_id, user.app_key, user.access_token)
            self._identity = identity
            return identity
        if user.name and user.password and (need_jwt or not user.access_token):
            yield from self._login_flow()
            assert self._identity is not None
            return self._identity
        if user.access_token:
            try:
                found: MptokenResponse = yield from self._exchange(mptoken_op(user.access_token))
            except (NotFoundError, AuthenticationError):
                if not (user.name and user.password):
                    raise
                # The seed README passes a placeholder token beside real e-mail and password.
                _logger.warning(
                    "the market does not know the device access token; logging in with the"
                    " e-mail and password and using the token of the account's location"
                )
                yield from self._login_flow()
                assert self._identity is not None
                return self._identity
            return self._remember(found.user_id, self._choose(found.locations), user.access_token)
        raise ConfigurationError(
            "no credentials: give User(accessToken=...) (device access token) or"
            " User(name=, password=), or set FLXTRD_ACCESS_TOKEN or FLXTRD_USERNAME/FLXTRD_PASSWORD"
        )

    def _jwt_flow(self) -> Flow[str | None]:
        """The generation-1 bearer JWT (logs in once when there is none yet)."""
        if self._jwt is None:
            user = self._user()
            if user.name and user.password:
                yield from self._login_flow()
        return self._jwt

    def _token_flow(self, force_password: bool) -> Flow[str]:
        """Refresh the generation-2 token, or run the password grant."""
        token = self._token
        if token is not None and token.refresh and not force_password:
            try:
                issued: TokenResponse = yield from self._exchange(
                    token_refresh_op(token.refresh, self.client_id)
                )
            except FlexStatusError as exc:
                if exc.status_code not in (400, 401):
                    raise
                _logger.info("Token refresh refused (%s); logging in again", exc.status_code)
            else:
                return self._accept(issued)
        user = self._user()
        if not (user.name and user.password):
            raise ConfigurationError(
                "generation-2 calls need the account e-mail and password: User(name=, password=)"
                " or FLXTRD_USERNAME and FLXTRD_PASSWORD"
            )
        issued = yield from self._exchange(
            token_password_op(user.name, user.password, self.client_id)
        )
        return self._accept(issued)

    def _accept(self, issued: TokenResponse) -> str:
        """Store a token response; swap the registered secrets."""
        old = self._token
        refresh = _known(issued.refresh_token)
        if refresh is None and old is not None:
            refresh = old.refresh
        register_secret(issued.access_token, refresh)
        lifetime = float(max(issued.expires_in, 0))
        self._token = _Token(issued.access_token, refresh, self._clock() + lifetime, lifetime)
        if old is not None:
            forget_secret(
                *(s for s in (old.access, old.refresh) if s not in (issued.access_token, refresh))
            )
        if _logger.isEnabledFor(logging.INFO):
            _logger.info("Obtained an access token valid for %d s", issued.expires_in)
        return issued.access_token

    def _relogin_flow(self, rejected: str | None) -> Flow[Any] | None:
        """The flow answering a 401 (caller holds the lock), or None if the header was not ours."""
        if not rejected or not rejected.startswith("Bearer "):
            return None
        value = rejected[len("Bearer ") :]
        token = self._token
        if token is not None and token.access == value:
            _logger.info("Access token rejected (401); logging in again")
            self._token = None
            return self._token_flow(force_password=True)
        if self._jwt is not None and self._jwt == value:
            _logger.info("Login token rejected (401); logging in again")
            self._jwt = None
            return self._login_flow()
        if token is not None or self._jwt is not None:
            return _done()  # another caller already re-logged in: resend with the new token
        return None


def _done() -> Flow[None]:
    """A flow that sends nothing."""
    return
    yield  # pragma: no cover - makes this a generator
