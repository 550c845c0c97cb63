"""Validate every request the client sends against ``specs/openapi.yaml`` (jsonschema shim).

openapi-core has no httpx adapter, and its current release pins openapi-spec-validator < 0.9
(the project pins 0.9.0), so this shim does the part the tests need with ``jsonschema``
(Draft 2020-12, as OpenAPI 3.1 uses) and a ``referencing`` registry over the whole spec:

- the method and path match exactly one operation (path templates such as ``{order_id}``);
- path, query and header parameters validate against their schemas (query values are coerced
  from strings by the schema's type first), required ones are present, unknown query keys are
  refused;
- the body has the declared content type and validates against the request-body schema
  (``application/json`` parsed as JSON, ``application/x-www-form-urlencoded`` as a form);
- an operation with ``security`` gets an ``Authorization: Bearer ...`` header.

:func:`validate_request` raises :class:`SpecViolation` naming the operation and the problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[3] / "specs" / "openapi.yaml"
_SPEC_URI = "urn:flxtrd:openapi"
_FORMATS = FormatChecker()


class SpecViolation(AssertionError):
    """A request the client sent does not conform to the OpenAPI spec."""


@dataclass(frozen=True)
class _Operation:
    """One operation of the spec, with its path regex and merged parameters."""

    method: str
    template: str
    regex: re.Pattern[str]
    operation_id: str
    parameters: tuple[dict[str, Any], ...]
    request_body: dict[str, Any] | None
    secured: bool


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    """The parsed spec."""
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


@lru_cache(maxsize=1)
def _registry() -> Registry:
    """A registry resolving ``urn:flxtrd:openapi#/...`` to the spec."""
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(_SPEC_URI, resource)
    return registry


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    """Resolve a local ``$ref`` of a parameter or request body (not of schemas)."""
    while "$ref" in node:
        target: Any = _spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


@lru_cache(maxsize=1)
def _operations() -> tuple[_Operation, ...]:
    """Every operation of the spec."""
    spec = _spec()
    ops: list[_Operation] = []
    for template, item in spec["paths"].items():
        shared = [_deref(p) for p in item.get("parameters", [])]
        pattern = "^" + re.sub(r"\\{([a-z_]+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        for method, op in item.items():
            if method == "parameters":
                continue
            own = [_deref(p) for p in op.get("parameters", [])]
            names = {(p["name"], p["in"]) for p in own}
            params = tuple(own + [p for p in shared if (p["name"], p["in"]) not in names])
            security = op.get("security", spec.get("security", []))
            ops.append(
                _Operation(
                    method=method.upper(),
                    template=template,
                    regex=re.compile(pattern),
                    operation_id=op["operationId"],
                    parameters=params,
                    request_body=_deref(op["requestBody"]) if "requestBody" in op else None,
                    secured=bool(security),
                )
            )
    return tuple(ops)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``$ref`` s resolve inside the spec."""
    return Draft202012Validator(_rebase(schema), registry=_registry(), format_checker=_FORMATS)


def _rebase(schema: Any) -> Any:
    """Rewrite ``#/components/...`` refs to the registry's spec URI."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                out[key] = _SPEC_URI + value
            else:
                out[key] = _rebase(value)
        return out
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def _schema_type(schema: dict[str, Any]) -> str | None:
    """The primitive type of a parameter schema (following a ``$ref``)."""
    schema = _deref(schema) if "$ref" in schema else schema
    kind = schema.get("type")
    return kind if isinstance(kind, str) else None


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query/path string as the schema's primitive type (left as is when it does not parse)."""
    kind = _schema_type(schema)
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def _check(schema: dict[str, Any], value: Any, where: str) -> None:
    """Validate ``value`` against ``schema``; raise SpecViolation with every error."""
    errors = sorted(_validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(
            f"{'/'.join(str(p) for p in e.path) or '<root>'}: {e.message}" for e in errors
        )
        raise SpecViolation(f"{where}: {details}")


def find_operation(method: str, path: str) -> _Operation:
    """The spec operation for ``method`` and ``path``; SpecViolation when none matches."""
    for op in _operations():
        if op.method == method and op.regex.match(path):
            return op
    raise SpecViolation(f"{method} {path}: no such operation in {SPEC_PATH.name}")


def validate_request(request: httpx.Request) -> str:
    """Check ``request`` against the spec; return the operation id."""
    path = request.url.path
    op = find_operation(request.method, path)
    where = f"{op.operation_id} ({request.method} {op.template})"
    match = op.regex.match(path)
    assert match is not None
    query = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
    query_keys = {k for k, _ in query}
    known_query = set()
    for param in op.parameters:
        name, location, schema = param["name"], param["in"], param.get("schema", {})
        raw: str | None
        if location == "path":
            raw = unquote(match.group(name))
        elif location == "query":
            known_query.add(name)
            values = [v for k, v in query if k == name]
            if len(values) > 1:
                raise SpecViolation(f"{where}: query parameter {name!r} given {len(values)} times")
            raw = values[0] if values else None
        elif location == "header":
            raw = request.headers.get(name)
        else:
            raise SpecViolation(f"{where}: unsupported parameter location {location!r}")
        if raw is None:
            if param.get("required"):
                raise SpecViolation(f"{where}: required {location} parameter {name!r} missing")
            continue
        _check(schema, _coerce(raw, schema), f"{where}: {location} parameter {name!r}")
    unknown = query_keys - known_query
    if unknown:
        raise SpecViolation(f"{where}: unknown query parameters {sorted(unknown)}")

    body = request.content
    if op.request_body is None:
        if body:
            raise SpecViolation(f"{where}: takes no body, got {len(body)} bytes")
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        content = op.request_body["content"]
        if content_type not in content:
            raise SpecViolation(
                f"{where}: content type {content_type!r} is not one of {sorted(content)}"
            )
        if not body and op.request_body.get("required"):
            raise SpecViolation(f"{where}: the request body is required")
        if content_type == "application/json":
            try:
                value = json.loads(body)
            except ValueError as exc:
                raise SpecViolation(f"{where}: the body is not JSON ({exc})") from exc
        else:
            value = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        _check(content[content_type]["schema"], value, f"{where}: body")

    if op.secured:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or len(authorization) <= len("Bearer "):
            raise SpecViolation(f"{where}: a secured operation sent without a bearer token")
    return op.operation_id
