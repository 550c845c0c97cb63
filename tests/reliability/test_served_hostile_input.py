"""Hostile input to the served sandbox over HTTP: every answer a 4xx with a clear body, no 500.

A real served sandbox (`rel_served.served`: uvicorn on a TCP port, in this process) gets what
a hostile client sends: 100,000-deep JSON bodies, 5,000-digit ids and paging parameters, bearer
tokens whose payload is 5,000-deep JSON (on REST, on the token endpoint's refresh grant and on
the WebSocket upgrade), bodies over the 1 MiB limit (declared and chunked) and a body that
never finishes arriving. Each was a 500 (``RecursionError``, ``int()``'s digit limit) or was
read whole into memory before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rel_served import (
    CLIENT_ID,
    access_token,
    b64,
    deep_json,
    host_port,
    jwt,
    raw_request,
    served,
    status_of,
)

from flxtrd.sandbox._accounts import Accounts, AuthError
from flxtrd.sandbox._served import ServedSandbox

KEY = b"0123456789abcdef0123456789abcdef-hostile-input"
HUGE = "9" * 5000
HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    """A served sandbox with a known token key and a 1 s request-read deadline."""
    key_file = tmp_path_factory.mktemp("key") / "sandbox.key"
    key_file.write_bytes(KEY + b"\n")
    with served(token_key_file=str(key_file), header_timeout_s=HEADER_TIMEOUT_S) as running:
        yield running


@pytest.fixture
def client(sandbox: ServedSandbox) -> Iterator[httpx.Client]:
    """An httpx client on the sandbox."""
    with httpx.Client(base_url=sandbox.http_url, timeout=30) as c:
        yield c


@pytest.fixture
def auth(client: httpx.Client) -> dict[str, str]:
    """A valid bearer header."""
    return {"Authorization": f"Bearer {access_token(client, 'hostile@example.com')}"}


def _detail(response: httpx.Response) -> list[dict[str, object]]:
    body = response.json()
    assert isinstance(body["detail"], list), body
    return body["detail"]


@pytest.mark.parametrize("depth", [33, 100_000])
def test_a_deeply_nested_json_body_is_a_422_naming_the_body(
    client: httpx.Client, auth: dict[str, str], depth: int
) -> None:
    """A JSON body nested deeper than 32 levels is refused with 422 ``json_invalid`` at body."""
    response = client.post(
        "/api/v1/order/",
        content=deep_json(depth),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    (item,) = _detail(response)
    assert item["loc"] == ["body"] and item["type"] == "json_invalid"
    assert "nested deeper than 32 levels" in str(item["msg"])


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("GET", f"/api/v1/order/{HUGE}", ["path", "order_id"]),
        ("POST", f"/api/v1/order/{HUGE}/cancel", ["path", "order_id"]),
        ("GET", f"/api/v1/contract/{HUGE}", ["path", "contract_id"]),
        ("GET", f"/api/v1/order/?limit={HUGE}", ["query", "limit"]),
        ("GET", f"/api/v1/order/?offset=-{HUGE}", ["query", "offset"]),
        ("GET", f"/api/v1/contract/?limit=%2B{HUGE}", ["query", "limit"]),
        ("GET", f"/api/v1/contract/?offset={HUGE}", ["query", "offset"]),
    ],
)
def test_a_5000_digit_integer_parameter_is_a_422_naming_it(
    client: httpx.Client, auth: dict[str, str], method: str, path: str, loc: list[str]
) -> None:
    """An integer path or query parameter of 5,000 digits is a 422 ``int_parsing_size``."""
    response = client.request(method, path, headers=auth)
    assert response.status_code == 422, response.text
    (item,) = _detail(response)
    assert item["loc"] == loc and item["type"] == "int_parsing_size"


def _deep_tokens() -> dict[str, str]:
    payload = deep_json(5000)
    return {
        "badly signed": jwt(payload, signature=b64(b"x" * 32)),
        "well signed": jwt(payload, key=KEY),
    }


@pytest.mark.parametrize("kind", ["badly signed", "well signed"])
@pytest.mark.parametrize("path", ["/api/v1/order/", "/api/v1/contract/", "/deals/"])
def test_a_bearer_token_with_a_5000_deep_payload_is_a_401(
    client: httpx.Client, kind: str, path: str
) -> None:
    """A bearer JWT whose payload is 5,000-deep JSON is refused with 401, signed or not."""
    token = _deep_tokens()[kind]
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Invalid token"}


@pytest.mark.parametrize("kind", ["badly signed", "well signed"])
def test_a_refresh_token_with_a_5000_deep_payload_is_invalid_grant(
    client: httpx.Client, kind: str
) -> None:
    """The refresh grant answers a 5,000-deep refresh token 400 ``invalid_grant``."""
    response = client.post(
        "/auth/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": _deep_tokens()[kind],
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("kind", ["badly signed", "well signed"])
def test_a_websocket_upgrade_with_a_5000_deep_token_is_refused_with_401(
    sandbox: ServedSandbox, kind: str
) -> None:
    """The WebSocket upgrade refuses a 5,000-deep bearer token with HTTP 401, not a 500."""
    upgrade = (
        "GET /api/v1/ws/trade/ HTTP/1.1\r\nHost: sandbox\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {_deep_tokens()[kind]}\r\n\r\n"
    )
    answer = raw_request(host_port(sandbox), upgrade.encode())
    assert status_of(answer) == 401, answer[:300]
    assert b"Invalid token" in answer


def test_a_badly_signed_token_is_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature is checked before the payload is read: a forged payload is not parsed."""
    accounts = Accounts(token_key=KEY)
    parsed: list[object] = []
    real_loads = json.loads

    def recording_loads(text: str | bytes, **kwargs: object) -> object:
        parsed.append(text)
        return real_loads(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", recording_loads)
    with pytest.raises(AuthError):
        accounts.verify(jwt(b'{"typ":"access"}', signature=b64(b"x" * 32)), "access")
    assert parsed == []


def test_a_body_over_1_mib_is_a_413(client: httpx.Client, auth: dict[str, str]) -> None:
    """A request body over the 1 MiB limit is refused with 413 and an ``ErrorDetail``."""
    response = client.post(
        "/api/v1/order/",
        content=b"[" + b" " * (1024 * 1024) + b"]",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Request body larger than 1048576 bytes"}


def test_a_chunked_body_over_1_mib_is_a_413(client: httpx.Client) -> None:
    """A chunked body (no Content-Length) that grows past 1 MiB is refused with 413."""

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a" * 65536

    response = client.post(
        "/users/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413, response.text


def test_a_body_that_never_arrives_is_a_408(sandbox: ServedSandbox) -> None:
    """A body announced but not sent is answered 408 once the read deadline passes."""
    head = (
        b"POST /users/login HTTP/1.1\r\nHost: sandbox\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail="
    )
    answer = raw_request(host_port(sandbox), head, timeout=HEADER_TIMEOUT_S + 20)
    assert status_of(answer) == 408, answer[:300]
    assert b"Request body not received within 1 s" in answer


def test_the_limits_leave_good_requests_alone(client: httpx.Client, auth: dict[str, str]) -> None:
    """A normal login, order list and 404 still answer as before behind the limits."""
    login = client.post("/users/login", data={"email": "ok@example.com", "password": "pw"})
    assert login.status_code == 200 and login.json()["token"]
    assert client.get("/api/v1/order/?limit=5&offset=0", headers=auth).json()["total"] == 0
    assert client.get("/api/v1/order/12345678901234567890", headers=auth).status_code == 404


def test_the_key_file_must_hold_32_bytes(tmp_path: Path) -> None:
    """A token key file under 32 bytes is refused at start, naming the file."""
    short = tmp_path / "short.key"
    short.write_text("too short\n")
    with (
        pytest.raises(ValueError, match=r"short\.key.*at least 32 bytes"),
        served(token_key_file=str(short)),
    ):
        pass
