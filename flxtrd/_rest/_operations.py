"""flxtrd's one adapter to the generated REST package ``glocalflex_rest``: typed operations.

Each ``*_op`` function checks its path and query arguments (a clear error naming the field,
before anything is sent), takes the call's method, path, parameters and body from the generated
``_get_kwargs`` and parses success bodies with the generated ``_parse_response``, so a spec change
reaches the client by regeneration alone. The result is an :class:`._http.Operation`: no
I/O here; the clients send it (``flxtrd._client._async_client``) and the auth plugin sends its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

import httpx
from glocalflex_rest.api.auth import get_token
from glocalflex_rest.api.contracts import get_contract, list_contracts
from glocalflex_rest.api.gen1 import get_user_by_mptoken, list_deals, login_user
from glocalflex_rest.api.orders import cancel_order, create_order, get_order, list_orders
from glocalflex_rest.client import Client as _GeneratedClient
from glocalflex_rest.models import (
    Contract,
    ContractList,
    ContractStatus,
    Deal,
    LoginForm,
    LoginResponse,
    MptokenResponse,
    Order,
    OrderList,
    OrderRequest,
    OrderStatus,
    Side,
    TokenRequest,
    TokenRequestGrantType,
    TokenResponse,
)
from glocalflex_rest.types import UNSET

from flxtrd._defaults import OAUTH_CLIENT_ID
from flxtrd._errors import FlexValidationError
from flxtrd._rest._http import Operation

__all__ = [
    "cancel_order_op",
    "create_order_op",
    "get_contract_op",
    "get_order_op",
    "list_contracts_op",
    "list_deals_op",
    "list_orders_op",
    "login_op",
    "mptoken_op",
    "token_password_op",
    "token_refresh_op",
]

T = TypeVar("T")

# The generated parsers take a client only to read raise_on_unexpected_status; we map errors first.
_PARSER = _GeneratedClient(base_url="", raise_on_unexpected_status=False)
_RELATIVE_TIME = re.compile(r"^[1-9][0-9]{0,5}[smhd]$")
_MAX_LIMIT = 1000


_PARSERS: dict[str, Callable[[httpx.Response], Any]] = {}
_OK = frozenset({200})


def _parser(module: Any) -> Callable[[httpx.Response], Any]:
    """The generated module's ``_parse_response`` bound to the parser client (cached)."""
    parse = _PARSERS.get(module.__name__)
    if parse is None:
        generated = module._parse_response

        def parse(response: httpx.Response) -> Any:
            return generated(client=_PARSER, response=response)

        _PARSERS[module.__name__] = parse
    return parse


def _op(
    name: str,
    module: Any,
    kwargs: dict[str, Any],
    *,
    ok_statuses: frozenset[int] = _OK,
    retry_non_idempotent: bool = False,
) -> Operation[Any]:
    """An Operation from a generated module's ``_get_kwargs`` result and its ``_parse_response``."""
    return Operation(
        name=name,
        method=kwargs["method"].upper(),
        path=kwargs["url"],
        parse=_parser(module),
        params=kwargs.get("params") or None,
        headers=kwargs.get("headers") or None,
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        ok_statuses=ok_statuses,
        retry_non_idempotent=retry_non_idempotent,
    )


# --- validation of path and query arguments (before anything is sent) -----------------------


def _require_id(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FlexValidationError(field, "must be an integer >= 1", value)
    return value


def _require_enum(field: str, enum: Any, value: object) -> Any:
    if value is None:
        return UNSET
    raw = value.value if isinstance(value, enum) else value
    if not isinstance(raw, str) or raw not in enum._value2member_map_:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise FlexValidationError(field, f"must be one of {allowed}", value)
    return enum(raw)


def _require_page(limit: object, offset: object) -> tuple[Any, Any]:
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT
    ):
        raise FlexValidationError("limit", f"must be an integer in 1..{_MAX_LIMIT}", limit)
    if offset is not None and (
        isinstance(offset, bool) or not isinstance(offset, int) or offset < 0
    ):
        raise FlexValidationError("offset", "must be an integer >= 0", offset)
    return (UNSET if limit is None else limit), (UNSET if offset is None else offset)


# --- operations ------------------------------------------------------------------------------


def login_op(email: str, password: str) -> Operation[LoginResponse]:
    """``POST /users/login`` (generation 1)."""
    kwargs = login_user._get_kwargs(body=LoginForm(email=email, password=password))
    return _op("login_user", login_user, kwargs, retry_non_idempotent=True)


