"""Request reading of the sandbox REST app: bearer tokens, forms, JSON bodies and parameters.

Each handler module reads its requests through these, so a malformed input fails the same way
on every route: a `Failure` (and so a 422 naming the field) rather than an exception. JSON
bodies are bounded here (depth, Unicode text) and integer parameters by length, before anything
reaches the market.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from ._accounts import Account, AuthError, is_text
from ._app_response import invalid, unauthorized
from ._app_schema import PARAMETERS, SCHEMAS, Failure, validate
from ._market import SandboxMarket

__all__ = ["bearer", "form", "json_body", "last", "page", "param", "user"]

_INT = re.compile(r"^[+-]?[0-9]+$")
_MAX_INT_DIGITS = 4300
"""The longest integer parameter read, digits (Python's and pydantic's own limit)."""
_MAX_JSON_DEPTH = 32
"""The deepest JSON body read, levels of arrays and objects (an ``OrderRequest`` needs 3)."""


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def user(market: SandboxMarket, request: Request) -> Account | Response:
    """The account of the request's access token, or the 401 that refuses it."""
    token = bearer(request.headers)
    if token is None:
        return unauthorized()
    try:
        return market.user_for_bearer(token)
    except AuthError as exc:
        return unauthorized(exc.description)


async def form(request: Request, schema_name: str) -> dict[str, str] | Response:
    """The urlencoded form of the request (the last value of a repeated field), or its 422.

    The form must be UTF-8 and pass the spec's schema ``schema_name``.
    """
    body = await request.body()
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return invalid([Failure(("body",), "Form body should be UTF-8 url-encoded", "value_error")])
    failures = validate(fields, SCHEMAS[schema_name], ("body",))
    return invalid(failures) if failures else fields


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


async def json_body(request: Request) -> tuple[Any, list[Failure]]:
    """The parsed JSON body and no failures, or None and the failure to read it."""
    body = await request.body()
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, [Failure(("body",), f"JSON decode error: {exc}", "json_invalid")]
    except RecursionError:
        value = None  # deeper than the interpreter's stack: refused just below
    else:
        if _json_depth(value) <= _MAX_JSON_DEPTH:
            where = _lone_surrogate(value)
            if where is None:
                return value, []
            # Stored, such a string would make every later answer that shows it a 500.
            message = "Input should be a valid string: a lone surrogate escape is not Unicode text"
            return None, [Failure(("body", *where), message, "string_unicode")]
    message = f"JSON decode error: nested deeper than {_MAX_JSON_DEPTH} levels"
    return None, [Failure(("body",), message, "json_invalid")]


def _lone_surrogate(value: Any) -> tuple[str | int, ...] | None:
    """Where a parsed JSON value has a string or key that is not Unicode text, else None.

    The place is the string's path, or for a key the path of its object (a bad key is never
    part of a path, so the answer can show the path).
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not is_text(item):
                return path
        elif isinstance(item, dict):
            if not all(is_text(key) for key in item):
                return path
            stack.extend(((*path, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, i), child) for i, child in enumerate(item))
    return None


def _json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0); iterative."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > _MAX_JSON_DEPTH:
                    break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def param(raw: str | None, schema_name: str, loc: tuple[str, ...], failures: list[Failure]) -> Any:
    """A path/query/header parameter read by its spec schema; None if absent or failing."""
    schema = PARAMETERS.get(schema_name) or SCHEMAS[schema_name]
    if raw is None:
        return schema.get("default")
    value: Any = raw
    if schema.get("type") == "integer":
        if _INT.match(raw) is None:
            failures.append(
                Failure(
                    loc, "Input should be a valid integer, unable to parse string", "int_parsing"
                )
            )
            return None
        if len(raw.lstrip("+-")) > _MAX_INT_DIGITS:
            message = (
                f"Unable to parse input string as an integer, exceeded maximum size"
                f" ({_MAX_INT_DIGITS} digits)"
            )
            failures.append(Failure(loc, message, "int_parsing_size"))
            return None
        value = int(raw)
    found = validate(value, schema, loc)
    if found:
        failures.extend(found)
        return None
    return value


def last(request: Request, name: str) -> str | None:
    """The last value of query parameter ``name``, or None."""
    values = request.query_params.getlist(name)
    return values[-1] if values else None


def page(request: Request, failures: list[Failure]) -> tuple[int, int]:
    """The ``limit`` and ``offset`` query parameters of a listing (0 when absent or failing)."""
    limit = param(last(request, "limit"), "Limit", ("query", "limit"), failures)
    offset = param(last(request, "offset"), "Offset", ("query", "offset"), failures)
    return limit if limit is not None else 0, offset if offset is not None else 0
