"""Authentication as a plugin: generation-1 login / device token, generation-2 OAuth2.

The :class:`AuthPlugin` is installed first in every client (unless the caller installs their own).
It authenticates once, on first need, and then only adds a header:

- **Generation 1** (broker identity for orders, bearer JWT for ``/deals/``): with a device access
  token, ``GET /users/mptoken/{token}``; with an e-mail and password, ``POST /users/login``. Either
  fills ``user.user_id``, ``user.app_key`` (the chosen location's ``_id``) and
  ``user.access_token`` (its ``token``). The location is the one named by ``location_id=`` or
  ``user.app_key``, else the one whose token is the user's access token, else the first.
- **Generation 2** (everything under ``/api/``): the OAuth2 password grant on
  ``POST /auth/oauth/v2/token`` (client id ``glocalflexmarket_public_api``); the token is refreshed
  with the refresh grant ``TOKEN_REFRESH_MARGIN_S`` (60 s) before it expires (or at half its
  lifetime if that is shorter), falling back to the password grant when the refresh is refused.
  A 401 on a request that carried our token triggers one re-login and the request goes out once
  more with the new token (:meth:`AuthPlugin.recover`, the one place both clients ask).

Refreshes are single-flight: a ``threading.Lock`` for the sync client and an ``asyncio.Lock`` for
the async one, with the freshness re-checked under the lock, so N parallel calls with an expired
token cause one token request, not N. The HTTP exchanges are written once as generator "flows"
(yield a request, receive its response) that a sync and an async driver run, so both clients
share the logic and differ only in I/O.

Passwords and tokens are registered with the logging secrets filter the moment they are known
and never appear in logs, reprs or error messages.

This module is the plugin itself: wiring, which request needs which credentials, the hooks,
the locks and the two drivers. The flows live in ``_rest._auth_flows``, what they obtain
(:class:`Identity`, the token) in ``_rest._auth_credentials`` and the ``Authorization`` header
rules in ``_rest._auth_headers``; ``AuthPlugin``, ``Identity`` and ``has_authorization`` are
imported from here as before.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

import httpx
from glocalflex_rest.models import LoginResponse

from flxtrd._compat._auth import Auth029Mixin
from flxtrd._defaults import (
    LOGIN_PATH,
    MPTOKEN_PATH,
    OAUTH_CLIENT_ID,
    TOKEN_PATH,
    TOKEN_REFRESH_MARGIN_S,
)
from flxtrd._log import register_secret
from flxtrd._rest._auth_credentials import Identity, _Token
from flxtrd._rest._auth_flows import Flow, _AuthFlows, _AuthHost
from flxtrd._rest._auth_headers import _authorize, _hook_arguments, _rejected, has_authorization
from flxtrd._rest._http import PreparedRequest
from flxtrd._rest._plugins import BasePlugin
from flxtrd._types import Market, User
from flxtrd._validation import require_wait

__all__ = ["AuthPlugin", "Identity", "has_authorization"]

T = TypeVar("T")

_NONE, _GEN1, _GEN2 = 0, 1, 2
_AUTH_PATHS = (LOGIN_PATH, MPTOKEN_PATH, TOKEN_PATH)


class AuthPlugin(Auth029Mixin, _AuthFlows, BasePlugin):
    """Authenticates the client's requests: generation 1 (login, device token) and 2 (OAuth2).

    ``AuthPlugin(user, market, verify_ssl)`` works as in flxtrd 0.2.9; ``market`` and
    ``verify_ssl`` are taken from the client the plugin is added to. ``location_id`` names the
    location (application key) to trade for; ``clock`` (seconds, monotonic by default) times the
    token expiry; ``refresh_margin_s`` is how early tokens are refreshed.
    """

    plugin_name = "AuthPlugin"
    authenticates = True

    def __init__(
        self,
        user: User | None = None,
        market: Market | None = None,
        verify_ssl: bool = True,
        *,
        location_id: str | None = None,
        clock: Callable[[], float] | None = None,
        refresh_margin_s: float = TOKEN_REFRESH_MARGIN_S,
        client_id: str = OAUTH_CLIENT_ID,
    ) -> None:
        self.user = user
        self.market = market
        self.verify_ssl = verify_ssl
        self.location_id = location_id
        self.client_id = client_id
        self.refresh_margin_s = require_wait("refresh_margin_s", refresh_margin_s)
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._host: _AuthHost | None = None
        self._base_path = ""
        self._base_url = ""
        self._identity: Identity | None = None
        self._jwt: str | None = None
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self._alock: asyncio.Lock | None = None
        self._alock_loop: asyncio.AbstractEventLoop | None = None
        if user is not None:
            register_secret(user.password, user.access_token)

    # -- wiring -------------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Bind the plugin to the client whose transport it uses (done by ``add_plugin``)."""
        host: _AuthHost = client
        self._host = host
        if self.user is None:
            self.user = host.user
        if self.location_id is None:
            self.location_id = host.location_id
        self._base_path = host.endpoint.base_path
        self._base_url = host.base_url
        register_secret(self.user.password, self.user.access_token)

    def _async_lock(self) -> asyncio.Lock:
        """The asyncio lock of the running loop (a new loop gets a new lock)."""
        loop = asyncio.get_running_loop()
        if self._alock is None or self._alock_loop is not loop:
            self._alock = asyncio.Lock()
            self._alock_loop = loop
        return self._alock

    # -- which requests need what -------------------------------------------------------------

    def _realm(self, url: str | None) -> int:
        """Which credentials a request to ``url`` needs: none, generation 1 JWT, generation 2."""
        if not url:
            return _NONE
        if self._base_url and url.startswith(self._base_url):
            path = url[len(self._base_url) :]  # the common case, without parsing the URL
        else:
            path = httpx.URL(url).path if "://" in url else url
            if self._base_path and path.startswith(self._base_path):
                path = path[len(self._base_path) :]
        if path.startswith(_AUTH_PATHS):
            return _NONE
        if path.startswith("/api/"):
            return _GEN2
        if path.startswith("/deals"):
            return _GEN1
        return _NONE

    # -- plugin hooks -------------------------------------------------------------------------

    def before_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Add ``Authorization`` to REST calls that need it, authenticating first if needed.

        An ``Authorization`` header the caller gave (``make_request(headers=...)`` or the
        client's ``headers=``; any letter case) is honoured: it is sent as given, no token is
        fetched for it, and a 401 to it is the caller's to handle (no new login, no resend).

        Called with no arguments (flxtrd 0.2.9) it validates the device access token and
        returns an ``AuthResponse`` (:meth:`validate_access_token`).
        """
        if method is None and url is None and headers is None and params is None and data is None:
            return self.validate_access_token()
        realm = _NONE if has_authorization(headers) else self._realm(url)
        if realm == _GEN2:
            _authorize(headers, self.bearer_token())
        elif realm == _GEN1:
            jwt = self._jwt if self._jwt is not None else self._run(self._jwt_flow())
            _authorize(headers, jwt or None)  # no login token (device-token user): no header
        return None

    async def abefore_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Async :meth:`before_request`."""
        realm = _NONE if has_authorization(headers) else self._realm(url)
        if realm == _GEN2:
            _authorize(headers, await self.abearer_token())
        elif realm == _GEN1:
            jwt = self._jwt if self._jwt is not None else await self._arun(self._jwt_flow())
            _authorize(headers, jwt or None)
        return None

    # -- public entry points ------------------------------------------------------------------

    def identity(self) -> Identity:
        """The generation-1 identity, authenticating once (device token lookup or login)."""
        identity = self._identity
        if identity is not None:
            return identity
        with self._lock:
            if self._identity is not None:
                return self._identity
            return self._drive(self._identity_flow(need_jwt=False))

    async def aidentity(self) -> Identity:
        """Async :meth:`identity`."""
        identity = self._identity
        if identity is not None:
            return identity
        async with self._async_lock():
            if self._identity is not None:
                return self._identity
            return await self._adrive(self._identity_flow(need_jwt=False))

    def login(self) -> LoginResponse:
        """Log in with e-mail and password (generation 1) now; return the generated model."""
        with self._lock:
            return self._drive(self._login_flow())

    async def alogin(self) -> LoginResponse:
        """Async :meth:`login`."""
        async with self._async_lock():
            return await self._adrive(self._login_flow())

    def bearer_token(self) -> str:
        """A fresh generation-2 access token (single-flight password grant or refresh)."""
        token = self._token
        if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
            return token.access
        with self._lock:
            token = self._token
            if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
                return token.access
            return self._drive(self._token_flow(force_password=False))

    async def abearer_token(self) -> str:
        """Async :meth:`bearer_token`."""
        token = self._token
        if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
            return token.access
        async with self._async_lock():
            token = self._token
            if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
                return token.access
            return await self._adrive(self._token_flow(force_password=False))

    def reauthenticate(self, rejected_authorization: str | None) -> bool:
        """After a 401: log in again if the rejected header was ours; True if a resend may help."""
        with self._lock:
            flow = self._relogin_flow(rejected_authorization)
            if flow is None:
                return False
            self._drive(flow)
            return True

    async def areauthenticate(self, rejected_authorization: str | None) -> bool:
        """Async :meth:`reauthenticate`."""
        async with self._async_lock():
            flow = self._relogin_flow(rejected_authorization)
            if flow is None:
                return False
            await self._adrive(flow)
            return True

    def recover(
        self, prepared: PreparedRequest, response: httpx.Response, caller_authorized: bool
    ) -> bool:
        """After a response: on a 401 to our token, log in again and put the new token on
        ``prepared``; True when the request should be sent once more.

        A caller's own ``Authorization`` (``caller_authorized``) is theirs: no login, no resend.
        """
        rejected = _rejected(prepared, response, caller_authorized)
        if rejected is None or not self.reauthenticate(rejected):
            return False
        self.before_request(**_hook_arguments(prepared))
        return True

    async def arecover(
        self, prepared: PreparedRequest, response: httpx.Response, caller_authorized: bool
    ) -> bool:
        """Async :meth:`recover`."""
        rejected = _rejected(prepared, response, caller_authorized)
        if rejected is None or not await self.areauthenticate(rejected):
            return False
        await self.abefore_request(**_hook_arguments(prepared))
        return True

    @property
    def is_authenticated(self) -> bool:
        """True once a generation-1 identity or a generation-2 token is held."""
        return self._identity is not None or self._token is not None

    # -- drivers ------------------------------------------------------------------------------

    def _drive(self, flow: Flow[T]) -> T:
        """Run a flow with the sync client's transport (caller holds the lock)."""
        host = self._bound()
        try:
            request = next(flow)
            while True:
                request = flow.send(host._auth_send(request))
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _adrive(self, flow: Flow[T]) -> T:
        """Run a flow with the async client's transport (caller holds the lock)."""
        host = self._bound()
        try:
            request = next(flow)
            while True:
                request = flow.send(await host._auth_asend(request))
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _run(self, flow: Flow[T]) -> T:
        """:meth:`_drive` under the sync lock."""
        with self._lock:
            return self._drive(flow)

    async def _arun(self, flow: Flow[T]) -> T:
        """:meth:`_adrive` under the async lock."""
        async with self._async_lock():
            return await self._adrive(flow)

    def __repr__(self) -> str:
        user = self.user.name if self.user is not None else None
        token = self._token
        gen2 = "none" if token is None else f"expires in {token.expires_at - self._clock():.0f} s"
        return (
            f"<AuthPlugin user={user!r} identity={'yes' if self._identity else 'no'}"
            f" gen2_token={gen2}>"
        )
