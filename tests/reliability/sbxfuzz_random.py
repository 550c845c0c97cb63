"""Random hostile requests (seeded): mutated orders, forms, paths, queries and tokens.

`random_probes(target, count, seed)` yields ``count`` requests, each from one of these makers,
chosen at random: an order with fields replaced by random JSON (any type, huge numbers, lone
surrogates, deep nesting), an order's JSON text with random bytes flipped, inserted or cut,
random bytes under a random content type, a random form, a random path segment (random
characters percent-encoded, up to 6,000 digits), a random query, a token with random claims
signed with the sandbox's key or random segments, and (one in twenty) a WebSocket upgrade with
such a token. The same seed gives the same requests.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from rel_served import CLIENT_ID, b64, jwt
from sbxfuzz_hostile import FORM, JSON, Target, full_order, order_paths, replaced
from sbxfuzz_tokens import STREAMS, claims_of, ws_upgrade
from sbxfuzz_wire import Probe, RawProbe

_POSTS = ("/api/v1/order/", "/users/login", "/auth/oauth/v2/token", "/api/v1/order/1/cancel")
_CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=b",
    "application/octet-stream",
)
_TEMPLATES = (
    "/api/v1/order/{}",
    "/api/v1/order/{}/cancel",
    "/api/v1/contract/{}",
    "/users/mptoken/{}",
    "/api/v1/{}",
    "/{}",
)
_QUERIES = (
    "/api/v1/order/",
    "/api/v1/contract/",
    "/deals/",
)
_QUERY_KEYS = ("limit", "offset", "status", "side", "relativeTime", "x")


def random_text(rng: random.Random, size: int) -> str:
    """Text of random code points: ASCII, controls, Latin-1, astral and lone surrogates."""
    pools = ((0x20, 0x7E), (0, 0x1F), (0x80, 0xFF), (0x100, 0xFFFF), (0x10000, 0x10FFFF))
    chars = []
    for _ in range(size):
        low, high = pools[rng.randrange(len(pools))]
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value of any type (nested at most 4 deep)."""
    kind = rng.randrange(9 if depth < 4 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.5 else rng.randint(-5, 5)
    if kind == 3:
        return rng.choice([rng.uniform(-1e12, 1e12), 1e308, -1e-308, 5e-324, 0.25])
    if kind in (4, 5):
        return random_text(rng, rng.choice([0, 1, 2, 10, 300]))
    if kind == 6:
        return rng.choice(["buy", "sell", "DE", "2026-12-01T10:00:00Z", "open", "1h"])
    if kind == 7:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {random_text(rng, 3): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


def _mutated_order(rng: random.Random, target: Target) -> Probe:
    body: Any = full_order()
    paths = list(order_paths(body))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        try:
            body = replaced(body, path, random_json(rng))
        except (KeyError, IndexError, TypeError):
            break  # an earlier replacement removed the path
    path_ = "/api/v1/order/"
    return Probe("random order", "POST", path_, (*target.auth(path_), JSON), _encode(body))


def _flipped_order(rng: random.Random, target: Target) -> Probe:
    data = bytearray(json.dumps(full_order()).encode())
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            data[at] = rng.randrange(256)
        elif action == 1:
            data.insert(at, rng.randrange(256))
        elif len(data) > 1:
            del data[at]
    path = "/api/v1/order/"
    return Probe("flipped order", "POST", path, (*target.auth(path), JSON), bytes(data))


def _random_bytes(rng: random.Random, target: Target) -> Probe:
    path = rng.choice(_POSTS)
    body = rng.randbytes(rng.choice([0, 1, 16, 512, 4096]))
    headers = (*target.auth(path), ("Content-Type", rng.choice(_CONTENT_TYPES)))
    return Probe("random bytes", "POST", path, headers, body)


def _random_form(rng: random.Random, target: Target) -> Probe:
    fields = ["email", "password", "grant_type", "client_id", "username", "refresh_token", "x"]
    values = ["password", "refresh_token", CLIENT_ID, "a@example.com", target.refresh]
    parts = []
    for _ in range(rng.randint(0, 7)):
        name = rng.choice(fields)
        if rng.random() < 0.5:
            value = rng.choice(values)
        else:
            value = random_text(rng, rng.choice([0, 1, 5, 300]))
        parts.append(f"{quote(name)}={quote(value, errors='surrogatepass')}")
    path = rng.choice(("/users/login", "/auth/oauth/v2/token"))
    return Probe("random form", "POST", path, (FORM,), "&".join(parts).encode())


def _segment(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return rng.choice(["", "-", "+"]) + "".join(
            rng.choice("0123456789") for _ in range(rng.choice([1, 5, 19, 20, 300, 6000]))
        )
    if kind == 1:
        return quote(random_text(rng, rng.choice([1, 5, 50])), safe="", errors="surrogatepass")
    return "".join(f"%{rng.randrange(256):02X}" for _ in range(rng.randint(1, 10)))


def _random_path(rng: random.Random, target: Target) -> Probe:
    path = rng.choice(_TEMPLATES).format(_segment(rng))
    method = "POST" if path.endswith("/cancel") else rng.choice(["GET", "GET", "HEAD", "POST"])
    return Probe("random path", method, path, target.auth(path), may_close=len(path) > 14_000)


def _random_query(rng: random.Random, target: Target) -> Probe:
    base = rng.choice(_QUERIES)
    pairs = [f"{rng.choice(_QUERY_KEYS)}={_segment(rng)}" for _ in range(rng.randint(1, 4))]
    path = f"{base}?{'&'.join(pairs)}"
    return Probe("random query", "GET", path, target.auth(base), may_close=len(path) > 14_000)


def _random_token(rng: random.Random, target: Target) -> str:
    if rng.random() < 0.7:
        claims: dict[str, Any] = claims_of(rng.choice([target.access, target.login]))
        for _ in range(rng.randint(1, 3)):
            claims[rng.choice([*claims, "x"])] = random_json(rng)
        return jwt(_encode(claims), key=target.key)
    return ".".join(b64(rng.randbytes(rng.randrange(40))) for _ in range(rng.randint(1, 4)))


def _token_probe(rng: random.Random, target: Target) -> Probe:
    path = rng.choice(("/api/v1/order/", "/api/v1/contract/", "/deals/"))
    auth = ("Authorization", f"Bearer {_random_token(rng, target)}")
    return Probe("random token", "GET", path, (auth,))


def _upgrade_probe(rng: random.Random, target: Target) -> RawProbe:
    token = _random_token(rng, target).encode()
    return RawProbe(
        "random upgrade", ws_upgrade(rng.choice(STREAMS), b"Bearer " + token), head_only=True
    )


_MAKERS: list[tuple[int, Callable[[random.Random, Target], Probe | RawProbe]]] = [
    (5, _mutated_order),
    (3, _flipped_order),
    (2, _random_bytes),
    (2, _random_form),
    (3, _random_path),
    (2, _random_query),
    (2, _token_probe),
    (1, _upgrade_probe),
]


def random_probes(target: Target, count: int, seed: int) -> Iterator[Probe | RawProbe]:
    """``count`` random hostile requests (see the module docstring); same seed, same requests."""
    rng = random.Random(seed)
    makers = [maker for weight, maker in _MAKERS for _ in range(weight)]
    for _ in range(count):
        yield rng.choice(makers)(rng, target)
