"""The async client, :class:`AsyncFlexAPIClient`: FlexAPIClient's REST calls on httpx.AsyncClient.

Same constructor, same ``make_request``, ``login``, ``authenticate``, ``deals``, ``orders``,
``contracts`` and ``with_raw_response``, awaited. Configuration, request building and error
mapping are shared with the sync client (``flxtrd._base_client``); plugins' async hooks
(``abefore_request`` / ``aafter_request``) run, and auth refreshes are single-flight per event
loop. Orders over AMQP stay on the sync :class:`~flxtrd.FlexAPIClient`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx
from glocalflex_rest.models import Deal, LoginResponse

from flxtrd._auth import AuthPlugin, Identity, has_authorization
from flxtrd._base_client import BaseFlexAPIClient, Operation, PreparedRequest, RawResponse, T
from flxtrd._errors import ConfigurationError, FlexError, MessageDecodeError
from flxtrd._history import DealsCache
from flxtrd._log import get_logger
from flxtrd._plugins import BasePlugin
from flxtrd._resources import AsyncContracts, AsyncOrders, AsyncRawContracts, AsyncRawOrders
from flxtrd._rest import AsyncRestAPI, list_deals_op
from flxtrd._retry import RetryPolicy
from flxtrd._types import FlexResponse, Market, User

__all__ = ["AsyncFlexAPIClient"]

_logger = get_logger("client")


class _AsyncWithRawResponse:
    """``client.with_raw_response`` of the async client."""

    def __init__(self, client: AsyncFlexAPIClient) -> None:
        self._client = client
        self.orders = AsyncRawOrders(client)
        self.contracts = AsyncRawContracts(client)

    async def deals(
        self, relative_time: str = "1h", *, if_none_match: str | None = None
    ) -> RawResponse[list[Deal] | None]:
        """:meth:`AsyncFlexAPIClient.deals` with the raw response (for its ``ETag``)."""
        return await self._client._call_raw(
            list_deals_op(relative_time, if_none_match=if_none_match)
        )


class AsyncFlexAPIClient(BaseFlexAPIClient):
    """The GLocalFlex Market client (async REST); arguments as :class:`~flxtrd.FlexAPIClient`."""

    def __init__(
        self,
        market: Market | None = None,
        base_url: str | None = None,
        market_url: str | None = None,
        access_token: str | None = None,
        user: User | None = None,
        request_protocol: AsyncRestAPI | None = None,
        plugins: Iterable[BasePlugin] | None = None,
        verify_ssl: bool = True,
        *,
        broker_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        location_id: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            market,
            base_url,
            market_url,
            access_token,
            user,
            plugins,
            verify_ssl,
            broker_url=broker_url,
            ca_bundle=ca_bundle,
            location_id=location_id,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
            headers=headers,
            env=env,
            clock=clock,
        )
        if request_protocol is not None:
            if not isinstance(request_protocol, AsyncRestAPI):
                raise ConfigurationError("request_protocol must be an AsyncRestAPI instance")
            self.request_protocol: AsyncRestAPI = request_protocol
        else:
            self.request_protocol = AsyncRestAPI(
                self.endpoint,
                verify_ssl=verify_ssl,
                ca_bundle=self.ca_bundle,
                timeout=self.timeout,
                retry_policy=self.retry_policy,
                transport=transport,
                http_client=http_client,
                sleep=sleep,
                clock=clock,
                random=random,
            )
        self.orders = AsyncOrders(self)
        self.contracts = AsyncContracts(self)
        self.with_raw_response = _AsyncWithRawResponse(self)
        self._deals_cache = DealsCache()

    async def _auth_asend(self, request: httpx.Request) -> httpx.Response:
        """Send one of the auth plugin's requests (no plugins, retries allowed)."""
        return await self.request_protocol.send(request)

    async def _send(self, prepared: PreparedRequest) -> tuple[httpx.Response, dict[str, Any]]:
        """Run plugins, send, log in again and resend once on a 401 to our token, run plugins.

        A caller's own ``Authorization`` header is sent as given and a 401 to it is returned.
        """
        chain = self._chain
        caller_auth = has_authorization(prepared.headers)  # honoured as given: see AuthPlugin
        plugin_data = await chain.abefore(
            prepared.method, prepared.url, prepared.headers, prepared.params, prepared.data
        )
        response = await self.request_protocol.send(self._request(prepared))
        auth = self._auth
        if (
            response.status_code == 401
            and auth is not None
            and not caller_auth
            and await auth.areauthenticate(prepared.headers.get("Authorization"))
        ):
            prepared.headers.pop("Authorization", None)  # the rejected token, replaced below
            await response.aclose()
            await auth.abefore_request(
                method=prepared.method,
                url=prepared.url,
                headers=prepared.headers,
                params=prepared.params,
                data=prepared.data,
            )
            response = await self.request_protocol.send(self._request(prepared))
        await chain.aafter(response, plugin_data)
        return response, plugin_data

    async def make_request(
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        ssl: bool | None = None,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: bool = False,
    ) -> tuple[FlexResponse, FlexError | None]:
        """Send any REST call; return ``(FlexResponse, err)``, ``err`` None only for a 2xx."""
        try:
            prepared = self._prepare(
                method,
                endpoint,
                params=params,
                data=data,
                json=json,
                headers=headers,
                ssl=ssl,
                retry=retry,
                timeout=timeout,
            )
            response, plugin_data = await self._send(prepared)
        except FlexError as err:
            if _logger.isEnabledFor(logging.DEBUG):
                _logger.debug("%s %s failed: %s", method, endpoint, err)
            return self._result(None, None, err)
        return self._result(response, plugin_data, None)

    async def _call(self, op: Operation[T]) -> T:
        """Run a typed operation; return its model or raise the mapped error."""
        response, _ = await self._send(self._prepare_op(op))
        return self._finish(op, response)

    async def _call_raw(self, op: Operation[T]) -> RawResponse[T]:
        """Run a typed operation; return the model with the raw response and plugin data."""
        response, plugin_data = await self._send(self._prepare_op(op))
        return RawResponse(response, self._finish(op, response), plugin_data or None)

    def _require_auth(self) -> AuthPlugin:
        if self._auth is None:
            raise ConfigurationError("no AuthPlugin installed; add one with client.add_plugin()")
        return self._auth

    async def login(self) -> LoginResponse:
        """Log in with e-mail and password (generation 1); fills the user id and application key."""
        return await self._require_auth().alogin()

    async def authenticate(self) -> Identity:
        """Authenticate once (device token lookup or login) and return the broker identity."""
        return await self._require_auth().aidentity()

    async def deals(
        self, relative_time: str = "1h", *, if_none_match: str | None = None, cache: bool = True
    ) -> list[Deal] | None:
        """Recent deals (generation 1), oldest first; a repeat call reuses the last answer's ETag.

        The market answers an unchanged list with 304 and the cached deals come back unparsed
        (``flxtrd._history``). ``cache=False`` asks afresh; an explicit ``if_none_match`` skips
        the cache and returns ``None`` when that ETag still matches.
        """
        if if_none_match is not None:
            return await self._call(list_deals_op(relative_time, if_none_match=if_none_match))
        history = self._deals_cache
        raw = await self._call_raw(history.operation(relative_time, cache=cache))
        deals = history.resolve(relative_time, raw, cache=cache)
        if deals is None:  # a 304 to an ETag we no longer hold: ask without one
            raw = await self._call_raw(history.operation(relative_time, cache=False))
            deals = history.resolve(relative_time, raw, cache=cache)
        if deals is None:
            raise MessageDecodeError("list_deals: 304 Not Modified to a request without an ETag")
        return deals

    async def aclose(self) -> None:
        """Close the REST connection pool."""
        await self.request_protocol.aclose()

    async def __aenter__(self) -> AsyncFlexAPIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
