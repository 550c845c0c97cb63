"""Secrets at DEBUG: a full run never shows a password or token, anywhere.

The run uses a known password and a known device token, plus every token the market issues on
the way (collected off the wire by a transport that reads the auth responses): generation-1
login (JWT and location token), generation-2 OAuth2 tokens (password grant, then a refresh
forced by the client's clock), a confirmed order and its replies (a trade with a second
client), and failing requests (the token in a URL path and in a query, the password echoed by a
422, a 404). Logging is at DEBUG on the root logger and on every logger that exists (httpx,
httpcore, kombu, amqp, starlette, the sandbox's own ...), captured by one handler that formats
each record with its traceback.

Searched for each secret (and its URL-encoded spellings): the captured log text, ``repr()`` and
``str()`` of every object involved, the message and the formatted traceback (with chained
causes) of every error, and the output of ``python -m flxtrd -v login`` / ``order`` run as
subprocesses with ``FLXTRD_PASSWORD`` and ``FLXTRD_ACCESS_TOKEN`` set.

The AMQP side on the real RabbitMQ: a broker user with a known password (made with
rabbitmqctl, deleted after) connects, sends and reads at DEBUG; a wrong password is refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from rel_broker import need_rabbitmqctl, rabbitmqctl
from rel_tls import serve_app

from flxtrd import FlexAPIClient, Flexibility, MarketOrder, OrderType, User
from flxtrd._amqp._api import AmpqAPI
from flxtrd._errors import BrokerError, FlexError
from flxtrd._retry import RetryPolicy

PASSWORD = "pw-Kn0wn-S3cret-" + "ä€"  # non-ASCII too: URL-encoded spellings differ
BUYER_PASSWORD = "pw-Buyer-S3cret-42"
DEVICE_TOKEN = "tok-Kn0wn-D3vice-7f3a"
SEED = 424242
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class CaptureAll(logging.Handler):
    """Formats and keeps every record (message, traceback, stack)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the formatted record."""
        self.names.add(record.name)
        self.lines.append(self.format(record))


@pytest.fixture
def debug_logs() -> Iterator[CaptureAll]:
    """Root and every existing logger at DEBUG into one capturing handler; restored after."""
    handler = CaptureAll()
    root = logging.getLogger()
    saved = {
        name: lg.level
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    saved_root = root.level
    for name in [*saved, "httpx", "httpcore", "kombu", "amqp", "flxtrd", "asyncio"]:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class TokenHarvest(httpx.BaseTransport):
    """Passes requests on; keeps every token an auth response carries (the market's secrets)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.secrets: set[str] = set()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward, then read tokens out of login/token responses."""
        self.paths.append(f"{request.method} {request.url.path}")
        response = self.inner.handle_request(request)
        path = request.url.path
        if path.startswith(("/users/login", "/auth/oauth/v2/token", "/users/mptoken/")):
            body = response.read()
            try:
                data = json.loads(body)
            except ValueError:
                return response
            if isinstance(data, dict):
                for key in ("token", "access_token", "refresh_token"):
                    if isinstance(data.get(key), str):
                        self.secrets.add(data[key])
                for location in data.get("locations") or ():
                    if isinstance(location, dict) and isinstance(location.get("token"), str):
                        self.secrets.add(location["token"])
        return response

    def close(self) -> None:
        """Close the wrapped transport (its connection pool)."""
        self.inner.close()


def spellings(secrets: Iterable[str]) -> set[str]:
    """Each secret as it is, URL-encoded and form-encoded."""
    out: set[str] = set()
    for secret in secrets:
        if secret:
            out |= {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    return out


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets (their first 12 characters) found in ``text``."""
    return sorted({s[:12] + "..." for s in spellings(secrets) if s in text})


def error_text(error: BaseException) -> str:
    """str, repr and the full formatted traceback (with chained causes) of an error."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.fixture
def embedded() -> Iterator[Any]:
    """A fresh embedded sandbox (memory:// broker), its transport wrapped to harvest tokens."""
    from flxtrd.sandbox import EmbeddedSandbox, SandboxMarket, reset_embedded_sandbox

    reset_embedded_sandbox()
    sandbox = EmbeddedSandbox(SandboxMarket(seed=SEED), expiry_interval_s=None).start()
    try:
        yield sandbox
    finally:
        sandbox.close()
        reset_embedded_sandbox()


class Clock:
    """Epoch seconds that the test can move forward (forces a token refresh)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        """Now, plus the offset."""
        return datetime.now(UTC).timestamp() + self.offset


def test_a_full_debug_run_shows_no_secret(debug_logs: CaptureAll, embedded: Any) -> None:
    """Login, OAuth2 + refresh, order, replies, failures at DEBUG: no secret shown anywhere."""
    harvest = TokenHarvest(embedded.transport())
    clock = Clock()
    seller = FlexAPIClient(
        base_url="sandbox://",
        transport=harvest,
        clock=clock,
        env={},
        user=User(name="seller@secrets.test", password=PASSWORD, accessToken=DEVICE_TOKEN),
        retry_policy=RetryPolicy(max_retries=1, initial_delay_s=0.0),
    )
    buyer = FlexAPIClient(
        base_url="sandbox://",
        transport=TokenHarvest(embedded.transport()),
        env={},
        user=User(name="buyer@secrets.test", password=BUYER_PASSWORD),
    )
    objects: list[Any] = [seller, buyer, seller.user, buyer.user, seller.auth, buyer.auth]
    errors: list[BaseException] = []
    try:
        objects.append(seller.login())  # generation 1: JWT and location token
        objects.append(seller.authenticate())
        start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        objects.append(seller.orders.list())  # generation 2: password grant
        clock.offset = 400.0  # the 300 s access token is stale now: the next call refreshes it
        objects.append(seller.orders.list())
        start_ms = int(start.timestamp() * 1000)
        flex = Flexibility(
            wattage=2500.0,
            starttime=start_ms,
            duration=900_000,
            expirationtime=start_ms - 1_800_000,
        )
        response, err = seller.send_order(
            order=MarketOrder(type=OrderType.ASK, price=10.0, flexibility=flex)
        )
        assert err is None, err
        _, err = buyer.send_order(
            order=MarketOrder(type=OrderType.BID, price=12.0, flexibility=flex)
        )
        assert err is None, err
        objects += [response, response.order_response, seller.trade_protocol, buyer.trade_protocol]
        replies = [*seller.market_messages(timeout=2.0), *buyer.market_messages(timeout=0.5)]
        assert {m.msg_type for m in replies} >= {"ask_closed_order", "bid_closed_order", "tick"}
        objects += replies
        # failing requests
        for call in (
            lambda: seller.make_request("GET", f"/users/mptoken/{DEVICE_TOKEN}"),
            # any device token is known (a device made on first use): make the path fail
            lambda: seller.make_request("POST", f"/users/mptoken/{DEVICE_TOKEN}"),
            lambda: seller.make_request("GET", "/deals/", params={"token": DEVICE_TOKEN}),
            lambda: seller.make_request(
                "POST", "/users/login", json={"email": "x", "password": PASSWORD}
            ),
            lambda: seller.make_request(
                "POST", "/users/login", data={"email": "seller@secrets.test", "password": "x"}
            ),
        ):
            failed, err = call()
            objects.append(failed)
            if err is not None:
                errors.append(err)
        with pytest.raises(FlexError) as raised:
            seller.orders.get(987654)
        errors.append(raised.value)
        assert len(errors) >= 3
    finally:
        seller.close()
        buyer.close()

    secrets = {PASSWORD, BUYER_PASSWORD, DEVICE_TOKEN, *harvest.secrets}
    secrets |= {seller.user.access_token or "", buyer.user.access_token or ""}
    assert len(harvest.secrets) >= 5  # JWT, location token, access + refresh, refreshed pair
    assert sum(1 for p in harvest.paths if p == "POST /auth/oauth/v2/token") >= 2
    log_text = "\n".join(debug_logs.lines)
    reprs = "\n".join(f"{o!r}\n{o!s}" for o in objects)
    errs = "\n".join(error_text(e) for e in errors)
    print(
        f"\nsecrets checked: {len(secrets)} ({len(spellings(secrets))} spellings); log records"
        f" {len(debug_logs.lines)} from {len(debug_logs.names)} loggers; objects {len(objects)};"
        f" errors {len(errors)}"
    )
    assert {"httpx", "flxtrd.auth", "flxtrd.amqp"} <= debug_logs.names
    assert "/users/mptoken/***" in log_text  # the secrets did pass through, redacted
    assert leaks(log_text, secrets) == [], "in the logs"
    assert leaks(reprs, secrets) == [], "in reprs"
    assert leaks(errs, secrets) == [], "in error messages"
    assert not JWT.search(log_text + reprs + errs), "a JWT-shaped token is shown"


def test_a_debug_run_over_real_http_shows_no_secret(debug_logs: CaptureAll) -> None:
    """The sandbox app over real HTTP (httpcore logging at DEBUG too): no secret shown."""
    from flxtrd.sandbox import SandboxMarket
    from flxtrd.sandbox._accounts import Accounts, parse_accounts
    from flxtrd.sandbox._app import create_app

    # strict accounts: the unknown device token is refused (a permissive sandbox would make it
    # a device), so the client falls back to the password login and more secrets pass by
    known = parse_accounts({"accounts": [{"email": "http@secrets.test", "password": PASSWORD}]})
    strict = Accounts(seed=SEED, strict=True, accounts=known)
    with serve_app(create_app(SandboxMarket(seed=SEED, accounts=strict))) as port:
        transport = TokenHarvest(httpx.HTTPTransport())
        client = FlexAPIClient(
            base_url=f"http://127.0.0.1:{port}",
            transport=transport,
            env={},
            user=User(name="http@secrets.test", password=PASSWORD, accessToken=DEVICE_TOKEN),
        )
        objects: list[Any] = [client, client.user, client.auth]
        errors: list[BaseException] = []
        try:
            objects.append(client.authenticate())  # unknown device token: falls back to login
            objects.append(client.orders.list())
            failed, err = client.make_request("GET", f"/users/mptoken/{DEVICE_TOKEN}")
            objects.append(failed)
            errors += [err] if err is not None else []
            with pytest.raises(FlexError) as raised:
                client.contracts.get(424242)
            errors.append(raised.value)
        finally:
            client.close()
    secrets = {PASSWORD, DEVICE_TOKEN, *transport.secrets}
    log_text = "\n".join(debug_logs.lines)
    reprs = "\n".join(f"{o!r}\n{o!s}" for o in objects)
    errs = "\n".join(error_text(e) for e in errors)
    print(
        f"\nreal HTTP: secrets {len(secrets)}, log records {len(debug_logs.lines)} from"
        f" {sorted(n for n in debug_logs.names if n.startswith(('httpx', 'httpcore')))}"
    )
    assert any(name.startswith("httpcore") for name in debug_logs.names)
    assert len(transport.secrets) >= 3 and len(errors) == 2
    assert leaks(log_text, secrets) == [], "in the logs"
    assert leaks(reprs, secrets) == [], "in reprs"
    assert leaks(errs, secrets) == [], "in error messages"
    assert not JWT.search(log_text + reprs + errs), "a JWT-shaped token is shown"


# --- the CLI ---------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m flxtrd -v <args>`` with ``env`` (and nothing FLXTRD_* from this process)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
    return subprocess.run(
        [sys.executable, "-m", "flxtrd", "-v", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_at_debug_shows_no_secret() -> None:
    """login, order and a failing login, with -v: the password and tokens never appear."""
    from flxtrd.sandbox import SandboxMarket

    email = f"cli-{uuid.uuid4().hex[:8]}@secrets.test"
    env = {
        "FLXTRD_MARKET_URL": "sandbox://",
        "FLXTRD_USERNAME": email,
        "FLXTRD_PASSWORD": PASSWORD,
        "FLXTRD_ACCESS_TOKEN": DEVICE_TOKEN,
        "FLXTRD_SANDBOX_SEED": str(SEED),
    }
    device_token = SandboxMarket(seed=SEED).login(email, PASSWORD).locations[0].token
    runs = [
        run_cli("login", env=env),
        run_cli("order", "ask", "--power", "2500", "--price", "10", "--wait", "0.3", env=env),
        run_cli("order", "bid", "--power", "nan", "--price", "10", env=env),
        run_cli("login", env={**env, "FLXTRD_MARKET_URL": "http://127.0.0.1:9"}),
    ]
    outputs = ["\n".join([r.stdout, r.stderr]) for r in runs]
    print(
        f"\nCLI runs: exit codes {[r.returncode for r in runs]},"
        f" output {sum(len(o) for o in outputs)} characters"
    )
    assert [r.returncode for r in runs] == [0, 0, 4, 5], outputs  # ok, ok, validation, network
    assert "application key" in runs[0].stdout and "confirmed" in runs[1].stdout
    assert "DEBUG" in outputs[0] and "DEBUG" in outputs[1]  # -v logs at DEBUG
    for output in outputs:
        assert leaks(output, {PASSWORD, DEVICE_TOKEN, device_token}) == [], output[-2000:]
        assert not JWT.search(output), output[-2000:]


# --- AMQP on RabbitMQ ------------------------------------------------------------------------


@pytest.fixture
def broker_user(amqp_url: str) -> Iterator[tuple[str, str]]:
    """A RabbitMQ user with a known password on the default vhost (deleted afterwards)."""
    need_rabbitmqctl()
    name, password = f"rel-secret-{uuid.uuid4().hex[:8]}", "amqp-Kn0wn-S3cret-pw"
    rabbitmqctl("add_user", name, password)
    try:
        rabbitmqctl("set_permissions", "-p", "/", name, ".*", ".*", ".*")
        yield name, password
    finally:
        rabbitmqctl("delete_user", name)


def test_amqp_at_debug_shows_no_broker_password(
    debug_logs: CaptureAll, broker_user: tuple[str, str], amqp_url: str
) -> None:
    """Connect, publish, read and a refused login at DEBUG (kombu, amqp): no password shown."""
    name, password = broker_user
    wrong = "amqp-Wr0ng-S3cret-pw"
    host = amqp_url.split("@", 1)[1]
    tag = uuid.uuid4().hex[:8]
    objects: list[Any] = []
    api = AmpqAPI(
        f"amqp://{host}",
        name,
        password,
        f"sec-{tag}",
        exchange=f"sec-in-{tag}",
        reply_exchange=f"sec-out-{tag}",
        retry_policy=RetryPolicy(max_retries=0),
    )
    in_url = AmpqAPI(
        f"amqp://{name}:{password}@{host}",
        None,
        None,
        f"sec2-{tag}",
        exchange=f"sec-in-{tag}",
        reply_exchange=f"sec-out-{tag}",
        retry_policy=RetryPolicy(max_retries=0),
    )
    errors: list[BaseException] = []
    try:
        api.connect()
        in_url.connect()
        start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0)
        start_ms = int(start.timestamp() * 1000)
        order = MarketOrder(
            type=OrderType.ASK,
            price=1.0,
            flexibility=Flexibility(wattage=1.0, starttime=start_ms, duration=900_000),
        )
        try:
            api.send_order(order)  # no market queue is bound: unroutable
        except BrokerError as exc:
            errors.append(exc)
        objects += [api, in_url, api.stats, list(api.market_messages(timeout=0.1))]
        refused = AmpqAPI(
            f"amqp://{host}", name, wrong, f"sec3-{tag}", retry_policy=RetryPolicy(max_retries=0)
        )
        with pytest.raises(BrokerError) as raised:
            refused.connect()
        errors.append(raised.value)
        objects.append(refused)
    finally:
        api.close_connection()
        in_url.close_connection()
        with __import__("kombu").Connection(amqp_url) as conn:
            for exchange in (f"sec-in-{tag}", f"sec-out-{tag}"):
                conn.channel().exchange_delete(exchange)
    secrets = {password, wrong}
    log_text = "\n".join(debug_logs.lines)
    reprs = "\n".join(f"{o!r}\n{o!s}" for o in objects)
    errs = "\n".join(error_text(e) for e in errors)
    print(
        f"\nAMQP at DEBUG: {len(debug_logs.lines)} records from"
        f" {sorted(n for n in debug_logs.names if n.split('.')[0] in ('amqp', 'kombu', 'flxtrd'))}"
    )
    assert any(n.startswith("amqp") for n in debug_logs.names)
    assert len(errors) == 2
    assert leaks(log_text, secrets) == [], "in the logs"
    assert leaks(reprs, secrets) == [], "in reprs"
    assert leaks(errs, secrets) == [], "in error messages"
