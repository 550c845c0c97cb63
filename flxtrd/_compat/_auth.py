"""flxtrd 0.2.9's side of the :class:`~flxtrd.AuthPlugin`: ``AuthResponse`` and its methods.

In 0.2.9 an ``AuthPlugin(user=, market=)`` worked on its own:

- ``before_request()`` with no arguments validated the device access token
  (``GET /users/mptoken/{token}``) and filled ``user.user_id`` and ``user.app_key``; without a
  token it raised ``ValueError``;
- ``authenticate_user()`` logged in with e-mail and password (``POST /users/login``) and
  returned an :class:`AuthResponse`.

:class:`Auth029Mixin` gives today's ``AuthPlugin`` those methods. Both return an
:class:`AuthResponse`; when the market refuses (unknown token, wrong password: an error status)
it says ``is_authenticated=False`` (0.2.9 logged the refusal and returned ``None`` from
``before_request()``). Network failures are raised as :class:`~flxtrd.FlexConnectionError`
instead of being logged and swallowed. A plugin not yet added to a client makes itself one on
its ``market`` (``FLXTRD_MARKET_URL=sandbox://`` redirects it as any client).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import httpx

from flxtrd._defaults import LOGIN_PATH
from flxtrd._errors import ConfigurationError, FlexStatusError, FlexValidationError
from flxtrd._log import get_logger
from flxtrd._rest._api import RestAPI
from flxtrd._rest._base_client import BaseFlexAPIClient
from flxtrd._rest._operations import mptoken_op

if TYPE_CHECKING:
    from collections.abc import Generator

    from glocalflex_rest.models import MptokenResponse

    from flxtrd._rest._auth import AuthPlugin, Identity

__all__ = ["Auth029Mixin", "AuthResponse"]

_logger = get_logger("auth")


@dataclass
class AuthResponse:
    """The result of 0.2.9's authentication calls; ``access_token`` is hidden from ``repr()``."""

    user_id: str | None = None
    app_key: str | None = None
    access_token: str | None = None
    is_authenticated: bool = False

    def __repr__(self) -> str:
        token = None if self.access_token is None else "'***'"
        return (
            f"AuthResponse(user_id={self.user_id!r}, app_key={self.app_key!r},"
            f" access_token={token}, is_authenticated={self.is_authenticated!r})"
        )


def _plugin(mixin: Auth029Mixin) -> AuthPlugin:
    """The AuthPlugin a mixin method runs on (the mixin is a base of AuthPlugin only)."""
    return cast("AuthPlugin", mixin)


def _authenticated(plugin: AuthPlugin) -> AuthResponse:
    """The AuthResponse of the identity the plugin's user now holds."""
    user = plugin._user()
    return AuthResponse(user.user_id, user.app_key, user.access_token, is_authenticated=True)


class Auth029Mixin:
    """flxtrd 0.2.9's methods of the AuthPlugin (used only as a base of ``AuthPlugin``)."""

    def _ensure_client(self) -> None:
        """A plugin used on its own (as in 0.2.9) attaches itself to a client on its market."""
        plugin = _plugin(self)
        if plugin._host is not None:
            return
        if plugin.market is None:
            raise ConfigurationError(
                "an AuthPlugin used on its own needs market=; or add it to a client"
            )
        # The host attaches the plugin (its _host), which keeps the host alive.
        _StandaloneHost(plugin)

    def validate_access_token(self) -> AuthResponse:
        """Validate the user's device access token (0.2.9's ``before_request()``).

        Fills ``user.user_id`` and ``user.app_key`` (the location the token belongs to). An
        already validated user (``app_key`` set) is not looked up again, as in 0.2.9. Raises
        ``ValueError`` (:class:`~flxtrd.FlexValidationError`) without an access token.
        """
        plugin = _plugin(self)
        user = plugin._user()
        if not user.access_token:
            raise FlexValidationError(
                "access_token",
                "is required: before_request() validates the device access token"
                " (FlexUser(access_token=...) or FLXTRD_ACCESS_TOKEN)",
                user.access_token,
            )
        if user.user_id and user.app_key:
            return _authenticated(plugin)
        self._ensure_client()
        try:
            plugin._run(_mptoken_identity_flow(plugin, user.access_token))
        except FlexStatusError as exc:
            _logger.error("The market refused the device access token: %s", exc)
            return AuthResponse(is_authenticated=False)
        return _authenticated(plugin)

    def authenticate_user(self, endpoint: str = LOGIN_PATH) -> AuthResponse:
        """Log in with the user's e-mail and password (``POST /users/login``), as in 0.2.9.

        Fills ``user.user_id``, ``user.app_key`` and ``user.access_token`` from the account's
        location; a refused login gives ``AuthResponse(is_authenticated=False)``.
        """
        if endpoint != LOGIN_PATH:
            raise FlexValidationError(
                "endpoint", f"must be {LOGIN_PATH!r}, the market's login path", endpoint
            )
        self._ensure_client()
        plugin = _plugin(self)
        try:
            plugin.login()
        except FlexStatusError as exc:
            _logger.error("The market refused the login: %s", exc)
            return AuthResponse(is_authenticated=False)
        return _authenticated(plugin)


class _StandaloneHost(BaseFlexAPIClient):
    """The client core with a sync REST pool, for one AuthPlugin used on its own (0.2.9)."""

    def __init__(self, plugin: AuthPlugin) -> None:
        super().__init__(
            market=plugin.market,
            user=plugin._user(),
            plugins=[plugin],
            verify_ssl=plugin.verify_ssl,
        )
        self.request_protocol = RestAPI(
            self.endpoint,
            verify_ssl=self.verify_ssl,
            ca_bundle=self.ca_bundle,
            timeout=self.timeout,
            retry_policy=self.retry_policy,
        )

    def _auth_send(self, request: httpx.Request) -> httpx.Response:
        """Send one of the plugin's requests."""
        return self.request_protocol.send(request)


def _mptoken_identity_flow(
    plugin: AuthPlugin, token: str
) -> Generator[httpx.Request, httpx.Response, Identity]:
    """``GET /users/mptoken/{token}`` only (no login fallback): the token's identity."""
    found: MptokenResponse = yield from plugin._exchange(mptoken_op(token))
    return plugin._remember(found.user_id, plugin._choose(found.locations), token)
