"""The sandbox's REST app, in-process through httpx.ASGITransport: every operation, every status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from glocalflex_rest import models as rest
from jsonschema import Draft202012Validator, FormatChecker

from flxtrd._line_protocol import OrderLine
from flxtrd.sandbox import Account, Accounts, Location, ManualClock, SandboxMarket
from flxtrd.sandbox._app import RateLimit, create_app
from flxtrd.sandbox._app_schema import PARAMETERS, SCHEMAS
from flxtrd.sandbox._market_time import format_datetime_ms, parse_datetime_ms

SPEC_PATH = Path(__file__).resolve().parents[3] / "specs" / "openapi.yaml"
CLIENT_ID = "glocalflexmarket_public_api"
Q = 900_000
T0 = parse_datetime_ms("2026-12-01T08:00:00Z")
START = T0 + 8 * Q


@cache
def spec() -> dict[str, Any]:
    """The parsed OpenAPI spec."""
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def conforms(body: Any, component: str) -> None:
    """Assert ``body`` validates against ``#/components/schemas/<component>`` of the spec."""
    document = {"$ref": f"#/components/schemas/{component}", "components": spec()["components"]}
    Draft202012Validator(document, format_checker=FormatChecker()).validate(body)


def order(side: str = "buy", **overrides: Any) -> dict[str, Any]:
    """A valid order request body."""
    body: dict[str, Any] = {
        "side": side,
        "power": 2500.0,
        "price": 0.25,
        "delivery_start": format_datetime_ms(START),
        "delivery_end": format_datetime_ms(START + Q),
        "expiry_time": format_datetime_ms(START - 2 * Q),
        "location": {"location_id": ["loc-1"], "country_code": "DE"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def clock() -> ManualClock:
    """The market clock at T0."""
    return ManualClock(T0)


@pytest.fixture
def market(clock: ManualClock) -> SandboxMarket:
    """A permissive market with 300 s access tokens."""
    return SandboxMarket(clock=clock, seed=1)


@pytest.fixture
async def client(market: SandboxMarket) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app."""
    transport = httpx.ASGITransport(app=create_app(market))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


async def bearer(client: httpx.AsyncClient, email: str = "trader@example.com") -> dict[str, str]:
    """An Authorization header with a fresh access token of ``email``."""
    response = await client.post(
        "/auth/oauth/v2/token",
        data={"grant_type": "password", "client_id": CLIENT_ID, "username": email, "password": "p"},
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def locs(response: httpx.Response) -> list[list[str | int]]:
    """The ``loc`` of each item of a 422 body (after checking the body's schema)."""
    assert response.status_code == 422, response.text
    conforms(response.json(), "HTTPValidationError")
    return [item["loc"] for item in response.json()["detail"]]


# --- generation 1 -----------------------------------------------------------------------------


async def test_login_returns_identity_and_a_deals_token(client: httpx.AsyncClient) -> None:
    """POST /users/login: userId, one location with application key and device token, a JWT."""
    response = await client.post("/users/login", data={"email": "a@x", "password": "p"})
    assert response.status_code == 200
    conforms(response.json(), "LoginResponse")
    login = rest.LoginResponse.from_dict(response.json())
    assert login.locations[0].field_id and login.locations[0].token
    deals = await client.get("/deals/", headers={"Authorization": f"Bearer {login.token}"})
    assert deals.status_code == 200 and deals.json() == []


async def test_login_validation_names_each_field(client: httpx.AsyncClient) -> None:
    """A login form missing both fields is a 422 naming email and password."""
    assert locs(await client.post("/users/login", data={})) == [
        ["body", "email"],
        ["body", "password"],
    ]
    too_long = await client.post("/users/login", data={"email": "a" * 321, "password": "p"})
    assert locs(too_long) == [["body", "email"]]
    bad_bytes = await client.post(
        "/users/login",
        content=b"email=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert locs(bad_bytes) == [["body"]]


async def test_strict_login_refuses_unknown_users(clock: ManualClock) -> None:
    """Strict accounts: listed users log in, others get 401 with an ErrorDetail; only listed
    device tokens are known (404 for others)."""
    alice = Account("alice@x", "alice", (Location("key", "tok", "Battery"),), "secret")
    market = SandboxMarket(
        clock=clock, accounts=Accounts(strict=True, accounts=[alice], clock=clock)
    )
    transport = httpx.ASGITransport(app=create_app(market))
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
        ok = await c.post("/users/login", data={"email": "alice@x", "password": "secret"})
        assert ok.json()["userId"] == "alice"
        assert ok.json()["locations"] == [{"_id": "key", "token": "tok", "name": "Battery"}]
        device = await c.get("/users/mptoken/tok")
        assert device.json()["userId"] == "alice"
        unknown = await c.get("/users/mptoken/no-such-token")
        assert unknown.status_code == 404 and unknown.json() == {"detail": "Not found"}
        refused = await c.post("/users/login", data={"email": "eve@x", "password": "secret"})
        assert refused.status_code == 401 and refused.json() == {
            "detail": "Invalid user credentials"
        }
        wrong = await c.post("/users/login", data={"email": "alice@x", "password": "nope"})
        assert wrong.status_code == 401
        grant = await c.post(
            "/auth/oauth/v2/token",
            data={
                "grant_type": "password",
                "client_id": CLIENT_ID,
                "username": "eve@x",
                "password": "x",
            },
        )
        assert grant.status_code == 400 and grant.json()["error"] == "invalid_grant"


async def test_mptoken_lookup(client: httpx.AsyncClient) -> None:
    """GET /users/mptoken/{token}: the token's user and location; an unknown token becomes a
    device of its own (permissive); 422 too long."""
    login = (await client.post("/users/login", data={"email": "a@x", "password": "p"})).json()
    token = login["locations"][0]["token"]
    found = await client.get(f"/users/mptoken/{token}")
    assert found.status_code == 200
    conforms(found.json(), "MptokenResponse")
    assert found.json()["userId"] == login["userId"]
    assert found.json()["locations"][0]["_id"] == login["locations"][0]["_id"]
    unknown = await client.get("/users/mptoken/no-such-token")
    assert unknown.status_code == 200
    conforms(unknown.json(), "MptokenResponse")
    assert unknown.json()["userId"] != login["userId"]
    assert locs(await client.get("/users/mptoken/" + "t" * 257)) == [["path", "token"]]


async def test_deals_etag_and_304(client: httpx.AsyncClient, market: SandboxMarket) -> None:
    """GET /deals/: gen-1 deals with an ETag; If-None-Match with it (or *, or W/) gives 304."""
    seller, buyer = market.login("s@x", "p"), market.login("b@x", "p")
    for side, who in (("ask", seller), ("bid", buyer)):
        line = OrderLine(
            side=side,
            application_key=who.locations[0].id,
            starttime=START,
            wattage=400.0,
            runtime=Q,
            totalenergy=100.0,
            price=12.5,
            expirationtime=START - Q,
        )
        market.submit_gen1(line, user_id=who.user_id)
    headers = await bearer(client)
    response = await client.get("/deals/?relativeTime=1h", headers=headers)
    assert response.status_code == 200
    (deal,) = response.json()
    conforms(deal, "Deal")
    assert deal == {
        "time": "2026-12-01T08:00:00Z",
        "starttime": START,
        "runtime": Q,
        "price": 12.5,
        "totalenergy": 100.0,
        "totalprice": 1.25,
    }
    etag = response.headers["ETag"]
    for value in (etag, f"W/{etag}", '"other", ' + etag, "*"):
        cached = await client.get("/deals/", headers={**headers, "If-None-Match": value})
        assert (
            cached.status_code == 304 and cached.content == b"" and cached.headers["ETag"] == etag
        )
    changed = await client.get("/deals/", headers={**headers, "If-None-Match": '"stale"'})
    assert changed.status_code == 200


async def test_deals_refusals(client: httpx.AsyncClient) -> None:
    """/deals/ needs a bearer token (401) and valid relativeTime / If-None-Match (422)."""
    assert (await client.get("/deals/")).status_code == 401
    bad = await client.get("/deals/", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"
    headers = await bearer(client)
    assert locs(
        await client.get("/deals/?relativeTime=1w", headers={**headers, "If-None-Match": "x" * 257})
    ) == [["query", "relativeTime"], ["header", "If-None-Match"]]


# --- generation 2: tokens ---------------------------------------------------------------------


async def test_password_and_refresh_grants(client: httpx.AsyncClient) -> None:
    """The token endpoint issues a pair for a password and again for the refresh token."""
    first = await client.post(
        "/auth/oauth/v2/token",
        data={"grant_type": "password", "client_id": CLIENT_ID, "username": "a@x", "password": "p"},
    )
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    conforms(first.json(), "TokenResponse")
    assert first.json()["expires_in"] == 300 and first.json()["token_type"] == "Bearer"
    second = await client.post(
        "/auth/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": first.json()["refresh_token"],
        },
    )
    assert second.status_code == 200
    orders = await client.get(
        "/api/v1/order/", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert orders.status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "password", "client_id": CLIENT_ID, "username": "a@x"},
            400,
            "invalid_request",
        ),
        ({"grant_type": "refresh_token", "client_id": CLIENT_ID}, 400, "invalid_request"),
        (
            {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "x"},
            400,
            "invalid_grant",
        ),
        (
            {"grant_type": "password", "client_id": "other", "username": "a", "password": "p"},
            401,
            None,
        ),
    ],
)
async def test_refused_grants(
    client: httpx.AsyncClient, form: dict[str, str], status: int, error: str | None
) -> None:
    """Incomplete grants and bad refresh tokens are 400 (OAuth2 body); unknown clients 401."""
    response = await client.post("/auth/oauth/v2/token", data=form)
    assert response.status_code == status
    if error is not None:
        conforms(response.json(), "OAuthError")
        assert response.json()["error"] == error
    else:
        conforms(response.json(), "ErrorDetail")


async def test_token_request_validation(client: httpx.AsyncClient) -> None:
    """A token form with an unknown grant and no client id names both fields (422)."""
    response = await client.post("/auth/oauth/v2/token", data={"grant_type": "magic"})
    assert locs(response) == [["body", "client_id"], ["body", "grant_type"]]


async def test_expired_access_token_is_401(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """An access token past its lifetime is refused with 401 'Token expired'."""
    headers = await bearer(client)
    clock.advance(300_000)
    response = await client.get("/api/v1/order/", headers=headers)
    assert response.status_code == 401 and response.json() == {"detail": "Token expired"}


@pytest.mark.parametrize("value", ["", "Basic abc", "Bearer", "Bearer not.a.token"])
async def test_bad_bearer_is_401(client: httpx.AsyncClient, value: str) -> None:
    """Missing, non-bearer and invalid Authorization headers are 401 on generation-2 calls."""
    response = await client.get(
        "/api/v1/contract/", headers={"Authorization": value} if value else {}
    )
    assert response.status_code == 401
    conforms(response.json(), "ErrorDetail")


async def test_login_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    """The gen-1 login JWT opens /deals/ only, not the generation-2 API."""
    login = (await client.post("/users/login", data={"email": "a@x", "password": "p"})).json()
    response = await client.get(
        "/api/v1/order/", headers={"Authorization": f"Bearer {login['token']}"}
    )
    assert response.status_code == 401


# --- generation 2: orders and contracts ---------------------------------------------------------


async def test_order_lifecycle(client: httpx.AsyncClient) -> None:
    """Place, read, list and cancel an order; cancelling twice is 409; others' orders are 404."""
    headers = await bearer(client)
    placed = await client.post("/api/v1/order/", json=order(), headers=headers)
    assert placed.status_code == 200
    conforms(placed.json(), "Order")
    body = placed.json()
    assert body["status"] == "matching_active" and body["filled_power"] == 0.0
    assert body["delivery_start"] == "2026-12-01T10:00:00Z"
    assert body["created_at"] == "2026-12-01T08:00:00Z"
    assert body["location"] == {"country_code": "DE", "location_id": ["loc-1"]}
    order_id = body["id"]
    got = await client.get(f"/api/v1/order/{order_id}", headers=headers)
    assert got.json() == body
    listed = await client.get("/api/v1/order/", headers=headers)
    conforms(listed.json(), "OrderList")
    assert listed.json() == {"total": 1, "items": [body]}
    other = await bearer(client, "other@example.com")
    assert (await client.get(f"/api/v1/order/{order_id}", headers=other)).status_code == 404
    assert (await client.post(f"/api/v1/order/{order_id}/cancel", headers=other)).status_code == 404
    cancelled = await client.post(f"/api/v1/order/{order_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/order/{order_id}/cancel", headers=headers)
    assert again.status_code == 409
    conforms(again.json(), "ErrorDetail")
    assert again.json()["detail"] == f"Order {order_id} is cancelled and cannot be cancelled"


async def test_sell_without_baseline_waits(client: httpx.AsyncClient) -> None:
    """A sell without a baseline is awaiting_baseline_data; with one it matches a crossing buy."""
    headers = await bearer(client)
    waiting = await client.post("/api/v1/order/", json=order("sell"), headers=headers)
    assert waiting.json()["status"] == "awaiting_baseline_data"
    baseline = spec()["components"]["schemas"]["Baseline"]["example"]
    sell = await client.post(
        "/api/v1/order/", json=order("sell", baseline=baseline, price=0.2), headers=headers
    )
    assert sell.json()["status"] == "matching_active"
    buyer = await bearer(client, "buyer@example.com")
    buy = await client.post("/api/v1/order/", json=order(price=0.3), headers=buyer)
    assert buy.json()["status"] == "filled" and buy.json()["filled_power"] == 2500.0
    contracts = await client.get("/api/v1/contract/", headers=buyer)
    conforms(contracts.json(), "ContractList")
    (contract,) = contracts.json()["items"]
    assert contract["price"] == 0.3 and contract["energy"] == 625.0
    assert contract["buy_order_id"] == buy.json()["id"]
    assert contract["sell_order_id"] == sell.json()["id"]
    assert contract["settlement"] == {"status": "awaiting_verification_completion"}
    assert contract["verification_result"] == {"status": "awaiting_metering_data"}
    one = await client.get(f"/api/v1/contract/{contract['id']}", headers=headers)
    assert one.status_code == 200 and one.json() == contract
    conforms(one.json(), "Contract")
    stranger = await bearer(client, "stranger@example.com")
    assert (
        await client.get(f"/api/v1/contract/{contract['id']}", headers=stranger)
    ).status_code == 404
    assert (await client.get("/api/v1/contract/?status=settled", headers=buyer)).json()[
        "total"
    ] == 0


async def test_order_schema_failures_are_all_named(client: httpx.AsyncClient) -> None:
    """Every field breaking the OrderRequest schema is one 422 item, nested paths included."""
    body = order(side="hold", power=0, price=-1, delivery_end="tomorrow")
    body["location"] = {"location_id": [""], "country_code": "XX"}
    body["baseline"] = {"metering_id": "nope"}
    del body["expiry_time"]
    names = locs(await client.post("/api/v1/order/", json=body, headers=await bearer(client)))
    assert ["body", "side"] in names and ["body", "power"] in names and ["body", "price"] in names
    assert ["body", "delivery_end"] in names and ["body", "expiry_time"] in names
    assert ["body", "location", "location_id", 0] in names
    assert ["body", "location", "country_code"] in names
    assert any(loc[:2] == ["body", "baseline"] for loc in names)


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"delivery_start": format_datetime_ms(START + 60_000)}, ["body", "delivery_start"]),
        ({"delivery_end": format_datetime_ms(START)}, ["body", "delivery_end"]),
        ({"expiry_time": format_datetime_ms(START + Q)}, ["body", "expiry_time"]),
        ({"expiry_time": format_datetime_ms(T0)}, ["body", "expiry_time"]),
        ({"delivery_start": format_datetime_ms(T0 + Q)}, ["body", "expiry_time"]),
    ],
)
async def test_market_rules_are_422(
    client: httpx.AsyncClient, overrides: dict[str, Any], loc: list[str]
) -> None:
    """Off-grid times, empty windows, expiry after start and arrival-expired orders are 422."""
    response = await client.post(
        "/api/v1/order/", json=order(**overrides), headers=await bearer(client)
    )
    assert locs(response) == [loc]


