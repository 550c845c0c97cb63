"""Wire fidelity (issue 10): what the vendor's own clients send, the sandbox takes as the market.

Each test replays, with our own code, what a migrating user's unmodified code does on day one:
flxtrd 0.2.9's late generation-1 expirations (point 1), the generation-2 client's default
``location_id`` forms (point 2), an access token the sandbox never saw (point 5), 0.2.9 code
pointed at an HTTPS served sandbox by environment variables only (point 6), and two served
sandboxes with one seed sharing a RabbitMQ (point 7). Points 3 and 4 are pinned by the other
modules of this folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from flxtrd import FlexAPIClient, FlexMarket, FlexUser, NotFoundError, User
from flxtrd._line_protocol import OrderLine
from flxtrd.sandbox import Accounts, SandboxMarket
from flxtrd.sandbox._embedded import EmbeddedSandbox, reset_embedded_sandbox

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
EMBEDDED = {"FLXTRD_MARKET_URL": "sandbox://"}
#: flxtrd 0.2.9's examples name the real market; FLXTRD_MARKET_URL redirects them.
REAL_MARKET = "glocalflexmarket.com"


@pytest.fixture(autouse=True)
def _fresh_process_sandbox() -> Iterator[None]:
    """Each test's ``sandbox://`` clients get a process-wide sandbox that is closed after it."""
    reset_embedded_sandbox()
    yield
    reset_embedded_sandbox()


def _iso(moment: datetime) -> str:
    """The vendor client's time format: milliseconds and ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _quarter(moment: datetime) -> datetime:
    """``moment`` rounded up to a quarter hour, as the vendor client's ``round_quarter``."""
    moment = moment.replace(second=0, microsecond=0)
    return moment + timedelta(minutes=(15 - moment.minute % 15) % 15)


# --- point 1: late generation-1 expirations ---------------------------------------------------


