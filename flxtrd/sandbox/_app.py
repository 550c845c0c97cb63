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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from glocalflex_messages import models as msg
from glocalflex_rest import models as rest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ._accounts import OAUTH_CLIENT_ID, Account, AuthError
from ._app_schema import PARAMETERS, SCHEMAS, Failure, validate
from ._http_limits import DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_BODY_BYTES, BodyLimit
from ._market import SandboxMarket
from ._market_input import OrderInputError
from ._market_time import relative_time_ms
from ._market_update import MarketUpdate
from ._stream_hub import StreamHub, UpdateFrames
from ._types import (
    ActionError,
    BookLevel,
    Contract,
    ContractCreated,
    ContractStatus,
    ContractStatusChanged,
    OrderStatus,
    OrderStatusChanged,
    OrderView,
    Rejected,
    Side,
    Trade,
)

__all__ = ["CONTROL_MESSAGE", "RateLimit", "create_app"]

CONTROL_MESSAGE = msgspec.json.encode(
    msg.Control(
        status=msg.ControlStatus.success,
        data=msg.ControlData(message="Connected to the WebSocket API"),
    )
)
"""The first message of every stream (``{"type": "control", "status": "success", ...}``)."""

_logger = logging.getLogger("flxtrd.sandbox")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STREAM_QUEUE = 1024
_REJECT_LOC: dict[str, tuple[str, ...]] = {
    "country_code": ("body", "location", "country_code"),
    "location_id": ("body", "location", "location_id"),
}
_INT = re.compile(r"^[+-]?[0-9]+$")
_MAX_INT_DIGITS = 4300
"""The longest integer parameter read, digits (Python's and pydantic's own limit)."""
_MAX_JSON_DEPTH = 32
"""The deepest JSON body read, levels of arrays and objects (an ``OrderRequest`` needs 3)."""


class _UtcDatetime(datetime):
    """A UTC datetime whose ``isoformat()`` ends in ``Z`` (what the spec's examples show)."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        """ISO 8601 with ``Z`` instead of ``+00:00``."""
        return super().isoformat(sep, timespec).replace("+00:00", "Z")


def _utc(ms: int) -> datetime:
    """Ms since the epoch as an aware UTC datetime (msgspec encodes it with ``Z``)."""
    return _EPOCH + timedelta(milliseconds=ms)


def _dt(ms: int) -> datetime:
    """Ms since the epoch as an aware UTC datetime whose ``isoformat()`` ends in ``Z``."""
    d = _utc(ms)
    return _UtcDatetime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=UTC
    )


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
# Responses


def _json(model: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response from a generated model (or a list of them)."""
    content = [m.to_dict() for m in model] if isinstance(model, list) else model.to_dict()
    return JSONResponse(content, status_code=status_code, headers=headers)


