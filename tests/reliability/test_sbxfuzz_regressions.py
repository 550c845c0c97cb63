"""Regressions the served-sandbox fuzz (`test_sbxfuzz_served_http`) found, one test each.

Each was a 500 on a served sandbox (`rel_served.served`: uvicorn on a TCP port, in this
process) reached over a real socket -- or, for ``TCP_NODELAY``, 44 ms per keep-alive request on
loopback, which made a 10,000-request fuzz take minutes:

- a JSON string with a lone surrogate escape (``"\\ud800"``) in an order was stored, and every
  later answer showing the order was a 500 (``UnicodeEncodeError`` encoding the response);
- a well-signed token whose ``email`` claim is not in the form tokens are issued with (not
  normalized, empty, a lone surrogate) was looked up as a new account, which then clashed with
  the normalized one (``ValueError: duplicate account``) or failed to derive its ids;
- a client whose body broke off (bad chunked framing) made the handler log a traceback and
  answer 500 to nobody (``ClientDisconnect``).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rel_served import (
    CLIENT_ID,
    access_token,
    host_port,
    jwt,
    order_body,
    raw_request,
    served,
    status_of,
)
from sbxfuzz_tokens import claims_of, ws_upgrade

from flxtrd.sandbox import SandboxMarket, create_app
from flxtrd.sandbox._served import ServedSandbox

KEY = b"sbxfuzz-regressions-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    """A served sandbox with a known token key (so a test can sign tokens as the key holder)."""
    key_file = tmp_path_factory.mktemp("key") / "sandbox.key"
    key_file.write_bytes(KEY)
    with served(token_key_file=str(key_file)) as running:
        yield running


@pytest.fixture
def client(sandbox: ServedSandbox) -> Iterator[httpx.Client]:
    """An httpx client on the sandbox."""
    with httpx.Client(base_url=sandbox.http_url, timeout=30) as c:
        yield c


def test_accepted_connections_have_tcp_nodelay(sandbox: ServedSandbox) -> None:
    """The server's side of a keep-alive connection sends without Nagle's delay (TCP_NODELAY)."""
    with httpx.Client(base_url=sandbox.http_url) as client:
        assert client.get("/deals/").status_code == 401  # the connection stays open
        connections = list(sandbox._server.server_state.connections)
        assert connections, "no open connection on the server"
        for protocol in connections:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def _post_json(client: httpx.Client, token: str, text: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.post("/api/v1/order/", content=text.encode(), headers=headers)


@pytest.mark.parametrize(
    ("field", "loc"),
    [
        ("location_id", ["body", "location", "location_id", 0]),
        ("key", ["body", "location"]),
    ],
)
def test_a_lone_surrogate_in_an_order_is_a_422_and_nothing_is_stored(
    client: httpx.Client, field: str, loc: list[object]
) -> None:
    """``"\\ud800"`` in an order's string or key is a 422 at its place; the order list stays OK."""
    token = access_token(client, f"surrogate-{field}@example.com")
    body = json.dumps(order_body(["site-1"]))
    if field == "location_id":
        text = body.replace('"site-1"', '"\\ud800"')
    else:
        text = body.replace('"country_code"', '"\\udfffx": 1, "country_code"')
    response = _post_json(client, token, text)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == loc and item["type"] == "string_unicode", item
    listed = client.get("/api/v1/order/", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and listed.json()["total"] == 0, listed.text


_EMAILS = ["  Owner@Example.com", "OWNER@EXAMPLE.COM", "\ud800", "owner\udc80@example.com"]


def _with_email(token: str, email: str) -> str:
    claims: dict[str, Any] = {**claims_of(token), "email": email}
    return jwt(json.dumps(claims).encode(), key=KEY)


@pytest.mark.parametrize("email", _EMAILS)
@pytest.mark.parametrize("path", ["/api/v1/order/", "/api/v1/contract/", "/deals/"])
def test_a_well_signed_token_with_a_non_canonical_email_is_a_401(
    client: httpx.Client, email: str, path: str
) -> None:
    """A token signed with the real key whose ``email`` is not normalized Unicode is a 401."""
    if path == "/deals/":
        login = client.post("/users/login", data={"email": "owner@example.com", "password": "x"})
        token = login.json()["token"]
    else:
        token = access_token(client, "owner@example.com")
    response = client.get(path, headers={"Authorization": f"Bearer {_with_email(token, email)}"})
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Invalid token"}
    assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_well_signed_tokens_with_blank_emails_are_401s(client: httpx.Client) -> None:
    """Tokens with ``email`` "" and then " " are 401s (" " once clashed with the "" account)."""
    token = access_token(client, "blank@example.com")
    for email in ("", " "):
        bearer = {"Authorization": f"Bearer {_with_email(token, email)}"}
        response = client.get("/api/v1/order/", headers=bearer)
        assert response.status_code == 401, f"{email!r}: {response.text}"


@pytest.mark.parametrize("email", _EMAILS)
def test_a_refresh_token_with_a_non_canonical_email_is_invalid_grant(
    client: httpx.Client, email: str
) -> None:
    """The refresh grant answers such a refresh token 400 ``invalid_grant``, not 500."""
    form = {"grant_type": "password", "client_id": CLIENT_ID, "username": "refresher@x.org"}
    pair = client.post("/auth/oauth/v2/token", data={**form, "password": "pw"}).json()
    refresh = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
    token = _with_email(pair["refresh_token"], email)
    response = client.post("/auth/oauth/v2/token", data={**refresh, "refresh_token": token})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("email", _EMAILS)
def test_a_websocket_upgrade_with_a_non_canonical_email_is_a_401(
    sandbox: ServedSandbox, client: httpx.Client, email: str
) -> None:
    """The WebSocket upgrade refuses such a token with HTTP 401, not 500."""
    token = _with_email(access_token(client, "streamer@example.com"), email)
    request = ws_upgrade("trade", b"Bearer " + token.encode())
    answer = raw_request(host_port(sandbox), request)
    assert status_of(answer) == 401, answer[:300]


async def test_a_body_that_breaks_off_is_not_a_500(caplog: pytest.LogCaptureFixture) -> None:
    """A client that leaves mid-body gets no 500 and logs no failure (``ClientDisconnect``)."""
    app = create_app(SandboxMarket())
    incoming = [
        {"type": "http.request", "body": b"email=a", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/users/login",
        "raw_path": b"/users/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with caplog.at_level(logging.ERROR, logger="flxtrd.sandbox"):
        await app(scope, receive, send)
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert all(status < 500 for status in statuses), statuses
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
