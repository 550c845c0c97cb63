"""The seed README's example and flxtrd 0.2.9's examples, unchanged, against the sandbox.

``seed_example.py`` is the seed README's Python block byte for byte (its hash is pinned below).
Each example runs in a fresh interpreter with only environment variables set:
``FLXTRD_MARKET_URL=sandbox://`` (the embedded sandbox) or ``sandbox://127.0.0.1:<port>`` (the
served one, :mod:`served`). The examples log with ``flxtrd.log`` and flxtrd's logger has only a
``NullHandler``, so a small harness (``python -c``) configures logging, checks every REST request
the SDK sends against ``openapi.yaml`` (the shim of ``tests/unit/client``), then runs the file
with :func:`runpy.run_path` as ``__main__``.

flxtrd 0.2.9's sdist ships no ``examples/`` directory; its README prints ``user_login`` and
``trading_client``, which other tests keep verbatim (``USER_LOGIN_029`` in
``tests/unit/client/test_rest_examples.py``, ``TRADING_CLIENT_029`` in
``test_amqp_example_flow.py``). They are read from there (not copied) and run embedded.
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from served import SandboxProcess

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
SEED_EXAMPLE = HERE / "seed_example.py"
SEED_SHA256 = "d84cedbccabe29ca6915a88656d25d5154425979c4b3822ec4ac00c40fdb2d69"
"""sha256 of the ```py block of the seed README (``SEED-README.md``), 2682 bytes."""
RUN_TIMEOUT_S = 60.0

HARNESS = """
import logging, runpy, sys
logging.basicConfig(
    level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
)
sys.path.append({shim_dir!r})
import httpx
from openapi_shim import SpecViolation, validate_request

_send = httpx.Client.send

def send(self, request, **kwargs):
    request.read()
    try:
        operation = validate_request(request)
    except SpecViolation as exc:
        print(f"SPEC VIOLATION: {{exc}}", file=sys.stderr, flush=True)
    else:
        print(f"SPEC OK: {{operation}}", file=sys.stderr, flush=True)
    return _send(self, request, **kwargs)

httpx.Client.send = send
path = sys.argv[1]
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
""".format(shim_dir=str(TESTS / "unit" / "client"))


def run_example(path: Path, market_url: str) -> tuple[int, str]:
    """Run ``path`` under the harness with ``FLXTRD_MARKET_URL=market_url``: (exit code, log)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
    env["FLXTRD_MARKET_URL"] = market_url
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=path.parent,
    )
    return done.returncode, done.stdout + done.stderr


def check_rest(output: str, *operations: str) -> None:
    """The example sent ``operations`` (at least), and every request it sent conforms."""
    assert "SPEC VIOLATION" not in output, output
    for operation in operations:
        assert f"SPEC OK: {operation}" in output, output


def check_seed_run(code: int, output: str) -> None:
    """The seed example logged in, logged the login response and both order receipts, exit 0."""
    assert code == 0, f"exit code {code}:\n{output}"
    assert "ERROR" not in output, output
    assert "'userId':" in output and "'locations':" in output  # pformat of the login JSON
    assert "INFO flxtrd: 200" in output
    assert output.count("INFO flxtrd: Received response from message broker") == 2, output
    receipts = [line for line in output.splitlines() if "OrderReceipt(" in line]
    assert len(receipts) == 2, output
    assert all("routing_key='ask'" in line for line in receipts)  # the type decides, not "bi"
    check_rest(output, "login_user")


def read_constant(path: Path, name: str) -> str:
    """The string constant ``name`` of another test module, read without importing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            text = ast.literal_eval(node.value)
            assert isinstance(text, str)
            return text
    raise AssertionError(f"{path.name} no longer defines {name}")


def test_seed_example_is_the_readme_block_verbatim() -> None:
    """seed_example.py is byte for byte the Python block of the seed README."""
    assert hashlib.sha256(SEED_EXAMPLE.read_bytes()).hexdigest() == SEED_SHA256


def test_seed_example_runs_against_the_embedded_sandbox() -> None:
    """FLXTRD_MARKET_URL=sandbox:// alone makes the verbatim seed example run and exit 0."""
    check_seed_run(*run_example(SEED_EXAMPLE, "sandbox://"))


@pytest.mark.broker
def test_seed_example_runs_against_the_served_sandbox(served: SandboxProcess) -> None:
    """FLXTRD_MARKET_URL=sandbox://127.0.0.1:<port> alone makes it run on the served sandbox."""
    check_seed_run(*run_example(SEED_EXAMPLE, served.market_url))


def test_029_user_login_example_runs_against_the_embedded_sandbox(tmp_path: Path) -> None:
    """flxtrd 0.2.9's REST example logs in and logs the response, exit 0."""
    source = read_constant(TESTS / "unit" / "client" / "test_rest_examples.py", "USER_LOGIN_029")
    example = tmp_path / "user_login.py"
    example.write_text(source, encoding="utf-8")
    code, output = run_example(example, "sandbox://")
    assert code == 0, f"exit code {code}:\n{output}"
    assert "ERROR" not in output, output
    assert "'userId':" in output and "INFO flxtrd: 200" in output
    check_rest(output, "login_user")


def test_029_trading_client_example_runs_against_the_embedded_sandbox(tmp_path: Path) -> None:
    """flxtrd 0.2.9's trading example: ask + bid, the 3 replies it waits for, exit 0."""
    source = read_constant(HERE / "test_amqp_example_flow.py", "TRADING_CLIENT_029")
    example = tmp_path / "trading_client.py"
    example.write_text(source, encoding="utf-8")
    code, output = run_example(example, "sandbox://")
    assert code == 0, f"exit code {code}:\n{output}"
    assert "ERROR" not in output, output
    assert "Received 3 responses from market broker" in output
