# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_detail import ErrorDetail
from ...models.http_validation_error import HTTPValidationError
from ...models.order import Order
from ...models.order_request import OrderRequest
from ...types import Response


def _get_kwargs(
    *,
    body: OrderRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/order/",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorDetail | HTTPValidationError | Order | None:
    if response.status_code == 200:
        response_200 = Order.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorDetail.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = HTTPValidationError.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorDetail.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorDetail.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorDetail | HTTPValidationError | Order]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
) -> Response[ErrorDetail | HTTPValidationError | Order]:
    """Place a buy or sell order.

    Args:
        body (OrderRequest): A generation-2 order. Delivery times are on the quarter hour; the
            expiry is at or before the delivery start. The bounds (power, price, a delivery of at most
            366 days, times up to the end of year 9999) are the same as generation 1's `OrderLine` in
            asyncapi.yaml. Example: {'side': 'buy', 'power': 2500.0, 'price': 0.25, 'delivery_start':
            '2026-12-01T10:00:00Z', 'delivery_end': '2026-12-01T10:15:00Z', 'expiry_time':
            '2026-12-01T09:30:00Z', 'location': {'location_id': None, 'country_code': 'DE'},
            'baseline': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorDetail | HTTPValidationError | Order]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
) -> ErrorDetail | HTTPValidationError | Order | None:
    """Place a buy or sell order.

    Args:
        body (OrderRequest): A generation-2 order. Delivery times are on the quarter hour; the
            expiry is at or before the delivery start. The bounds (power, price, a delivery of at most
            366 days, times up to the end of year 9999) are the same as generation 1's `OrderLine` in
            asyncapi.yaml. Example: {'side': 'buy', 'power': 2500.0, 'price': 0.25, 'delivery_start':
            '2026-12-01T10:00:00Z', 'delivery_end': '2026-12-01T10:15:00Z', 'expiry_time':
            '2026-12-01T09:30:00Z', 'location': {'location_id': None, 'country_code': 'DE'},
            'baseline': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorDetail | HTTPValidationError | Order
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
) -> Response[ErrorDetail | HTTPValidationError | Order]:
    """Place a buy or sell order.

    Args:
        body (OrderRequest): A generation-2 order. Delivery times are on the quarter hour; the
            expiry is at or before the delivery start. The bounds (power, price, a delivery of at most
            366 days, times up to the end of year 9999) are the same as generation 1's `OrderLine` in
            asyncapi.yaml. Example: {'side': 'buy', 'power': 2500.0, 'price': 0.25, 'delivery_start':
            '2026-12-01T10:00:00Z', 'delivery_end': '2026-12-01T10:15:00Z', 'expiry_time':
            '2026-12-01T09:30:00Z', 'location': {'location_id': None, 'country_code': 'DE'},
            'baseline': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorDetail | HTTPValidationError | Order]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: OrderRequest,
) -> ErrorDetail | HTTPValidationError | Order | None:
    """Place a buy or sell order.

    Args:
        body (OrderRequest): A generation-2 order. Delivery times are on the quarter hour; the
            expiry is at or before the delivery start. The bounds (power, price, a delivery of at most
            366 days, times up to the end of year 9999) are the same as generation 1's `OrderLine` in
            asyncapi.yaml. Example: {'side': 'buy', 'power': 2500.0, 'price': 0.25, 'delivery_start':
            '2026-12-01T10:00:00Z', 'delivery_end': '2026-12-01T10:15:00Z', 'expiry_time':
            '2026-12-01T09:30:00Z', 'location': {'location_id': None, 'country_code': 'DE'},
            'baseline': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorDetail | HTTPValidationError | Order
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
