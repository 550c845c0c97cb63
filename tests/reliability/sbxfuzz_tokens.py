"""Hostile bearer tokens, on every REST operation that takes one and on the WebSocket upgrades.

The tokens: garbage (empty, dots, 10,000 characters, bytes outside ASCII...), forged (signed
with a wrong key, with the key the public seed once derived, ``alg: none``), 5,000-deep JSON
payloads (badly and well signed), and -- signed with the sandbox's real key, as someone holding
the key file could -- payloads of the wrong shape: every claim missing, of every wrong type, a
lone surrogate or an e-mail that is not in its canonical form, non-JSON and non-UTF-8 payloads.
Each goes to the order, contract and deal operations, the refresh grant and the three
WebSocket upgrades (raw sockets, so the upgrade request is exactly what is written here).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from rel_served import CLIENT_ID, b64, deep_json, jwt, order_body
from sbxfuzz_hostile import FORM, H11_HEAD_LIMIT, JSON, Target, raw, with_raw
from sbxfuzz_wire import Header, Probe, RawProbe

STREAMS = ("trade", "ticker", "orderbook")


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT issued by the sandbox."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


_WRONG_CLAIM_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    "",
    " ",
    "\x00",
    [],
    {},
    ["x"],
    10**30,
]


def shaped_payloads(claims: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Payloads of the wrong shape built from real ``claims`` (each to be well signed)."""
    email = str(claims["email"])
    for name in sorted(claims):
        rest = {k: v for k, v in claims.items() if k != name}
        yield f"without {name}", json.dumps(rest).encode()
        for value in _WRONG_CLAIM_VALUES:
            yield f"{name}={value!r}"[:60], json.dumps({**claims, name: value}).encode()
        for literal in ("NaN", "1e400", "9" * 5000, '"\\ud800"', '"a\\udc80b"'):
            text = with_raw({**claims, name: raw(0)}, [literal])
            yield f"{name}={literal[:20]}", text
    for variant in (email.upper(), f"  {email}  ", email + "\u200b", email.replace("@", "\uff20")):
        yield f"email {variant!r}", json.dumps({**claims, "email": variant}).encode()
    yield "other sub", json.dumps({**claims, "sub": "0" * 24}).encode()
    yield "exp_ms past", json.dumps({**claims, "exp_ms": 0}).encode()
    yield "extra claims", json.dumps({**claims, "admin": True, "x": [1] * 100}).encode()
    yield "typ access+", json.dumps({**claims, "typ": claims["typ"] + " "}).encode()
    for name, payload in (
        ("array", b"[1]"),
        ("string", b'"access"'),
        ("number", b"1"),
        ("null", b"null"),
        ("empty", b""),
        ("truncated", json.dumps(claims).encode()[:-1]),
        ("5000-deep", deep_json(5000)),
        ("5000-deep objects", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        ("invalid utf-8", b'{"email":"\xff"}'),
        ("utf-16", json.dumps(claims).encode("utf-16")),
        ("bom", b"\xef\xbb\xbf" + json.dumps(claims).encode()),
        ("NaN", b"NaN"),
        ("duplicate keys", json.dumps(claims).encode()[:-1] + b',"typ":"x"}'),
    ):
        yield f"payload {name}", payload


def token_strings(target: Target) -> Iterator[tuple[str, str]]:
    """(label, token) for every hostile token, signed or not (see the module docstring)."""
    access = target.access
    header, payload, signature = access.split(".")
    claims = claims_of(access)
    for name, text in [
        ("empty", ""),
        ("dot", "."),
        ("dots", ".."),
        ("three dots", "..."),
        ("four parts", f"{access}.x"),
        ("two parts", f"{header}.{payload}"),
        ("10000 chars", "a" * 10_000),
        ("10000 dots", "." * 10_000),
        ("null", "null"),
        ("quoted", f'"{access}"'),
        ("bearer twice", f"Bearer {access}"),
        ("spaces inside", f"{header}. {payload} .{signature}"),
        ("non-ascii", "é.é.é"),
        ("surrogate", "\ud800.\ud800.\ud800"),
        ("emoji", "🙂.🙂.🙂"),
        ("nul", "a\x00.b.c"),
        ("device token", target.device_token),
        ("refresh as access", target.refresh),
        ("login as access", target.login),
    ]:
        yield name, text
    for name, sig in [
        ("no signature", ""),
        ("wrong signature", b64(b"x" * 32)),
        ("padded signature", signature + "="),
        ("std-b64 signature", signature.replace("-", "+").replace("_", "/")),
        ("upper signature", signature.upper()),
        ("signature + é", signature + "é"),
        ("signature of another token", target.refresh.split(".")[2]),
    ]:
        yield name, f"{header}.{payload}.{sig}"
    forged = json.dumps({**claims, "email": "victim@example.com"}).encode()
    seed_key = hashlib.sha256(f"flxtrd-sandbox:{target.seed}".encode()).digest()
    yield "wrong key", jwt(forged, key=b"w" * 32)
    yield "seed-derived key", jwt(forged, key=seed_key)
    none_header = b64(b'{"alg":"none","typ":"JWT"}')
    yield "alg none", f"{none_header}.{b64(forged)}."
    yield "5000-deep badly signed", jwt(deep_json(5000), signature=b64(b"x" * 32))
    yield "5000-deep well signed", jwt(deep_json(5000), key=target.key)
    for kind_token in (target.access, target.login, target.refresh):
        for name, shaped in shaped_payloads(claims_of(kind_token)):
            yield f"{claims_of(kind_token)['typ']} {name}", jwt(shaped, key=target.key)
    for name, segment in [
        ("padded payload", payload + "=="),
        ("std-b64 payload", payload.replace("-", "+").replace("_", "/")),
        ("payload + é", payload + "é"),
        ("payload *", "*" + payload),
        ("payload whitespace", payload[:10] + " " + payload[10:]),
    ]:
        yield name, _signed(target.key, header, segment)
    yield "deep header", _signed(target.key, b64(deep_json(5000)), payload)
    yield "empty header", _signed(target.key, "", payload)


def _signed(key: bytes, header: str, payload: str) -> str:
    """``header.payload`` with its real HS256 signature (both segments taken as given)."""
    import hmac

    signing_input = f"{header}.{payload}"
    digest = hmac.new(key, signing_input.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


def _authorization(token: str, scheme: str = "Bearer ") -> Header:
    value = (scheme + token).encode("utf-8", "surrogatepass")
    return ("Authorization", value)


def token_probes(target: Target) -> Iterator[Probe | RawProbe]:
    """Every hostile token on every secured operation, the refresh grant and the upgrades."""
    order = json.dumps(order_body()).encode()
    own = target.order_ids[0] if target.order_ids else 1
    contract = target.contract_ids[0] if target.contract_ids else 1
    for name, token in token_strings(target):
        label = f"token {name}"
        auth = _authorization(token)
        # A head over h11's limit is a 400 and a closed socket, not an answer of the app.
        big = len(auth[1]) > H11_HEAD_LIMIT - 1000
        for method, path, body, headers in (
            ("GET", "/api/v1/order/", b"", ()),
            ("POST", "/api/v1/order/", order, (JSON,)),
            ("GET", f"/api/v1/order/{own}", b"", ()),
            ("POST", "/api/v1/order/999999999/cancel", b"", ()),
            ("GET", "/api/v1/contract/", b"", ()),
            ("GET", f"/api/v1/contract/{contract}", b"", ()),
            ("GET", "/deals/", b"", ()),
        ):
            yield Probe(label, method, path, (auth, *headers), body, may_close=big)
        quoted = quote(token, errors="surrogatepass")
        form = f"grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token={quoted}"
        yield Probe(label, "POST", "/auth/oauth/v2/token", (FORM,), form.encode())
        for stream in STREAMS:
            yield RawProbe(label, ws_upgrade(stream, auth[1]), may_close=big, head_only=True)
    for scheme in ("bearer ", "BEARER ", "Bearer  ", "Bearer\t", "Basic ", "Token ", "", "Bearer"):
        auth = _authorization(target.access if scheme != "Bearer" else "", scheme)
        yield Probe(f"scheme {scheme!r}", "GET", "/api/v1/order/", (auth,))
        yield RawProbe(f"scheme {scheme!r}", ws_upgrade("trade", auth[1]), head_only=True)
    two = (_authorization("garbage"), _authorization(target.access))
    yield Probe("two authorization headers", "GET", "/api/v1/order/", two)


def ws_upgrade(stream: str, authorization: bytes | None) -> bytes:
    """A WebSocket upgrade request for ``stream`` with this ``Authorization`` value."""
    head = (
        f"GET /api/v1/ws/{stream}/ HTTP/1.1\r\nHost: sandbox\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
    ).encode()
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    return head + b"\r\n"
