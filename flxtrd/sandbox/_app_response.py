"""Answers of the sandbox REST app: JSON bodies from the generated models, and its error bodies.

Every handler module (`_app_accounts`, `_app_deals`, `_app_orders`) and the stream module
(`_app_streams`, whose refused upgrade is a 401) answers through these, so each status carries
the spec's body (``ErrorDetail``, ``HTTPValidationError``, ``OAuthError``) the same way
everywhere. Times are rendered here too: the spec's examples show UTC with ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from glocalflex_rest import models as rest
from starlette.responses import JSONResponse, Response

from ._app_schema import Failure

__all__ = ["detail", "dt", "invalid", "json_response", "oauth_error", "unauthorized", "utc"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _UtcDatetime(datetime):
    """A UTC datetime whose ``isoformat()`` ends in ``Z`` (what the spec's examples show)."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        """ISO 8601 with ``Z`` instead of ``+00:00``."""
        return super().isoformat(sep, timespec).replace("+00:00", "Z")


def utc(ms: int) -> datetime:
    """Ms since the epoch as an aware UTC datetime (msgspec encodes it with ``Z``)."""
    return _EPOCH + timedelta(milliseconds=ms)


def dt(ms: int) -> datetime:
    """Ms since the epoch as an aware UTC datetime whose ``isoformat()`` ends in ``Z``."""
    d = utc(ms)
    return _UtcDatetime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=UTC
    )


def json_response(
    model: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response from a generated model (or a list of them)."""
    content = [m.to_dict() for m in model] if isinstance(model, list) else model.to_dict()
    return JSONResponse(content, status_code=status_code, headers=headers)


def detail(status_code: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    """An ``ErrorDetail`` answer with ``status_code``."""
    return json_response(rest.ErrorDetail(detail=text), status_code, headers)


def unauthorized(text: str = "Not authenticated") -> Response:
    """401 with ``WWW-Authenticate: Bearer``."""
    return detail(401, text, {"WWW-Authenticate": "Bearer"})


def invalid(failures: list[Failure]) -> Response:
    """422 with the spec's ``HTTPValidationError`` body, one item per failure."""
    items = [rest.ValidationErrorItem(loc=list(f.loc), msg=f.msg, type_=f.type) for f in failures]
    return json_response(rest.HTTPValidationError(detail=items), 422)


def oauth_error(error: str, description: str) -> Response:
    """400 with the token endpoint's ``OAuthError`` body."""
    return json_response(rest.OAuthError(error=error, error_description=description), 400)
