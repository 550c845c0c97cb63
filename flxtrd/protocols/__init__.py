"""flxtrd 0.2.9's ``flxtrd.protocols``: alias modules (see ``flxtrd._compat``)."""

import importlib
from types import ModuleType

__all__ = ["ampq", "base", "rest"]


def __getattr__(name: str) -> ModuleType:
    """Import a submodule on first access (``flxtrd.core.types`` after ``import flxtrd``)."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
