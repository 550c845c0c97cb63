"""The core shared by :class:`~flxtrd.FlexAPIClient` and :class:`~flxtrd.AsyncFlexAPIClient`.

Everything here is free of I/O: configuration (market, broker, user, TLS, timeouts, retries),
request building, the plugin chain, error mapping and response assembly. The sync and async
clients add only the sending (``httpx.Client`` vs ``httpx.AsyncClient``, sync vs async plugin
hooks and auth).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from flxtrd._compat._config import require_user_and_market
from flxtrd._config import (
    MarketEndpoint,
    resolve_broker_url,
    resolve_ca_bundle,
    resolve_market,
    resolve_user,
)
from flxtrd._defaults import USER_AGENT
from flxtrd._errors import ConfigurationError, FlexError, FlexValidationError, MessageDecodeError
from flxtrd._log import register_secret
from flxtrd._rest._http import (
    Operation,
    PreparedRequest,
    build_request,
    error_for_response,
    join_url,
    make_timeout,
    parse_with,
    register_response_secrets,
)
from flxtrd._rest._plugins import BasePlugin, PluginChain
from flxtrd._retry import RetryPolicy
from flxtrd._types import FlexResponse, Market, User

__all__ = ["BaseFlexAPIClient"]

T = TypeVar("T")


# --- the client core -------------------------------------------------------------------------


class BaseFlexAPIClient:
    """Configuration, request building, plugins and error mapping shared by both clients."""

    #: The plugin that signs requests in (``BasePlugin.authenticates``), if one is installed.
    _auth: BasePlugin | None

    def __init__(
        self,
        market: Market | None = None,
        base_url: str | None = None,
        market_url: str | None = None,
        access_token: str | None = None,
        user: User | None = None,
        plugins: Iterable[BasePlugin] | None = None,
        verify_ssl: bool = True,
        *,
        broker_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        location_id: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if base_url is not None and market_url is not None and base_url != market_url:
            raise FlexValidationError("market_url", "conflicts with base_url; pass one", market_url)
        if not isinstance(verify_ssl, bool):
            raise FlexValidationError("verify_ssl", "must be True or False", verify_ssl)
        require_user_and_market(
            user=user,
            access_token=access_token,
            market=market,
            market_url=base_url if base_url is not None else market_url,
            env=env,
        )
        self.endpoint: MarketEndpoint = resolve_market(
            base_url=base_url if base_url is not None else market_url, market=market, env=env
        )
        self.base_url: str = self.endpoint.base_url
        self.user: User = resolve_user(user, access_token=access_token, env=env)
        register_secret(self.user.password, self.user.access_token)
        self.market: Market = (
            market if market is not None else Market(market_url=self.endpoint.host)
        )
        self.broker_url: str = resolve_broker_url(
            broker_url=broker_url, market=market, endpoint=self.endpoint, env=env
        )
        self.verify_ssl: bool = verify_ssl
        #: The CA file to trust (``ca_bundle=``, else ``FLXTRD_CA_BUNDLE``), checked readable.
        self.ca_bundle: str | None = resolve_ca_bundle(ca_bundle, env=env)
        self.location_id = location_id
        self.timeout: httpx.Timeout = make_timeout(timeout)
        if retry_policy is None:
            retry_policy = (
                RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
            )
        elif max_retries is not None:
            raise FlexValidationError(
                "max_retries", "conflicts with retry_policy; pass one", max_retries
            )
        self.retry_policy: RetryPolicy = retry_policy
        self._clock: Callable[[], float] | None = clock
        self._default_headers: dict[str, str] = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **(headers or {}),
        }
        self._chain = PluginChain()
        self._auth = None
        self._install_plugins(plugins)

    # -- plugins ------------------------------------------------------------------------------

    def _new_auth_plugin(self) -> BasePlugin:
        """The default auth plugin for this client's user and market (the clients make one)."""
        raise ConfigurationError(f"{type(self).__name__} has no default auth plugin; pass one")

    def _install_plugins(self, plugins: Iterable[BasePlugin] | None) -> None:
        """Add the given plugins; prepend the default auth plugin unless one was given."""
        given = list(plugins or ())
        if not any(getattr(p, "authenticates", False) for p in given):
            given.insert(0, self._new_auth_plugin())
        for plugin in given:
            self.add_plugin(plugin)

    @property
    def plugins(self) -> list[BasePlugin]:
        """The plugins in the order their hooks run (a copy; use add_plugin/remove_plugin)."""
        return list(self._chain.plugins)

    def add_plugin(self, plugin: BasePlugin) -> None:
        """Add a plugin; one of the same type already present wins (as in flxtrd 0.2.9)."""
        if not isinstance(plugin, BasePlugin):
            raise FlexValidationError("plugin", "must be a BasePlugin", plugin)
        authenticates = plugin.authenticates
        if self._chain.add(plugin, first=authenticates) and authenticates:
            plugin.attach(self)
            self._auth = plugin

    def remove_plugin(self, plugin: BasePlugin) -> None:
        """Remove the plugin of ``plugin``'s type (as in flxtrd 0.2.9)."""
        if (
            self._chain.remove(plugin)
            and self._auth is not None
            and type(plugin) is type(self._auth)
        ):
            self._auth = None

    # -- clocks -------------------------------------------------------------------------------

    def _now_s(self) -> float:
        """Epoch seconds from the injected clock, else the system clock."""
        return self._clock() if self._clock is not None else time.time()

    def _now(self) -> datetime:
        """The current time as an aware UTC datetime (for order validation)."""
        return datetime.fromtimestamp(self._now_s(), tz=UTC)

    def _now_ms(self) -> int:
        """The current time in epoch ms (for generation-1 order validation)."""
        return int(self._now_s() * 1000)

    # -- request building ---------------------------------------------------------------------

    def _prepare(
        self,
        method: str,
        endpoint: str,
        *,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        ssl: bool | None = None,
        retry: bool = False,
        timeout: float | httpx.Timeout | None = None,
    ) -> PreparedRequest:
        """Check the arguments of a call and prepare its request (no I/O, no plugins yet)."""
        if not isinstance(method, str) or not method.strip():
            raise FlexValidationError("method", "must be an HTTP method such as 'GET'", method)
        if data is not None and json is not None:
            raise FlexValidationError("json", "cannot be sent together with data=; pass one", "...")
        url = join_url(self.base_url, endpoint)
        if ssl is False and url.startswith("https://"):
            url = "http://" + url[len("https://") :]  # flxtrd 0.2.9's ssl=False: plain HTTP
        merged = dict(self._default_headers)
        if headers:
            merged.update(headers)
        return PreparedRequest(
            method=method.strip().upper(),
            url=url,
            params=params,
            headers=merged,
            data=data,
            json=json,
            retry_non_idempotent=retry,
            timeout=None if timeout is None else make_timeout(timeout),
        )

    def _prepare_op(self, op: Operation[Any]) -> PreparedRequest:
        """Prepare the request of a typed operation."""
        merged = dict(self._default_headers)
        if op.headers:
            merged.update(op.headers)
        return PreparedRequest(
            method=op.method,
            url=self.base_url + op.path,
            params=dict(op.params) if op.params else None,
            headers=merged,
            data=op.data,
            json=op.json,
            retry_non_idempotent=op.retry_non_idempotent,
        )

    def _op_request(self, op: Operation[Any]) -> httpx.Request:
        """The request of an operation sent without plugins (the auth plugin's own calls)."""
        return build_request(self._prepare_op(op), self.timeout)

    def _auth_send(self, request: httpx.Request) -> httpx.Response:
        """Send an auth request with the sync transport (the sync client implements this)."""
        raise ConfigurationError(f"{type(self).__name__} authenticates with the async hooks only")

    async def _auth_asend(self, request: httpx.Request) -> httpx.Response:
        """Send an auth request with the async transport (the async client implements this)."""
        raise ConfigurationError(f"{type(self).__name__} authenticates with the sync hooks only")

    def _request(self, prepared: PreparedRequest) -> httpx.Request:
        """The ``httpx.Request`` for a prepared request (after plugins ran)."""
        return build_request(prepared, self.timeout)

    # -- results ------------------------------------------------------------------------------

    @staticmethod
    def _result(
        response: httpx.Response | None, plugin_data: dict[str, Any] | None, err: FlexError | None
    ) -> tuple[FlexResponse, FlexError | None]:
        """The ``(FlexResponse, err)`` pair of ``make_request``; ``err`` is None only for 2xx."""
        if err is None and response is not None:
            register_response_secrets(response)
            err = error_for_response(response)
        return FlexResponse(request_response=response, plugin_data=plugin_data or None), err

    @staticmethod
    def _finish(op: Operation[T], response: httpx.Response) -> T:
        """Parse a typed call's response or raise the mapped error."""
        if response.status_code in op.ok_statuses:
            return parse_with(op, response)
        error = error_for_response(response)
        if error is None:  # a 2xx the spec does not list: still a success, but no model for it
            raise MessageDecodeError(f"{op.name}: unexpected success status {response.status_code}")
        raise error

    # -- broker identity ----------------------------------------------------------------------

    def _trade_kwargs(self, verify_ssl: bool) -> dict[str, Any]:
        """The keyword arguments of ``AmpqAPI(...)`` for the current identity."""
        ca = os.fspath(self.ca_bundle) if self.ca_bundle is not None else None
        return {
            "broker_url": self.broker_url,
            "user_id": self.user.user_id,
            "access_token": self.user.access_token,
            "application_key": self.user.app_key,
            "verify_ssl": bool(self.verify_ssl and verify_ssl),
            "ca_bundle": ca,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} market={self.base_url!r} user={self.user.name!r}>"
