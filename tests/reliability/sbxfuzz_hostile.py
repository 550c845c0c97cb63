"""Hostile requests to the served sandbox's REST surface, as `Probe` s (deterministic).

What issue 14 lists and what a hostile client tries next to it: JSON bodies nested up to
100,000 deep, 5,000-digit (and otherwise malformed) ``order_id`` / ``contract_id`` / ``limit``
/ ``offset`` / ``relativeTime``, huge strings in every field, each field of an order replaced
by a value of every other JSON type (and by ``NaN``, ``1e400``, a 5,000-digit number, a lone
surrogate), invalid UTF-8 in bodies, paths and queries, wrong content types, every truncation
of a valid body, unknown methods and paths, and raw requests httpx will not send (bytes outside
ASCII in the request line, broken framing, contradicting lengths). Token and WebSocket cases
are in `sbxfuzz_tokens`, random ones in `sbxfuzz_random`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rel_served import CLIENT_ID, deep_json, order_body
from sbxfuzz_wire import Header, Probe, RawProbe

HUGE_DIGITS = "9" * 5000
JSON = ("Content-Type", "application/json")
FORM = ("Content-Type", "application/x-www-form-urlencoded")
H11_HEAD_LIMIT = 16 * 1024
"""h11's default limit on a request head, bytes: a bigger head is a 400 and a closed socket."""


@dataclass
class Target:
    """What the hostile cases need to know about the sandbox under fuzz."""

    access: str
    """A valid OAuth2 access token (generation 2)."""
    login: str
    """A valid generation-1 login token (``/deals/``)."""
    refresh: str
    """A valid refresh token."""
    key: bytes
    """The sandbox's token key (``--token-key-file``): forged tokens can be well signed."""
    seed: int
    """The sandbox's public ``--seed``."""
    device_token: str
    """A device access token (``/users/mptoken/{token}``)."""
    order_ids: list[int] = field(default_factory=list)
    """Orders that exist: the fuzz user's and another user's."""
    contract_ids: list[int] = field(default_factory=list)
    """Contracts that exist."""

    def bearer(self, path: str) -> str | None:
        """The valid token a path takes: login for ``/deals/``, access for ``/api/``."""
        if path.startswith("/deals"):
            return self.login
        return self.access if path.startswith("/api/") else None

    def auth(self, path: str) -> tuple[Header, ...]:
        """The ``Authorization`` header of `bearer`, if the path takes one."""
        token = self.bearer(path)
        return (("Authorization", f"Bearer {token}"),) if token else ()


# -- JSON text with raw literals ---------------------------------------------------------------

_RAW = "\x00raw{}\x00"


def with_raw(value: Any, literals: list[str]) -> bytes:
    """``value`` as JSON text, each ``raw(i)`` placeholder replaced by ``literals[i]`` verbatim."""
    text = json.dumps(value)
    for i, literal in enumerate(literals):
        text = text.replace(json.dumps(_RAW.format(i)), literal)
    return text.encode("utf-8", "surrogatepass")


def raw(i: int) -> str:
    """The placeholder of the ``i``-th raw literal of `with_raw`."""
    return _RAW.format(i)


WRONG_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -0.0,
    1e308,
    10**30,
    "",
    "x",
    "🙂",
    "\x00",
    "9" * 300,
    [],
    {},
    [None],
    {"a": 1},
    [[[[]]]],
]
"""Values of every JSON type (one of them is usually the right type, at a wrong value)."""

RAW_LITERALS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    HUGE_DIGITS,
    "-" + HUGE_DIGITS,
    HUGE_DIGITS + ".5",
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"a\\u0000b"',
    '"' + "x" * 200_000 + '"',
]
"""Literals ``json.dumps`` will not write: non-finite and huge numbers, lone surrogates..."""

_DATETIMES = [
    "9999-12-31T23:45:00Z",
    "9999-12-31T23:45:00-23:59",
    "0001-01-01T00:00:00+23:59",
    "0000-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:45:00Z",
    "2026-02-30T10:00:00Z",
    "2026-12-01T24:00:00Z",
    "2026-12-01T23:59:60Z",
    "2026-12-01T10:00:00." + "9" * 5000 + "Z",
    "\uff12\uff10\uff12\uff16-12-01T10:00:00Z",  # full-width digits
    "2026-12-01T10:00:00+99:99",
    "2026-12-01T10:00:00",
    "2026-12-01",
    "now",
]
"""Date-times at and past the edges: years 1 and 9999 (with offsets past them), leap seconds,
5,000 fractional digits, full-width digits, no offset."""


