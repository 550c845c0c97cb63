"""The REST protocol (pooled httpx clients, timeouts, retries) and the generated-client adapter.

:class:`RestAPI` (sync) and :class:`AsyncRestAPI` own one connection pool each (an
``httpx.Client`` / ``httpx.AsyncClient`` whose transport is wrapped in the retrying transport of
``flxtrd._retry``) and translate httpx failures into :class:`~flxtrd.FlexConnectionError` /
:class:`~flxtrd.FlexTimeoutError` at the boundary. Every network edge is injectable:
``transport=`` (wrapped with retries; e.g. ``httpx.MockTransport`` in tests) or ``http_client=``
(used as given). ``sandbox://`` mounts ``flxtrd.sandbox.embedded_transport()``.

This module is also flxtrd's one adapter to the generated package ``glocalflex_rest``: the
``*_op`` functions take each call's method, path, parameters and body from the generated
``_get_kwargs`` and parse success bodies with the generated ``_parse_response``, so a spec change
reaches the client by regeneration alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable
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

from flxtrd._base_client import (
    Operation,
    PreparedRequest,
    build_request,
    error_for_response,
    make_timeout,
    translate_transport_error,
)
from flxtrd._config import MarketEndpoint, make_verify, normalize_market_url
from flxtrd._defaults import OAUTH_CLIENT_ID, USER_AGENT
from flxtrd._errors import ConfigurationError, FlexError, FlexValidationError
from flxtrd._log import secrets_filter
from flxtrd._retry import AsyncRetryTransport, RetryPolicy, RetryTransport

__all__ = [
    "AsyncRestAPI",
    "RestAPI",
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

# httpx logs every request URL at INFO ("HTTP Request: GET .../users/mptoken/<token>") and httpcore
# logs connection events at DEBUG; redact registered secrets there too. A filter only, no handler.
for _name in (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
):
    _third_party_logger = logging.getLogger(_name)
    if secrets_filter not in _third_party_logger.filters:
        _third_party_logger.addFilter(secrets_filter)

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


# --- the protocol ----------------------------------------------------------------------------


def _sandbox_transport(is_async: bool) -> Any:
    """The embedded sandbox's in-process transport (imported only when ``sandbox://`` is used)."""
    from flxtrd import sandbox

    name = "embedded_async_transport" if is_async else "embedded_transport"
    factory = getattr(sandbox, name, None)
    if factory is None:
        raise ConfigurationError(f"sandbox:// needs flxtrd.sandbox.{name}(), which is missing")
    return factory()


