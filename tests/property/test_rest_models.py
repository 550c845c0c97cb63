"""Every generated REST model (``glocalflex_rest.models``) round-trips and agrees with the spec.

Instances are built the way the client builds them: a payload valid against the model's schema in
``specs/openapi.yaml`` (from :mod:`schema_strategies`) is parsed with ``Model.from_dict``. Values
are compared parsed, never as JSON text (``Z`` comes back as ``+00:00``): "losslessly" means the
payload and the model's JSON have equal :func:`schema_strategies.canonical` forms. The round trip
and both directions of spec agreement are checked in one test per model, on one draw: generating
payloads is most of the cost, and one draw keeps 200 examples per model within the time budget.
Enums are tested against every
spec value instead of with hypothesis: a handful of values is covered exhaustively.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schema_strategies import canonical
from spec_models import OPENAPI, Model, rest_models, rest_schema_pointers

MODELS = rest_models()
OBJECTS = [pytest.param(m, id=m.name) for m in MODELS if m.pointer and not m.is_enum]
ENUMS = [pytest.param(m, id=m.name) for m in MODELS if m.pointer and m.is_enum]


def _as_json(value: Any) -> Any:
    """Value after a trip through JSON text, as a server or the client would see it."""
    return json.loads(json.dumps(value, allow_nan=False))


def test_every_rest_model_has_a_schema() -> None:
    """Each name in glocalflex_rest.models.__all__ maps to a schema in specs/openapi.yaml."""
    assert [m.name for m in MODELS if not m.pointer] == []


def test_every_rest_schema_has_a_model() -> None:
    """Each component schema (and inline enum/object) in specs/openapi.yaml has a model."""
    assert sorted(set(rest_schema_pointers()) - {m.name for m in MODELS}) == []


@pytest.mark.parametrize("model", OBJECTS)
@given(data=st.data())
def test_rest_model_round_trips_and_matches_spec(model: Model, data: st.DataObject) -> None:
    """x = from_dict(spec payload): from_dict(to_dict(x)) == x; x's JSON is valid and lossless."""
    payload = data.draw(OPENAPI.strategy(model.pointer), label="payload")
    validator = OPENAPI.validator(model.pointer)
    validator.validate(payload)  # guards the strategy builder itself
    instance = model.type.from_dict(payload)
    assert model.type.from_dict(instance.to_dict()) == instance
    encoded = _as_json(instance.to_dict())
    validator.validate(encoded)
    expected = canonical(OPENAPI, model.pointer, payload, extras=True)
    assert canonical(OPENAPI, model.pointer, encoded, extras=True) == expected


@pytest.mark.parametrize("model", ENUMS)
def test_rest_enum_has_exactly_the_spec_values(model: Model) -> None:
    """The enum's members are the spec's enum values, and each round-trips through its value."""
    values = OPENAPI.resolve(model.pointer)["enum"]
    assert {member.value for member in model.type} == set(values)
    for value in values:
        member = model.type(value)
        assert model.type(_as_json(member.value)) is member


@pytest.mark.parametrize("model", ENUMS)
@given(value=st.text())
def test_rest_enum_keeps_unknown_values(model: Model, value: str) -> None:
    """An enum value this client does not know parses (as UNKNOWN) and round-trips unchanged."""
    member = model.type(value)
    assert member.value == value
    assert model.type(member.value) == member
