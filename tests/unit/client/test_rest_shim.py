"""The OpenAPI shim itself: it accepts the spec's examples and catches what the spec forbids."""

from __future__ import annotations

import httpx
import pytest
from openapi_shim import SpecViolation, validate_request

BEARER = {"Authorization": "Bearer t"}
ORDER = {
    "side": "buy",
    "power": 2500.0,
    "price": 0.25,
    "delivery_start": "2026-12-01T10:00:00Z",
    "delivery_end": "2026-12-01T10:15:00Z",
    "expiry_time": "2026-12-01T09:30:00Z",
    "location": {"location_id": None, "country_code": "DE"},
    "baseline": None,
}


@pytest.mark.parametrize(
    ("request_", "operation"),
    [
        (
            httpx.Request("POST", "https://m/api/v1/order/", json=ORDER, headers=BEARER),
            "create_order",
        ),
        (
            httpx.Request("GET", "https://m/api/v1/order/?limit=5&side=buy", headers=BEARER),
            "list_orders",
        ),
        (httpx.Request("POST", "https://m/api/v1/order/42/cancel", headers=BEARER), "cancel_order"),
        (httpx.Request("GET", "https://m/deals/?relativeTime=15m", headers=BEARER), "list_deals"),
        (
            httpx.Request("POST", "https://m/users/login", data={"email": "a", "password": "b"}),
            "login_user",
        ),
        (httpx.Request("GET", "https://m/users/mptoken/abc"), "get_user_by_mptoken"),
    ],
)
def test_valid_requests_pass(request_: httpx.Request, operation: str) -> None:
    """Requests that follow the spec validate and name their operation."""
    assert validate_request(request_) == operation


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (httpx.Request("GET", "https://m/api/v2/order/", headers=BEARER), "no such operation"),
        (httpx.Request("PATCH", "https://m/api/v1/order/1", headers=BEARER), "no such operation"),
        (httpx.Request("GET", "https://m/api/v1/order/"), "without a bearer token"),
        (httpx.Request("GET", "https://m/api/v1/order/0", headers=BEARER), "order_id"),
        (httpx.Request("GET", "https://m/api/v1/order/?limit=0", headers=BEARER), "limit"),
        (
            httpx.Request("GET", "https://m/api/v1/order/?colour=red", headers=BEARER),
            "unknown query",
        ),
        (
            httpx.Request(
                "POST", "https://m/api/v1/order/", json={**ORDER, "power": 0}, headers=BEARER
            ),
            "power",
        ),
        (
            httpx.Request(
                "POST",
                "https://m/api/v1/order/",
                json={**ORDER, "delivery_start": "tomorrow"},
                headers=BEARER,
            ),
            "date-time",
        ),
        (
            httpx.Request("POST", "https://m/api/v1/order/", data={"side": "buy"}, headers=BEARER),
            "content type",
        ),
        (httpx.Request("POST", "https://m/users/login", data={"email": "a"}), "password"),
        (httpx.Request("GET", "https://m/deals/?relativeTime=1y", headers=BEARER), "relativeTime"),
    ],
)
def test_violations_are_caught(request_: httpx.Request, problem: str) -> None:
    """Wrong paths, parameters, bodies and missing tokens raise SpecViolation naming the problem."""
    with pytest.raises(SpecViolation, match=problem):
        validate_request(request_)