def _detail(status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json(rest.ErrorDetail(detail=detail), status_code, headers)


def _unauthorized(detail: str = "Not authenticated") -> Response:
    return _detail(401, detail, {"WWW-Authenticate": "Bearer"})


def _invalid(failures: list[Failure]) -> Response:
    """422 with the spec's ``HTTPValidationError`` body, one item per failure."""
    items = [rest.ValidationErrorItem(loc=list(f.loc), msg=f.msg, type_=f.type) for f in failures]
    return _json(rest.HTTPValidationError(detail=items), 422)


def _oauth_error(error: str, description: str) -> Response:
    return _json(rest.OAuthError(error=error, error_description=description), 400)


def _order(view: OrderView) -> rest.Order:
    return rest.Order(
        id=view.order_id,
        side=rest.Side(view.side.value),
        power=view.power,
        price=view.price,
        delivery_start=_dt(view.delivery_start_ms),
        delivery_end=_dt(view.delivery_end_ms),
        expiry_time=_dt(view.expiry_time_ms),
        location=rest.OrderLocation(
            country_code=rest.CountryCode(view.country_code),
            location_id=list(view.location_ids) if view.location_ids else None,
        ),
        status=rest.OrderStatus(view.status.value),
        filled_power=view.filled_power,
        created_at=_dt(view.created_ms),
    )


def _contract(c: Contract) -> rest.Contract:
    return rest.Contract(
        id=c.contract_id,
        buy_order_id=c.buy_order_id,
        sell_order_id=c.sell_order_id,
        power=c.power,
        price=c.price,
        energy=c.energy,
        delivery_start=_dt(c.delivery_start_ms),
        delivery_end=_dt(c.delivery_end_ms),
        status=rest.ContractStatus(c.status.value),
        settlement=rest.Settlement(status=rest.SettlementStatus(c.settlement_status.value)),
        verification_result=rest.VerificationResult(
            status=rest.VerificationStatus(c.verification_status.value)
        ),
        created_at=_dt(c.created_ms),
    )


def _deal(t: Trade) -> rest.Deal:
    return rest.Deal(
        time=_dt(t.time_ms),
        starttime=t.delivery_start_ms,
        runtime=t.delivery_end_ms - t.delivery_start_ms,
        price=t.price,
        totalenergy=t.energy,
        totalprice=t.price * t.energy / 1000,
    )


# --------------------------------------------------------------------------------------------
# Request reading


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def _form(request: Request) -> dict[str, str] | list[Failure]:
    """The urlencoded form of the request (the last value of a repeated field)."""
    body = await request.body()
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return [Failure(("body",), "Form body should be UTF-8 url-encoded", "value_error")]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


async def _json_body(request: Request) -> tuple[Any, list[Failure]]:
    """The parsed JSON body and no failures, or None and the failure to read it."""
    body = await request.body()
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, [Failure(("body",), f"JSON decode error: {exc}", "json_invalid")]
    except RecursionError:
        value = None  # deeper than the interpreter's stack: refused just below
    else:
        if _json_depth(value) <= _MAX_JSON_DEPTH:
            where = _lone_surrogate(value)
            if where is None:
                return value, []
            # Stored, such a string would make every later answer that shows it a 500.
            message = "Input should be a valid string: a lone surrogate escape is not Unicode text"
            return None, [Failure(("body", *where), message, "string_unicode")]
    message = f"JSON decode error: nested deeper than {_MAX_JSON_DEPTH} levels"
    return None, [Failure(("body",), message, "json_invalid")]


def _is_unicode(text: str) -> bool:
    """Whether ``text`` is Unicode text (UTF-8 encodable: no lone surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate(value: Any) -> tuple[str | int, ...] | None:
    """Where a parsed JSON value has a string or key that is not Unicode text, else None.

    The place is the string's path, or for a key the path of its object (a bad key is never
    part of a path, so the answer can show the path).
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                return path
        elif isinstance(item, dict):
            if not all(_is_unicode(key) for key in item):
                return path
            stack.extend(((*path, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, i), child) for i, child in enumerate(item))
    return None


def _json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0); iterative."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > _MAX_JSON_DEPTH:
                    break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def _param(raw: str | None, schema_name: str, loc: tuple[str, ...], failures: list[Failure]) -> Any:
    """A path/query/header parameter read by its spec schema; None if absent or failing."""
    schema = PARAMETERS.get(schema_name) or SCHEMAS[schema_name]
    if raw is None:
        return schema.get("default")
    value: Any = raw
    if schema.get("type") == "integer":
        if _INT.match(raw) is None:
            failures.append(
                Failure(
                    loc, "Input should be a valid integer, unable to parse string", "int_parsing"
                )
            )
            return None
        if len(raw.lstrip("+-")) > _MAX_INT_DIGITS:
            message = (
                f"Unable to parse input string as an integer, exceeded maximum size"
                f" ({_MAX_INT_DIGITS} digits)"
            )
            failures.append(Failure(loc, message, "int_parsing_size"))
            return None
        value = int(raw)
    found = validate(value, schema, loc)
    if found:
        failures.extend(found)
        return None
    return value


