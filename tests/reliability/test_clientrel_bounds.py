"""Issue 14, point 4: one set of upper bounds, in the specs, for both generations.

Before, ``Flexibility(wattage=10**5000)`` raised a bare ``ValueError`` from ``repr()`` inside
``FlexValidationError``; generation 1 had no upper bounds (2**64 W and a price of 1e300 were
confirmed by the sandbox market), generation 2 capped power at 1e9 W and price at 1e6, and
``duration=2**62`` ms overflowed the delivery end. Now ``OrderLine`` (``specs/asyncapi.yaml``)
and ``OrderRequest`` (``specs/openapi.yaml``) carry the same maximums -- power 1e9 W, price 1e6
EUR/kWh, delivery 366 days, times up to the end of year 9999 -- ``flxtrd._bounds`` holds them,
and the client (both generations) and the sandbox market (both generations) refuse the same
values, naming the field. The bound itself stays accepted everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flxtrd import Flexibility, FlexValidationError, MarketOrder, OrderSpec, OrderType
from flxtrd._line_protocol import OrderLine
from flxtrd.sandbox import ManualClock, SandboxMarket
from flxtrd.sandbox import _rules as rules
from flxtrd.sandbox._market_time import format_datetime_ms, parse_datetime_ms
from flxtrd.sandbox._types import Gen2Order

SPECS = Path(__file__).resolve().parents[2] / "specs"
Q = 900_000
DAY_MS = 86_400_000
#: The bounds as the issue states them (the test does not read them from flxtrd._bounds).
POWER, PRICE, DURATION, LATEST = 1e9, 1e6, 366 * DAY_MS, 253_402_300_799_999
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
T0 = int(NOW.timestamp() * 1000)
START = T0 + 8 * Q


@dataclass(frozen=True)
class Case:
    """One quantity at a value: the four order paths either accept it or name ``field``s."""

    name: str
    gen1: dict[str, Any]  # Flexibility / MarketOrder fields (seed spelling; "price" for price)
    gen2: dict[str, Any] | None  # OrderSpec fields; None where generation 2 cannot say it
    refused: bool
    gen1_field: str = ""
    gen2_field: str = ""


OVER = [
    Case("power 1e9 + 1 W", {"wattage": POWER + 1}, {"power_w": POWER + 1}, True, "wattage",
         "power_w"),
    Case("power 2**64 W", {"wattage": 2**64}, {"power_w": 2**64}, True, "wattage", "power_w"),
    Case("power 10**5000 W", {"wattage": 10**5000}, {"power_w": 10**5000}, True, "wattage",
         "power_w"),
    Case("price 1e300", {"price": 1e300}, {"price_eur_per_kwh": 1e300}, True, "price",
         "price_eur_per_kwh"),
    Case("price 10**400", {"price": 10**400}, {"price_eur_per_kwh": 10**400}, True, "price",
         "price_eur_per_kwh"),
    Case("delivery 366 days + 15 min", {"duration": DURATION + Q},
         {"delivery_end": NOW + timedelta(hours=2, days=366, minutes=15)}, True, "duration",
         "delivery_end"),
    Case("duration 2**62 ms", {"duration": 2**62}, None, True, "duration"),
    Case("start after year 9999", {"starttime": LATEST + 1, "expirationtime": START}, None, True,
         "starttime"),
]  # fmt: skip
AT = [
    Case("power 1e9 W", {"wattage": POWER}, {"power_w": POWER}, False),
    Case("price 1e6", {"price": PRICE}, {"price_eur_per_kwh": PRICE}, False),
    Case("delivery 366 days", {"duration": DURATION},
         {"delivery_end": NOW + timedelta(hours=2, days=366)}, False),
]  # fmt: skip
PAIRS = [(over, at) for over in OVER for at in AT if over.name.split()[0] == at.name.split()[0]]
PAIRS += [(over, AT[2]) for over in OVER if over.name.split()[0] in ("duration", "start")]


def gen1_order(fields: dict[str, Any]) -> MarketOrder:
    """A generation-1 order (seed spelling) with ``fields`` changed."""
    flex: dict[str, Any] = {"wattage": 2500.0, "starttime": START, "duration": Q}
    flex["expirationtime"] = START - Q
    price = fields.get("price", 0.2)
    flex.update({k: v for k, v in fields.items() if k != "price"})
    return MarketOrder(type=OrderType.ASK, price=price, flexibility=Flexibility(**flex))


def gen2_spec(fields: dict[str, Any]) -> OrderSpec:
    """A generation-2 order with ``fields`` changed."""
    start = NOW + timedelta(hours=2)
    base: dict[str, Any] = {
        "side": "buy",
        "power_w": 2500.0,
        "price_eur_per_kwh": 0.2,
        "delivery_start": start,
        "delivery_end": start + timedelta(minutes=15),
        "expiry_time": start - timedelta(minutes=30),
    }
    return OrderSpec(**{**base, **fields})


def sandbox_line(fields: dict[str, Any]) -> OrderLine:
    """The generation-1 order line of ``fields``, as a device would publish it raw."""
    flex: dict[str, Any] = {"wattage": 2500.0, "starttime": START, "runtime": Q, "price": 0.2}
    flex["expirationtime"] = START - Q
    renamed = {"duration": "runtime"}
    flex.update({renamed.get(k, k): v for k, v in fields.items()})
    return OrderLine(side="ask", application_key="device-1", totalenergy=1.0, **flex)


def sandbox_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /api/v1/order/`` body of :func:`gen2_spec` with ``fields``."""
    spec = gen2_spec(fields)
    return {
        "side": spec.side,
        "power": spec.power_w,
        "price": spec.price_eur_per_kwh,
        "delivery_start": format_datetime_ms(int(spec.delivery_start.timestamp() * 1000)),
        "delivery_end": format_datetime_ms(int(spec.delivery_end.timestamp() * 1000)),
        "expiry_time": format_datetime_ms(int(spec.expiry_time.timestamp() * 1000)),
        "location": {"location_id": None, "country_code": ""},
        "baseline": None,
    }


