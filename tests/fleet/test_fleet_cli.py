"""``python -m flxtrd fleet``: the live table and summary, and its usage errors."""

from __future__ import annotations

import json

import pytest

from flxtrd._cli._main import main


def test_fleet_sandbox_prints_a_table_row_per_refresh_and_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a non-terminal, rows are lines; the summary counts every device, order and deal."""
    code = main(["fleet", "--sandbox", "--devices", "6", "--orders", "2", "--interval", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["time", "s", "devices"]
    assert "\r" not in out and "\x1b" not in out
    assert lines[-2].startswith("fleet summary: 6 of 6 devices connected, 12 orders,")
    assert "12 confirmed, 0 failed, 12 deals, 3.00 kWh" in lines[-2]
    assert lines[-1].startswith("confirm latency: p50 ")


def test_fleet_json_summary_has_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` ends with one JSON line of the fleet's totals."""
    code = main(["fleet", "--sandbox", "--devices", "4", "--orders", "1", "--json"])
    record = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    assert (record["devices"], record["confirmed"], record["deals"]) == (4, 4, 4)
    assert record["device_errors"] == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fleet", "--worker", "--sandbox"], "--worker and --assign need --run NAME"),
        (["fleet", "--sandbox", "--devices", "0"], "--devices must be >= 1"),
        (["fleet", "--sandbox", "--orders", "-1"], "--orders must be >= 0"),
    ],
)
def test_fleet_usage_errors_exit_2_with_the_rule(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong fleet command line exits 2 and says what is wrong."""
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_bad_devices_file_is_a_usage_error_naming_it(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """A devices file that is not an accounts file: exit 2, naming the file."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "devices.json"
    path.write_text('{"devices": []}')
    assert main(["fleet", "--sandbox", "--devices-file", str(path)]) == 2
    assert f"--devices-file {path}: not an accounts file" in capsys.readouterr().err
