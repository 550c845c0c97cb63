"""The ``Authorization`` header of a REST request: who set it, setting it, taking it back.

The auth plugin and both clients must agree on one rule (a caller's own ``Authorization`` is
honoured and never replaced; a 401 to ours is answered by one re-login and one resend), so the
few functions that read and write that header live together here, free of any auth state.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import httpx

from flxtrd._rest._http import PreparedRequest

__all__ = ["_authorize", "_hook_arguments", "_rejected", "has_authorization"]


def _authorize(headers: MutableMapping[str, str] | None, token: str | None) -> None:
    """Put ``Bearer <token>`` on ``headers`` (when there are headers and a token)."""
    if headers is not None and token is not None:
        headers["Authorization"] = f"Bearer {token}"


def has_authorization(headers: Mapping[str, str] | None) -> bool:
    """True if ``headers`` already carry an ``Authorization`` header (any letter case)."""
    if not headers:
        return False
    return any(key.lower() == "authorization" for key in headers)


def _rejected(
    prepared: PreparedRequest, response: httpx.Response, caller_authorized: bool
) -> str | None:
    """After a 401 to a request whose ``Authorization`` the plugin set: that header, taken off
    the request (a new one replaces it); else ``None`` and the request is left as it is."""
    if response.status_code != 401 or caller_authorized:
        return None
    return prepared.headers.pop("Authorization", None) or ""


def _hook_arguments(prepared: PreparedRequest) -> dict[str, Any]:
    """The keyword arguments of ``before_request`` for ``prepared``."""
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": prepared.headers,
        "params": prepared.params,
        "data": prepared.data,
    }
