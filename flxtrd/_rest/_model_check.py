"""Type checks of parsed REST responses against the generated models' annotations.

The generated ``from_dict`` methods (openapi-python-client) copy scalar fields as they come:
an order body with ``"power": "lots"`` or ``"price": null`` would parse into a typed ``Order``
whose ``power * 2 == "lotslots"``. :func:`check_model` walks a parsed model (and the models,
lists and dicts inside it) against the annotations of its attrs class and raises
:class:`~flxtrd.MessageDecodeError` naming the first field whose value has the wrong type,
e.g. ``get_order: response field `power` must be float, got str`` (fields by their JSON
names: ``userId``, not the model's ``user_id``).

Forward compatibility stays: unknown enum values (the generated enums turn them into
``UNKNOWN`` pseudo-members) and fields the spec does not know (``additional_properties``) are
accepted. Values never appear in the error, only their types (a field may hold a token).

The checks of each class are built once, from ``typing.get_type_hints``, and cached.
"""

from __future__ import annotations

import datetime
import enum
import functools
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs
import glocalflex_rest.models as _models
from glocalflex_rest.types import Unset

from flxtrd._errors import MessageDecodeError

__all__ = ["check_model"]

#: A check returns None when the value fits, else (path below the value, expected, got).
_Failure = tuple[str, str, str]
_Check = Callable[[Any], _Failure | None]

_NAMESPACE: dict[str, Any] = {**vars(_models), "Unset": Unset, "datetime": datetime}
_CLASS_CHECKS: dict[type, list[tuple[str, _Check]]] = {}
_SKIPPED = frozenset({"additional_properties"})


def check_model(value: object, operation: str) -> None:
    """Raise :class:`MessageDecodeError` if ``value`` (a parsed response) has a wrong-typed field.

    ``value`` is a generated model, a list of them, or ``None`` (e.g. a 304 without a body).
    """
    failure = _check_value(value)
    if failure is not None:
        path, expected, got = failure
        raise MessageDecodeError(
            f"{operation}: response field `{path.lstrip('.') or '<body>'}` must be {expected},"
            f" got {got}"
        )


def _check_value(value: object) -> _Failure | None:
    if value is None:
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            failure = _check_value(item)
            if failure is not None:
                return f"[{index}]{failure[0]}", failure[1], failure[2]
        return None
    if attrs.has(type(value)):
        return _check_instance(value)
    return None


def _check_instance(value: object) -> _Failure | None:
    checks = _CLASS_CHECKS.get(type(value))
    if checks is None:
        checks = _CLASS_CHECKS[type(value)] = _class_checks(type(value))
    for name, check in checks:
        failure = check(getattr(value, name))
        if failure is not None:
            return f".{_json_key(type(value), name)}{failure[0]}", failure[1], failure[2]
    return None


_POP = re.compile(r"^\s*_?(\w+)\s*=\s*.*?\bd\.pop\(\"([^\"]+)\"", re.M)


@functools.cache
def _json_keys(cls: type) -> dict[str, str]:
    """Attribute name -> JSON key (``user_id`` -> ``userId``), read off the generated
    ``from_dict`` (``user_id = d.pop("userId")``); only used to word an error."""
    try:
        source = inspect.getsource(cls.from_dict)  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError):
        return {}
    return {name: key for name, key in _POP.findall(source)}


def _json_key(cls: type, name: str) -> str:
    """The JSON key of attribute ``name`` of ``cls`` (the name itself when unknown)."""
    return _json_keys(cls).get(name, name)


def _class_checks(cls: type) -> list[tuple[str, _Check]]:
    """One check per attrs field of a generated model class, from its annotations."""
    module = sys.modules.get(cls.__module__)
    globalns = {**(vars(module) if module is not None else {}), **_NAMESPACE}
    hints = typing.get_type_hints(cls, globalns=globalns)
    return [
        (field.name, _check_for(hints[field.name]))
        for field in attrs.fields(cls)
        if field.name not in _SKIPPED and field.name in hints
    ]


def _check_for(hint: Any) -> _Check:
    """The check of one annotation (scalars, enums, models, unions, lists, dicts)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return _anything
    if origin in (typing.Union, types.UnionType):
        return _union([_check_for(arg) for arg in typing.get_args(hint)], _name(hint))
    if origin is list:
        (item_hint,) = typing.get_args(hint) or (Any,)
        return _list_of(_check_for(item_hint), _name(hint))
    if origin is dict:
        value_hint = (typing.get_args(hint) or (str, Any))[1]
        return _dict_of(_check_for(value_hint), _name(hint))
    if hint is type(None):
        return _is(lambda v: v is None, "null")
    if hint is float:
        return _is(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "float")
    if hint is int:
        return _is(lambda v: isinstance(v, int) and not isinstance(v, bool), "int")
    if isinstance(hint, type) and attrs.has(hint):
        return _model(hint)
    if isinstance(hint, type):
        expected = "a known enum value" if issubclass(hint, enum.Enum) else hint.__name__
        return _is(lambda v: isinstance(v, hint), expected if hint is not Unset else "unset")
    return _anything  # an annotation the generator does not emit today: accept


def _anything(value: object) -> None:
    return None


def _is(test: Callable[[Any], bool], expected: str) -> _Check:
    def check(value: object) -> _Failure | None:
        return None if test(value) else ("", expected, _type_name(value))

    return check


def _model(cls: type) -> _Check:
    def check(value: object) -> _Failure | None:
        if not isinstance(value, cls):
            return "", cls.__name__, _type_name(value)
        return _check_instance(value)

    return check


def _union(checks: list[_Check], expected: str) -> _Check:
    def check(value: object) -> _Failure | None:
        deepest: _Failure | None = None
        for member in checks:
            failure = member(value)
            if failure is None:
                return None
            if failure[0] and deepest is None:  # the right type, a wrong field inside it
                deepest = failure
        return deepest or ("", expected, _type_name(value))

    return check


def _list_of(item: _Check, expected: str) -> _Check:
    def check(value: object) -> _Failure | None:
        if not isinstance(value, list):
            return "", expected, _type_name(value)
        for index, element in enumerate(value):
            failure = item(element)
            if failure is not None:
                return f"[{index}]{failure[0]}", failure[1], failure[2]
        return None

    return check


def _dict_of(item: _Check, expected: str) -> _Check:
    def check(value: object) -> _Failure | None:
        if not isinstance(value, dict):
            return "", expected, _type_name(value)
        if item is _anything:
            return None
        for key, element in value.items():
            failure = item(element)
            if failure is not None:
                return f"[{key!r}]{failure[0]}", failure[1], failure[2]
        return None

    return check


def _name(hint: Any) -> str:
    """A readable type name: ``float``, ``list[Order]``, ``str | null``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        names = [_name(arg) for arg in typing.get_args(hint) if arg is not Unset]
        return " | ".join(sorted(names, key=lambda name: name == "null"))  # null last
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_name(a) for a in typing.get_args(hint))}]"
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Unset):
        return "nothing (the field is missing)"
    return type(value).__name__
