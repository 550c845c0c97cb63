"""Where the client connects and as whom: market URL, broker URL and credentials.

Each setting comes from the constructor argument, else from the environment, else a default.

Environment variables
---------------------

``FLXTRD_MARKET_URL``
    The market's REST API, when neither ``base_url=``/``market_url=`` nor ``market=`` is given.
    Without any of them a client raises ``ValueError``, as flxtrd 0.2.9 did
    (``flxtrd._compat._config``); a ``FlexMarket(market_url=None)`` without the variable is the
    public test deployment ``https://test.glocalflexmarket.com``.
``FLXTRD_BROKER_URL``
    The AMQP broker, e.g. ``amqps://glocalflexmarket.com:5671//`` or
    ``amqp://127.0.0.1:5672//``, when ``broker_url=`` is not given. It takes precedence over
    ``market.broker`` (the seed always passes ``Broker(ip=<market host>)``); without it the broker
    is ``amqps://<broker host>:<broker port, 5671>//`` from ``market.broker``, else from the
    market host.
``FLXTRD_USERNAME``, ``FLXTRD_PASSWORD``
    The account's e-mail and password, for whatever the ``user=`` argument leaves unset
    (generation-1 login and the generation-2 OAuth2 password grant).
    Without ``user=``, ``access_token=``, ``FLXTRD_ACCESS_TOKEN`` or ``FLXTRD_USERNAME`` a client
    raises ``ValueError``, as flxtrd 0.2.9 did.
``FLXTRD_ACCESS_TOKEN``
    The device (metering point) access token, when neither ``user=`` nor ``access_token=`` sets
    one (generation-1: the broker password; its location is the application key).
``FLXTRD_CA_BUNDLE``
    A PEM file of CA certificates to verify the market's TLS certificate against, when
    ``ca_bundle=`` is not given: REST, the WebSocket streams and an ``amqps://`` broker. A file
    that is missing, unreadable or holds no certificate is a ``FlexValidationError`` naming the
    variable, raised when the client is made.

URL rules
---------

- A bare host (``"localhost"``, ``"glocalflexmarket.com"``, ``"10.0.0.5:8443"``) means HTTPS:
  ``https://<host>``, on port 443 unless the host or ``Market(market_port=...)`` names another.
- A full URL with scheme ``http`` or ``https`` is kept as written (port and path prefix too;
  a trailing ``/`` is dropped).
- ``sandbox://`` selects the embedded sandbox market: requests go to an in-process transport
  (``flxtrd.sandbox.embedded_transport()``) and the broker is ``memory://``.
- ``sandbox://host:port`` selects a served sandbox (``python -m flxtrd sandbox``): plain HTTP to
  ``host:port`` and, unless ``FLXTRD_BROKER_URL`` says otherwise, the broker
  ``amqp://host:5672//``.
- ``sandbox+https://host:port`` selects a served sandbox started with ``--certfile/--keyfile``:
  HTTPS (and WSS) to ``host:port`` (port 443 if none), verified against ``FLXTRD_CA_BUNDLE``
  (the sandbox's certificate, for a self-signed one) or the system's CAs. The sandbox does not
  terminate AMQP TLS (that is RabbitMQ's own configuration), so the broker is the same
  ``amqp://host:5672//`` unless ``FLXTRD_BROKER_URL`` names another (``amqps://host:5671//`` on a
  RabbitMQ with a TLS listener). ``python -m flxtrd sandbox`` prints the exact lines.

The sandbox redirect
--------------------
Arguments win over the environment, with one exception: ``FLXTRD_MARKET_URL=sandbox://...``
redirects *every* client of the process to that sandbox, whatever market the code names. A
redirect to a local sandbox can never send an order anywhere real, and it lets example code
written for the market (such as the seed README's, which passes ``base_url="localhost"``) run
unchanged, offline, with one environment variable.

TLS certificates are verified by default; ``verify_ssl=False`` is the explicit escape hatch, and
``ca_bundle=<path>`` trusts a private CA instead.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flxtrd._defaults import (
    DEFAULT_BROKER_PORT,
    DEFAULT_MARKET_URL,
    ENV_ACCESS_TOKEN,
    ENV_BROKER_URL,
    ENV_CA_BUNDLE,
    ENV_MARKET_URL,
    ENV_PASSWORD,
    ENV_USERNAME,
    HTTPS_PORT,
    MEMORY_BROKER_URL,
    SANDBOX_BASE_URL,
    SANDBOX_SCHEME,
    SANDBOX_TLS_SCHEME,
)
from flxtrd._errors import FlexValidationError
from flxtrd._types import Market, User

__all__ = [
    "MarketEndpoint",
    "is_sandbox_redirect",
    "make_verify",
    "normalize_market_url",
    "resolve_broker_url",
    "resolve_ca_bundle",
    "resolve_market",
    "resolve_user",
]

_URL_RULE = (
    "must be a host name, host:port, an http(s):// URL, sandbox:// or sandbox+https://host:port"
)
_SANDBOX_SCHEMES = (SANDBOX_SCHEME, SANDBOX_TLS_SCHEME)
_CA_RULE = "must name a readable PEM file of CA certificates"


@dataclass(frozen=True)
class MarketEndpoint:
    """The resolved market: the REST base URL, its host, and whether it is the embedded sandbox."""

    base_url: str
    host: str
    sandbox: bool = False
    #: The broker a sandbox URL implies (``amqp://host:5672//`` for ``sandbox://host:port``).
    sandbox_broker_url: str | None = None

    @property
    def base_path(self) -> str:
        """The path prefix of :attr:`base_url` (``""`` for most markets)."""
        return urlsplit(self.base_url).path.rstrip("/")


def normalize_market_url(
    value: str, *, port: int | None = None, field: str = "market_url"
) -> MarketEndpoint:
    """Apply this module's URL rules to ``value``; ``port`` is the market port for bare hosts."""
    if not isinstance(value, str) or not value.strip():
        raise FlexValidationError(field, _URL_RULE, value)
    text = value.strip()
    scheme, sep, _ = text.partition("://")
    if sep and scheme.lower() in _SANDBOX_SCHEMES:
        return _sandbox_endpoint(text, value, field)
    if text.endswith(":") and text[:-1].lower() in _SANDBOX_SCHEMES:  # "sandbox:"
        return _sandbox_endpoint(text[:-1] + "://", value, field)
    if sep:
        if scheme.lower() not in ("http", "https"):
            raise FlexValidationError(field, _URL_RULE, value)
        url = text
    else:
        url = f"https://{text}"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        explicit_port = parts.port
    except ValueError as exc:
        raise FlexValidationError(field, _URL_RULE, value) from exc
    if not host or parts.query or parts.fragment or parts.username or parts.password:
        raise FlexValidationError(field, _URL_RULE + " (no credentials, query or fragment)", value)
    if not sep and explicit_port is None and port is not None and port != HTTPS_PORT:
        netloc = f"[{host}]" if ":" in host else host
        url = f"https://{netloc}:{port}{parts.path}"
    return MarketEndpoint(url.rstrip("/"), host)


