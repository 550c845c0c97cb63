"""What the two REST protocols share without I/O: configuration, 0.2.9's request, the shells.

:class:`AsyncRestAPI` (``_rest._async_api``) and :class:`RestAPI` (``_rest._api``, generated
from it) each own one connection pool; everything they decide before sending lives here: the
market endpoint, TLS verification, timeouts, the retry policy, the request of flxtrd 0.2.9's
``send_request`` and where ``sandbox://`` sends (the embedded sandbox's in-process transport).
:class:`_SyncRestShell` adds what only the sync protocol has: closing the pool of a client that
code written for 0.2.9 never closes.

Importing this module also puts the secrets filter on httpx's and httpcore's loggers (httpx logs
every request URL at INFO, a device token in ``/users/mptoken/<token>`` included; httpcore logs
connection events at DEBUG): a filter only, no handler, installed before the first request.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import httpx

from flxtrd._config import MarketEndpoint, make_verify, normalize_market_url
from flxtrd._defaults import USER_AGENT
from flxtrd._errors import ConfigurationError
from flxtrd._log import secrets_filter
from flxtrd._rest._http import PreparedRequest, build_request, make_timeout
from flxtrd._retry import RetryPolicy

__all__ = ["_AsyncRestShell", "_RestCore", "_SyncRestShell", "sandbox_transport"]

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


def sandbox_transport(name: str) -> Any:
    """The embedded sandbox's in-process transport ``flxtrd.sandbox.<name>()``, imported only
    when ``sandbox://`` is used."""
    from flxtrd import sandbox

    factory = getattr(sandbox, name, None)
    if factory is None:
        raise ConfigurationError(f"sandbox:// needs flxtrd.sandbox.{name}(), which is missing")
    return factory()


def retry_options(sleep: Any = None, clock: Any = None, random: Any = None) -> dict[str, Any]:
    """The injected clock, sleep and random source the retry transport takes (the given ones)."""
    options = {"sleep": sleep, "clock": clock, "random": random}
    return {key: value for key, value in options.items() if value is not None}


class _RestCore:
    """Configuration shared by :class:`~flxtrd.RestAPI` and :class:`~flxtrd.AsyncRestAPI`."""

    _http: Any
    _owns_http: bool

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


class _AsyncRestShell(_RestCore):
    """The base of :class:`~flxtrd.AsyncRestAPI`: the shared core, nothing async-only."""


class _SyncRestShell(_RestCore):
    """The base of :class:`~flxtrd.RestAPI`: the shared core, and closing a forgotten pool."""

    def __del__(self) -> None:
        # Code written for 0.2.9 never closes its client; release the pool's sockets when the
        # client is collected (as anthropic's SyncHttpxClientWrapper does). Not for a given client.
        http = getattr(self, "_http", None)
        if http is not None and getattr(self, "_owns_http", False) and not http.is_closed:
            with contextlib.suppress(Exception):  # best effort during garbage collection
                http.close()