def test_0_2_9s_expiration_after_delivery_start_is_matched_not_cancelled() -> None:
    """expirationtime = start + order_expiration_min (0.2.9's formula): ask and bid are matched
    and both sides get their closed order, as the market's replies in the vendor docs show."""
    start = (time.time_ns() // 1_000_000 // HOUR_MS + 1) * HOUR_MS + 5 * MINUTE_MS
    late = start + 50 * MINUTE_MS  # FlexResource(order_expiration_min=50)
    token = f"t-{uuid.uuid4().hex}"
    with FlexAPIClient(market_url=REAL_MARKET, access_token=token, env=EMBEDDED) as client:
        client.connect()
        key = client.user.app_key
        assert key is not None
        for side in ("ask", "bid"):
            client.trade_protocol.send_order(
                OrderLine(side=side, application_key=key, starttime=start, wattage=100.0,
                          runtime=HOUR_MS, totalenergy=100.0, price=100.0, expirationtime=late)
            )  # fmt: skip
        kinds: list[str] = []
        for message in client.market_messages(timeout=5):
            kinds.append(message.msg_type)
            if {"ask_closed_order", "bid_closed_order"} <= set(kinds):
                break
    assert "cancel" not in kinds
    assert {"ask_closed_order", "bid_closed_order"} <= set(kinds)


# --- point 2: the generation-2 client's location_id forms --------------------------------------


def _vendor_body(
    side: str, location_ids: Any, country: str, power: float, price: float
) -> dict[str, Any]:
    """The body GLocalFlexClient's rest_client.py builds (Order.as_dict), with its time rules."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "side": side,
        "power": power,
        "price": price,
        "delivery_start": _iso(_quarter(now + timedelta(hours=1))),
        "delivery_end": _iso(_quarter(now + timedelta(hours=2))),
        "expiry_time": _iso(now + timedelta(minutes=10)),
        "location": {"location_id": location_ids, "country_code": country},
        "baseline": None,
    }
    if side == "sell":
        body["baseline"] = {
            "metering_id": "ce15bc33-2bda-4d26-8ddd-b958b22b569b",
            "created_at": "2019-08-24T14:15:00Z",
            "reading_start": "2019-08-24T14:15:00Z",
            "reading_end": "2019-08-24T14:30:00Z",
            "resolution": 1,
            "direction": "consumption",
            "quality": "estimated",
            "energy_product": "apparent",
            "unit_measured": "kWh",
            "data_points": [{"2019-08-24T14:15:00Z": 1}],
        }
    return body


@pytest.fixture
def gen2_client() -> Iterator[FlexAPIClient]:
    """A generation-2 client on a fresh embedded sandbox of its own."""
    sandbox = EmbeddedSandbox(SandboxMarket(seed=101))
    user = User(name=f"{uuid.uuid4().hex[:8]}@example.com", password="pw")
    client = FlexAPIClient(base_url="sandbox://", user=user, transport=sandbox.transport(), env={})
    yield client
    client.close()
    sandbox.close()


@pytest.mark.parametrize("location_ids", [[None], None, [], ["loc.*"], ["loc1", None]])
def test_the_vendor_clients_location_forms_are_accepted(
    gen2_client: FlexAPIClient, location_ids: Any
) -> None:
    """POST /api/v1/order/ with location_id [null] (its default), null, [], a "loc.*" pattern or a
    list holding null: 200, where the spec used to answer 422."""
    for side in ("buy", "sell"):
        body = _vendor_body(side, location_ids, "FI", 1000.0, 0.5)
        response, err = gen2_client.make_request("POST", "/api/v1/order/", json=body)
        assert err is None, (body["location"], err)
        assert response.request_response is not None
        assert response.request_response.status_code == 200


@pytest.mark.parametrize(
    ("buy_ids", "sell_ids"), [([None], [None]), (["loc.*"], ["loc1", "loc2"]), (None, ["loc1"])]
)
def test_unrestricted_and_pattern_locations_match(
    gen2_client: FlexAPIClient, buy_ids: Any, sell_ids: Any
) -> None:
    """[null] / null mean any location and "loc.*" matches "loc1": the two orders make a
    contract (same country, bid price >= ask price)."""
    for side, ids, price in (("sell", sell_ids, 0.4), ("buy", buy_ids, 0.6)):
        body = _vendor_body(side, ids, "DE", 1000.0, price)
        _, err = gen2_client.make_request("POST", "/api/v1/order/", json=body)
        assert err is None, err
    assert gen2_client.contracts.list().total == 1


# --- point 5: an access token the sandbox never saw --------------------------------------------


def test_an_unknown_device_token_logs_in_to_the_embedded_sandbox() -> None:
    """The vendor's trading_client.py/ticker_listen.py: market_url + a token nobody issued
    ("invalid_token", their default) connect to the broker of the embedded sandbox."""
    client = FlexAPIClient(market_url=REAL_MARKET, access_token="invalid_token", env=EMBEDDED)
    with client:
        client.connect()
        assert client.user.user_id and client.user.app_key
        assert client.trade_protocol.is_connected()


def test_strict_accounts_keep_refusing_an_unknown_device_token() -> None:
    """A strict sandbox (accounts file) still answers 404 for a token it does not list."""
    sandbox = EmbeddedSandbox(SandboxMarket(seed=102, accounts=Accounts(strict=True)))
    client = FlexAPIClient(
        base_url="sandbox://", access_token="invalid_token", transport=sandbox.transport(), env={}
    )
    try:
        with pytest.raises(NotFoundError):
            client.authenticate()
    finally:
        client.close()
        sandbox.close()


# --- point 6: an HTTPS served sandbox from environment variables --------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl; a failure in CI)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed to make the TLS test certificate in CI")
        pytest.skip("openssl is not on PATH")
    folder = tmp_path_factory.mktemp("compat-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_0_2_9_code_reaches_an_https_served_sandbox_from_its_printed_environment(
    certificate: tuple[Path, Path],
) -> None:
    """The seed/0.2.9 login example (FlexMarket("localhost"), make_request /users/login), with
    only the variables the served sandbox names: TLS verified against its certificate."""
    from flxtrd.sandbox._served import ServedOptions, ServedSandbox

    cert, key = certificate
    options = ServedOptions(http_port=0, amqp_url="memory://", certfile=str(cert), keyfile=str(key))
    sandbox = ServedSandbox(options)
    sandbox.start()
    try:
        env = sandbox.environment()
        user = FlexUser(
            name="me@example.com", password="pw", access_token="<your_device_access_token>"
        )
        client = FlexAPIClient(user=user, market=FlexMarket(market_url="localhost"), env=env)
        with client:
            response, err = client.make_request(
                method="POST", endpoint="/users/login",
                data={"email": user.name, "password": user.password},
            )  # fmt: skip
        assert err is None, err
        assert response.request_response is not None
        assert str(response.request_response.url).startswith(sandbox.http_url)
        assert sandbox.http_url.startswith("https://")
        assert response.request_response.json()["userId"]
    finally:
        sandbox.stop()


# --- point 7: two served sandboxes, one seed, one RabbitMQ --------------------------------------


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout


@pytest.fixture
def shared_vhost(amqp_url: str) -> Iterator[str]:
    """A fresh virtual host on the real RabbitMQ (rabbitmqctl needed; a failure in CI)."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed for the broker-user tests in CI")
        pytest.skip("rabbitmqctl is not on PATH")
    vhost = f"flxtrd-compat-{uuid.uuid4().hex[:8]}"
    where = urlsplit(amqp_url)
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, where.username or "guest", ".*", ".*", ".*")
        yield urlunsplit((where.scheme, where.netloc, f"/{vhost}", "", ""))
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def _broker_login_works(vhost_url: str, login: dict[str, Any]) -> bool:
    """Whether the device of a /users/login answer can log in to the broker, as on the market."""
    from kombu import Connection

    where = urlsplit(vhost_url)
    token = login["locations"][0]["token"]
    url = f"amqp://{login['userId']}:{token}@{where.hostname}:{where.port or 5672}{where.path}"
    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.connect()
    except Exception:
        return False
    return True