@pytest.mark.parametrize(
    "content", [b"{", b"[]", b"NaN", b'{"power": Infinity}', b"\xff"], ids=repr
)
async def test_unreadable_json_is_422(client: httpx.AsyncClient, content: bytes) -> None:
    """Bodies that are not a JSON object (or use NaN/Infinity) are 422 at the body."""
    headers = {**(await bearer(client)), "Content-Type": "application/json"}
    response = await client.post("/api/v1/order/", content=content, headers=headers)
    assert locs(response)[0][0] == "body"


async def test_list_filters_pages_and_validation(client: httpx.AsyncClient) -> None:
    """Orders filter by status and side and page; bad query values are each named (422)."""
    headers = await bearer(client)
    for price in (0.1, 0.2, 0.3):
        await client.post("/api/v1/order/", json=order(price=price), headers=headers)
    page = (await client.get("/api/v1/order/?side=buy&limit=1&offset=1", headers=headers)).json()
    assert page["total"] == 3 and [o["price"] for o in page["items"]] == [0.2]
    none = await client.get("/api/v1/order/?status=filled", headers=headers)
    assert none.json() == {"total": 0, "items": []}
    bad = await client.get("/api/v1/order/?status=done&side=up&limit=0&offset=-1", headers=headers)
    assert locs(bad) == [
        ["query", "status"],
        ["query", "side"],
        ["query", "limit"],
        ["query", "offset"],
    ]
    assert locs(await client.get("/api/v1/contract/?limit=1001&status=x", headers=headers)) == [
        ["query", "status"],
        ["query", "limit"],
    ]


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "1.5", "1e3"])
async def test_bad_path_ids_are_422(client: httpx.AsyncClient, raw: str) -> None:
    """Order and contract ids must be integers >= 1 (422 naming the path parameter)."""
    headers = await bearer(client)
    assert locs(await client.get(f"/api/v1/order/{raw}", headers=headers)) == [["path", "order_id"]]
    assert locs(await client.post(f"/api/v1/order/{raw}/cancel", headers=headers)) == [
        ["path", "order_id"]
    ]
    assert locs(await client.get(f"/api/v1/contract/{raw}", headers=headers)) == [
        ["path", "contract_id"]
    ]


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    """Ids nobody has are 404 with an ErrorDetail."""
    headers = await bearer(client)
    for method, path in (
        ("GET", "/api/v1/order/99999999999999999999"),
        ("POST", "/api/v1/order/5/cancel"),
        ("GET", "/api/v1/contract/5"),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 404
        conforms(response.json(), "ErrorDetail")


# --- framework statuses -------------------------------------------------------------------------


async def test_unknown_method_and_path(client: httpx.AsyncClient) -> None:
    """Methods a path does not have are 405 with Allow; unknown paths 404; both JSON."""
    response = await client.patch("/api/v1/order/1")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert response.json() == {"detail": "Method Not Allowed"}
    assert (await client.get("/nowhere")).json() == {"detail": "Not Found"}


async def test_rate_limit_429_with_retry_after(clock: ManualClock) -> None:
    """Past the limit a client gets 429 + Retry-After until the window passes; keys are separate."""
    market = SandboxMarket(clock=clock)
    app = create_app(market, rate_limit=RateLimit(requests=2, window_s=10))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        headers = {"Authorization": "Bearer a"}
        assert [(await c.get("/deals/", headers=headers)).status_code for _ in range(2)] == [
            401
        ] * 2
        clock.advance(2_500)
        limited = await c.get("/deals/", headers=headers)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "8"
        conforms(limited.json(), "ErrorDetail")
        assert (await c.get("/deals/", headers={"Authorization": "Bearer b"})).status_code == 401
        assert (await c.get("/deals/")).status_code == 401
        clock.advance(7_500)
        assert (await c.get("/deals/", headers=headers)).status_code == 401


async def test_handler_failure_is_500(
    client: httpx.AsyncClient, market: SandboxMarket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error in a handler is a 500 ErrorDetail (and logged), not a crash."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    headers = await bearer(client)
    monkeypatch.setattr(market, "list_orders", broken)
    response = await client.get("/api/v1/order/", headers=headers)
    assert response.status_code == 500 and response.json() == {"detail": "Internal server error"}


async def test_head_runs_get(client: httpx.AsyncClient) -> None:
    """HEAD on a GET path answers like GET (status and headers)."""
    response = await client.head("/users/mptoken/unknown")
    got = await client.get("/users/mptoken/unknown")
    assert response.status_code == got.status_code == 200
    assert response.headers["content-length"] == got.headers["content-length"]


# --- the copy of the spec's request schemas -----------------------------------------------------

_VALIDATION_KEYS = {
    "type",
    "enum",
    "required",
    "properties",
    "items",
    "anyOf",
    "$ref",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "maxItems",
    "minProperties",
    "additionalProperties",
    "default",
}


def _validation_only(schema: Any) -> Any:
    """``schema`` without descriptions, examples and ``x-`` extensions."""
    if isinstance(schema, dict):
        return {
            k: (v if k in ("required", "enum") else _validation_only(v))
            if k != "properties"
            else {name: _validation_only(sub) for name, sub in v.items()}
            for k, v in schema.items()
            if k in _VALIDATION_KEYS
        }
    if isinstance(schema, list):
        return [_validation_only(s) for s in schema]
    return schema


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_request_schemas_are_the_spec(name: str) -> None:
    """The app's copy of each request schema equals the spec's component (validation keywords)."""
    assert SCHEMAS[name] == _validation_only(spec()["components"]["schemas"][name])


def test_parameter_schemas_are_the_spec() -> None:
    """The app's parameter schemas equal the spec's, for every parameter it reads."""
    found: dict[str, Any] = {}
    for name, parameter in spec()["components"]["parameters"].items():
        found[name] = parameter["schema"]
    for item in spec()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for parameter in operation.get("parameters", []):
                    if "name" in parameter and parameter["name"] in PARAMETERS:
                        found[parameter["name"]] = parameter["schema"]
    for name, schema in PARAMETERS.items():
        assert schema == _validation_only(found[name]), name
