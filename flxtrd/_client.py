"""The sync client, :class:`FlexAPIClient`: REST over one ``httpx.Client`` pool, orders over AMQP.

Compatible with the seed README and flxtrd 0.2.9::

    client = FlexAPIClient(base_url="localhost", user=user, market=market)
    response, err = client.make_request("POST", "/users/login", data={...})
    response, err = client.send_order(method="", endpoint="ask", verify_ssl=False, order=order)
    client.trade_protocol.close_connection()

and typed::

    with FlexAPIClient(base_url="https://test.glocalflexmarket.com", user=user) as client:
        order = client.orders.place(side="buy", power_w=2500, price_eur_per_kwh=0.25, ...)
        client.orders.cancel(order.id)

Configuration, request building and error mapping live in ``flxtrd._base_client`` (shared with
the async client); this module does the sync I/O and delegates orders to the trading protocol
``flxtrd._amqp.AmpqAPI`` (imported on first use, so ``import flxtrd`` never imports kombu).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx
from glocalflex_rest.models import Deal, LoginResponse

from flxtrd._auth import AuthPlugin, Identity, has_authorization
from flxtrd._base_client import BaseFlexAPIClient, Operation, PreparedRequest, RawResponse, T
from flxtrd._errors import (
    ConfigurationError,
    FlexError,
    FlexValidationError,
    MessageDecodeError,
)
from flxtrd._history import DealsCache
from flxtrd._line_protocol import OrderLine
from flxtrd._log import get_logger
from flxtrd._plugins import BasePlugin
from flxtrd._resources import Contracts, Orders, RawContracts, RawOrders
from flxtrd._rest import RestAPI, list_deals_op
from flxtrd._retry import RetryPolicy
from flxtrd._types import FlexResponse, Market, MarketOrder, User
from flxtrd._validation import require_optional_wait, require_wait

if TYPE_CHECKING:
    from flxtrd._streams import MarketStream

__all__ = ["FlexAPIClient"]

_logger = get_logger("client")


class _PendingTradeProtocol:
    """Stands in for the trading protocol before the first order: there is nothing to close yet."""

    def __init__(self, client: FlexAPIClient) -> None:
        self._client = client

    def close_connection(self) -> None:
        """Nothing is connected yet: a no-op."""
        _logger.debug("No connection to the broker to be closed")

    def is_connected(self) -> bool:
        """Never connected."""
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client._connected_trade(), name)

    def __repr__(self) -> str:
        return "<trade protocol: not created yet (created and connected on the first order)>"


class _WithRawResponse:
    """``client.with_raw_response``: the typed calls returning :class:`~flxtrd.RawResponse`."""

    def __init__(self, client: FlexAPIClient) -> None:
        self._client = client
        self.orders = RawOrders(client)
        self.contracts = RawContracts(client)

    def deals(
        self, relative_time: str = "1h", *, if_none_match: str | None = None
    ) -> RawResponse[list[Deal] | None]:
        """:meth:`FlexAPIClient.deals` with the raw response (for its ``ETag``)."""
        return self._client._call_raw(list_deals_op(relative_time, if_none_match=if_none_match))


class _ClientTokens:
    """A client's :class:`~flxtrd.AuthPlugin` as the :class:`~flxtrd.TokenSource` of its streams."""

    def __init__(self, auth: AuthPlugin) -> None:
        self._auth = auth

    def token(self) -> str:
        """The current access token, renewed when it is about to expire."""
        return self._auth.bearer_token()

    def refresh(self) -> str:
        """Sign in again after the server refused the token; return the new one."""
        self._auth.reauthenticate(f"Bearer {self._auth.bearer_token()}")
        return self._auth.bearer_token()