@pytest.mark.broker
def test_stopping_one_of_two_same_seed_sandboxes_keeps_the_others_broker_users(
    shared_vhost: str, tmp_path: Path
) -> None:
    """Two served sandboxes, same --seed and --token-key-file, one RabbitMQ: the same account is
    one broker user owned by both; after one stops, the other's device still logs in."""
    import httpx

    from flxtrd.sandbox._served import ServedOptions, ServedSandbox

    key_file = tmp_path / "token.key"
    key_file.write_text(uuid.uuid4().hex * 2)
    seed = uuid.uuid4().int % 2**31
    sandboxes = [
        ServedSandbox(ServedOptions(http_port=0, amqp_url=shared_vhost, seed=seed,
                                    token_key_file=str(key_file), broker_users="on",
                                    queue=f"flxtrd.sandbox.orders.{n}"))
        for n in range(2)
    ]  # fmt: skip
    started: list[ServedSandbox] = []
    try:
        for sandbox in sandboxes:
            sandbox.start()
            started.append(sandbox)
        logins = [
            httpx.post(
                f"{s.http_url}/users/login", data={"email": "same@example.com", "password": "pw"}
            ).json()
            for s in sandboxes
        ]
        assert logins[0]["userId"] == logins[1]["userId"]
        assert all(_broker_login_works(shared_vhost, login) for login in logins)
        sandboxes[0].stop()
        started.remove(sandboxes[0])
        assert _broker_login_works(shared_vhost, logins[1])
        users = json.loads(_rabbitmqctl("list_users", "--formatter", "json"))
        assert logins[1]["userId"] in {u["user"] for u in users}
    finally:
        for sandbox in started:
            sandbox.stop()
