"""Exit codes scripts can trust, each provoked for real in a ``python -m flxtrd`` process.

0 ok, 1 other, 2 usage, 3 auth, 4 validation, 5 network, 6 not found, 7 conflict (provoked in
``test_cli_rest_served.py``: a second cancel), 130 interrupted; the table is
``flxtrd._exit_codes``. The error goes to standard error, naming what failed; standard output
stays empty, so ``--json`` consumers never read an error as data.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from cli_harness import Listener, env_for, new_user, run_cli

from flxtrd import _exit_codes
from flxtrd._errors import (
    AlreadyConnectedError,
    AuthenticationError,
    BrokerError,
    ConfigurationError,
    ConflictError,
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    FlexValidationError,
    MessageDecodeError,
    NotFoundError,
    OrderInDoubtError,
    OrderNotConfirmedError,
    OrderUnroutableError,
    OversellError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamHandshakeError,
    UnprocessableEntityError,
)

EMBEDDED = "sandbox://"


def failed(result: subprocess.CompletedProcess[str], code: int, *named: str) -> None:
    """The run exited ``code``, printed nothing on stdout and named each of ``named``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    for text in named:
        assert text in result.stderr, result.stderr


def closed_port() -> int:
    """A loopback port nothing listens on (bound by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [
        ["orders"],  # no action
        ["orders", "bogus"],
        ["orders", "place", "buy", "--price", "0.2"],  # --power missing
        ["orders", "place", "hold", "--power", "1", "--price", "0.2"],
        ["orders", "place", "buy", "--power", "1", "--price", "0.2", "--start", "tomorrow"],
        ["orders", "get", "seven"],
        ["orders", "list", "--limit", "0"],
        ["contracts", "get"],
        ["stream", "news"],
        ["stream", "ticker", "--duration", "-1"],
        ["order", "bid", "--power", "1", "--price", "1", "--generation", "3"],
    ],
)
def test_a_wrong_command_line_exits_2(args: list[str]) -> None:
    """argparse refuses the command line: exit 2 and a usage message."""
    result = run_cli(*args, env=env_for(EMBEDDED, new_user()))
    failed(result, 2, "usage: python -m flxtrd")


def test_missing_credentials_exit_2_naming_the_variables() -> None:
    """No FLXTRD_USERNAME/FLXTRD_PASSWORD (and no terminal to prompt on): exit 2, says which."""
    for args in (["orders", "list"], ["stream", "ticker", "--count", "1"]):
        failed(run_cli(*args, env=env_for(EMBEDDED, None, None)), 2, "FLXTRD_USERNAME")


@pytest.fixture
def strict_accounts(tmp_path: Path) -> tuple[Path, str]:
    """An accounts file with one account (the embedded sandbox then refuses anyone else)."""
    email = new_user("strict")
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"accounts": [{"email": email, "password": "right-password"}]}))
    return path, email


def test_refused_credentials_exit_3(strict_accounts: tuple[Path, str]) -> None:
    """A wrong password on a strict sandbox: orders, deals and streams exit 3; right one 0."""
    path, email = strict_accounts
    wrong = {**env_for(EMBEDDED, email, "wrong-password"), "FLXTRD_SANDBOX_ACCOUNTS": str(path)}
    for args in (["orders", "list"], ["contracts", "list"], ["deals"],
                 ["stream", "trade", "--count", "1"]):  # fmt: skip
        failed(run_cli(*args, env=wrong), 3, "Invalid user credentials")
    right = {**wrong, "FLXTRD_PASSWORD": "right-password"}
    assert run_cli("orders", "list", env=right).returncode == 0


PLACE = ["orders", "place", "buy", "--power", "1", "--price", "0.2"]
GEN2 = ["order", "bid", "--power", "5", "--price", "1", "--generation", "2"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["orders", "place", "buy", "--power", "-1", "--price", "0.2"], "power_w"),
        (["orders", "place", "buy", "--power", "1", "--price", "-0.2"], "price_eur_per_kwh"),
        ([*PLACE, "--start", "2027-01-15T10:07:00Z"], "delivery_start"),  # not :00/:15/:30/:45
        ([*PLACE, "--start", "2027-01-15T10:00:00"], "delivery_start"),  # no time zone
        ([*PLACE, "--start-in", "-60"], "delivery_start"),  # in the past
        ([*PLACE, "--country", "XX"], "country_code"),
        (["orders", "list", "--status", "done"], "status"),
        (["deals", "--relative-time", "1x"], "relative_time"),
        (["order", "bid", "--power", "nan", "--price", "10"], "wattage"),
        ([*GEN2, "--duration", "7"], "delivery_end"),
    ],
)
def test_invalid_input_exits_4_naming_the_field(args: list[str], field: str) -> None:
    """Bad input is refused before anything is sent: exit 4, the field named."""
    failed(run_cli(*args, env=env_for(EMBEDDED, new_user())), 4, field)


def test_no_market_exits_4_naming_it() -> None:
    """No --market and no FLXTRD_MARKET_URL: exit 4, the message says how to name one."""
    failed(run_cli("orders", "list", env=env_for(None, new_user())), 4, "FLXTRD_MARKET_URL")


def test_an_unreachable_market_exits_5() -> None:
    """A market no one listens on: REST commands and a stream exit 5 (after REST retries)."""
    url = f"http://127.0.0.1:{closed_port()}"
    env = env_for(None, new_user())
    for args in (["orders", "list"], ["deals"], ["stream", "ticker", "--count", "1"], GEN2):
        failed(run_cli(*args, "--market-url", url, env=env), 5, "Connection refused")


def test_ctrl_c_exits_130() -> None:
    """SIGINT to a running stream (Ctrl-C): exit 130, no traceback."""
    listener = Listener("stream", "ticker", "--json", env=env_for(EMBEDDED, new_user()))
    listener.wait_ready()
    listener.interrupt()
    out, err = listener.finish()
    assert listener.returncode == 130, err
    assert out == "" and "Traceback" not in err


# --- the table itself --------------------------------------------------------------------------


def test_each_error_class_maps_to_its_documented_code() -> None:
    """exit_code_for: the most specific class decides; the codes are the documented ones."""
    cases: list[tuple[BaseException, int]] = [
        (AuthenticationError(401), 3),
        (PermissionDeniedError(403), 3),
        (FlexValidationError("power_w", "must be > 0", -1), 4),
        (OversellError("power_w", "exceeds", 9), 4),
        (UnprocessableEntityError(422), 4),
        (FlexConnectionError("down"), 5),
        (FlexTimeoutError("slow"), 5),
        (StreamHandshakeError("no", kind="ticker"), 5),
        (RateLimitError(429), 5),
        (ServerError(503), 5),
        (OrderInDoubtError("m-1", "connection lost"), 5),
        (NotFoundError(404), 6),
        (ConflictError(409), 7),
        (AlreadyConnectedError(), 7),
        (ConfigurationError("no credentials"), 2),
        (FlexStatusError(418), 1),
        (OrderUnroutableError("unroutable"), 1),
        (OrderNotConfirmedError(nacked=True), 1),
        (BrokerError("gone"), 1),
        (MessageDecodeError("bad"), 1),
        (FlexError("other"), 1),
        (KeyboardInterrupt(), 130),
    ]
    assert [(type(e).__name__, _exit_codes.exit_code_for(e)) for e, _ in cases] == [
        (type(e).__name__, code) for e, code in cases
    ]
    documented = [line.split()[0] for line in _exit_codes.EXIT_CODES_HELP.splitlines()[1:]]
    assert documented == ["0", "1", "2", "3", "4", "5", "6", "7", "130"]


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """stdout closed by its reader (``| head``): exit 0 and no BrokenPipeError traceback."""
    listener = Listener("stream", "orderbook", "--count", "1", "--json",
                        env=env_for(EMBEDDED, new_user()))  # fmt: skip
    assert listener.process.stdout is not None
    listener.process.stdout.close()  # before the command prints its first line
    listener.wait_ready()
    _, err = listener.process.communicate(timeout=120)
    assert listener.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