def mptoken_op(token: str) -> Operation[MptokenResponse]:
    """``GET /users/mptoken/{token}`` (generation 1)."""
    return _op("get_user_by_mptoken", get_user_by_mptoken, get_user_by_mptoken._get_kwargs(token))


def token_password_op(
    username: str, password: str, client_id: str = OAUTH_CLIENT_ID
) -> Operation[TokenResponse]:
    """``POST /auth/oauth/v2/token``, password grant (generation 2)."""
    body = TokenRequest(
        grant_type=TokenRequestGrantType.PASSWORD,
        client_id=client_id,
        username=username,
        password=password,
    )
    kwargs = get_token._get_kwargs(body=body)
    return _op("get_token", get_token, kwargs, retry_non_idempotent=True)


def token_refresh_op(
    refresh_token: str, client_id: str = OAUTH_CLIENT_ID
) -> Operation[TokenResponse]:
    """``POST /auth/oauth/v2/token``, refresh grant (generation 2)."""
    body = TokenRequest(
        grant_type=TokenRequestGrantType.REFRESH_TOKEN,
        client_id=client_id,
        refresh_token=refresh_token,
    )
    kwargs = get_token._get_kwargs(body=body)
    return _op("get_token", get_token, kwargs, retry_non_idempotent=True)


class _PreparedBody:
    """A validated JSON body standing in for ``OrderRequest`` in the generated ``_get_kwargs``."""

    __slots__ = ("_body",)

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def to_dict(self) -> dict[str, Any]:
        return self._body


def create_order_op(body: dict[str, Any], *, retry: bool = False) -> Operation[Order]:
    """``POST /api/v1/order/`` with an already validated body; retried only if ``retry``."""
    kwargs = create_order._get_kwargs(body=cast(OrderRequest, _PreparedBody(body)))
    return _op("create_order", create_order, kwargs, retry_non_idempotent=retry)


def list_orders_op(
    *, status: object = None, side: object = None, limit: object = None, offset: object = None
) -> Operation[OrderList]:
    """``GET /api/v1/order/``."""
    page_limit, page_offset = _require_page(limit, offset)
    kwargs = list_orders._get_kwargs(
        status=_require_enum("status", OrderStatus, status),
        side=_require_enum("side", Side, side),
        limit=page_limit,
        offset=page_offset,
    )
    return _op("list_orders", list_orders, kwargs)


def get_order_op(order_id: object) -> Operation[Order]:
    """``GET /api/v1/order/{order_id}``."""
    kwargs = get_order._get_kwargs(_require_id("order_id", order_id))
    return _op("get_order", get_order, kwargs)


def cancel_order_op(order_id: object) -> Operation[Order]:
    """``POST /api/v1/order/{order_id}/cancel``."""
    kwargs = cancel_order._get_kwargs(_require_id("order_id", order_id))
    return _op("cancel_order", cancel_order, kwargs)


def list_contracts_op(
    *, status: object = None, limit: object = None, offset: object = None
) -> Operation[ContractList]:
    """``GET /api/v1/contract/``."""
    page_limit, page_offset = _require_page(limit, offset)
    kwargs = list_contracts._get_kwargs(
        status=_require_enum("status", ContractStatus, status), limit=page_limit, offset=page_offset
    )
    return _op("list_contracts", list_contracts, kwargs)


def get_contract_op(contract_id: object) -> Operation[Contract]:
    """``GET /api/v1/contract/{contract_id}``."""
    kwargs = get_contract._get_kwargs(_require_id("contract_id", contract_id))
    return _op("get_contract", get_contract, kwargs)


def list_deals_op(
    relative_time: str = "1h", *, if_none_match: str | None = None
) -> Operation[list[Deal] | None]:
    """``GET /deals/`` (generation 1); a 304 (with ``if_none_match``) parses as ``None``."""
    if not isinstance(relative_time, str) or not _RELATIVE_TIME.match(relative_time):
        raise FlexValidationError(
            "relative_time", "must be a count and a unit s, m, h or d, e.g. '1h'", relative_time
        )
    kwargs = list_deals._get_kwargs(
        relative_time=relative_time, if_none_match=UNSET if if_none_match is None else if_none_match
    )
    return _op("list_deals", list_deals, kwargs, ok_statuses=frozenset({200, 304}))