def _last(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    return values[-1] if values else None


# --------------------------------------------------------------------------------------------
# The app


class _Api:
    """The REST handlers over one market."""

    def __init__(self, market: SandboxMarket) -> None:
        self.market = market

    def _user(self, request: Request) -> Account | Response:
        token = _bearer(request.headers)
        if token is None:
            return _unauthorized()
        try:
            return self.market.user_for_bearer(token)
        except AuthError as exc:
            return _unauthorized(exc.description)

    # -- generation 1 -------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """``POST /users/login``."""
        form = await _form(request)
        if isinstance(form, list):
            return _invalid(form)
        failures = validate(form, SCHEMAS["LoginForm"], ("body",))
        if failures:
            return _invalid(failures)
        try:
            account = self.market.login(form["email"], form["password"])
        except AuthError as exc:
            return _unauthorized(exc.description)
        locations = [
            rest.Location(field_id=loc.id, token=loc.token, name=loc.name)
            for loc in account.locations
        ]
        return _json(
            rest.LoginResponse(
                user_id=account.user_id,
                locations=locations,
                token=self.market.login_token(account),
            )
        )

    async def mptoken(self, request: Request) -> Response:
        """``GET /users/mptoken/{token}``."""
        failures: list[Failure] = []
        token = _param(request.path_params["token"], "token", ("path", "token"), failures)
        if failures:
            return _invalid(failures)
        found = self.market.account_by_token(token)
        if found is None:
            return _detail(404, "Not found")
        account, location = found
        return _json(
            rest.MptokenResponse(
                user_id=account.user_id,
                locations=[rest.Location(field_id=location.id, name=location.name)],
            )
        )

    async def deals(self, request: Request) -> Response:
        """``GET /deals/``."""
        token = _bearer(request.headers)
        if token is None:
            return _unauthorized()
        try:
            self.market.user_for_login_token(token)
        except AuthError as exc:
            return _unauthorized(exc.description)
        failures: list[Failure] = []
        relative = _param(
            _last(request, "relativeTime"), "relativeTime", ("query", "relativeTime"), failures
        )
        if_none_match = _param(
            request.headers.get("if-none-match"),
            "If-None-Match",
            ("header", "If-None-Match"),
            failures,
        )
        if failures:
            return _invalid(failures)
        deals = [_deal(t).to_dict() for t in self.market.deals(relative_time_ms(relative))]
        body = json.dumps(deals, separators=(",", ":"), allow_nan=False).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="application/json", headers={"ETag": etag})

    # -- generation 2: auth ---------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """``POST /auth/oauth/v2/token``."""
        form = await _form(request)
        if isinstance(form, list):
            return _invalid(form)
        failures = validate(form, SCHEMAS["TokenRequest"], ("body",))
        if failures:
            return _invalid(failures)
        if form["client_id"] != OAUTH_CLIENT_ID:
            return _unauthorized(f"Unknown client_id {form['client_id']!r}")
        try:
            if form["grant_type"] == "password":
                username, password = form.get("username"), form.get("password")
                if username is None or password is None:
                    return _oauth_error(
                        "invalid_request", "The password grant needs username and password"
                    )
                issued = self.market.issue_token(username, password)
            else:
                refresh = form.get("refresh_token")
                if refresh is None:
                    return _oauth_error(
                        "invalid_request", "The refresh_token grant needs refresh_token"
                    )
                issued = self.market.refresh_token(refresh)
        except AuthError as exc:
            return _oauth_error("invalid_grant", exc.description)
        return _json(
            rest.TokenResponse(
                access_token=issued.access_token,
                expires_in=issued.expires_in,
                token_type=issued.token_type,
                refresh_token=issued.refresh_token,
                refresh_expires_in=issued.refresh_expires_in,
            ),
            headers={"Cache-Control": "no-store"},
        )

    # -- generation 2: orders -------------------------------------------------------------------

    async def create_order(self, request: Request) -> Response:
        """``POST /api/v1/order/``."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        body, failures = await _json_body(request)
        if not failures:
            failures = validate(body, SCHEMAS["OrderRequest"], ("body",))
        if failures:
            return _invalid(failures)
        try:
            result = self.market.place_order(user, body)
        except OrderInputError as exc:
            return _invalid([Failure(exc.loc, exc.msg, exc.type)])
        if result.rejected is not None:
            return _invalid([_rejection(result.rejected)])
        assert result.order_id is not None
        view = self.market.get_order(user, result.order_id)
        assert view is not None
        return _json(_order(view))

    async def list_orders(self, request: Request) -> Response:
        """``GET /api/v1/order/``."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        failures: list[Failure] = []
        status = _param(_last(request, "status"), "OrderStatus", ("query", "status"), failures)
        side = _param(_last(request, "side"), "Side", ("query", "side"), failures)
        limit, offset = self._page(request, failures)
        if failures:
            return _invalid(failures)
        total, views = self.market.list_orders(
            user,
            status=OrderStatus(status) if status is not None else None,
            side=Side(side) if side is not None else None,
            limit=limit,
            offset=offset,
        )
        return _json(rest.OrderList(total=total, items=[_order(v) for v in views]))

    @staticmethod
    def _page(request: Request, failures: list[Failure]) -> tuple[int, int]:
        limit = _param(_last(request, "limit"), "Limit", ("query", "limit"), failures)
        offset = _param(_last(request, "offset"), "Offset", ("query", "offset"), failures)
        return limit if limit is not None else 0, offset if offset is not None else 0

    def _order_id(self, request: Request, failures: list[Failure]) -> int:
        raw = request.path_params["order_id"]
        value = _param(raw, "OrderId", ("path", "order_id"), failures)
        return value if value is not None else 0

    async def get_order(self, request: Request) -> Response:
        """``GET /api/v1/order/{order_id}``."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        failures: list[Failure] = []
        order_id = self._order_id(request, failures)
        if failures:
            return _invalid(failures)
        view = self.market.get_order(user, order_id)
        if view is None:
            return _detail(404, f"No order {order_id}")
        return _json(_order(view))

    async def cancel_order(self, request: Request) -> Response:
        """``POST /api/v1/order/{order_id}/cancel``."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        failures: list[Failure] = []
        order_id = self._order_id(request, failures)
        if failures:
            return _invalid(failures)
        result = self.market.cancel_order(user, order_id)
        if result.error in (ActionError.NOT_FOUND, ActionError.NOT_OWNER):
            return _detail(404, f"No order {order_id}")
        if result.error is not None:
            return _detail(409, result.reason or f"Order {order_id} cannot be cancelled")
        view = self.market.get_order(user, order_id)
        assert view is not None
        return _json(_order(view))

    # -- generation 2: contracts ----------------------------------------------------------------

    async def list_contracts(self, request: Request) -> Response:
        """``GET /api/v1/contract/``."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        failures: list[Failure] = []
        status = _param(_last(request, "status"), "ContractStatus", ("query", "status"), failures)
        limit, offset = self._page(request, failures)
        if failures:
            return _invalid(failures)
        total, contracts = self.market.list_contracts(
            user,
            status=ContractStatus(status) if status is not None else None,
            limit=limit,
            offset=offset,
        )
        return _json(rest.ContractList(total=total, items=[_contract(c) for c in contracts]))

    async def get_contract(self, request: Request) -> Response:
        """``GET /api/v1/contract/{contract_id}``."""
        user = self._user(request)
        if isinstance(user, Response):
            return user
        failures: list[Failure] = []
        raw = request.path_params["contract_id"]
        contract_id = _param(raw, "contract_id", ("path", "contract_id"), failures)
        if failures:
            return _invalid(failures)
        contract = self.market.get_contract(user, contract_id)
        if contract is None:
            return _detail(404, f"No contract {contract_id}")
        return _json(_contract(contract))


def _etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag`` (weak comparison, ``*`` matches)."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _rejection(rejected: Rejected) -> Failure:
    """The 422 item for an order the engine refused."""
    field = rejected.field
    loc = _REJECT_LOC.get(field or "", ("body", field) if field else ("body",))
    kinds = {"invalid": "value_error", "expired_at_arrival": "expired", "duplicate": "duplicate"}
    return Failure(loc, rejected.reason, kinds.get(rejected.code.value, "value_error"))


# --------------------------------------------------------------------------------------------
# WebSocket streams

Frame = str
_BOOK_CHANGED = ""  # queue marker: send the order book snapshot of the latest change


def _encode_text(model: Any) -> Frame:
    return msgspec.json.encode(model).decode()


def _update_frames(update: MarketUpdate, kinds: frozenset[str]) -> UpdateFrames:
    """An update's frames for every stream, each event encoded once (see `_stream_hub`)."""
    out = UpdateFrames()
    if "ticker" in kinds:
        ticker = _ticker_frames(update)
        if ticker:
            out.broadcast["ticker"] = ticker
    if "orderbook" in kinds and update.book_changed(2):
        out.broadcast["orderbook"] = [_BOOK_CHANGED]
    if "trade" in kinds:
        for item in update.events:
            if item.generation != 2:
                continue
            frame = _trade_frame(item.event)
            if frame is not None:
                for user_id in item.users:
                    out.per_user.setdefault(user_id, []).append(frame)
    return out


