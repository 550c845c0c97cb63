"""Every status path of make_request and the typed calls, sync and async through the same cases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from client_fakes import FakeMarket, resolve

from flxtrd._errors import (
    AuthenticationError,
    ConflictError,
    FlexConnectionError,
    FlexStatusError,
    FlexTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from flxtrd._retry import RetryPolicy
from flxtrd._types import FlexResponse

STATUS_ERRORS: list[tuple[int, type[FlexStatusError]]] = [
    (400, FlexStatusError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (405, FlexStatusError),
    (409, ConflictError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
]


def _answer(status: int, **kwargs: Any) -> httpx.MockTransport:
    body = {"detail": f"status {status}"}
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body, **kwargs))


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_make_request_2xx_has_no_error(make_client: Any, status: int) -> None:
    """make_request returns (FlexResponse, None) for every 2xx, with the raw httpx.Response."""
    client = make_client(transport=httpx.MockTransport(lambda r: httpx.Response(status)))
    response, err = await resolve(client.make_request("GET", "/anything"))
    assert err is None
    assert isinstance(response, FlexResponse)
    assert isinstance(response.request_response, httpx.Response)
    assert response.request_response.status_code == status


@pytest.mark.parametrize(("status", "error_type"), STATUS_ERRORS)
async def test_make_request_non_2xx_is_an_error(
    make_client: Any, status: int, error_type: type[FlexStatusError]
) -> None:
    """Every non-2xx status is an err of the fitting class (0.2.9 reported 400/405 as success)."""
    client = make_client(transport=_answer(status), retry_policy=RetryPolicy(max_retries=0))
    response, err = await resolve(client.make_request("GET", "/anything"))
    assert type(err) is error_type
    assert err.status_code == status
    assert response.request_response is err.response
    assert f"-> {status}" in str(err)
    assert f"status {status}" in str(err)


async def test_make_request_3xx_is_an_error(make_client: Any) -> None:
    """A redirect is not followed and is reported as an error (not 2xx)."""
    transport = httpx.MockTransport(
        lambda r: httpx.Response(302, headers={"Location": "https://elsewhere.test/"})
    )
    client = make_client(transport=transport)
    response, err = await resolve(client.make_request("GET", "/anything"))
    assert isinstance(err, FlexStatusError)
    assert err.status_code == 302
    assert response.request_response.status_code == 302


async def test_unprocessable_entity_parses_field_errors(make_client: Any) -> None:
    """A 422 carries the server's field errors."""
    body = {
        "detail": [
            {
                "loc": ["body", "power"],
                "msg": "Input should be greater than 0",
                "type": "greater_than",
            }
        ]
    }
    client = make_client(transport=httpx.MockTransport(lambda r: httpx.Response(422, json=body)))
    _, err = await resolve(client.make_request("POST", "/api/v1/order/", json={"power": -1}))
    assert isinstance(err, UnprocessableEntityError)
    assert [(e.loc, e.msg) for e in err.field_errors] == [
        (("body", "power"), "Input should be greater than 0")
    ]


