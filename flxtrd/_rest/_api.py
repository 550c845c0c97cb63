# Generated from flxtrd/_rest/_async_api.py by scripts/unasync.py; do not edit.
# Change the async source and run `make regenerate`.
"""The REST protocol: one pooled httpx client with timeouts and retries, errors translated.

:class:`RestAPI` owns one connection pool (an ``httpx.Client`` whose transport is
wrapped in the retrying transport) and translates httpx failures into
:class:`~flxtrd.FlexConnectionError` / :class:`~flxtrd.FlexTimeoutError` at the boundary. Every
network edge is injectable: ``transport=`` (wrapped with retries; e.g. ``httpx.MockTransport`` in
tests) or ``http_client=`` (used as given). ``sandbox://`` mounts the embedded sandbox's
in-process transport. What is decided before sending lives in ``flxtrd._rest._api_core``; the typed
operations come from ``flxtrd._rest._operations``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

import httpx

from flxtrd._config import MarketEndpoint
from flxtrd._errors import FlexError
from flxtrd._rest._api_core import _SyncRestShell, retry_options, sandbox_transport
from flxtrd._rest._http import error_for_response, translate_transport_error
from flxtrd._rest._transport import RetryTransport
from flxtrd._retry import RetryPolicy

__all__ = ["RestAPI"]


class RestAPI(_SyncRestShell):
    """The sync REST protocol: one ``httpx.Client`` pool with timeouts and retries.

    ``RestAPI(base_url="glocalflexmarket.com")`` works as in flxtrd 0.2.9. Pass
    ``transport=`` (an ``httpx.BaseTransport``, wrapped with retries) or ``http_client=``
    (used as given) to choose the network edge; ``sleep``, ``clock`` and ``random`` reach the
    retry transport (tests).
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
            self._http: httpx.Client = http_client
            return
        if transport is None and self.endpoint.sandbox:
            transport = cast(httpx.BaseTransport, sandbox_transport("embedded_transport"))
        if transport is None:
            transport = httpx.HTTPTransport(verify=self._verify)
        self._http = httpx.Client(
            transport=RetryTransport(
                transport, self.retry_policy, **retry_options(sleep, clock, random)
            ),
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

    def __enter__(self) -> RestAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