class FlexAPIClient(BaseFlexAPIClient):
    """The GLocalFlex Market client (sync): REST calls, typed resources, orders over AMQP.

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
        transport, http_client: the REST network edge (an ``httpx.BaseTransport``, wrapped with
            retries, or an ``httpx.Client`` used as given).
        request_protocol, trade_protocol: a :class:`~flxtrd.RestAPI` / trading protocol instance
            (or class) to use instead of the default ones.
        clock, sleep, random: injectable time source (epoch s), retry sleep and jitter source.
    """

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
        self._sleep: Callable[[float], None] = sleep if sleep is not None else time.sleep
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
                "request_protocol must be a RestAPI instance (or the RestAPI class)"
            )
        if isinstance(trade_protocol, type) or (
            trade_protocol is not None and not hasattr(trade_protocol, "send_order")
        ):
            self._trade_factory: Callable[..., Any] | None = trade_protocol
            self._trade: Any = None
        else:
            self._trade_factory = None
            self._trade = trade_protocol
        self._trade_connected = False
        self._streams: list[MarketStream] = []
        self._trade_auto = False
        self.orders = Orders(self)
        self.contracts = Contracts(self)
        self.with_raw_response = _WithRawResponse(self)
        self._deals_cache = DealsCache()

    # -- REST ---------------------------------------------------------------------------------

    def _auth_send(self, request: httpx.Request) -> httpx.Response:
        """Send one of the auth plugin's requests (no plugins, retries allowed)."""
        return self.request_protocol.send(request)

    def _send(self, prepared: PreparedRequest) -> tuple[httpx.Response, dict[str, Any]]:
        """Run plugins, send, log in again and resend once on a 401 to our token, run plugins.

        A caller's own ``Authorization`` header is sent as given and a 401 to it is returned.
        """
        chain = self._chain
        caller_auth = has_authorization(prepared.headers)  # honoured as given: see AuthPlugin
        plugin_data = chain.before(
            prepared.method, prepared.url, prepared.headers, prepared.params, prepared.data
        )
        response = self.request_protocol.send(self._request(prepared))
        auth = self._auth
        if (
            response.status_code == 401
            and auth is not None
            and not caller_auth
            and auth.reauthenticate(prepared.headers.get("Authorization"))
        ):
            prepared.headers.pop("Authorization", None)  # the rejected token, replaced below
            response.close()
            auth.before_request(
                method=prepared.method,
                url=prepared.url,
                headers=prepared.headers,
                params=prepared.params,
                data=prepared.data,
            )
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
        response, _ = self._send(self._prepare_op(op))
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
        (``flxtrd._history``). ``cache=False`` asks afresh; an explicit ``if_none_match`` skips
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

    # -- orders (delegated to the trading protocol) -------------------------------------------

    def _new_trade_protocol(self, verify_ssl: bool) -> Any:
        """Create the trading protocol for the current identity (kombu imported only now)."""
        factory = self._trade_factory
        if factory is None:
            from flxtrd._amqp import AmpqAPI

            factory = AmpqAPI
        return factory(**self._trade_kwargs(verify_ssl))

    @property
    def trade_protocol(self) -> Any:
        """The trading protocol (an ``AmpqAPI``), made on first use, connected on first order.

        Before the client knows its broker identity (no order sent, no login yet) this is a
        stand-in whose ``close_connection()`` is a no-op and whose other attributes authenticate
        and create the real protocol.
        """
        if self._trade is not None:
            return self._trade
        if self.user.user_id and self.user.app_key:
            self._trade = self._new_trade_protocol(True)
            self._trade_auto = True
            return self._trade
        return _PendingTradeProtocol(self)

    @trade_protocol.setter
    def trade_protocol(self, protocol: Any) -> None:
        self._trade = protocol
        self._trade_auto = False
        self._trade_connected = False

    def _connected_trade(self, verify_ssl: bool = True) -> Any:
        """Authenticate (once), create the protocol if needed and connect it (once)."""
        if self._trade_auto and not self._trade_connected and not verify_ssl:
            self._trade = None  # made by the property with verification; honour verify_ssl=False
        if self._trade is None:
            if self._auth is not None:
                self._auth.identity()
            self._trade = self._new_trade_protocol(verify_ssl)
            self._trade_auto = False
        if not self._trade_connected:
            self._trade.connect()
            self._trade_connected = True
        return self._trade

    def connect(self) -> None:
        """Authenticate and connect to the market's broker (as in flxtrd 0.2.9)."""
        self._connected_trade()

    def send_order(
        self,
        market_order: Any = None,
        endpoint: str | None = None,
        method: str | None = None,
        params: Any = None,
        data: Any = None,
        ssl: bool | None = True,
        verify_ssl: bool = True,
        *,
        order: Any = None,
    ) -> tuple[FlexResponse, FlexError | None]:
        """Send a market order to the broker; return ``(FlexResponse, err)``.

        ``order=`` (seed) or ``market_order=`` (0.2.9) is the :class:`~flxtrd.MarketOrder`;
        ``endpoint`` is a routing hint (``"ask"``/``"bid"``; the order type decides). Plugins run
        before and after; ``response.order_response`` is the broker's receipt.
        """
        if market_order is not None and order is not None:
            raise TypeError("pass order= or market_order=, not both")
        the_order = order if order is not None else market_order
        response = FlexResponse()
        plugin_data: dict[str, Any] = {}
        err: FlexError | None = None
        try:
            self._check_order(the_order)
            plugin_data = self._chain.before(method, endpoint, None, params, the_order)
            protocol = self._connected_trade(verify_ssl)
            response.order_response = protocol.send_order(the_order, routing_hint=endpoint or None)
        except FlexError as exc:
            err = exc
        response.plugin_data = plugin_data
        self._chain.after(response, plugin_data)
        response.plugin_data = plugin_data or None
        return response, err

    def _check_order(self, order: Any) -> None:
        """The checks every order passes before it is sent (by :meth:`send_order` and
        :meth:`send_orders` alike): a :class:`MarketOrder` whose clock rules hold now, or
        decoded line fields (sent as they are)."""
        if order is None:
            raise FlexValidationError("order", "is required (a MarketOrder)", None)
        if isinstance(order, MarketOrder):
            order.validate(self._now_ms())
        elif not isinstance(order, OrderLine):
            raise FlexValidationError("order", "must be a MarketOrder", order)

    def send_orders(self, orders: Iterable[Any]) -> list[Any]:
        """Send many orders with pipelined confirms; return one outcome per order, in order.

        Items are orders or ``(order, message_id)`` pairs. Each order is checked as
        :meth:`send_order` checks it; one that fails is not sent and its outcome carries the
        :class:`~flxtrd.FlexValidationError`.
        """
        from flxtrd._amqp import OrderOutcome

        batch = list(orders)
        plugin_data = self._chain.before("", "", None, None, batch)
        refused: dict[int, OrderOutcome] = {}
        to_send: list[Any] = []
        for index, item in enumerate(batch):
            order, message_id = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
            try:
                self._check_order(order)
            except FlexValidationError as exc:
                refused[index] = OrderOutcome(order, message_id or "", None, exc)
            else:
                to_send.append(item)
        sent = iter(self._connected_trade().send_orders(to_send) if to_send else ())
        outcomes: list[Any] = [
            refused[index] if index in refused else next(sent) for index in range(len(batch))
        ]
        self._chain.after(outcomes, plugin_data)
        return outcomes

    def check_market_responses(self) -> list[Any] | None:
        """The market messages buffered so far, or ``None`` when there are none (as in 0.2.9)."""
        responses = self._connected_trade().check_market_responses()
        return list(responses) if responses else None

    def empty_market_responses(self) -> None:
        """Drop the buffered market messages."""
        if self._trade is not None:
            self._trade.empty_market_responses()

    def market_messages(self, timeout: float | None = None) -> Iterator[Any]:
        """Iterate over incoming market messages, waiting at most ``timeout`` s for each.

        ``timeout``: a finite number >= 0, or ``None`` to wait forever; anything else is a
        :class:`~flxtrd.FlexValidationError`, raised before the broker is contacted.
        """
        timeout = require_optional_wait("timeout", timeout)
        iterator: Iterator[Any] = self._connected_trade().market_messages(timeout)
        return iterator

    def disconnect(self) -> None:
        """Close the broker connection (as in flxtrd 0.2.9); a no-op when none is open."""
        if self._trade is not None:
            self._trade.close_connection()
        self._trade_connected = False

    def sleep(self, seconds: float) -> None:
        """Wait while keeping the broker connection alive (as in flxtrd 0.2.9).

        ``seconds`` must be a finite number >= 0 (NaN would wait forever).
        """
        seconds = require_wait("seconds", seconds)
        trade_sleep = getattr(self._trade, "sleep", None) if self._trade_connected else None
        if callable(trade_sleep):
            trade_sleep(seconds)
        else:
            self._sleep(seconds)

    # -- WebSocket streams (generation 2) --------------------------------------------------------

    def market_stream(self, **options: Any) -> MarketStream:
        """A WebSocket stream client on this market, signed in with this client's OAuth2 token.

        ``for event in client.market_stream().stream("ticker"): ...`` -- the streams use this
        client's connection pool (so ``sandbox://`` reaches the embedded sandbox) and its token,
        renewed before it expires and after a rejected upgrade. ``options`` go to
        :class:`~flxtrd.MarketStream`; :meth:`close` closes the streams made here.
        """
        from flxtrd._streams import MarketStream

        if self.auth is None:
            raise ConfigurationError("market_stream() needs the client's AuthPlugin")
        stream = MarketStream(
            self.base_url,
            _ClientTokens(self.auth),
            client=self.request_protocol.http_client,
            **options,
        )
        self._streams.append(stream)
        return stream

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the streams, the broker connection (if open) and the REST connection pool."""
        try:
            for stream in self._streams:
                stream.close()
            self._streams.clear()
            if self._trade_connected:
                self.disconnect()
        finally:
            self.request_protocol.close()

    def __enter__(self) -> FlexAPIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