async def test_rate_limit_carries_retry_after(make_client: Any) -> None:
    """A 429 that is not retried carries the server's Retry-After."""
    client = make_client(
        transport=_answer(429, headers={"Retry-After": "7"}),
        retry_policy=RetryPolicy(max_retries=0),
    )
    _, err = await resolve(client.make_request("GET", "/anything"))
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 7.0


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (httpx.ConnectError("connection refused"), FlexConnectionError),
        (httpx.ReadError("reset by peer"), FlexConnectionError),
        (httpx.RemoteProtocolError("server disconnected"), FlexConnectionError),
        (httpx.ConnectTimeout("connect timed out"), FlexTimeoutError),
        (httpx.ReadTimeout("read timed out"), FlexTimeoutError),
    ],
)
async def test_transport_errors_are_translated(
    make_client: Any, exc: httpx.HTTPError, error_type: type[Exception]
) -> None:
    """httpx errors become FlexConnectionError/FlexTimeoutError with the httpx error as cause."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    client = make_client(
        transport=httpx.MockTransport(fail), retry_policy=RetryPolicy(max_retries=0)
    )
    response, err = await resolve(client.make_request("GET", "/anything"))
    assert type(err) is error_type
    assert err.__cause__ is exc
    assert response.request_response is None
    with pytest.raises(error_type) as raised:
        await resolve(client.contracts.list())
    assert raised.value.__cause__ is exc


@pytest.mark.parametrize(("status", "error_type"), STATUS_ERRORS)
async def test_typed_calls_raise_the_mapped_error(
    make_client: Any, market: FakeMarket, status: int, error_type: type[FlexStatusError]
) -> None:
    """Typed calls raise the status error class; err.response is the raw httpx.Response."""
    client = make_client(retry_policy=RetryPolicy(max_retries=0))
    await resolve(client.contracts.list())  # logs in
    answer = httpx.Response(status, json={"detail": "nope"})
    market.push("get_contract", answer, httpx.Response(status, json={"detail": "nope"}))
    with pytest.raises(error_type) as raised:
        await resolve(client.contracts.get(7))
    assert raised.value.status_code == status
    assert isinstance(raised.value.response, httpx.Response)


async def test_typed_call_with_malformed_body_is_a_decode_error(
    make_client: Any, market: FakeMarket
) -> None:
    """A 200 whose body breaks the spec raises MessageDecodeError, not KeyError."""
    from flxtrd._errors import MessageDecodeError

    client = make_client()
    market.push("get_contract", httpx.Response(200, json={"id": 7}))
    with pytest.raises(MessageDecodeError, match="get_contract"):
        await resolve(client.contracts.get(7))


async def test_json_body_is_sent(make_client: Any) -> None:
    """make_request(json=...) sends a JSON body (0.2.9 dropped it)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    client = make_client(transport=httpx.MockTransport(handler))
    _, err = await resolve(client.make_request("POST", "/echo", json={"a": [1, 2.5, None]}))
    assert err is None
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].content == b'{"a":[1,2.5,null]}'


async def test_data_and_json_together_are_refused(make_client: Any) -> None:
    """Passing both data= and json= is a validation error and sends nothing."""
    seen: list[httpx.Request] = []
    client = make_client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    )
    _, err = await resolve(client.make_request("POST", "/x", data={"a": "1"}, json={"a": 1}))
    assert err is not None
    assert "json" in str(err)
    assert seen == []


async def test_absolute_url_endpoint_is_refused(make_client: Any) -> None:
    """An absolute URL as endpoint is refused so credentials never leave the market host."""
    seen: list[httpx.Request] = []
    client = make_client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    )
    _, err = await resolve(client.make_request("GET", "https://evil.test/api/v1/order/"))
    assert err is not None
    assert "endpoint" in str(err)
    assert seen == []


async def test_params_and_headers_are_sent(make_client: Any) -> None:
    """Query parameters and extra headers reach the server; the default timeout is set."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = make_client(transport=httpx.MockTransport(handler))
    await resolve(
        client.make_request("GET", "/v1/x?relativeTime=1h", params={"x": "1"}, headers={"X-T": "v"})
    )
    assert len(seen) == 1
    request = seen[0]
    assert request.url.params["relativeTime"] == "1h"
    assert request.url.params["x"] == "1"
    assert request.headers["x-t"] == "v"
    assert request.extensions["timeout"] == {
        "connect": 10.0,
        "read": 30.0,
        "write": 30.0,
        "pool": 10.0,
    }


async def test_per_call_timeout(make_client: Any) -> None:
    """make_request(timeout=...) overrides the client's timeout for one call."""
    seen: list[httpx.Request] = []
    client = make_client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    )
    await resolve(client.make_request("GET", "/x", timeout=2.5))
    assert seen[0].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