def client_verdict(case: Case) -> tuple[str | None, str | None]:
    """The field each generation's client names (None: accepted)."""
    verdicts: list[str | None] = []
    for build, fields in ((lambda f: gen1_order(f).validate(T0), case.gen1), (None, case.gen2)):
        try:
            if build is not None:
                build(fields)
            elif fields is not None:
                gen2_spec(fields).validate(NOW)
            verdicts.append(None)
        except FlexValidationError as err:
            assert str(err)  # the message can be made (no repr of a 5000-digit int)
            assert "<=" in err.rule or "at most" in err.rule, str(err)  # the bound, by name
            verdicts.append(err.field)
    return verdicts[0], verdicts[1]


def sandbox_verdict(case: Case) -> tuple[str | None, str | None]:
    """The field the sandbox market names for each generation (None: accepted)."""
    market = SandboxMarket(clock=ManualClock(T0), seed=1)
    user = market.login("bounds@example.com", "pw")
    one = market.submit_gen1(
        sandbox_line(case.gen1), user_id=user.user_id, application_key="device-1"
    )
    gen1 = one.rejected.field if one.rejected is not None else None
    gen2 = None
    if case.gen2 is not None:
        body = sandbox_body(case.gen2)
        if any(isinstance(v, int) and v.bit_length() > 1024 for v in body.values()):
            # Beyond any float: the REST schema answers 422 first; the engine's rule, asked
            # directly, must refuse it too (and not raise OverflowError).
            violation = rules.validate_gen2(_gen2_order(user.user_id, body))
            return gen1, violation.field if violation is not None else None
        two = market.place_order(user, body)
        gen2 = two.rejected.field if two.rejected is not None else None
    return gen1, gen2


