"""Test doubles for the client tests: a fake market REST API (spec-validated) and a clock.

Every request that reaches :class:`FakeMarket` is first checked by ``openapi_shim`` against
``specs/openapi.yaml``; a violation raises :class:`openapi_shim.SpecViolation` out of the client
call, so no test can pass while sending something the spec does not allow.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
from openapi_shim import validate_request

from flxtrd._types import User

T = TypeVar("T")

# Every secret contains "S3cr3t" so the redaction test can grep for it.
EMAIL = "trader@example.com"
PASSWORD = "pw-S3cr3t-horse-battery"
DEVICE_TOKEN = "dev-S3cr3t-3f1d2c4b"
OTHER_DEVICE_TOKEN = "dev-S3cr3t-9a8b7c6d"
JWT = "jwt-S3cr3t-eyJhbGciOiJIUzI1NiJ9"
USER_ID = "5f0c8e1a2b3c4d5e6f708192"
APP_KEY = "5f0c8e1a2b3c4d5e6f7081a0"
APP_KEY_2 = "5f0c8e1a2b3c4d5e6f7081a1"
SECRET_MARK = "S3cr3t"

#: 2026-11-28T09:00:00Z, the fake clock's start.
START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def make_user(**overrides: Any) -> User:
    """The test account (seed spelling)."""
    fields: dict[str, Any] = {"name": EMAIL, "password": PASSWORD, "accessToken": DEVICE_TOKEN}
    fields.update(overrides)
    return User(**fields)


async def resolve(value: Any) -> Any:
    """Await ``value`` if it is awaitable (lets one test body drive sync and async clients)."""
    if inspect.isawaitable(value):
        return await value
    return value


class FakeClock:
    """Epoch seconds under test control; ``sleep``/``asleep`` record the wait and advance time."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start.timestamp()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """Now, in epoch seconds."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A sync sleep that does not sleep."""
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        """An async sleep that does not sleep."""
        self.sleep(seconds)

    def datetime(self) -> datetime:
        """Now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now, tz=UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with Z."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


Responder = Callable[[httpx.Request], httpx.Response]


class FakeMarket:
    """An in-memory GLocalFlex REST API for ``httpx.MockTransport``.

    ``push(operation_id, response_or_callable, ...)`` queues answers that take precedence over
    the default behaviour of that operation.
    """

    def __init__(self, clock: FakeClock, *, expires_in: int = 300) -> None:
        self.clock = clock
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []
        self.operations: list[str] = []
        self.overrides: dict[str, list[httpx.Response | Responder]] = {}
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.issued = 0
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_order_id = 1
        self.etag = '"deals-v1"'

    # -- plumbing -----------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler: validate against the spec, record, answer."""
        operation = validate_request(request)
        self.requests.append(request)
        self.operations.append(operation)
        queue = self.overrides.get(operation)
        if queue:
            answer = queue.pop(0)
            return answer(request) if callable(answer) else answer
        responder: Responder = getattr(self, f"_{operation}")
        return responder(request)

    def push(self, operation: str, *answers: httpx.Response | Responder) -> None:
        """Queue answers for ``operation``."""
        self.overrides.setdefault(operation, []).extend(answers)

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` arrived."""
        return self.operations.count(operation)

    @staticmethod
    def _form(request: httpx.Request) -> dict[str, str]:
        return dict(parse_qsl(request.content.decode()))

    def _authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        expiry = self.tokens.get(token)
        return expiry is not None and self.clock() < expiry

    @staticmethod
    def _unauthorized() -> httpx.Response:
        return httpx.Response(401, json={"detail": "Token expired"})

    def issue_token(self) -> dict[str, Any]:
        """Issue a new access + refresh token pair."""
        self.issued += 1
        access = f"at-{SECRET_MARK}-{self.issued}"
        refresh = f"rt-{SECRET_MARK}-{self.issued}"
        self.tokens[access] = self.clock() + self.expires_in
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }

    def revoke_all(self) -> None:
        """Invalidate every access token (e.g. the server restarted)."""
        self.tokens.clear()

    # -- generation 1 -------------------------------------------------------------------------

    def _login_user(self, request: httpx.Request) -> httpx.Response:
        form = self._form(request)
        if form.get("email") != EMAIL or form.get("password") != PASSWORD:
            return httpx.Response(401, json={"detail": "Invalid credentials"})
        return httpx.Response(
            200,
            json={
                "userId": USER_ID,
                "locations": [
                    {"_id": APP_KEY, "token": DEVICE_TOKEN, "name": "Home battery"},
                    {"_id": APP_KEY_2, "token": OTHER_DEVICE_TOKEN, "name": "EV charger"},
                ],
                "token": JWT,
            },
        )

    def _get_user_by_mptoken(self, request: httpx.Request) -> httpx.Response:
        token = request.url.path.rsplit("/", 1)[1]
        key = {DEVICE_TOKEN: APP_KEY, OTHER_DEVICE_TOKEN: APP_KEY_2}.get(token)
        if key is None:
            return httpx.Response(404, json={"detail": "Unknown token"})
        return httpx.Response(200, json={"userId": USER_ID, "locations": [{"_id": key}]})

    def _list_deals(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {JWT}":
            return self._unauthorized()
        if request.headers.get("if-none-match") == self.etag:
            return httpx.Response(304, headers={"ETag": self.etag})
        deal = {
            "time": "2026-11-28T09:00:00Z",
            "starttime": 1796202000000,
            "runtime": 900000,
            "price": 12.5,
            "totalenergy": 250.0,
            "totalprice": 3.125,
        }
        return httpx.Response(200, json=[deal], headers={"ETag": self.etag})

    # -- generation 2 -------------------------------------------------------------------------

    def _get_token(self, request: httpx.Request) -> httpx.Response:
        form = self._form(request)
        if form["grant_type"] == "password":
            if form.get("username") != EMAIL or form.get("password") != PASSWORD:
                return httpx.Response(
                    400,
                    json={
                        "error": "invalid_grant",
                        "error_description": "Invalid user credentials",
                    },
                )
            return httpx.Response(200, json=self.issue_token())
        refresh = form.get("refresh_token", "")
        if refresh not in self.refresh_tokens:
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Token is not active"}
            )
        self.refresh_tokens.discard(refresh)
        return httpx.Response(200, json=self.issue_token())

    def _create_order(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = json.loads(request.content)
        order = {key: body[key] for key in body if key != "baseline"}
        order.update(
            id=self.next_order_id,
            status="awaiting_baseline_data" if body["side"] == "sell" else "pending",
            filled_power=0.0,
            created_at=iso(self.clock.datetime()),
        )
        self.orders[self.next_order_id] = order
        self.next_order_id += 1
        return httpx.Response(200, json=order)

    def _list_orders(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._unauthorized()
        items = sorted(self.orders.values(), key=lambda o: -int(o["id"]))
        status = request.url.params.get("status")
        if status:
            items = [o for o in items if o["status"] == status]
        return httpx.Response(200, json={"total": len(items), "items": items})

    def _order_or_404(self, request: httpx.Request) -> dict[str, Any] | httpx.Response:
        if not self._authorized(request):
            return self._unauthorized()
        order = self.orders.get(int(request.url.path.removesuffix("/cancel").rsplit("/", 1)[1]))
        if order is None:
            return httpx.Response(404, json={"detail": "Not found"})
        return order

    def _get_order(self, request: httpx.Request) -> httpx.Response:
        found = self._order_or_404(request)
        return found if isinstance(found, httpx.Response) else httpx.Response(200, json=found)

    def _cancel_order(self, request: httpx.Request) -> httpx.Response:
        found = self._order_or_404(request)
        if isinstance(found, httpx.Response):
            return found
        if found["status"] in ("filled", "cancelled", "expired"):
            return httpx.Response(
                409,
                json={
                    "detail": f"Order {found['id']} is {found['status']} and cannot be cancelled"
                },
            )
        found["status"] = "cancelled"
        return httpx.Response(200, json=found)

    def contract(self, contract_id: int = 7) -> dict[str, Any]:
        """A contract body."""
        start = START + timedelta(days=3, hours=1)
        return {
            "id": contract_id,
            "buy_order_id": 41,
            "sell_order_id": 42,
            "power": 2500.0,
            "price": 0.25,
            "energy": 625.0,
            "delivery_start": iso(start),
            "delivery_end": iso(start + timedelta(minutes=15)),
            "status": "active",
            "settlement": {"status": "awaiting_verification_completion"},
            "verification_result": {"status": "awaiting_metering_data"},
            "created_at": iso(START),
        }

    def _list_contracts(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return httpx.Response(200, json={"total": 1, "items": [self.contract()]})

    def _get_contract(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._unauthorized()
        contract_id = int(request.url.path.rsplit("/", 1)[1])
        if contract_id != 7:
            return httpx.Response(404, json={"detail": "Not found"})
        return httpx.Response(200, json=self.contract())
