"""A second spelling of an attribute, for the types that accept both the seed's and 0.2.9's names.

The public types keep one stored attribute per quantity and expose the other spellings
(``wattage`` for ``power_w``, ``ip`` for ``url``, ...) as :class:`Alias` descriptors, one line
each instead of one property (and setter) each; a constructor that takes either spelling of a
value resolves it with :func:`pick`.
"""

from __future__ import annotations

from typing import Any, Generic, Self, TypeVar, overload

__all__ = ["Alias", "pick"]

_T = TypeVar("_T")


class Alias(Generic[_T]):
    """An attribute that reads (and, if ``writable``, writes) the attribute named ``target``."""

    def __init__(self, target: str, doc: str, *, writable: bool = False) -> None:
        self.target = target
        self.writable = writable
        self.name = target
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return getattr(instance, self.target)

    def __set__(self, instance: object, value: _T) -> None:
        if not self.writable:
            raise AttributeError(
                f"property {self.name!r} of {type(instance).__name__!r} object has no setter"
            )
        setattr(instance, self.target, value)


def pick(name_a: str, a: Any, name_b: str, b: Any) -> tuple[str, Any]:
    """Resolve one value given under either of two spellings; both at once is a TypeError."""
    if a is not None and b is not None:
        raise TypeError(f"pass {name_a}= or {name_b}=, not both")
    return (name_b, b) if a is None else (name_a, a)