def _trade_frame(event: object) -> Frame | None:
    """The trade-stream frame of one event (order or contract status), or None."""
    if isinstance(event, OrderStatusChanged):
        data = msg.OrderStatusData(
            order_id=event.order_id,
            status=msg.OrderStatus(event.status.value),
            timestamp=_utc(event.time_ms),
            side=msg.Side(event.side.value),
            power=event.power,
            filled_power=event.filled_power,
        )
        return _encode_text(msg.OrderStatusUpdate(data=data))
    if isinstance(event, (ContractCreated, ContractStatusChanged)):
        c = event.contract
        time_ms = event.time_ms if isinstance(event, ContractStatusChanged) else c.created_ms
        cdata = msg.ContractStatusData(
            contract_id=c.contract_id,
            status=msg.ContractStatus(c.status.value),
            settlement_status=msg.SettlementStatus(c.settlement_status.value),
            verification_status=msg.VerificationStatus(c.verification_status.value),
            timestamp=_utc(time_ms),
            buy_order_id=c.buy_order_id,
            sell_order_id=c.sell_order_id,
        )
        return _encode_text(msg.ContractStatusUpdate(data=cdata))
    return None


def _ticker_frames(update: MarketUpdate) -> list[Frame]:
    frames: list[Frame] = []
    for item in update.events:
        event = item.event
        if isinstance(event, Trade) and event.generation == 2:
            data = msg.TickerData(
                price=event.price,
                power=event.power,
                energy=event.energy,
                delivery_start=_utc(event.delivery_start_ms),
                delivery_end=_utc(event.delivery_end_ms),
                trade_time=_utc(event.time_ms),
                country_code=event.country_code,
            )
            frames.append(_encode_text(msg.Ticker(data=data)))
    return frames


