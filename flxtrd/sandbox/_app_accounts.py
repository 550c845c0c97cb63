"""The sandbox REST app's account routes: logins of both generations and the token endpoint.

``POST /users/login`` and ``GET /users/mptoken/{token}`` (generation 1) and
``POST /auth/oauth/v2/token`` (generation 2, password and refresh grants) are the routes that
hand out credentials; every other route only checks them (`_app_request.user`).
"""

from __future__ import annotations

from glocalflex_rest import models as rest
from starlette.requests import Request
from starlette.responses import Response

from ._accounts import OAUTH_CLIENT_ID, AuthError
from ._app_request import form, param
from ._app_response import detail, invalid, json_response, oauth_error, unauthorized
from ._app_schema import Failure
from ._market import SandboxMarket

__all__ = ["AccountHandlers"]


class AccountHandlers:
    """The account handlers over one market."""

    def __init__(self, market: SandboxMarket) -> None:
        self.market = market

    async def login(self, request: Request) -> Response:
        """``POST /users/login``."""
        fields = await form(request, "LoginForm")
        if isinstance(fields, Response):
            return fields
        try:
            account = self.market.login(fields["email"], fields["password"])
        except AuthError as exc:
            return unauthorized(exc.description)
        locations = [
            rest.Location(field_id=loc.id, token=loc.token, name=loc.name)
            for loc in account.locations
        ]
        return json_response(
            rest.LoginResponse(
                user_id=account.user_id,
                locations=locations,
                token=self.market.login_token(account),
            )
        )

    async def mptoken(self, request: Request) -> Response:
        """``GET /users/mptoken/{token}``."""
        failures: list[Failure] = []
        token = param(request.path_params["token"], "token", ("path", "token"), failures)
        if failures:
            return invalid(failures)
        found = self.market.account_by_token(token)
        if found is None:
            return detail(404, "Not found")
        account, location = found
        return json_response(
            rest.MptokenResponse(
                user_id=account.user_id,
                locations=[rest.Location(field_id=location.id, name=location.name)],
            )
        )

    async def token(self, request: Request) -> Response:
        """``POST /auth/oauth/v2/token``."""
        fields = await form(request, "TokenRequest")
        if isinstance(fields, Response):
            return fields
        if fields["client_id"] != OAUTH_CLIENT_ID:
            return unauthorized(f"Unknown client_id {fields['client_id']!r}")
        try:
            if fields["grant_type"] == "password":
                username, password = fields.get("username"), fields.get("password")
                if username is None or password is None:
                    return oauth_error(
                        "invalid_request", "The password grant needs username and password"
                    )
                issued = self.market.issue_token(username, password)
            else:
                refresh = fields.get("refresh_token")
                if refresh is None:
                    return oauth_error(
                        "invalid_request", "The refresh_token grant needs refresh_token"
                    )
                issued = self.market.refresh_token(refresh)
        except AuthError as exc:
            return oauth_error("invalid_grant", exc.description)
        return json_response(
            rest.TokenResponse(
                access_token=issued.access_token,
                expires_in=issued.expires_in,
                token_type=issued.token_type,
                refresh_token=issued.refresh_token,
                refresh_expires_in=issued.refresh_expires_in,
            ),
            headers={"Cache-Control": "no-store"},
        )
