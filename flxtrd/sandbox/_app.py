"""The sandbox market's REST and WebSocket app (Starlette, ASGI): `create_app(market)`.

It serves every operation of `specs/openapi.yaml` and the three WebSocket streams of
`specs/asyncapi.yaml` on a `SandboxMarket`:

===========================  =======  ==============================================
path                         method   answer
===========================  =======  ==============================================
/users/login                 POST     form ``email``/``password`` -> LoginResponse
/users/mptoken/{token}       GET      MptokenResponse, 404 for an unknown token
/deals/                      GET      Deal list; ``ETag``, ``If-None-Match`` -> 304
/auth/oauth/v2/token         POST     form, password/refresh grant -> TokenResponse
/api/v1/order/               POST     OrderRequest JSON -> Order
/api/v1/order/               GET      OrderList (``status``, ``side``, paging)
/api/v1/order/{order_id}     GET      Order
/api/v1/order/{id}/cancel     POST     cancels the order (409 once it is closed)
/api/v1/contract/            GET      ContractList (``status``, paging)
/api/v1/contract/{id}        GET      Contract
/api/v1/ws/trade/            WS       your order_status_update, contract_status_update
/api/v1/ws/ticker/           WS       ticker (every generation-2 trade)
/api/v1/ws/orderbook/        WS       orderbook snapshot on connect and on every change
===========================  =======  ==============================================

Statuses: 401 for a missing, invalid or expired bearer token (checked before the request is
validated) and for refused login credentials; the token endpoint answers a refused grant with
400 and an OAuth2 error body, an unknown ``client_id`` with 401; 404 for what does not exist or
is not yours; 409 to cancel a closed order; 422 with the spec's ``HTTPValidationError`` body,
one item per failing field, for requests that break the spec's schemas (`_app_schema`) or the
market's rules (quarter-hour windows, expiry at or before delivery start, not expired on
arrival...), for JSON bodies nested deeper than 32 levels or with a string that is not Unicode
text (a lone surrogate escape, ``"\\ud800"``), and for integer parameters longer than 4300
digits; 413 for a body over 1 MiB and 408 for one that does not arrive within 10 s
(`_http_limits`); 429 with ``Retry-After`` when the optional `RateLimit` is exceeded; 500 with
an ``ErrorDetail`` if the app fails. Response bodies are the generated REST models' ``to_dict()``.

WebSockets take ``Authorization: Bearer <access token>`` on the upgrade request; without a valid
one the upgrade is refused with HTTP 401 (servers without the ASGI WebSocket denial-response
extension close with code 1008 instead). The first message is the ``control`` message, then the
stream's events, each encoded from the generated msgspec models. The token is checked at the
upgrade only (an open stream outlives it). Each connection buffers up to 1024 messages; a client
that falls further behind misses the newest ones (the order book stream's next snapshot catches
up).
All stream connections of an app share one `_stream_hub.StreamHub`: one market subscription,
each update's frames built once, one order book snapshot per change for every subscriber.

This module builds the app (`create_app`: routes, error handling, body and rate limits); the
handlers live by resource in `_app_accounts`, `_app_deals`, `_app_orders` and `_app_streams`,
reading requests through `_app_request` and answering through `_app_response`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ._app_accounts import AccountHandlers
from ._app_deals import DealHandlers
from ._app_orders import OrderHandlers
from ._app_response import detail
from ._app_streams import stream_routes
from ._http_limits import DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_BODY_BYTES, BodyLimit
from ._market import SandboxMarket

__all__ = ["RateLimit", "create_app"]

_logger = logging.getLogger("flxtrd.sandbox")

# --------------------------------------------------------------------------------------------
# Rate limit


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` REST requests per ``window_s`` seconds per client, else 429.

    A client is its ``Authorization`` header, else its address. Windows are fixed and timed on
    the market clock; ``Retry-After`` is the whole seconds left in the window.
    """

    requests: int
    window_s: float = 1.0


class _RateLimiter:
    """ASGI middleware enforcing a `RateLimit` on HTTP requests."""

    def __init__(self, app: ASGIApp, limit: RateLimit, market: SandboxMarket) -> None:
        self.app = app
        self.limit = limit
        self.market = market
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        retry_after = self._admit(_client_key(scope))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": "Rate limit exceeded"},
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)

    def _admit(self, key: str) -> int | None:
        """None if the request may pass, else the seconds to wait."""
        now = self.market.clock.now_ms()
        window_ms = max(1, int(self.limit.window_s * 1000))
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= window_ms:
                start, count = now, 0
            if count >= self.limit.requests:
                return max(0, math.ceil((start + window_ms - now) / 1000))
            self._windows[key] = (start, count + 1)
            if len(self._windows) > 10_000:  # forget finished windows
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_ms}
            return None


def _client_key(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return "auth:" + bytes(value).decode("latin-1")
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:-"


# --------------------------------------------------------------------------------------------


def _safe(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler so an unexpected error is a 500 ``ErrorDetail``, not a crash.

    A client that leaves before its body is read is not an error (nothing is logged).
    """

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ClientDisconnect:
            # The connection ended (or its body's framing broke) before the body was read:
            # nobody is left to answer, and nothing here failed.
            _logger.debug("the client left before its request body was read")
            return Response(status_code=400)
        except Exception:
            _logger.exception("sandbox REST handler failed")
            return detail(500, "Internal server error")

    wrapped.__doc__ = handler.__doc__
    return wrapped


def _dispatch(
    handlers: Mapping[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint for a path: the handler of the request's method (HEAD runs GET's)."""
    safe = {method: _safe(handler) for method, handler in handlers.items()}
    if "GET" in safe:
        safe["HEAD"] = safe["GET"]

    async def endpoint(request: Request) -> Response:
        return await safe[request.method](request)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (404 unknown path, 405 method) as ``ErrorDetail`` JSON."""
    assert isinstance(exc, HTTPException)
    return detail(exc.status_code, str(exc.detail), exc.headers)


def create_app(
    market: SandboxMarket,
    *,
    rate_limit: RateLimit | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
) -> Starlette:
    """The sandbox's ASGI app over ``market`` (REST + WebSocket streams); see the module doc.

    Request bodies over ``max_body_bytes`` are refused (413), as are those that take longer
    than ``body_timeout_s`` to arrive (408); see `_http_limits.BodyLimit`.
    """
    accounts, deals, orders = AccountHandlers(market), DealHandlers(market), OrderHandlers(market)
    operations: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {
        "/users/login": {"POST": accounts.login},
        "/users/mptoken/{token}": {"GET": accounts.mptoken},
        "/deals/": {"GET": deals.deals},
        "/auth/oauth/v2/token": {"POST": accounts.token},
        "/api/v1/order/": {"POST": orders.create_order, "GET": orders.list_orders},
        "/api/v1/order/{order_id}": {"GET": orders.get_order},
        "/api/v1/order/{order_id}/cancel": {"POST": orders.cancel_order},
        "/api/v1/contract/": {"GET": orders.list_contracts},
        "/api/v1/contract/{contract_id}": {"GET": orders.get_contract},
    }
    routes: list[Route | WebSocketRoute] = [
        Route(path, _dispatch(handlers), methods=list(handlers))
        for path, handlers in operations.items()
    ]
    routes.extend(stream_routes(market))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.market = market
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s)
    if rate_limit is not None:  # outside the body limit: a limited client's body is not read
        app.add_middleware(_RateLimiter, limit=rate_limit, market=market)
    return app
