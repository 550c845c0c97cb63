# ruff: noqa: E501 - the examples below are quoted verbatim, long lines included
"""The seed README's REST half and flxtrd 0.2.9's login example, unchanged, against a real server.

A tiny Starlette app stands in for the market (the sandbox will replace it); uvicorn serves it
on 127.0.0.1 with a port chosen by the OS, in a thread. The tests wait on the server's startup
(an event set after ``Server.startup``), never on a sleep. Every request the server receives is
checked against ``specs/openapi.yaml``.
"""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from openapi_shim import SpecViolation, validate_request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import flxtrd

# flxtrd 0.2.9's README "Basic REST API client example" (the sdist ships no examples/ directory,
# so this is examples/user_login.py as its README prints it), verbatim.
USER_LOGIN_029 = '''
"""Example usage of the REST API client"""
from logging import ERROR, INFO
from pprint import pformat
import time
import sys

from flxtrd import (
    ASK,
    BID,
    FlexBroker,
    FlexAPIClient,
    FlexResource,
    FlexMarket,
    MarketOrder,
    FlexUser,
    log,
    utils,
)


def main() -> None:
    GLOCALFLEX_MARKET_URL = "glocalflexmarket.com"

    user = FlexUser(name="<your_email>",
                    password="<your_password>",
                    access_token="<your_device_access_token>"
                    )


    market = FlexMarket(market_url=GLOCALFLEX_MARKET_URL)

    # Create a AMPQ client that connects to the message broker
    trading_client = FlexAPIClient(user=user,
                                   market=market
                                   )

    # Send a request to the GLocalFlex with REST API
    response, err = trading_client.make_request(method="POST",
                                                endpoint="/users/login",
                                                data={"email": user.name, "password": user.password},
                                                )
    if err:
        log(ERROR, err)

    log(INFO, pformat(response.request_response.json()))
    log(INFO, response.request_response.status_code)


if __name__ == "__main__":
    main()
'''

# The seed README's example up to its REST half (everything before the first send_order), verbatim.
SEED_REST_HALF = '''
"""Example usage of the trading client using AMPQ protocol"""
import sys
import time
from logging import ERROR, INFO
from pprint import pformat
from random import random

from flxtrd import (
    Broker,
    FlexAPIClient,
    Flexibility,
    Market,
    MarketOrder,
    OrderType,
    User,
    log,
)


def main() -> None:
    GFLEX_API_URL = "localhost"

    user = User(
        name="<your_email>",
        password="<your_password>",
        accessToken="<your_device_access_token>",
    )

    market = Market(ip=GFLEX_API_URL, broker=Broker(ip=GFLEX_API_URL))

    # Define the tradable flexibility to sell or buy
    flexResource = Flexibility(
        wattage=random() * 100,
        starttime=int((time.time() + (60 * 60 * random() * 10)) / 60) * 60 * 1000,
        duration=int(((round(random()) * 14 + 1) / 60.0) * 60 * 60 * 1000),
        expirationtime=int(time.time() / (60 * 1000) + random() * 20) * 60 * 1000,
    )

    # Create a market order to sell or buy flexibility
    market_order = MarketOrder(type=OrderType.ASK, price=100, flexibility=flexResource)

    # Create a AMPQ client that connects to the message broker
    trading_client = FlexAPIClient(base_url=GFLEX_API_URL, user=user, market=market)

    # Send a request to the GLocalFlex with REST API
    response, err = trading_client.make_request(
        method="POST",
        endpoint="/users/login",
        data={"email": user.name, "password": user.password},
    )

    if err:
        log(ERROR, err)
        sys.exit(1)

    log(INFO, pformat(response.request_response.json()))
    log(INFO, response.request_response.status_code)


if __name__ == "__main__":
    main()
'''

LOGIN_BODY = {
    "userId": "5f0c8e1a2b3c4d5e6f708192",
    "locations": [{"_id": "5f0c8e1a2b3c4d5e6f7081a0", "token": "<your_device_access_token>"}],
}


@dataclass
class MiniMarket:
    """What the local server saw."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def _app(seen: MiniMarket) -> Starlette:
    """A two-route stand-in for the market's generation-1 REST API."""

    async def checked(request: Request) -> dict[str, str]:
        body = await request.body()
        try:
            validate_request(
                httpx.Request(
                    request.method, str(request.url), headers=request.headers.raw, content=body
                )
            )
        except SpecViolation as exc:
            seen.violations.append(str(exc))
        form = dict(parse_qsl(body.decode()))
        seen.requests.append((request.method, request.url.path, form))
        return form

    async def login(request: Request) -> Response:
        form = await checked(request)
        if form.get("email") != "<your_email>" or form.get("password") != "<your_password>":
            return JSONResponse({"detail": "Invalid credentials"}, status_code=401)
        return JSONResponse(LOGIN_BODY)

    async def mptoken(request: Request) -> Response:
        await checked(request)
        if request.path_params["token"] != "<your_device_access_token>":
            return JSONResponse({"detail": "Unknown token"}, status_code=404)
        return JSONResponse(
            {"userId": LOGIN_BODY["userId"], "locations": [{"_id": "5f0c8e1a2b3c4d5e6f7081a0"}]}
        )

    return Starlette(
        routes=[
            Route("/users/login", login, methods=["POST"]),
            Route("/users/mptoken/{token}", mptoken, methods=["GET"]),
        ]
    )


