"""Request primitives of the REST client, free of I/O and of any client: the lowest REST layer.

What one call is (:class:`Operation`, :class:`PreparedRequest`), how it becomes an
``httpx.Request`` (:func:`build_request`, :func:`make_timeout`, :func:`join_url`), how a response
becomes a model or an error (:func:`parse_with`, :func:`error_for_response`,
:func:`translate_transport_error`) and :class:`RawResponse`. The auth plugin, the adapter to the
generated client (``flxtrd._rest._operations``), the protocols and both clients build on these, and
this module imports none of them, so nothing here can start an import circle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from flxtrd._defaults import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_POOL_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    LOGIN_PATH,
    MPTOKEN_PATH,
    RETRY_OPT_IN_EXTENSION,
    TOKEN_PATH,
)
from flxtrd._errors import (
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    FlexValidationError,
    MessageDecodeError,
    status_error_for,
)
from flxtrd._log import redact, redact_url, register_secret
from flxtrd._rest._model_check import check_model
from flxtrd._retry import is_certificate_error
from flxtrd._validation import require_wait

__all__ = [
    "Operation",
    "PreparedRequest",
    "RawResponse",
    "build_request",
    "error_for_response",
    "join_url",
    "make_timeout",
    "parse_with",
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

    The parsed model is type-checked field by field (``flxtrd._rest._model_check``): a wrong-typed
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
