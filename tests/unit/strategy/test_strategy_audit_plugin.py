"""AuditLogPlugin: one record per order, batch, REST call and market reply; no secrets."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from flxtrd import FlexAPIClient, Flexibility, MarketOrder, OrderType, User
from flxtrd._amqp._market_messages import decode_market_message
from flxtrd._rest._audit_plugin import AuditLogPlugin

START = 1_900_001_700_000
NOW_S = 1_900_000_000.0


def order() -> MarketOrder:
    """A 2 kW ask for a quarter hour."""
    flex = Flexibility(wattage=2000.0, starttime=START, duration=900_000, expirationtime=START)
    return MarketOrder(type=OrderType.ASK, price=0.25, flexibility=flex)


def test_an_order_and_its_confirm_make_one_record() -> None:
    """before(order) + after(FlexResponse with a receipt) -> kind order, confirmed."""
    audit = AuditLogPlugin(clock=lambda: NOW_S)
    audit.before_request(method="", url="ask", headers=None, params=None, data=order())
    receipt = SimpleNamespace(message_id="ab" * 16)
    audit.after_request(SimpleNamespace(order_response=receipt))
    (record,) = audit.records
    assert record == {
        "time": "2030-03-17T17:46:40.000Z",
        "kind": "order",
        "side": "ask",
        "power_w": 2000.0,
        "price": 0.25,
        "start": "2030-03-17T18:15:00.000Z",
        "runtime_ms": 900_000,
        "expiration": "2030-03-17T18:15:00.000Z",
        "outcome": "confirmed",
        "message_id": "ab" * 16,
    }


def test_an_order_refused_before_sending_is_recorded_as_not_sent() -> None:
    """An after() without a before() (validation failed first) still leaves a record."""
    audit = AuditLogPlugin(clock=lambda: NOW_S)
    audit.after_request(SimpleNamespace(order_response=None))
    assert audit.records[0]["outcome"] == "not sent"


def test_a_batch_of_orders_counts_confirmed_and_failed() -> None:
    """send_orders gives a list: the record counts what was confirmed."""
    audit = AuditLogPlugin()
    audit.before_request(method="", url="", headers=None, data=[order(), order(), order()])
    outcomes = [SimpleNamespace(ok=True), SimpleNamespace(ok=False), SimpleNamespace(ok=True)]
    audit.after_request(outcomes)
    assert {k: audit.records[0][k] for k in ("kind", "count", "confirmed", "failed")} == {
        "kind": "orders",
        "count": 3,
        "confirmed": 2,
        "failed": 1,
    }


def test_rest_calls_record_method_redacted_path_and_status_never_headers() -> None:
    """A REST call keeps the method, the path without token or query values, the status."""
    audit = AuditLogPlugin()
    headers = {"Authorization": "Bearer secret-token"}
    url = "https://m.example/users/mptoken/device-secret?relativeTime=1h"
    audit.before_request(method="get", url=url, headers=headers, params=None, data=None)
    audit.after_request(httpx.Response(404))
    (record,) = audit.records
    assert (record["kind"], record["method"], record["status"]) == ("request", "GET", 404)
    assert record["path"] == "/users/mptoken/***?relativeTime=***"
    assert "secret" not in json.dumps(record)


def test_replies_are_recorded_with_their_body() -> None:
    """record_reply keeps the reply type and its JSON body."""
    audit = AuditLogPlugin()
    message = decode_market_message(
        b'{"msg_type": "cancel", "reason": "expired", "message_id": "m"}'
    )
    audit.record_reply(message)
    assert audit.records[0]["msg_type"] == "cancel"
    assert audit.records[0]["body"]["reason"] == "expired"


def test_records_go_to_a_file_or_a_stream_as_json_lines(tmp_path: Path) -> None:
    """path= appends JSON lines (reopened after close); stream= writes to the stream."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLogPlugin(path)
    audit.record_reply({"msg_type": "tick"})
    audit.close()
    audit.record_reply({"msg_type": "tick"})
    audit.close()
    assert [json.loads(line)["kind"] for line in path.read_text().splitlines()] == ["reply"] * 2
    stream = io.StringIO()
    AuditLogPlugin(stream=stream).record_reply({"msg_type": "tick"})
    assert json.loads(stream.getvalue())["msg_type"] == "tick"
    with pytest.raises(TypeError):
        AuditLogPlugin(path, stream=stream)


def test_memory_keeps_only_the_latest_records() -> None:
    """max_records bounds the in-memory log."""
    audit = AuditLogPlugin(max_records=2)
    for kind in ("a", "b", "c"):
        audit.record_reply({"msg_type": kind})
    assert [r["msg_type"] for r in audit.records] == ["b", "c"]


def test_registered_on_a_client_it_sees_requests_but_no_password() -> None:
    """add_plugin wires it into every call; the login form's password is never recorded."""

    def handler(request: httpx.Request) -> httpx.Response:
        """Answer every request with 200 and an empty list."""
        return httpx.Response(200, json=[])

    client = FlexAPIClient(
        base_url="https://market.example",
        user=User(name="me@example.com", password="pw-secret"),
        transport=httpx.MockTransport(handler),
        env={},
    )
    audit = AuditLogPlugin()
    client.add_plugin(audit)
    response, err = client.make_request("POST", "/users/login", data={"password": "pw-secret"})
    client.close()
    assert err is None and response.request_response is not None
    (record,) = audit.records
    assert (record["method"], record["path"], record["status"]) == ("POST", "/users/login", 200)
    assert "pw-secret" not in json.dumps(list(audit.records))
