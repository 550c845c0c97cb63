"""Every generated message model (``glocalflex_messages.models``) round-trips, agrees with the spec.

Instances are built the way a consumer builds them: a payload valid against the model's schema
(from :mod:`schema_strategies`) is decoded with ``msgspec.json.decode(..., type=T)``. That covers
the Struct classes, the tagged unions ``MarketReply`` (on ``msg_type``) and ``StreamEvent`` (on
``type``) and the constrained line-protocol strings. Values are compared parsed, never as JSON
text; "losslessly" means equal :func:`schema_strategies.canonical` forms, ignoring undeclared
keys (msgspec drops them by design). The round trip and both directions of spec agreement are
checked in one test per model, on one draw: generating payloads is most of the cost, and one draw
keeps 200 examples per model within the time budget. Enums are tested against every spec value,
exhaustively.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schema_strategies import canonical
from spec_models import ASYNCAPI, Model, message_models

MODELS = message_models()
OBJECTS = [pytest.param(m, id=m.name) for m in MODELS if m.pointer and not m.is_enum]
ENUMS = [pytest.param(m, id=m.name) for m in MODELS if m.pointer and m.is_enum]


def _payload(model: Model, data: st.DataObject) -> bytes:
    """JSON text of a payload the spec allows for the model."""
    payload = data.draw(ASYNCAPI.strategy(model.pointer), label="payload")
    return json.dumps(payload, allow_nan=False).encode()


def _decode(model: Model, text: bytes) -> Any:
    return msgspec.json.decode(text, type=model.type)


def test_every_message_model_has_a_schema() -> None:
    """Each Struct/Enum class in glocalflex_messages.models has a schema in specs/asyncapi.yaml."""
    assert [m.name for m in MODELS if not m.pointer] == []


def test_every_message_schema_has_a_model() -> None:
    """Each component schema in specs/asyncapi.yaml has a model of the same name."""
    names = {pointer.rsplit("/", 1)[1] for pointer in ASYNCAPI.component_pointers()}
    assert sorted(names - {m.name for m in MODELS}) == []


def test_tagged_unions_are_covered() -> None:
    """The decode targets of the AMQP replies and the WebSocket streams are tested models."""
    assert {"MarketReply", "StreamEvent"} <= {m.name for m in MODELS if m.pointer}


@pytest.mark.parametrize("model", OBJECTS)
@given(data=st.data())
def test_message_model_round_trips_and_matches_spec(model: Model, data: st.DataObject) -> None:
    """x = decode(spec payload): decode(encode(x)) == x, and x's JSON is valid and lossless."""
    text = _payload(model, data)
    validator = ASYNCAPI.validator(model.pointer)
    validator.validate(json.loads(text))  # guards the strategy builder itself
    instance = _decode(model, text)
    assert _decode(model, msgspec.json.encode(instance)) == instance
    encoded = json.loads(msgspec.json.encode(instance))
    validator.validate(encoded)
    expected = canonical(ASYNCAPI, model.pointer, json.loads(text), extras=False)
    assert canonical(ASYNCAPI, model.pointer, encoded, extras=False) == expected


@pytest.mark.parametrize("model", ENUMS)
def test_message_enum_has_exactly_the_spec_values(model: Model) -> None:
    """The enum's members are the spec's enum values, and each round-trips through JSON."""
    values = ASYNCAPI.resolve(model.pointer)["enum"]
    assert {member.value for member in model.type} == set(values)
    for member in model.type:
        assert _decode(model, msgspec.json.encode(member)) is member