def _gen2_order(owner: str, body: dict[str, Any]) -> Gen2Order:
    """The engine's order of ``body`` (numbers kept exact)."""
    return Gen2Order(
        side=body["side"],
        owner=owner,
        power=body["power"],
        price=body["price"],
        delivery_start_ms=parse_datetime_ms(body["delivery_start"]),
        delivery_end_ms=parse_datetime_ms(body["delivery_end"]),
        expiry_time_ms=parse_datetime_ms(body["expiry_time"]),
    )


_GEN1_LINE_FIELD = {"duration": "runtime"}


@pytest.mark.parametrize(("over", "at"), PAIRS, ids=[f"{o.name} vs {a.name}" for o, a in PAIRS])
def test_client_accepts_the_bound_and_refuses_beyond_it_in_both_generations(
    over: Case, at: Case
) -> None:
    """At the bound both clients accept; beyond it both raise FlexValidationError naming the
    field and the bound (``must be <= ...`` / ``must be at most ...``)."""
    assert client_verdict(at) == (None, None)
    gen1, gen2 = client_verdict(over)
    assert gen1 == over.gen1_field
    if over.gen2 is not None:
        assert gen2 == over.gen2_field


@pytest.mark.parametrize(("over", "at"), PAIRS, ids=[f"{o.name} vs {a.name}" for o, a in PAIRS])
def test_sandbox_accepts_the_bound_and_refuses_beyond_it_in_both_generations(
    over: Case, at: Case
) -> None:
    """The sandbox market takes the bound and refuses beyond it (a named rejection) for both."""
    assert sandbox_verdict(at) == (None, None)
    gen1, gen2 = sandbox_verdict(over)
    wanted = _GEN1_LINE_FIELD.get(over.gen1_field, over.gen1_field)
    assert gen1 == wanted
    if over.gen2 is not None:
        assert gen2 == {"power_w": "power", "price_eur_per_kwh": "price"}.get(
            over.gen2_field, over.gen2_field
        )


def test_a_5000_digit_wattage_is_a_clean_validation_error() -> None:
    """``wattage=10**5000`` -> FlexValidationError whose str() names the field and the bound."""
    with pytest.raises(FlexValidationError) as caught:
        Flexibility(wattage=10**5000, starttime=START, duration=Q)
    assert caught.value.field == "wattage"
    assert str(caught.value).startswith("wattage must be <= 1e+09 (got <an int of about 5001")
    assert repr(caught.value)


def _schema(spec: str, name: str) -> dict[str, Any]:
    doc = yaml.safe_load((SPECS / spec).read_text())
    schemas: dict[str, Any] = doc["components"]["schemas"]
    return dict(schemas[name]["properties"])


def test_the_specs_carry_the_bounds_flxtrd_enforces() -> None:
    """OrderLine and OrderRequest carry the same maximums as ``flxtrd._bounds``, with reasons."""
    from flxtrd import _bounds

    line = _schema("asyncapi.yaml", "OrderLine")
    request = _schema("openapi.yaml", "OrderRequest")
    assert line["wattage"]["maximum"] == request["power"]["maximum"] == _bounds.MAX_POWER_W
    assert line["price"]["maximum"] == request["price"]["maximum"]
    assert line["price"]["maximum"] == _bounds.MAX_PRICE_EUR_PER_KWH
    assert line["runtime"]["maximum"] == _bounds.MAX_DURATION_MS == DURATION
    assert line["starttime"]["maximum"] == line["expirationtime"]["maximum"]
    assert line["starttime"]["maximum"] == _bounds.MAX_TIME_MS == LATEST
    headers = _schema("asyncapi.yaml", "ReplyHeaders")["sendertimestamp_in_ms"]
    assert headers["maximum"] == _bounds.MAX_TIME_MS
    assert datetime(9999, 12, 31, 23, 59, 59, 999_000, UTC).timestamp() * 1000 == LATEST
    for schema in (line["wattage"], line["price"], line["runtime"], request["power"]):
        assert "x-inferred-reason" in schema
        assert "generation" in schema["x-inferred-reason"]
