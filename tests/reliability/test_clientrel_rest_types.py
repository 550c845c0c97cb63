"""Issue 14, point 5: a wrong-typed field in a REST response is a MessageDecodeError naming it.

Before, an order body with ``"power": "lots"``, ``"id": "abc"`` or ``"price": null`` parsed
into a typed ``Order`` (``order.power * 2 == "lotslots"``): the generated ``from_dict`` copies
scalars as they come. Now every parsed response is checked against the generated model's
annotations (``flxtrd._rest._model_check``) and a wrong type raises
:class:`~flxtrd.MessageDecodeError` naming the field (``items[2].power``), without echoing the
value. Forward compatibility stays: an unknown enum value and an unknown field are accepted.

The market is an ``httpx.MockTransport`` answering the token request and one body per call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from client_fakes import make_user

from flxtrd import AsyncFlexAPIClient, FlexAPIClient, MessageDecodeError

ORDER: dict[str, Any] = {
    "id": 42,
    "side": "buy",
    "power": 2500.0,
    "price": 0.25,
    "delivery_start": "2026-12-01T10:00:00Z",
    "delivery_end": "2026-12-01T10:15:00Z",
    "expiry_time": "2026-12-01T09:30:00Z",
    "location": {"location_id": None, "country_code": "DE"},
    "status": "pending",
    "filled_power": 0.0,
    "created_at": "2026-11-28T09:00:00Z",
}
TOKEN = {
    "access_token": "access-tok-0123456789",
    "refresh_token": "refresh-tok-0123456789",
    "expires_in": 3600,
    "token_type": "Bearer",
}


def market(body: Any) -> httpx.MockTransport:
    """A market that issues tokens and answers every other call with ``body``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/oauth/v2/token":
            return httpx.Response(200, json=TOKEN)
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def client_for(body: Any) -> FlexAPIClient:
    """A sync client on :func:`market`."""
    return FlexAPIClient(
        base_url="https://market.test", user=make_user(), env={}, transport=market(body)
    )


def order(**changes: Any) -> dict[str, Any]:
    """The valid order body with ``changes`` (a ``location`` change replaces the object)."""
    body = copy.deepcopy(ORDER)
    body.update(changes)
    return body


WRONG = [
    ("power as text", order(power="lots"), "power", "float", "str"),
    ("id as text", order(id="abc"), "id", "int", "str"),
    ("price null", order(price=None), "price", "float", "null"),
    ("filled_power as bool", order(filled_power=True), "filled_power", "float", "bool"),
    ("power as object", order(power={"w": 1}), "power", "float", "dict"),
    ("location id as number", order(location={"location_id": [7], "country_code": "DE"}),
     "location.location_id[0]", "str | null", "int"),
]  # fmt: skip

CALLS: list[tuple[str, Callable[[FlexAPIClient], Any]]] = [
    ("orders.get", lambda c: c.orders.get(42)),
    ("orders.cancel", lambda c: c.orders.cancel(42)),
    ("with_raw_response.orders.get", lambda c: c.with_raw_response.orders.get(42)),
]


@pytest.mark.parametrize(("call_name", "call"), CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize(
    ("case", "body", "field", "expected", "got"), WRONG, ids=[w[0] for w in WRONG]
)
def test_a_wrong_typed_order_field_is_a_decode_error_naming_it(
    case: str, body: dict[str, Any], field: str, expected: str, got: str, call_name: str, call: Any
) -> None:
    """``"power": "lots"`` etc. -> MessageDecodeError "`power` must be float, got str"."""
    with client_for(body) as client, pytest.raises(MessageDecodeError) as caught:
        call(client)
    message = str(caught.value)
    assert f"response field `{field}` must be {expected}, got {got}" in message
    assert "lots" not in message and "abc" not in message  # types only, never the value


def test_a_wrong_typed_field_deep_in_a_list_is_named_with_its_index() -> None:
    """In ``orders.list()``, the third order's text power is ``items[2].power``."""
    items = [order(id=i) for i in (1, 2, 3, 4)]
    items[2]["power"] = "lots"
    with client_for({"total": 4, "items": items}) as client, pytest.raises(MessageDecodeError) as c:
        client.orders.list()
    assert "list_orders: response field `items[2].power` must be float, got str" in str(c.value)


async def test_the_async_client_checks_types_too() -> None:
    """``AsyncFlexAPIClient.orders.get`` refuses ``"id": "abc"`` the same way."""
    async with AsyncFlexAPIClient(
        base_url="https://market.test", user=make_user(), env={}, transport=market(order(id="a"))
    ) as client:
        with pytest.raises(MessageDecodeError) as caught:
            await client.orders.get(42)
    assert "get_order: response field `id` must be int, got str" in str(caught.value)


def test_generation_1_responses_are_checked_too() -> None:
    """A login answer whose ``userId`` is a number is a decode error naming ``userId``."""
    body = {"userId": 12345, "locations": [{"_id": "app-1", "token": "device-token-0123"}]}
    with client_for(body) as client, pytest.raises(MessageDecodeError) as caught:
        client.login()
    assert "response field `userId` must be str, got int" in str(caught.value)


def test_unknown_enum_values_and_fields_stay_accepted_while_wrong_types_do_not() -> None:
    """Forward compatibility: a new status and a new field parse; a wrong type beside them is
    still refused, naming the wrong-typed field (not the new ones)."""
    new = {"status": "on_hold", "priority": 3, "location": {"country_code": "AT", "zone": "x"}}
    with client_for(order(**new)) as client:
        parsed = client.orders.get(42)
    assert parsed.status.value == "on_hold"
    assert parsed.additional_properties == {"priority": 3}
    assert parsed.location.country_code.value == "AT"
    with client_for(order(**new, price="cheap")) as client, pytest.raises(MessageDecodeError) as c:
        client.orders.get(42)
    assert "response field `price` must be float, got str" in str(c.value)