def _level(level: BookLevel) -> msg.BookLevel:
    return msg.BookLevel(
        price=level.price,
        power=level.power,
        delivery_start=_utc(level.delivery_start_ms),
        delivery_end=_utc(level.delivery_end_ms),
        orders=level.orders,
    )


def orderbook_frame(market: SandboxMarket, depth: int = 20) -> Frame:
    """The order book message of the market's generation-2 book now."""
    snapshot = market.book_snapshot(depth, generation=2)
    data = msg.OrderbookData(
        timestamp=_utc(snapshot.time_ms),
        bids=[_level(lv) for lv in snapshot.bids],
        asks=[_level(lv) for lv in snapshot.asks],
    )
    return _encode_text(msg.Orderbook(data=data))


_STREAMS = ("trade", "ticker", "orderbook")


def _stream_hub(market: SandboxMarket) -> StreamHub:
    """The app's one fan-out point for every stream connection."""
    return StreamHub(
        market,
        frames=_update_frames,
        snapshot=orderbook_frame,
        book_changed=lambda update: update.book_changed(2),
        user_kind="trade",
    )


def _stream_endpoint(
    market: SandboxMarket, hub: StreamHub, kind: str
) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        token = _bearer(websocket.headers)
        try:
            if token is None:
                raise AuthError("Not authenticated", "invalid_token")
            account = market.user_for_bearer(token)
        except AuthError as exc:
            await _deny(websocket, exc.description)
            return
        await websocket.accept()
        queue: asyncio.Queue[Frame] = asyncio.Queue(_STREAM_QUEUE)

        def put(frame: Frame) -> None:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled client loses events
                queue.put_nowait(frame)

        # Attach before announcing the stream: an event between the two would be lost.
        detach = hub.attach(kind, account.user_id, put)
        try:
            await websocket.send_text(CONTROL_MESSAGE.decode())
            if kind == "orderbook":
                put(_BOOK_CHANGED)
            await _pump(websocket, queue, hub)
        finally:
            detach()

    endpoint.__doc__ = f"The ``{kind}`` stream."
    return endpoint


