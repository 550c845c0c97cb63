"""The core shared by :class:`~flxtrd.FlexAPIClient` and :class:`~flxtrd.AsyncFlexAPIClient`.

Everything here is free of I/O: configuration (market, broker, user, TLS, timeouts, retries),
request building, the plugin chain, error mapping and response assembly. The sync and async
clients add only the sending (``httpx.Client`` vs ``httpx.AsyncClient``, sync vs async plugin
hooks and auth).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from flxtrd._compat._config import require_user_and_market
from flxtrd._config import (
    MarketEndpoint,
    resolve_broker_url,
    resolve_ca_bundle,
    resolve_market,
    resolve_user,
)
from flxtrd._defaults import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_POOL_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    LOGIN_PATH,
    MPTOKEN_PATH,
    RETRY_OPT_IN_EXTENSION,
    TOKEN_PATH,
    USER_AGENT,
)
from flxtrd._errors import (
    ConfigurationError,
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    FlexValidationError,
    MessageDecodeError,
    status_error_for,
)
from flxtrd._log import redact, redact_url, register_secret
from flxtrd._model_check import check_model
from flxtrd._plugins import BasePlugin, PluginChain
from flxtrd._retry import RetryPolicy, is_certificate_error
from flxtrd._types import FlexResponse, Market, User
from flxtrd._validation import require_wait

if TYPE_CHECKING:
    from flxtrd._auth import AuthPlugin

__all__ = [
    "BaseFlexAPIClient",
    "Operation",
    "PreparedRequest",
    "RawResponse",
    "build_request",
    "error_for_response",
    "join_url",
    "make_timeout",
    "register_response_secrets",
    "translate_transport_error",
]

T = TypeVar("T")


# --- request building ------------------------------------------------------------------------


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """The client's timeout: ``None`` means the defaults of ``flxtrd._defaults`` (never "none").

    A number is seconds, finite and > 0; an ``httpx.Timeout``'s ``connect``, ``read``,
    ``write`` and ``pool`` must each be that or ``None`` (no limit, as httpx documents it).
    """
    if isinstance(timeout, httpx.Timeout):
        for phase, value in timeout.as_dict().items():
            if value is not None:
                require_wait(f"timeout.{phase}", value, positive=True, none_means="no limit")
        return timeout
    if timeout is None:
        return httpx.Timeout(
            DEFAULT_TIMEOUT_S, connect=DEFAULT_CONNECT_TIMEOUT_S, pool=DEFAULT_POOL_TIMEOUT_S
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise FlexValidationError(
            "timeout", "must be a number of seconds or httpx.Timeout", timeout
        )
    return httpx.Timeout(require_wait("timeout", timeout, positive=True))


def join_url(base_url: str, endpoint: str) -> str:
    """``base_url`` + ``endpoint`` (a path, optionally with a query); absolute URLs are refused.

    Refusing absolute URLs keeps credentials (the ``Authorization`` header) on the market host.
    """
    if not isinstance(endpoint, str):
        raise FlexValidationError(
            "endpoint", "must be a path string such as '/users/login'", endpoint
        )
    if "://" in endpoint or endpoint.startswith("//"):
        raise FlexValidationError(
            "endpoint", "must be a path on the market, not an absolute URL", redact_url(endpoint)
        )
    if not endpoint.startswith("/"):
        endpoint = "/" + endpoint
    return base_url + endpoint


@dataclass
class PreparedRequest:
    """A request before plugins ran: plugins may still change ``headers`` (auth adds a token)."""

    method: str
    url: str = field(repr=False)  # may carry a device token (/users/mptoken/...)
    params: Any = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # Authorization
    data: Any = field(default=None, repr=False)  # login forms carry passwords
    json: Any = field(default=None, repr=False)
    content: bytes | None = field(default=None, repr=False)
    retry_non_idempotent: bool = False
    timeout: httpx.Timeout | None = None


def build_request(prepared: PreparedRequest, timeout: httpx.Timeout) -> httpx.Request:
    """Turn a prepared request into an ``httpx.Request`` carrying its timeout (and retry opt-in)."""
    extensions: dict[str, Any] = {"timeout": (prepared.timeout or timeout).as_dict()}
    if prepared.retry_non_idempotent:
        extensions[RETRY_OPT_IN_EXTENSION] = True
    url: str | httpx.URL = prepared.url
    if prepared.params:
        url = httpx.URL(url).copy_merge_params(prepared.params)  # keep the endpoint's own query
    return httpx.Request(
        prepared.method,
        url,
        headers=prepared.headers,
        data=prepared.data,
        json=prepared.json,
        content=prepared.content,
        extensions=extensions,
    )


# --- error mapping ---------------------------------------------------------------------------


def error_for_response(response: httpx.Response) -> FlexStatusError | None:
    """``None`` for a 2xx response, else the fitting :class:`~flxtrd.FlexStatusError` subclass."""
    if 200 <= response.status_code < 300:
        return None
    return status_error_for(response.status_code, response)


def translate_transport_error(exc: httpx.HTTPError, request: httpx.Request) -> FlexError:
    """The flxtrd error for an httpx transport failure; secrets are redacted from the message."""
    where = f"{request.method} {redact_url(str(request.url))}"
    # The httpx error stays the __cause__; scrub registered secrets from its message too, since
    # tracebacks print it (e.g. a URL with a device token in the path).
    exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and is_certificate_error(exc):
        return FlexConnectionError(
            f"{where}: TLS certificate verification failed ({detail}); pass ca_bundle=... to"
            " trust a private CA, or verify_ssl=False for a self-signed development server"
        )
    if isinstance(exc, httpx.TimeoutException):
        return FlexTimeoutError(f"{where} timed out ({type(exc).__name__}): {detail}")
    return FlexConnectionError(f"{where} failed ({type(exc).__name__}): {detail}")


# --- typed operations ------------------------------------------------------------------------


@dataclass(slots=True)
class Operation(Generic[T]):
    """One typed REST call: how to send it and how to parse a success into a generated model.

    ``ok_statuses`` are parsed with ``parse``; any other status raises the mapped error.
    """

    name: str
    method: str
    path: str = field(repr=False)  # may carry a device token (/users/mptoken/...)
    parse: Callable[[httpx.Response], T] = field(repr=False)
    params: Mapping[str, Any] | None = field(default=None, repr=False)
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    json: Any = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)  # login and token forms carry passwords
    ok_statuses: frozenset[int] = frozenset({200})
    retry_non_idempotent: bool = False


@dataclass
class RawResponse(Generic[T]):
    """A typed call's result with the raw ``httpx.Response`` and the plugin data beside it."""

    http_response: httpx.Response
    parsed: T
    plugin_data: dict[str, Any] | None = None

    @property
    def status_code(self) -> int:
        """The HTTP status of the response."""
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (e.g. ``ETag``)."""
        return self.http_response.headers

    def json(self) -> Any:
        """The response body parsed as JSON."""
        return self.http_response.json()


def parse_with(op: Operation[T], response: httpx.Response) -> T:
    """Parse a success response of ``op``; malformed bodies become MessageDecodeError.

    The parsed model is type-checked field by field (``flxtrd._model_check``): a wrong-typed
    field (``"power": "lots"``, ``"price": null``) is a MessageDecodeError naming the field.
    """
    try:
        parsed = op.parse(response)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MessageDecodeError(
            redact(
                f"{op.name}: the response body does not match the spec"
                f" ({type(exc).__name__}: {exc})"
            )
        ) from exc
    check_model(parsed, op.name)
    return parsed


_AUTH_PATHS = (LOGIN_PATH, MPTOKEN_PATH, TOKEN_PATH)
_SECRET_SEARCH_DEPTH = 4


def _token_values(body: Any, depth: int = 0) -> Iterator[str]:
    """The string values of keys naming a token (``token``, ``access_token``, ...) in ``body``."""
    if depth > _SECRET_SEARCH_DEPTH:
        return
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str) and isinstance(key, str) and "token" in key.lower():
                yield value
            elif isinstance(value, (dict, list)):
                yield from _token_values(value, depth + 1)
    elif isinstance(body, list):
        for item in body:
            yield from _token_values(item, depth + 1)


def register_response_secrets(response: httpx.Response) -> None:
    """Register the tokens of an auth call's answer (``/users/login``, ``/users/mptoken/``,
    the OAuth2 token endpoint) that user code made with ``make_request``, so they are redacted
    from logs as the ones the auth plugin obtains are."""
    if not response.is_success or not any(p in response.request.url.path for p in _AUTH_PATHS):
        return
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        return
    register_secret(*_token_values(body))


# --- the client core -------------------------------------------------------------------------


class BaseFlexAPIClient:
    """Configuration, request building, plugins and error mapping shared by both clients."""

    _auth: AuthPlugin | None

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

    def _new_auth_plugin(self) -> AuthPlugin:
        """The default auth plugin for this client's user and market."""
        from flxtrd._auth import AuthPlugin

        return AuthPlugin(self.user, location_id=self.location_id, clock=self._clock)

    def _install_plugins(self, plugins: Iterable[BasePlugin] | None) -> None:
        """Add the given plugins; prepend the default AuthPlugin unless one was given."""
        from flxtrd._auth import AuthPlugin

        given = list(plugins or ())
        if not any(isinstance(p, AuthPlugin) for p in given):
            given.insert(0, self._new_auth_plugin())
        for plugin in given:
            self.add_plugin(plugin)

    @property
    def plugins(self) -> list[BasePlugin]:
        """The plugins in the order their hooks run (a copy; use add_plugin/remove_plugin)."""
        return list(self._chain.plugins)

    @property
    def auth(self) -> AuthPlugin | None:
        """The client's :class:`~flxtrd.AuthPlugin`, if one is installed."""
        return self._auth

    def add_plugin(self, plugin: BasePlugin) -> None:
        """Add a plugin; one of the same type already present wins (as in flxtrd 0.2.9)."""
        from flxtrd._auth import AuthPlugin

        if not isinstance(plugin, BasePlugin):
            raise FlexValidationError("plugin", "must be a BasePlugin", plugin)
        is_auth = isinstance(plugin, AuthPlugin)
        if self._chain.add(plugin, first=is_auth) and is_auth:
            assert isinstance(plugin, AuthPlugin)
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
