"""flxtrd 0.2.9's imports work: its ``__all__``, its top-level names and its module paths."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import flxtrd

#: flxtrd 0.2.9's ``__all__`` (as names) and the other names its ``__init__`` imported.
ALL_029 = [
    "FlexAPIClient",
    "RestAPI",
    "AmpqAPI",
    "AuthPlugin",
    "AuthResponse",
    "FlexUser",
    "FlexDevice",
    "FlexMarket",
    "FlexError",
    "FlexResponse",
    "ASK",
    "BID",
]
TOP_LEVEL_029 = [*ALL_029, "utils", "log", "BasePlugin", "FlexBroker", "FlexResource"]
TOP_LEVEL_029 += ["MarketOrder", "OrderType"]

#: Each module of 0.2.9's ``src/flxtrd`` and the names it defined or re-exported (for a
#: package: its submodules).
MODULES_029 = {
    "flxtrd.core": ["api_client", "logger", "plugins", "types", "utils"],
    "flxtrd.core.api_client": [
        "FlexAPIClient",
        "MarketMessages",
        "AuthPlugin",
        "BasePlugin",
        "FlexError",
        "FlexMarket",
        "FlexResponse",
        "FlexUser",
        "MarketOrder",
        "OrderType",
        "AmpqAPI",
        "BaseAPI",
        "RestAPI",
        "log",
    ],
    "flxtrd.core.logger": [
        "LOGGER_NAME",
        "flexLogger",
        "DEFAULT_FORMATTER",
        "console_handler",
        "logger",
        "log",
    ],
    "flxtrd.core.types": [
        "MILLI",
        "OrderType",
        "FlexResource",
        "FlexDevice",
        "FlexUser",
        "FlexBroker",
        "FlexMarket",
        "MarketOrder",
        "FlexResponse",
        "FlexError",
        "utils",
    ],
    "flxtrd.core.utils": [
        "MILLI",
        "epoch_time_to_isoformat",
        "seconds_to_min",
        "milliseconds_to_min",
        "utc_timestamp_ms",
        "utc_timestamp_s",
        "min_to_ms",
        "min_to_hour",
        "min_to_s",
        "log",
    ],
    "flxtrd.core.plugins": ["auth", "base"],
    "flxtrd.core.plugins.auth": [
        "AuthResponse",
        "AuthPlugin",
        "BasePlugin",
        "FlexMarket",
        "FlexResponse",
        "FlexUser",
        "log",
    ],
    "flxtrd.core.plugins.base": ["BasePlugin"],
    "flxtrd.protocols": ["ampq", "base", "rest"],
    "flxtrd.protocols.ampq": [
        "AmpqAPI",
        "create_line_message",
        "get_current_time_ms",
        "BaseAPI",
        "FlexBroker",
        "FlexError",
        "FlexMarket",
        "FlexResource",
        "FlexUser",
        "MarketOrder",
        "OrderType",
        "utils",
        "log",
    ],
    "flxtrd.protocols.base": ["BaseAPI"],
    "flxtrd.protocols.rest": ["RestAPI", "BaseAPI", "log"],
}


def test_every_name_of_the_0_2_9_all_is_exported() -> None:
    """`from flxtrd import X` works for each name of 0.2.9's __all__, and each is in ours."""
    assert [name for name in ALL_029 if name not in flxtrd.__all__] == []
    assert all(getattr(flxtrd, name, None) is not None for name in TOP_LEVEL_029)


def test_auth_response_imports_from_flxtrd() -> None:
    """`from flxtrd import AuthResponse` (ImportError before) gives 0.2.9's dataclass."""
    from flxtrd import AuthResponse

    response = AuthResponse()
    assert (response.user_id, response.app_key, response.access_token) == (None, None, None)
    assert response.is_authenticated is False


@pytest.mark.parametrize("module", sorted(MODULES_029))
def test_every_0_2_9_module_path_imports_with_its_names(module: str) -> None:
    """Each 0.2.9 module path imports and defines the names 0.2.9's module had."""
    loaded = importlib.import_module(module)
    assert [name for name in MODULES_029[module] if not hasattr(loaded, name)] == []
    assert sorted(MODULES_029[module]) == sorted(getattr(loaded, "__all__", []))


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES_029 if m not in ("flxtrd.core", "flxtrd.core.plugins", "flxtrd.protocols")],
)
def test_0_2_9_module_names_are_todays_objects(module: str) -> None:
    """The alias modules re-export today's classes (the same objects), not copies."""
    loaded = importlib.import_module(module)
    for name in MODULES_029[module]:
        if hasattr(flxtrd, name):
            assert getattr(loaded, name) is getattr(flxtrd, name), f"{module}.{name}"


def test_0_2_9_module_tree_matches_the_src_tree() -> None:
    """Every module of 0.2.9's src tree is covered by the table of this suite."""
    src_029 = [
        "flxtrd.core",
        "flxtrd.core.api_client",
        "flxtrd.core.logger",
        "flxtrd.core.plugins",
        "flxtrd.core.plugins.auth",
        "flxtrd.core.plugins.base",
        "flxtrd.core.types",
        "flxtrd.core.utils",
        "flxtrd.protocols",
        "flxtrd.protocols.ampq",
        "flxtrd.protocols.base",
        "flxtrd.protocols.rest",
    ]
    assert sorted(MODULES_029) == src_029


def test_0_2_9_packages_are_attributes_after_import_flxtrd() -> None:
    """`import flxtrd; flxtrd.core.types.FlexError` works, as in 0.2.9 (loaded on access)."""
    code = (
        "import sys, flxtrd\n"
        "assert 'flxtrd.core' not in sys.modules and 'flxtrd.protocols' not in sys.modules\n"
        "assert flxtrd.core.types.FlexError is flxtrd.FlexError\n"
        "assert flxtrd.core.plugins.auth.AuthResponse is flxtrd.AuthResponse\n"
        "assert flxtrd.protocols.rest.RestAPI is flxtrd.RestAPI\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_import_flxtrd_stays_lazy_with_the_compat_layer() -> None:
    """`import flxtrd` loads no 0.2.9 alias module, no client, httpx or kombu."""
    code = (
        "import sys, flxtrd\n"
        "heavy = ('flxtrd.core', 'flxtrd.protocols', 'flxtrd._compat._auth',"
        " 'flxtrd._client._client', 'httpx', 'kombu')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_0_2_9_submodule_is_an_attribute_error() -> None:
    """A typo in a 0.2.9 path gives the usual AttributeError, not a confusing import failure."""
    import flxtrd.core

    with pytest.raises(AttributeError, match="typo"):
        flxtrd.core.typo  # type: ignore[attr-defined]  # noqa: B018
