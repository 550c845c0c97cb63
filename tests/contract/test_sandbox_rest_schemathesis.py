"""schemathesis 4 against the sandbox's REST app (ASGI, in-process) with ``specs/openapi.yaml``.

Every operation runs the examples, coverage and fuzzing phases (positive and negative data) with
every built-in check enabled: status codes, content types, response headers and schemas,
``positive_data_acceptance``, ``negative_data_rejection``, ``missing_required_header``,
``ignored_auth``, ``unsupported_method`` and the rest. The stateful phase (links inferred from
the responses: create an order, read it, cancel it...) runs as a hypothesis state machine.

One thing adapts the run to what JSON Schema cannot say, and it is narrow:

- ``OrderRequest``'s business rules live in descriptions (quarter-hour delivery times, expiry at
  or before delivery start, end after start) and one depends on the clock (not expired on
  arrival). Positive ``POST /api/v1/order/`` cases get their three times rewritten to a valid
  window (`_valid_order_times`) so ``positive_data_acceptance`` still asserts that a valid order
  is accepted (200); negative cases are left alone, so rule-breaking data must still be refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import settings
from schemathesis import GenerationMode

from flxtrd.sandbox import ManualClock, SandboxMarket, create_app
from flxtrd.sandbox._market_time import parse_datetime_ms

SPEC = Path(__file__).resolve().parents[2] / "specs" / "openapi.yaml"
QUARTER_HOUR_MS = 15 * 60 * 1000
CREATE_ORDER = "POST /api/v1/order/"
# Budgets that keep the module well under a minute with any profile (the coverage and examples
# phases run in full on top: about 500 requests).
FUZZ_EXAMPLES = 60
STATEFUL_EXAMPLES = 20

START_MS = parse_datetime_ms("2020-01-01T00:00:00Z")
market = SandboxMarket(clock=ManualClock(START_MS), seed=7)
app = create_app(market)
# The stateful run gets its own schema object: schemathesis learns from responses (error
# feedback, response values as data), and what the other run taught it would make the state
# machine's data generation differ between its examples.
schema = schemathesis.openapi.from_path(SPEC)
schema.app = app
stateful_schema = schemathesis.openapi.from_path(SPEC)
stateful_schema.app = app


class SandboxBearer:
    """A fresh OAuth2 access token of one permissive account for every secured operation."""

    def get(self, case: Any, ctx: Any) -> str:
        """Issue a token straight from the market (the token endpoint is tested on its own)."""
        return market.issue_token("schemathesis@example.com", "any-password").access_token

    def set(self, case: Any, data: str, ctx: Any) -> None:
        """Send it as ``Authorization: Bearer``."""
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _iso(ms: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _valid_order_times(case: Any) -> Any:
    """Move a positive order's window to valid quarter hours after now (choices kept as seeds)."""
    meta = case.meta
    if case.operation.label != CREATE_ORDER or meta is None:
        return case
    if meta.generation.mode is not GenerationMode.POSITIVE or not isinstance(case.body, dict):
        return case
    try:
        seeds = [
            parse_datetime_ms(case.body[name])
            for name in ("delivery_start", "delivery_end", "expiry_time")
        ]
    except (KeyError, ValueError):
        return case
    now = market.now_ms()
    start = (now // QUARTER_HOUR_MS + 8 + seeds[0] % 96) * QUARTER_HOUR_MS
    end = start + (1 + seeds[1] % 8) * QUARTER_HOUR_MS
    expiry = start - (seeds[2] % 4) * QUARTER_HOUR_MS
    case.body = {
        **case.body,
        "delivery_start": _iso(start),
        "delivery_end": _iso(end),
        "expiry_time": _iso(expiry),
    }
    return case


def map_case(ctx: Any, case: Any) -> Any:
    """Coverage and fuzzing cases: valid order windows for positive orders."""
    return _valid_order_times(case)


def before_add_examples(ctx: Any, examples: list[Any]) -> None:
    """Examples-phase cases (no ``map_case`` there): valid order windows for positive orders."""
    for case in examples:
        _valid_order_times(case)


for _schema in (schema, stateful_schema):
    _schema.auth()(SandboxBearer)
    _schema.hook(map_case)
    _schema.hook(before_add_examples)


@schema.parametrize()
@settings(settings.default, max_examples=FUZZ_EXAMPLES)
def test_every_operation_conforms(case: Any) -> None:
    """Each operation answers generated valid and invalid requests as the spec says."""
    case.call_and_validate()


class _Workflow(stateful_schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls along the links schemathesis infers (create -> read -> cancel)."""

    def setup(self) -> None:
        """Each sequence starts on an empty market, so its data cannot depend on earlier runs."""
        market.reset()

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        """Every check, stateful ones (``use_after_free``, ``ensure_resource_availability``) too."""
        case.validate_response(
            response,
            additional_checks=additional_checks,
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


TestStatefulWorkflow = _Workflow.TestCase
TestStatefulWorkflow.settings = settings(settings.default, max_examples=STATEFUL_EXAMPLES)


def test_the_spec_has_the_operations_the_app_serves() -> None:
    """The run above covers the ten operations of the spec (a new one would need the app)."""
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert labels == {
        "POST /users/login",
        "GET /users/mptoken/{token}",
        "GET /deals/",
        "POST /auth/oauth/v2/token",
        "POST /api/v1/order/",
        "GET /api/v1/order/",
        "GET /api/v1/order/{order_id}",
        "POST /api/v1/order/{order_id}/cancel",
        "GET /api/v1/contract/",
        "GET /api/v1/contract/{contract_id}",
    }
