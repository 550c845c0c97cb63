"""The sync client's own part: orders over AMQP (delegated to ``AmpqAPI``) and the streams.

:class:`_TradingExtras` is the base ``scripts/unasync.py`` puts under the generated
:class:`~flxtrd.FlexAPIClient` (in place of the async client's ``_AsyncClientExtras``): the REST
side is written once in ``_client._async_client``; what only the sync client has lives here. The
trading protocol ``flxtrd._amqp._api.AmpqAPI`` is imported on first use, so ``import flxtrd`` never
imports kombu.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flxtrd._errors import ConfigurationError, FlexError, FlexValidationError
from flxtrd._line_protocol import OrderLine
from flxtrd._log import get_logger
from flxtrd._rest._auth import AuthPlugin
from flxtrd._rest._base_client import BaseFlexAPIClient
from flxtrd._rest._plugins import HookRequest
from flxtrd._types import FlexResponse, MarketOrder
from flxtrd._validation import require_optional_wait, require_wait

if TYPE_CHECKING:
    from flxtrd._rest._api import RestAPI
    from flxtrd._streams._stream import MarketStream

__all__ = ["_TradingExtras"]

_logger = get_logger("client")


class _PendingTradeProtocol:
    """Stands in for the trading protocol before the first order: there is nothing to close yet."""

    def __init__(self, client: _TradingExtras) -> None:
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


class _TradingExtras(BaseFlexAPIClient):
    """Orders over AMQP, the market messages and the WebSocket streams of the sync client."""

    _auth: AuthPlugin | None
    request_protocol: RestAPI

    def _init_trading(self, trade_protocol: Any, sleep: Callable[[float], None] | None) -> None:
        """Take the trading protocol (an instance, a class or ``None``) and the wait of
        :meth:`sleep`; nothing connects yet."""
        self._sleep: Callable[[float], None] = sleep if sleep is not None else time.sleep
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

    # -- orders (delegated to the trading protocol) -------------------------------------------

    def _new_trade_protocol(self, verify_ssl: bool) -> Any:
        """Create the trading protocol for the current identity (kombu imported only now)."""
        factory = self._trade_factory
        if factory is None:
            from flxtrd._amqp._api import AmpqAPI

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
            plugin_data = self._chain.before(HookRequest(method, endpoint, None, params, the_order))
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
        from flxtrd._amqp._results import OrderOutcome

        batch = list(orders)
        plugin_data = self._chain.before(HookRequest("", "", None, None, batch))
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
        from flxtrd._streams._stream import MarketStream

        if self._auth is None:
            raise ConfigurationError("market_stream() needs the client's AuthPlugin")
        stream = MarketStream(
            self.base_url,
            _ClientTokens(self._auth),
            client=self.request_protocol.http_client,
            **options,
        )
        self._streams.append(stream)
        return stream

    def _close_extras(self) -> None:
        """Close the streams made here and the broker connection (if open)."""
        for stream in self._streams:
            stream.close()
        self._streams.clear()
        if self._trade_connected:
            self.disconnect()