def order_paths(body: dict[str, Any]) -> Iterator[tuple[str | int, ...]]:
    """Every key path of an order body, objects and lists included (``()`` is the body)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), body)]
    while stack:
        path, value = stack.pop()
        yield path
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))


def replaced(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``body`` with the value at ``path`` replaced (``path`` ``()``: ``value``)."""
    if not path:
        return value
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def removed(body: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    """A copy of ``body`` without the value at ``path``."""
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return copy


def full_order() -> dict[str, Any]:
    """A valid sell order with a baseline: every field of ``OrderRequest`` present."""
    body = order_body(["site-1", "site-2"])
    body["side"] = "sell"
    body["baseline"] = {
        "metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60",
        "created_at": "2026-11-28T09:00:00Z",
        "reading_start": "2026-12-01T09:00:00Z",
        "reading_end": "2026-12-01T10:00:00Z",
        "resolution": 900,
        "direction": "production",
        "quality": "estimated",
        "energy_product": "apparent",
        "unit_measured": "kWh",
        "data_points": [{"2026-12-01T09:00:00Z": 0.62}],
    }
    return body


# -- the cases ---------------------------------------------------------------------------------


def _order(target: Target, body: bytes, label: str, *headers: Header) -> Probe:
    path = "/api/v1/order/"
    return Probe(label, "POST", path, (*target.auth(path), *(headers or (JSON,))), body)


def order_bodies(target: Target) -> Iterator[Probe]:
    """Every field of a full order (and the body itself) wrong, missing or raw; bad dates."""
    body = full_order()
    for path in order_paths(body):
        where = ".".join(map(str, path)) or "body"
        for value in WRONG_VALUES:
            yield _order(target, json.dumps(replaced(body, path, value)).encode(), f"type {where}")
        for i, literal in enumerate(RAW_LITERALS):
            text = with_raw(replaced(body, path, raw(0)), [literal])
            yield _order(target, text, f"literal {i} at {where}")
        if path:
            yield _order(target, json.dumps(removed(body, path)).encode(), f"without {where}")
        if path and isinstance(path[-1], str) and ("time" in path[-1] or "_start" in path[-1]):
            for when in _DATETIMES:
                yield _order(target, json.dumps(replaced(body, path, when)).encode(), "datetime")
    for where in ("delivery_start", "delivery_end", "expiry_time"):
        for when in _DATETIMES:
            yield _order(target, json.dumps({**body, where: when}).encode(), f"date {where}")
    yield _order(target, json.dumps({**body, "\ud800": 1}).encode("utf-8", "surrogatepass"), "key")
    yield _order(target, b'{"side":"buy","side":"sell"}', "duplicate keys")
    yield _order(target, json.dumps({**body, "extra": [1] * 1000}).encode(), "unknown field")
    many = {**body, "location": {**body["location"], "location_id": ["x"] * 1001}}
    yield _order(target, json.dumps(many).encode(), "1001 location ids")


def deep_bodies(target: Target) -> Iterator[Probe]:
    """JSON (and form) bodies nested 33, 1,000 and 100,000 deep, closed or not, to every POST."""
    for depth in (33, 1000, 100_000):
        shapes = {
            "arrays": deep_json(depth),
            "objects": b'{"a":' * depth + b"1" + b"}" * depth,
            "mixed": b'[{"a":' * (depth // 2) + b"[]" + b"}]" * (depth // 2),
            "unclosed": b"[" * depth,
            "in a field": b'{"side":' + deep_json(depth) + b"}",
        }
        for name, body in shapes.items():
            label = f"{depth} deep {name}"
            yield _order(target, body, label)
            yield Probe(label, "POST", "/users/login", (JSON,), body)
            yield Probe(label, "POST", "/auth/oauth/v2/token", (FORM,), b"grant_type=" + body)
            for order_id in target.order_ids[:1]:
                path = f"/api/v1/order/{order_id}/cancel"
                yield Probe(label, "POST", path, (*target.auth(path), JSON), body)


_INTEGERS = [
    HUGE_DIGITS,
    "-" + HUGE_DIGITS,
    "%2B" + HUGE_DIGITS,
    "0" * 5000 + "1",
    "9" * 4300,
    "9" * 4301,
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    "1e5000",
    "1.0",
    "NaN",
    "inf",
    "0x1f",
    "1_000",
    "%201",
    "1%20",
    "%D9%A1%D9%A2",
    "%EF%BC%91",
    "%00",
    "%FF",
    "%ED%A0%80",
    "",
    "-0",
    "0",
    "%2F..%2F",
    "a" * 5000,
]
"""Integer parameters as a hostile client writes them (URL-encoded where that matters)."""


def integer_params(target: Target) -> Iterator[Probe]:
    """Malformed and huge ids, ``limit``, ``offset`` and ``relativeTime``, in path and query."""
    for value in _INTEGERS:
        for template in (
            "/api/v1/order/{}",
            "/api/v1/order/{}/cancel",
            "/api/v1/contract/{}",
            "/api/v1/order/?limit={}",
            "/api/v1/order/?offset={}",
            "/api/v1/order/?limit=1&offset={}&status=open&side=buy",
            "/api/v1/contract/?limit={}",
            "/api/v1/contract/?offset={}&status={}",
            "/deals/?relativeTime={}",
            "/deals/?relativeTime={}d",
            "/users/mptoken/{}",
        ):
            path = template.format(value, value)
            method = "POST" if path.endswith("/cancel") else "GET"
            # A path whose head is over h11's limit is a 400 and a closed connection.
            long = len(path) > H11_HEAD_LIMIT - 2000
            yield Probe("integer", method, path, target.auth(path), may_close=long)
    for query in ("limit=1&limit=" + HUGE_DIGITS, "limit[]=1", "limit=1&offset=1&offset=-1"):
        for path in (f"/api/v1/order/?{query}", f"/api/v1/contract/?{query}"):
            yield Probe("repeated", "GET", path, target.auth(path))
    for status in ("OPEN", "%00", "%FF", "a" * 5000, "open%00", "closed,open"):
        for path in (f"/api/v1/order/?status={status}", f"/api/v1/contract/?status={status}"):
            yield Probe("enum", "GET", path, target.auth(path))
        yield Probe("enum", "GET", f"/api/v1/order/?side={status}", target.auth("/api/"))


def huge_strings(target: Target) -> Iterator[Probe]:
    """200,000-character values in forms, orders and headers; 10,000-field forms."""
    big = "x" * 200_000
    for field_name in ("email", "password"):
        form = {"email": "a@example.com", "password": "pw", field_name: big}
        body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        yield Probe("huge form", "POST", "/users/login", (FORM,), body)
    token_form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "username": "a@example.com",
        "password": "pw",
        "refresh_token": "r",
    }
    for field_name in token_form:
        form = {**token_form, field_name: big}
        body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        yield Probe("huge form", "POST", "/auth/oauth/v2/token", (FORM,), body)
    many = "&".join(f"f{i}=v" for i in range(10_000)).encode()
    for path in ("/users/login", "/auth/oauth/v2/token"):
        yield Probe("10000 fields", "POST", path, (FORM,), many + b"&email=a&password=b")
    for name in ("If-None-Match", "Authorization", "Content-Type", "X-Anything"):
        for size in (8000, 15_000, 40_000):
            headers = (*target.auth("/deals/"), (name, "x" * size))
            yield Probe(f"{size}-byte {name}", "GET", "/deals/", headers, may_close=size > 15_000)
    yield Probe("long path", "GET", "/api/v1/order/" + "a" * 40_000, may_close=True)
    yield Probe("many headers", "GET", "/deals/", tuple((f"X-{i}", "v") for i in range(2000)))


_FORMS = [
    b"",
    b"=",
    b"&&&",
    b"email",
    b"email=&password=",
    b"email=a&email=b&password=c",
    b"email=%&password=%zz",
    b"email=%FF&password=%FE",
    b"email=%ED%A0%80&password=x",
    b"email=%00&password=%00",
    b"email=\xff\xfe&password=x",
    b"email=\xed\xa0\x80&password=x",
    b"email=a+b&password=c+d",
    b"\xef\xbb\xbfemail=a&password=b",
    b"grant_type=password&client_id=" + CLIENT_ID.encode() + b"&username=a",
    b"grant_type=password&client_id=" + CLIENT_ID.encode() + b"&username=a&password=%FF",
    b"grant_type=refresh_token&client_id=" + CLIENT_ID.encode(),
    b"grant_type=refresh_token&client_id=" + CLIENT_ID.encode() + b"&refresh_token=",
    b"grant_type=client_credentials&client_id=" + CLIENT_ID.encode(),
    b"grant_type=password&client_id=%FF&username=a&password=b",
]
"""Form bodies: empty, keyless, repeated, bad escapes, invalid UTF-8, missing grant fields."""

_CONTENT_TYPES = [
    None,
    "text/plain",
    "application/xml",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=x",
    'application/json\t; x="unterminated',
    "*/*",
    "a" * 5000,
]


def utf8_and_content_types(target: Target) -> Iterator[Probe]:
    """Invalid UTF-8 and odd encodings in bodies, paths and queries; every content type."""
    order = json.dumps(order_body()).encode()
    encoded = [
        b'{"side":"\xff"}',
        b'{"side":"\xc0\xaf"}',
        b'{"side":"\xed\xa0\x80"}',
        b"\xef\xbb\xbf" + order,
        order.decode().encode("utf-16"),
        order.decode().encode("utf-32-le"),
        b"\xff\xfe\x00\x00",
        b"\x00" * 64,
        order.replace(b'"buy"', b'"b\xffy"'),
    ]
    for body in encoded:
        yield _order(target, body, "encoding")
        yield Probe("encoding", "POST", "/users/login", (FORM,), body)
    for body in _FORMS:
        for path in ("/users/login", "/auth/oauth/v2/token"):
            yield Probe("form", "POST", path, (FORM,), body)
    login = b"email=a%40example.com&password=pw"
    for content_type in _CONTENT_TYPES:
        headers: tuple[Header, ...] = (("Content-Type", content_type),) if content_type else ()
        yield _order(target, order, f"order as {content_type}", *(headers or (("X", "y"),)))
        yield Probe(f"login as {content_type}", "POST", "/users/login", headers, login)
        yield Probe(f"token as {content_type}", "POST", "/auth/oauth/v2/token", headers, order)
    for escape in ("%FF", "%ED%A0%80", "%C0%AF", "%00", "%25", "%2F", "%5C", "%0D%0A"):
        for template in ("/users/mptoken/{}", "/api/v1/order/{}", "/api/v1/{}/order/", "/{}"):
            path = template.format(escape)
            yield Probe("escape", "GET", path, target.auth(path))
        yield Probe("escape", "GET", f"/api/v1/order/?status={escape}", target.auth("/api/"))
        yield Probe("escape", "GET", f"/deals/?relativeTime=1{escape}", target.auth("/deals/"))
    yield Probe("header bytes", "GET", "/api/v1/order/", (("Authorization", b"Bearer \xff\xfe"),))
    yield Probe("header bytes", "GET", "/deals/", (("If-None-Match", b'"\xff"'),))


def truncations(target: Target) -> Iterator[Probe]:
    """Every prefix of a valid order and of valid forms; empty bodies to every POST."""
    order = json.dumps(full_order()).encode()
    for end in range(len(order)):
        yield _order(target, order[:end], "truncated order")
    for form in (
        b"email=a%40example.com&password=pw",
        b"grant_type=password&client_id=" + CLIENT_ID.encode() + b"&username=a&password=b",
    ):
        path = "/users/login" if form.startswith(b"email") else "/auth/oauth/v2/token"
        for end in range(len(form)):
            yield Probe("truncated form", "POST", path, (FORM,), form[:end])
    for order_id in target.order_ids[:1]:
        path = f"/api/v1/order/{order_id}/cancel"
        yield Probe("empty", "POST", path, target.auth(path))


_PATHS = [
    "/users/login",
    "/users/mptoken/x",
    "/deals/",
    "/auth/oauth/v2/token",
    "/api/v1/order/",
    "/api/v1/order/1",
    "/api/v1/order/1/cancel",
    "/api/v1/contract/",
    "/api/v1/contract/1",
    "/api/v1/ws/trade/",
    "/api/v1/ws/ticker/",
    "/api/v1/ws/orderbook/",
]


def methods_and_paths(target: Target) -> Iterator[Probe]:
    """Every method on every path (405s), HEAD, unknown paths, dot segments, doubled slashes."""
    for path in _PATHS:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO"):
            yield Probe("method", method, path, target.auth(path))
    for path in (
        "/",
        "/api",
        "/api/v1/order",
        "/api/v1/order//1",
        "//api/v1/order/",
        "/api/v1/order/1/../1",
        "/api/v1/./order/",
        "/api/v1/order/1/cancel/",
        "/api/v1/order/%31",
        "/deals",
        "/users/mptoken/",
        "/users/mptoken/a/b",
        "/" + "a/" * 3000,
    ):
        yield Probe("path", "GET", path, target.auth(path))


_WS_HEAD = (
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


def raw_requests(target: Target) -> Iterator[RawProbe]:
    """Requests httpx will not send: bytes outside ASCII, broken framing, odd request lines."""
    auth = f"Authorization: Bearer {target.access}\r\n".encode()
    order = json.dumps(order_body()).encode()
    lines = [
        b"GET /users/mptoken/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/order/?limit=\xff HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n",
        b"G\xffT / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /deals/ HTTP/1.1\r\n\r\n",
        b"GET /deals/ HTTP/1.0\r\n\r\n",
        b"GET /deals/ HTTP/2.0\r\nHost: x\r\n\r\n",
        b"GET /deals/ HTTP/1.1\nHost: x\n\n",
        b"GET  /deals/  HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://evil.invalid/deals/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"CONNECT evil.invalid:443 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /deals/ HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
        b"GET /deals/ HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
        b"GET /deals/ HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
        b"GET /deals/ HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n",
        b"GET /deals/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff.\xfe.\xfd\r\n\r\n",
        b"POST /api/v1/order/ HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /users/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        b"POST /users/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST /users/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /users/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n",
        b"POST /users/login HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + HUGE_DIGITS.encode()
        + b"\r\n\r\n",
        b"POST /users/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2"
        b"\r\n\r\nab",
        b"POST /api/v1/order/ HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json"
        b"\r\nContent-Length: 2\r\n\r\n" + order,
        b"POST /api/v1/order/ HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json"
        b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\nffffffffffffffffff\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\r\n\r\n\r\n",
        b"GET /api/v1/ws/trade/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
        b"\r\nSec-WebSocket-Version: 13\r\n\r\n",
        b"GET /api/v1/ws/trade/ HTTP/1.1\r\nHost: x\r\n" + _WS_HEAD.replace(b"13", b"99") + b"\r\n",
        b"GET /nope HTTP/1.1\r\nHost: x\r\n" + _WS_HEAD + b"\r\n",
        b"GET /api/v1/order/ HTTP/1.1\r\nHost: x\r\n" + _WS_HEAD + auth + b"\r\n",
        b"POST /api/v1/ws/trade/ HTTP/1.1\r\nHost: x\r\n" + _WS_HEAD + b"Content-Length: 0\r\n\r\n",
        b"GET /api/v1/ws/trade/%FF HTTP/1.1\r\nHost: x\r\n" + _WS_HEAD + b"\r\n",
        b"GET /api/v1/ws/trade/ HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        b"GET /api/v1/ws/trade/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
        b"\r\nSec-WebSocket-Key: \xff\r\nSec-WebSocket-Version: 13\r\n" + auth + b"\r\n",
    ]
    for data in lines:
        head, sep, rest = data.partition(b"\r\n")
        # Ask for a close, so the answer ends the exchange (a request that says nothing
        # would keep its connection open until the head deadline).
        closing = head + sep + b"Connection: close\r\n" + rest if sep else data
        yield RawProbe("raw", closing, head_only=True)


def all_rest_probes(target: Target) -> Iterator[Probe]:
    """Every deterministic REST case of this module, in order."""
    yield from deep_bodies(target)
    yield from integer_params(target)
    yield from huge_strings(target)
    yield from order_bodies(target)
    yield from utf8_and_content_types(target)
    yield from truncations(target)
    yield from methods_and_paths(target)