async def _pump(websocket: WebSocket, queue: asyncio.Queue[Frame], hub: StreamHub) -> None:
    """Send queued frames until the client disconnects."""

    async def receive_until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return

    async def send_frames() -> None:
        while True:
            frame = await queue.get()
            if frame == _BOOK_CHANGED:
                # The order book stream queues only these markers: one snapshot answers all.
                while not queue.empty():
                    queue.get_nowait()
                frame = hub.book_frame()
            await websocket.send_text(frame)

    receiver = asyncio.ensure_future(receive_until_closed())
    sender = asyncio.ensure_future(send_frames())
    try:
        done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, (WebSocketDisconnect, OSError)):
                raise exc
    finally:
        for task in (receiver, sender):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(receiver, sender, return_exceptions=True)


async def _deny(websocket: WebSocket, detail: str) -> None:
    """Refuse an upgrade: HTTP 401 if the server can send it, else close with 1008."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(_unauthorized(detail))
    else:
        await websocket.close(code=1008, reason=detail[:100])


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
            return _detail(500, "Internal server error")

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
    return _detail(exc.status_code, str(exc.detail), exc.headers)


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
    api = _Api(market)
    operations: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {
        "/users/login": {"POST": api.login},
        "/users/mptoken/{token}": {"GET": api.mptoken},
        "/deals/": {"GET": api.deals},
        "/auth/oauth/v2/token": {"POST": api.token},
        "/api/v1/order/": {"POST": api.create_order, "GET": api.list_orders},
        "/api/v1/order/{order_id}": {"GET": api.get_order},
        "/api/v1/order/{order_id}/cancel": {"POST": api.cancel_order},
        "/api/v1/contract/": {"GET": api.list_contracts},
        "/api/v1/contract/{contract_id}": {"GET": api.get_contract},
    }
    routes: list[Route | WebSocketRoute] = [
        Route(path, _dispatch(handlers), methods=list(handlers))
        for path, handlers in operations.items()
    ]
    hub = _stream_hub(market)
    for kind in _STREAMS:
        routes.append(WebSocketRoute(f"/api/v1/ws/{kind}/", _stream_endpoint(market, hub, kind)))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.market = market
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s)
    if rate_limit is not None:  # outside the body limit: a limited client's body is not read
        app.add_middleware(_RateLimiter, limit=rate_limit, market=market)
    return app
