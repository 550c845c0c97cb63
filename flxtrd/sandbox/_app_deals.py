"""The sandbox REST app's market data route: ``GET /deals/`` (generation 1's trade history).

Deals are the one route with a cache validator: the body's hash is its ``ETag`` and a matching
``If-None-Match`` is answered 304, so the route and its body rendering live together here.
"""

from __future__ import annotations

import hashlib
import json

from glocalflex_rest import models as rest
from starlette.requests import Request
from starlette.responses import Response

from ._accounts import AuthError
from ._app_request import bearer, last, param
from ._app_response import dt, invalid, unauthorized
from ._app_schema import Failure
from ._market import SandboxMarket
from ._market_time import relative_time_ms
from ._types import Trade

__all__ = ["DealHandlers"]


class DealHandlers:
    """The deal handler over one market."""

    def __init__(self, market: SandboxMarket) -> None:
        self.market = market

    async def deals(self, request: Request) -> Response:
        """``GET /deals/``."""
        token = bearer(request.headers)
        if token is None:
            return unauthorized()
        try:
            self.market.user_for_login_token(token)
        except AuthError as exc:
            return unauthorized(exc.description)
        failures: list[Failure] = []
        relative = param(
            last(request, "relativeTime"), "relativeTime", ("query", "relativeTime"), failures
        )
        if_none_match = param(
            request.headers.get("if-none-match"),
            "If-None-Match",
            ("header", "If-None-Match"),
            failures,
        )
        if failures:
            return invalid(failures)
        deals = [_deal(t).to_dict() for t in self.market.deals(relative_time_ms(relative))]
        body = json.dumps(deals, separators=(",", ":"), allow_nan=False).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="application/json", headers={"ETag": etag})


def _deal(t: Trade) -> rest.Deal:
    return rest.Deal(
        time=dt(t.time_ms),
        starttime=t.delivery_start_ms,
        runtime=t.delivery_end_ms - t.delivery_start_ms,
        price=t.price,
        totalenergy=t.energy,
        totalprice=t.price * t.energy / 1000,
    )


def _etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag`` (weak comparison, ``*`` matches)."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False
