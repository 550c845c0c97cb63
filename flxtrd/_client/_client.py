# Generated from flxtrd/_client/_async_client.py by scripts/unasync.py; do not edit.
# Change the async source and run `make regenerate`.
"""The GLocalFlex clients' REST side, written once: the asyncio client is the source, and
``scripts/unasync.py`` writes the blocking client from it (``make regenerate``).

Compatible with the seed README and flxtrd 0.2.9::

    client = FlexAPIClient(base_url="localhost", user=user, market=market)
    response, err = client.make_request("POST", "/users/login", data={...})

and typed::

    with FlexAPIClient(base_url="https://test.glocalflexmarket.com", user=user) as client:
        order = client.orders.place(side="buy", power_w=2500, price_eur_per_kwh=0.25, ...)
        client.orders.cancel(order.id)

    with FlexAPIClient(base_url="https://test.glocalflexmarket.com", user=user) as c:
        order = c.orders.place(...)

Configuration, request building and error mapping live in ``flxtrd._rest._base_client`` (no I/O);
this module sends: the plugins' hooks (``before_request`` / ``after_request``), the auth
plugin's own requests, the one resend after a 401
(:meth:`~flxtrd.AuthPlugin.recover`). Orders over AMQP and the WebSocket streams are the sync
client's (``flxtrd._client._sync_extras``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpx
from glocalflex_rest.models import Deal, LoginResponse

from flxtrd._client._sync_extras import _TradingExtras
from flxtrd._errors import ConfigurationError, FlexError, MessageDecodeError
from flxtrd._log import get_logger
from flxtrd._rest._api import RestAPI
from flxtrd._rest._auth import AuthPlugin, Identity, has_authorization
from flxtrd._rest._history import DealsCache
from flxtrd._rest._http import Operation, PreparedRequest, RawResponse
from flxtrd._rest._operations import list_deals_op
from flxtrd._rest._plugins import BasePlugin, HookRequest
from flxtrd._rest._raw_response import record_response
from flxtrd._rest._resources import (
    Contracts,
    ContractsWithRawResponse,
    Orders,
    OrdersWithRawResponse,
)
from flxtrd._retry import RetryPolicy
from flxtrd._types import FlexResponse, Market, User

__all__ = ["FlexAPIClient"]

_logger = get_logger("client")

T = TypeVar("T")


class _WithRawResponse:
    """``client.with_raw_response``: the typed calls returning :class:`~flxtrd.RawResponse`."""

    def __init__(self, client: FlexAPIClient) -> None:
        self._client = client
        self.orders = OrdersWithRawResponse(client.orders)
        self.contracts = ContractsWithRawResponse(client.contracts)

    def deals(
        self, relative_time: str = "1h", *, if_none_match: str | None = None
    ) -> RawResponse[list[Deal] | None]:
        """:meth:`FlexAPIClient.deals` with the raw response (for its ``ETag``)."""
        return self._client._call_raw(list_deals_op(relative_time, if_none_match=if_none_match))


class FlexAPIClient(_TradingExtras):
    """The GLocalFlex Market client: REST calls and typed resources (the sync one adds orders
    over AMQP and the WebSocket streams).

    Arguments (all optional; unset ones come from the environment, see ``flxtrd._config``):
        market, base_url, market_url: where the market is (``base_url`` wins; a bare host means
            ``https://host``). ``"sandbox://"`` selects the embedded sandbox market.
        user, access_token: the account (``User(name=, password=, accessToken=)``).
        plugins: extra :class:`~flxtrd.BasePlugin` s; an :class:`~flxtrd.AuthPlugin` is added first
            unless one is given.
        verify_ssl: TLS certificate verification (default on); ``ca_bundle`` trusts a private CA.
        broker_url: the AMQP broker URL (default: ``FLXTRD_BROKER_URL``, else from ``market``).
        location_id: which of the account's locations (application key) to trade for.
        timeout, max_retries, retry_policy: REST timeouts and retries (defaults in
            ``flxtrd._defaults``).
        transport, http_client: the REST network edge (an httpx transport, wrapped with
            retries, or an httpx client used as given).
        request_protocol: an instance of :class:`~flxtrd.RestAPI` (or the class) to use instead
            of the default one; the sync client also takes a ``trade_protocol`` (instance or
            class) for its orders.
        clock, sleep, random: injectable time source (epoch s), retry sleep and jitter source.
    """

    _auth: AuthPlugin | None

    def __init__(
        self,
        market: Market | None = None,
        base_url: str | None = None,
        market_url: str | None = None,
        access_token: str | None = None,
        user: User | None = None,
        request_protocol: RestAPI | type[RestAPI] | None = None,
        trade_protocol: Any = None,
        plugins: Iterable[BasePlugin] | None = None,
        verify_ssl: bool = True,
        *,
        broker_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        location_id: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            market,
            base_url,
            market_url,
            access_token,
            user,
            plugins,
            verify_ssl,
            broker_url=broker_url,
            ca_bundle=ca_bundle,
            location_id=location_id,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
            headers=headers,
            env=env,
            clock=clock,
        )
        if isinstance(request_protocol, RestAPI):
            self.request_protocol: RestAPI = request_protocol
        elif request_protocol is None or request_protocol is RestAPI:
            self.request_protocol = RestAPI(
                self.endpoint,
                verify_ssl=verify_ssl,
                ca_bundle=self.ca_bundle,
                timeout=self.timeout,
                retry_policy=self.retry_policy,
                transport=transport,
                http_client=http_client,
                sleep=sleep,
                clock=clock,
                random=random,
            )
        else:
            raise ConfigurationError(
                "request_protocol must be an instance of RestAPI (or that class)"
            )
        self._init_trading(trade_protocol, sleep)
        self.orders = Orders(self)
        self.contracts = Contracts(self)
        self.with_raw_response = _WithRawResponse(self)
        self._deals_cache = DealsCache()

    # -- plugins ------------------------------------------------------------------------------

    def _new_auth_plugin(self) -> AuthPlugin:
        """The default auth plugin for this client's user and market."""
        return AuthPlugin(self.user, location_id=self.location_id, clock=self._clock)

    @property
    def auth(self) -> AuthPlugin | None:
        """The client's :class:`~flxtrd.AuthPlugin`, if one is installed."""
        return self._auth

    # -- REST ---------------------------------------------------------------------------------

    def _auth_send(self, request: httpx.Request) -> httpx.Response:
        """Send one of the auth plugin's requests (no plugins, retries allowed)."""
        return self.request_protocol.send(request)

    def _send(self, prepared: PreparedRequest) -> tuple[httpx.Response, dict[str, Any]]:
        """Run plugins, send, resend once if the auth plugin recovered from a 401, run plugins.

        A caller's own ``Authorization`` header is sent as given and a 401 to it is returned.
        """
        chain = self._chain
        caller_auth = has_authorization(prepared.headers)  # honoured as given: see AuthPlugin
        plugin_data = chain.before(
            HookRequest(
                prepared.method, prepared.url, prepared.headers, prepared.params, prepared.data
            )
        )
        response = self.request_protocol.send(self._request(prepared))
        auth = self._auth
        if auth is not None and auth.recover(prepared, response, caller_auth):
            response.close()
            response = self.request_protocol.send(self._request(prepared))
        chain.after(response, plugin_data)
        return response, plugin_data

    def make_request(
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        ssl: bool | None = None,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: bool = False,
    ) -> tuple[FlexResponse, FlexError | None]:
        """Send any REST call; return ``(FlexResponse, err)``, ``err`` None only for a 2xx.

        ``response.request_response`` is the raw ``httpx.Response`` (``None`` when nothing
        came back). ``json=`` sends a JSON body, ``data=`` a form; ``retry=True`` lets a POST be
        retried; ``ssl=False`` (flxtrd 0.2.9) sends a bare-host call over plain HTTP.
        """
        try:
            prepared = self._prepare(
                method,
                endpoint,
                params=params,
                data=data,
                json=json,
                headers=headers,
                ssl=ssl,
                retry=retry,
                timeout=timeout,
            )
            response, plugin_data = self._send(prepared)
        except FlexError as err:
            if _logger.isEnabledFor(logging.DEBUG):
                _logger.debug("%s %s failed: %s", method, endpoint, err)
            return self._result(None, None, err)
        return self._result(response, plugin_data, None)

    def _call(self, op: Operation[T]) -> T:
        """Run a typed operation; return its model or raise the mapped error."""
        response, plugin_data = self._send(self._prepare_op(op))
        record_response(response, plugin_data)  # for a with_raw_response wrapper, if any
        return self._finish(op, response)

    def _call_raw(self, op: Operation[T]) -> RawResponse[T]:
        """Run a typed operation; return the model with the raw response and plugin data."""
        response, plugin_data = self._send(self._prepare_op(op))
        return RawResponse(response, self._finish(op, response), plugin_data or None)

    def _require_auth(self) -> AuthPlugin:
        if self._auth is None:
            raise ConfigurationError("no AuthPlugin installed; add one with client.add_plugin()")
        return self._auth

    def login(self) -> LoginResponse:
        """Log in with e-mail and password (generation 1); fills the user id and application key."""
        return self._require_auth().login()

    def authenticate(self) -> Identity:
        """Authenticate once (device token lookup or login) and return the broker identity."""
        return self._require_auth().identity()

    def deals(
        self, relative_time: str = "1h", *, if_none_match: str | None = None, cache: bool = True
    ) -> list[Deal] | None:
        """Recent deals (generation 1), oldest first; a repeat call reuses the last answer's ETag.

        The market answers an unchanged list with 304 and the cached deals come back unparsed
        (``_rest._history``). ``cache=False`` asks afresh; an explicit ``if_none_match`` skips
        the cache and returns ``None`` when that ETag still matches.
        """
        if if_none_match is not None:
            return self._call(list_deals_op(relative_time, if_none_match=if_none_match))
        history = self._deals_cache
        raw = self._call_raw(history.operation(relative_time, cache=cache))
        deals = history.resolve(relative_time, raw, cache=cache)
        if deals is None:  # a 304 to an ETag we no longer hold: ask without one
            raw = self._call_raw(history.operation(relative_time, cache=False))
            deals = history.resolve(relative_time, raw, cache=cache)
        if deals is None:
            raise MessageDecodeError("list_deals: 304 Not Modified to a request without an ETag")
        return deals

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close what the client opened (the sync one: streams, broker connection), then the
        REST connection pool."""
        try:
            self._close_extras()
        finally:
            self.request_protocol.close()

    def __enter__(self) -> FlexAPIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