def _sandbox_endpoint(text: str, value: str, field: str) -> MarketEndpoint:
    """``sandbox://`` (embedded), ``sandbox://host:port`` (a served sandbox over plain HTTP) or
    ``sandbox+https://host:port`` (a served sandbox over TLS)."""
    scheme, _, rest = text.partition("://")
    rest = rest.strip("/")
    tls = scheme.lower() == SANDBOX_TLS_SCHEME
    if not rest and tls:
        raise FlexValidationError(
            field, "a TLS sandbox URL names its host: sandbox+https://host:port", value
        )
    if not rest:
        return MarketEndpoint(SANDBOX_BASE_URL, urlsplit(SANDBOX_BASE_URL).hostname or "", True)
    try:
        parts = urlsplit(f"http://{rest}")
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise FlexValidationError(field, _URL_RULE, value) from exc
    if not host or parts.path or parts.username or parts.query:
        raise FlexValidationError(
            field,
            "a sandbox URL is sandbox://, sandbox://host:port or sandbox+https://host:port",
            value,
        )
    netloc = f"[{host}]" if ":" in host else host
    http = "https" if tls else "http"
    base = f"{http}://{netloc}:{port}" if port else f"{http}://{netloc}"
    return MarketEndpoint(base, host, sandbox_broker_url=f"amqp://{netloc}:5672//")


def is_sandbox_redirect(value: str | None) -> bool:
    """True for a ``sandbox:`` or ``sandbox+https:`` URL, which in ``FLXTRD_MARKET_URL`` overrides
    URLs in code."""
    return value is not None and value.strip().lower().startswith(
        tuple(f"{scheme}:" for scheme in _SANDBOX_SCHEMES)
    )


