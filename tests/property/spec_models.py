"""The two specs as :class:`SpecDocument` s, and every generated model paired with its schema.

Models are discovered, never listed: the REST models from ``glocalflex_rest.models.__all__``,
the message models from the Struct and Enum classes (and the type aliases named after a
component schema, such as the tagged unions ``MarketReply`` and ``StreamEvent``) in
``glocalflex_messages.models``. A new schema in a spec therefore becomes a new test case, and a
model without a schema (or a schema without a model) fails the coverage tests.
"""

from __future__ import annotations

import enum
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import glocalflex_messages.models as message_module
import glocalflex_rest.models as rest_module
import msgspec
import yaml
from schema_strategies import SpecDocument, escape

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _load(name: str) -> dict[str, Any]:
    with (SPECS / name).open(encoding="utf-8") as file:
        document: dict[str, Any] = yaml.safe_load(file)
    return document


OPENAPI = SpecDocument(_load("openapi.yaml"), dialect="2020-12", uri="urn:flxtrd:openapi")
ASYNCAPI = SpecDocument(_load("asyncapi.yaml"), dialect="draft7", uri="urn:flxtrd:asyncapi")


@dataclass(frozen=True)
class Model:
    """A generated model and the JSON pointer of the spec schema it was generated from."""

    name: str
    type: Any
    pointer: str

    @property
    def is_enum(self) -> bool:
        """Whether the model is an Enum (tested exhaustively, not with hypothesis)."""
        return isinstance(self.type, type) and issubclass(self.type, enum.Enum)


def _pascal(name: str) -> str:
    """``energy_product`` -> ``EnergyProduct``, as openapi-python-client names inline models."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name))


def rest_schema_pointers() -> dict[str, str]:
    """Generated class name -> schema pointer for every OpenAPI component schema.

    Components keep their name; an inline enum or object in a component's property is named
    after the component and the property (``Baseline.direction`` -> ``BaselineDirection``).
    """
    pointers = {}
    for pointer in OPENAPI.component_pointers():
        name = pointer.rsplit("/", 1)[1]
        pointers[name] = pointer
        for prop, schema in OPENAPI.resolve(pointer).get("properties", {}).items():
            if "enum" in schema or "properties" in schema:
                pointers[name + _pascal(prop)] = f"{pointer}/properties/{escape(prop)}"
    return pointers


def rest_models() -> list[Model]:
    """Every model in ``glocalflex_rest.models.__all__`` with its schema pointer."""
    pointers = rest_schema_pointers()
    return [
        Model(name, getattr(rest_module, name), pointers.get(name, ""))
        for name in rest_module.__all__
    ]


def _is_message_class(value: Any) -> bool:
    return (
        inspect.isclass(value)
        and issubclass(value, (msgspec.Struct, enum.Enum))
        and value.__module__ == message_module.__name__
    )


def message_models() -> list[Model]:
    """Every Struct/Enum class in ``glocalflex_messages.models``, and each alias named for a schema.

    Aliases that only rename a class (``TickPayload = Tick``) are the class itself and not
    repeated; the tagged unions and the constrained strings are aliases with a schema of their own.
    """
    schemas = {p.rsplit("/", 1)[1]: p for p in ASYNCAPI.component_pointers()}
    models = []
    for name, value in vars(message_module).items():
        own_class = _is_message_class(value) and value.__name__ == name
        alias = name in schemas and not inspect.isclass(value)
        if own_class or alias:
            models.append(Model(name, value, schemas.get(name, "")))
    return models


__all__ = ["ASYNCAPI", "OPENAPI", "Model", "message_models", "rest_models", "rest_schema_pointers"]
