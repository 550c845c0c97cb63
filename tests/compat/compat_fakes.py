"""A fake generation-1 market for the flxtrd 0.2.9 compatibility suite."""

from __future__ import annotations

import httpx

USER_ID = "5f0c8e1a2b3c4d5e6f708192"
APP_KEY = "5f0c8e1a2b3c4d5e6f7081a0"
DEVICE_TOKEN = "dev-token-3f1d2c4b"
EMAIL = "trader@example.com"
PASSWORD = "pw-horse-battery"
JWT = "jwt-eyJhbGciOiJIUzI1NiJ9"


def gen1_market(requests: list[httpx.Request]) -> httpx.MockTransport:
    """A generation-1 market knowing one device token and one account; records the requests."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        location = {"_id": APP_KEY, "token": DEVICE_TOKEN}
        if request.url.path == f"/users/mptoken/{DEVICE_TOKEN}":
            return httpx.Response(200, json={"userId": USER_ID, "locations": [location]})
        if request.url.path.startswith("/users/mptoken/"):
            return httpx.Response(404, json={"message": "token not found"})
        if request.url.path == "/users/login":
            form = dict(httpx.QueryParams(request.content.decode()))
            if form == {"email": EMAIL, "password": PASSWORD}:
                body = {"userId": USER_ID, "token": JWT, "locations": [location]}
                return httpx.Response(200, json=body)
            return httpx.Response(401, json={"message": "wrong e-mail or password"})
        return httpx.Response(404)

    return httpx.MockTransport(handle)