def resolve_market(
    *,
    base_url: str | None = None,
    market: Market | None = None,
    env: Mapping[str, str] | None = None,
) -> MarketEndpoint:
    """The market: the sandbox redirect, else ``base_url``, else ``market`` (if it has a URL),
    else ``FLXTRD_MARKET_URL``, else the default."""
    environ = os.environ if env is None else env
    redirect = environ.get(ENV_MARKET_URL)
    if redirect and is_sandbox_redirect(redirect):
        return normalize_market_url(redirect, field=ENV_MARKET_URL)
    if base_url is not None:
        port = market.port if market is not None else None
        return normalize_market_url(base_url, port=port, field="base_url")
    if market is not None and market.market_url is not None:
        return normalize_market_url(market.market_url, port=market.port)
    from_env = environ.get(ENV_MARKET_URL)
    if from_env:
        return normalize_market_url(from_env, field=ENV_MARKET_URL)
    return normalize_market_url(DEFAULT_MARKET_URL)


def _broker_from_host(host: str, port: int, vhost: str) -> str:
    """``amqps://host:port/<vhost>``, with kombu's ``//`` for the default vhost ``/``."""
    if "://" in host:  # a Market built from a full URL: its broker defaults to that URL
        host = urlsplit(host).hostname or host
    netloc = f"[{host}]" if ":" in host else host
    path = "/" if vhost == "/" else vhost.lstrip("/")
    return f"amqps://{netloc}:{port}/{path}"


def resolve_broker_url(
    *,
    broker_url: str | None = None,
    market: Market | None = None,
    endpoint: MarketEndpoint,
    env: Mapping[str, str] | None = None,
) -> str:
    """The broker URL: argument, else ``memory://`` for the embedded sandbox, else
    ``FLXTRD_BROKER_URL``, else a served sandbox's ``amqp://host:5672//``, else ``amqps://`` on
    ``market.broker``, else on the market host."""
    environ = os.environ if env is None else env
    if broker_url:
        return broker_url
    if endpoint.sandbox:
        return MEMORY_BROKER_URL
    from_env = environ.get(ENV_BROKER_URL)
    if from_env:
        return from_env
    if endpoint.sandbox_broker_url is not None:
        return endpoint.sandbox_broker_url
    if market is not None and market.broker is not None:
        broker = market.broker
        if "://" in broker.url and not broker.url.lower().startswith(("http://", "https://")):
            return broker.url  # already a broker URL, e.g. Broker(url="amqp://127.0.0.1//")
        return _broker_from_host(broker.url, broker.port, broker.vhost)
    return _broker_from_host(endpoint.host, DEFAULT_BROKER_PORT, "/")


def resolve_user(
    user: User | None = None,
    *,
    access_token: str | None = None,
    env: Mapping[str, str] | None = None,
) -> User:
    """The user, with unset credentials filled from ``access_token=`` and the environment.

    The given :class:`User` object is completed in place (the login also fills ``user_id`` and
    ``app_key`` into it, as in flxtrd 0.2.9); without one a new ``User`` is made.
    """
    environ = os.environ if env is None else env
    if user is None:
        user = User()
    if user.access_token is None:
        user.access_token = access_token or environ.get(ENV_ACCESS_TOKEN) or None
    if user.name is None:
        user.name = environ.get(ENV_USERNAME) or None
    if user.password is None:
        user.password = environ.get(ENV_PASSWORD) or None
    return user


def _ca_context(path: str | os.PathLike[str], field: str) -> ssl.SSLContext:
    """A client context trusting the CA file ``path``; a bad file is an error naming ``field``."""
    try:
        return ssl.create_default_context(cafile=os.fspath(path))
    except (OSError, ssl.SSLError, TypeError, ValueError) as exc:
        raise FlexValidationError(field, _CA_RULE, path) from exc


def resolve_ca_bundle(
    ca_bundle: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> str | None:
    """The CA file to trust: ``ca_bundle=``, else ``FLXTRD_CA_BUNDLE``, else None (system CAs).

    The file is read once here, so a missing, unreadable or empty one fails when the client is
    made, as a ``FlexValidationError`` naming ``ca_bundle`` or the variable.
    """
    environ = os.environ if env is None else env
    field = "ca_bundle"
    if ca_bundle is None:
        ca_bundle = environ.get(ENV_CA_BUNDLE) or None
        field = ENV_CA_BUNDLE
    if ca_bundle is None:
        return None
    _ca_context(ca_bundle, field)
    return os.fspath(ca_bundle)


def make_verify(
    verify_ssl: bool, ca_bundle: str | os.PathLike[str] | None
) -> bool | ssl.SSLContext:
    """The ``verify`` argument for httpx: True, False, or a context trusting ``ca_bundle``."""
    if not verify_ssl:
        return False
    if ca_bundle is None:
        return True
    return _ca_context(ca_bundle, "ca_bundle")
