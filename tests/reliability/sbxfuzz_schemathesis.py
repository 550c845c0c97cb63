"""schemathesis-generated requests for every operation of ``specs/openapi.yaml``, as `Probe` s.

Per operation: schemathesis' coverage cases (its deterministic boundary values and negative
cases: wrong types for every field, missing required ones, out-of-range numbers, bad formats),
then ``examples`` positive and ``examples`` negative hypothesis-generated cases
(`APIOperation.as_strategy`, driven by a nested ``@given``). Secured operations get a valid
bearer token (``bearer``), so the case reaches the request's validation instead of stopping at
401 (hostile tokens are `sbxfuzz_tokens`' job). A positive ``POST /api/v1/order/`` gets a valid
window after now on the wall clock (the served sandbox's clock), as in
``tests/contract/test_sandbox_rest_schemathesis.py``, so valid orders are placed and matched.
The coverage cases come from ``BaseSchema.iter_coverage_cases``, the enumerator schemathesis'
own pytest plugin uses (schemathesis is pinned in ``pyproject.toml``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from sbxfuzz_wire import Probe
from schemathesis import GenerationMode

SPEC = Path(__file__).resolve().parents[2] / "specs" / "openapi.yaml"
CREATE_ORDER = "POST /api/v1/order/"
QUARTER_HOUR_MS = 15 * 60 * 1000
_BASE = "http://fuzz.invalid"
_MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
_SETTINGS = settings(
    database=None,
    deadline=None,
    derandomize=False,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def load_schema() -> Any:
    """A fresh schemathesis schema of the spec."""
    return schemathesis.openapi.from_path(SPEC)


def _iso(ms: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _valid_window(case: Any) -> None:
    """Move a positive order's times to valid quarter hours after now (in place)."""
    if case.operation.label != CREATE_ORDER or not isinstance(case.body, dict):
        return
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    seed = sum(map(ord, json.dumps(case.body, sort_keys=True, default=str)))
    now = time.time_ns() // 1_000_000
    start = (now // QUARTER_HOUR_MS + 8 + seed % 96) * QUARTER_HOUR_MS
    case.body = {
        **case.body,
        "delivery_start": _iso(start),
        "delivery_end": _iso(start + (1 + seed % 8) * QUARTER_HOUR_MS),
        "expiry_time": _iso(start - (seed % 4) * QUARTER_HOUR_MS),
    }


def _content(kwargs: dict[str, Any]) -> tuple[bytes, str | None]:
    """The body schemathesis would send, as bytes, and its content type if it implies one."""
    if "json" in kwargs:
        return json.dumps(kwargs.pop("json")).encode(), None  # NaN stays: hostile is fine
    data = kwargs.pop("data", None)
    files = kwargs.pop("files", None)
    if files is not None:
        request = httpx.Request("POST", _BASE, data=data, files=files)
        return request.read(), request.headers["content-type"]
    if data is None:
        return b"", None
    if isinstance(data, (dict, list)):
        return urlencode(data, doseq=True).encode(), None
    return data if isinstance(data, bytes) else str(data).encode(), None


def to_probe(case: Any, bearer: Callable[[str], str | None], source: str) -> Probe:
    """The request schemathesis would send for ``case``, with ``bearer(path)`` as its token."""
    kwargs = dict(case.as_transport_kwargs(base_url=_BASE))
    method, url = kwargs.pop("method"), kwargs.pop("url")
    headers: dict[str, Any] = dict(kwargs.pop("headers", None) or {})
    params = kwargs.pop("params", None) or {}
    cookies = kwargs.pop("cookies", None) or {}
    body, content_type = _content(kwargs)
    unknown = set(kwargs) - {"auth"}
    assert not unknown, f"schemathesis sent request arguments this file does not know: {unknown}"
    request = httpx.Request(method, url, params=params)
    path = request.url.raw_path.decode("ascii")
    token = bearer(case.path)
    headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "host")}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return Probe(f"{source} {case.operation.label}", method, path, tuple(headers.items()), body)


def coverage_probes(
    schema: Any, bearer: Callable[[str], str | None], operation: Any
) -> Iterator[Probe]:
    """schemathesis' coverage-phase cases of one operation, positive and negative."""
    config = schema.config.generation_for(operation=operation, phase="coverage")
    for case in schema.iter_coverage_cases(
        operation, generation_modes=list(_MODES), generation_config=config
    ):
        _valid_window(case)
        yield to_probe(case, bearer, "schemathesis coverage")


def generate(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    bearer: Callable[[str], str | None],
    send: Callable[[Probe], None],
) -> None:
    """Send ``examples`` hypothesis-generated cases of one operation in one mode."""

    @settings(_SETTINGS, max_examples=examples)
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _valid_window(case)
        send(to_probe(case, bearer, f"schemathesis {mode.value}"))

    run()


def run_schemathesis(
    examples: int, bearer: Callable[[str], str | None], send: Callable[[Probe], None]
) -> list[str]:
    """Every operation: its coverage cases, then ``examples`` per mode; the operations' labels."""
    schema = load_schema()
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        for probe in coverage_probes(schema, bearer, operation):
            send(probe)
        for mode in _MODES:
            generate(operation, mode, examples, bearer, send)
    return labels