class _RestCore:
    """Configuration shared by :class:`RestAPI` and :class:`AsyncRestAPI`."""

    def __init__(
        self,
        base_url: str | MarketEndpoint | None = None,
        *,
        verify_ssl: bool = True,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if isinstance(base_url, MarketEndpoint):
            self.endpoint = base_url
        else:
            self.endpoint = normalize_market_url(base_url or "", field="base_url")
        self.base_url = self.endpoint.base_url
        self.verify_ssl = verify_ssl
        self._verify = make_verify(verify_ssl, ca_bundle)
        self.timeout = make_timeout(timeout)
        self.retry_policy = retry_policy if retry_policy is not None else RetryPolicy()

    def _compat_request(
        self,
        method: str,
        endpoint: str,
        params: Any,
        data: Any,
        json: Any,
        headers: dict[str, str] | None,
        ssl: bool,
    ) -> httpx.Request:
        """The request of flxtrd 0.2.9's ``send_request`` (no plugins, no auth)."""
        url = self.base_url + (endpoint if endpoint.startswith("/") else "/" + endpoint)
        if not ssl and url.startswith("https://"):
            url = "http://" + url[len("https://") :]
        prepared = PreparedRequest(
            method=method.upper(),
            url=url,
            params=params,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            data=data,
            json=json,
        )
        return build_request(prepared, self.timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r}>"


class RestAPI(_RestCore):
    """The sync REST protocol: one ``httpx.Client`` pool with timeouts and retries.

    ``RestAPI(base_url="glocalflexmarket.com")`` works as in flxtrd 0.2.9. Pass ``transport=`` (an
    ``httpx.BaseTransport``, wrapped with retries) or ``http_client=`` (used as given) to choose
    the network edge; ``sleep``, ``clock`` and ``random`` reach the retry transport (tests).
    """

    def __init__(
        self,
        base_url: str | MarketEndpoint | None = None,
        *,
        verify_ssl: bool = True,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            verify_ssl=verify_ssl,
            ca_bundle=ca_bundle,
            timeout=timeout,
            retry_policy=retry_policy,
        )
        self._owns_http = http_client is None
        if http_client is not None:
            self._http = http_client
            return
        if transport is None and self.endpoint.sandbox:
            transport = cast(httpx.BaseTransport, _sandbox_transport(is_async=False))
        if transport is None:
            transport = httpx.HTTPTransport(verify=self._verify)
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if clock is not None:
            extra["clock"] = clock
        if random is not None:
            extra["random"] = random
        self._http = httpx.Client(
            transport=RetryTransport(transport, self.retry_policy, **extra),
            timeout=self.timeout,
            verify=self._verify,
        )

    @property
    def http_client(self) -> httpx.Client:
        """The underlying ``httpx.Client`` (one pool per client)."""
        return self._http

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send a built request; httpx failures become FlexConnectionError / FlexTimeoutError."""
        try:
            return self._http.send(request)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc, request) from exc

    def send_request(
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        ssl: bool = True,
        verify_ssl: bool = True,
        *,
        json: Any = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response | None, FlexError | None]:
        """flxtrd 0.2.9's call: ``(response, err)``; ``err`` is None only for 2xx.

        ``verify_ssl`` is fixed per client (constructor); extra keyword arguments are ignored
        as in 0.2.9.
        """
        try:
            response = self.send(
                self._compat_request(method, endpoint, params, data, json, headers, ssl)
            )
        except FlexError as err:
            return None, err
        return response, error_for_response(response)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __del__(self) -> None:
        # Code written for 0.2.9 never closes its client; release the pool's sockets when the
        # client is collected (as anthropic's SyncHttpxClientWrapper does). Not for a given client.
        http = getattr(self, "_http", None)
        if http is not None and getattr(self, "_owns_http", False) and not http.is_closed:
            with contextlib.suppress(Exception):  # best effort during garbage collection
                http.close()

    def __enter__(self) -> RestAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRestAPI(_RestCore):
    """The async REST protocol: one ``httpx.AsyncClient`` pool with timeouts and retries."""

    def __init__(
        self,
        base_url: str | MarketEndpoint | None = None,
        *,
        verify_ssl: bool = True,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            verify_ssl=verify_ssl,
            ca_bundle=ca_bundle,
            timeout=timeout,
            retry_policy=retry_policy,
        )
        self._owns_http = http_client is None
        if http_client is not None:
            self._http = http_client
            return
        if transport is None and self.endpoint.sandbox:
            transport = cast(httpx.AsyncBaseTransport, _sandbox_transport(is_async=True))
        if transport is None:
            transport = httpx.AsyncHTTPTransport(verify=self._verify)
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if clock is not None:
            extra["clock"] = clock
        if random is not None:
            extra["random"] = random
        self._http = httpx.AsyncClient(
            transport=AsyncRetryTransport(transport, self.retry_policy, **extra),
            timeout=self.timeout,
            verify=self._verify,
        )

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The underlying ``httpx.AsyncClient`` (one pool per client)."""
        return self._http

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send a built request; httpx failures become FlexConnectionError / FlexTimeoutError."""
        try:
            return await self._http.send(request)
        except httpx.HTTPError as exc:
            raise translate_transport_error(exc, request) from exc

    async def send_request(
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        ssl: bool = True,
        verify_ssl: bool = True,
        *,
        json: Any = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response | None, FlexError | None]:
        """Async twin of :meth:`RestAPI.send_request`."""
        try:
            response = await self.send(
                self._compat_request(method, endpoint, params, data, json, headers, ssl)
            )
        except FlexError as err:
            return None, err
        return response, error_for_response(response)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRestAPI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