class _ThreadServer(uvicorn.Server):
    """uvicorn in a thread; ``ready`` is set once it listens (no polling, no sleeps)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Start, then signal the test thread."""
        try:
            await super().startup(sockets)  # type: ignore[arg-type]
        finally:
            self.ready.set()


@pytest.fixture
def local_market() -> Iterator[tuple[str, MiniMarket]]:
    """A real HTTP server on 127.0.0.1 and an OS-chosen port; yields its URL and what it saw."""
    seen = MiniMarket()
    config = uvicorn.Config(
        _app(seen), host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none"
    )
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.ready.wait(timeout=30)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", seen
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def public_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the names the examples import available on ``flxtrd`` while its __init__ is pending.

    Returns the names that were missing (the owner of ``flxtrd/__init__.py`` exports them).
    ``utils`` (a 0.2.9 module the REST example imports but does not use) gets a stub.
    """
    from flxtrd import _types
    from flxtrd._client import _client
    from flxtrd._compat import _console

    provided = {
        "ASK": _types.ASK,
        "BID": _types.BID,
        "Broker": _types.Broker,
        "FlexBroker": _types.FlexBroker,
        "FlexAPIClient": _client.FlexAPIClient,
        "FlexMarket": _types.FlexMarket,
        "FlexResource": _types.FlexResource,
        "FlexUser": _types.FlexUser,
        "Flexibility": _types.Flexibility,
        "Market": _types.Market,
        "MarketOrder": _types.MarketOrder,
        "OrderType": _types.OrderType,
        "User": _types.User,
        "log": _console.log,
        "utils": types.ModuleType("flxtrd.utils"),
    }
    missing = [name for name in provided if not hasattr(flxtrd, name)]
    for name in missing:
        monkeypatch.setattr(flxtrd, name, provided[name], raising=False)
    return missing


def _run_example(source: str, host: str, url: str) -> None:
    """Run an example as ``__main__`` with its host constant pointed at the local server."""
    assert source.count(f'"{host}"') == 1
    code = compile(source.replace(f'"{host}"', f'"{url}"'), "example.py", "exec")
    exec(code, {"__name__": "__main__"})


def test_seed_rest_half(
    local_market: tuple[str, MiniMarket], public_names: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The seed README's make_request("POST", "/users/login") runs and logs the JSON and the 200."""
    url, seen = local_market
    with caplog.at_level(logging.INFO, logger="flxtrd"):
        _run_example(SEED_REST_HALF, "localhost", url)
    assert seen.violations == []
    assert seen.requests == [
        ("POST", "/users/login", {"email": "<your_email>", "password": "<your_password>"})
    ]
    messages = [r.getMessage() for r in caplog.records if r.name == "flxtrd"]
    assert "'userId': '5f0c8e1a2b3c4d5e6f708192'" in messages[-2]
    assert messages[-1] == "200"


def test_flxtrd_029_user_login_example(
    local_market: tuple[str, MiniMarket], public_names: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """flxtrd 0.2.9's login example runs unchanged (host aside) against a real local server."""
    url, seen = local_market
    with caplog.at_level(logging.INFO, logger="flxtrd"):
        _run_example(USER_LOGIN_029, "glocalflexmarket.com", url)
    assert seen.violations == []
    assert [(m, p) for m, p, _ in seen.requests] == [("POST", "/users/login")]
    messages = [r.getMessage() for r in caplog.records if r.name == "flxtrd"]
    assert "'locations'" in messages[-2]
    assert messages[-1] == "200"


def test_typed_login_and_lookup_over_real_http(local_market: tuple[str, MiniMarket]) -> None:
    """Typed login and device-token lookup work over a real connection pool too."""
    from flxtrd._client._client import FlexAPIClient
    from flxtrd._types import User

    url, seen = local_market
    user = User(
        name="<your_email>", password="<your_password>", accessToken="<your_device_access_token>"
    )
    with FlexAPIClient(base_url=url, user=user, env={}) as client:
        login = client.login()
        assert login.user_id == LOGIN_BODY["userId"]
        response, err = client.make_request("GET", "/users/mptoken/nope")
        assert err is not None
        assert response.request_response.status_code == 404
    with FlexAPIClient(
        base_url=url, user=User(accessToken="<your_device_access_token>"), env={}
    ) as client:
        assert client.authenticate().application_key == "5f0c8e1a2b3c4d5e6f7081a0"
    assert seen.violations == []
