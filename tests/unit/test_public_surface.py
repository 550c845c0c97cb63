"""The public surface: one sorted, complete __all__, lazy heavy imports, 0.2.9 helpers."""

from __future__ import annotations

import subprocess
import sys

import flxtrd
from flxtrd import utils


def test_all_is_sorted_and_unique() -> None:
    """__all__ is kept sorted (as ruff's RUF022 sorts it) and names each export once."""
    assert len(set(flxtrd.__all__)) == len(flxtrd.__all__)
    assert flxtrd.__all__ == sorted(flxtrd.__all__, key=lambda n: (not n.isupper(), n))


def test_every_exported_name_resolves() -> None:
    """Each name in __all__, lazy or eager, is importable from flxtrd."""
    missing = [name for name in flxtrd.__all__ if getattr(flxtrd, name, None) is None]
    assert missing == []


def test_every_public_class_and_error_is_exported() -> None:
    """Public classes of the private modules a user meets are all exported (__all__ complete)."""
    from flxtrd import _errors, _types
    from flxtrd._amqp import _api as _amqp
    from flxtrd._streams import _stream as _streams

    expected = {
        name
        for module in (_errors, _types)
        for name in module.__all__
        if not name.islower() and name not in {"MILLI"}
    }
    expected |= {"AmpqAPI", "OrderReceipt", "OrderOutcome", "OrderInDoubtError", "AmqpStats"}
    expected &= set(dir(_errors)) | set(dir(_types)) | set(dir(_amqp)) | set(dir(_streams))
    assert expected - set(flxtrd.__all__) == set()


def test_unknown_attribute_raises_attribute_error() -> None:
    """A typo gets the usual AttributeError, not a confusing import failure."""
    try:
        flxtrd.FlexAPICLient  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "FlexAPICLient" in str(exc)
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("expected AttributeError")


def test_import_flxtrd_loads_neither_kombu_nor_the_generated_rest_operations() -> None:
    """`import flxtrd` stays cheap: kombu, httpx and the generated operations load on first use."""
    code = (
        "import sys, flxtrd; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kombu', 'httpx', 'glocalflex_rest', 'msgspec', 'starlette')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_0_2_9_utils_helpers_convert_units() -> None:
    """flxtrd 0.2.9's utils helpers give the same conversions its users rely on."""
    assert (utils.min_to_ms(15), utils.min_to_s(15), utils.min_to_hour(30)) == (900_000, 900, 0.5)
    assert (utils.seconds_to_min(90), utils.milliseconds_to_min(900_000)) == (2, 15)
    assert utils.epoch_time_to_isoformat(1796202000123) == "2026-12-02T09:00:00.123Z"
    assert utils.epoch_time_to_isoformat(1796202000) == "2026-12-02T09:00:00.000Z"
    assert abs(utils.utc_timestamp_ms() - utils.utc_timestamp_s() * 1000) < 2000
