"""uvicorn is the ``sandbox`` extra: only the served sandbox needs it.

The embedded sandbox (``sandbox://``, ``python -m flxtrd demo``) is a Starlette app httpx calls
in-process, so importing flxtrd and trading there must never load uvicorn; a served sandbox
started without uvicorn must say which extra to install, not fail with a bare ImportError or a
traceback. Each check runs in a fresh interpreter, so what this test process imported does not
count, and uvicorn can be made unimportable there without touching this one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TIMEOUT_S = 120.0
HINT = "the served sandbox needs uvicorn: pip install 'flxtrd[sandbox]'"


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this environment unless ``env``), to completion."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def without_uvicorn(tmp_path: Path) -> dict[str, str]:
    """This environment, with a ``uvicorn`` first on the path that fails to import as if absent."""
    shim = tmp_path / "shim" / "uvicorn"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(shim.parent), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_import_and_embedded_demo_trade_never_load_uvicorn() -> None:
    """``import flxtrd, flxtrd.sandbox`` and a ``python -m flxtrd demo`` trade leave uvicorn out."""
    result = run_python(
        """
        import runpy, sys
        import flxtrd, flxtrd.sandbox
        print("after import:", "uvicorn" in sys.modules)
        sys.argv = ["flxtrd", "demo"]
        try:
            runpy.run_module("flxtrd", run_name="__main__", alter_sys=True)
        except SystemExit as exit:
            print("demo exit:", exit.code)
        print("after demo:", "uvicorn" in sys.modules, "starlette" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Trade complete" in result.stdout, result.stdout
    assert lines[0] == "after import: False"
    assert lines[-2:] == ["demo exit: 0", "after demo: False True"]  # the embedded app ran


def test_served_sandbox_without_uvicorn_names_the_extra() -> None:
    """With uvicorn unimportable, ``ServedSandbox.start`` raises ConfigurationError naming it."""
    result = run_python(
        """
        import sys
        sys.modules["uvicorn"] = None  # what `import uvicorn` sees when it is not installed
        from flxtrd import ConfigurationError
        from flxtrd.sandbox._served import ServedOptions, ServedSandbox
        sandbox = ServedSandbox(ServedOptions(http_port=0, amqp_url="memory://"))
        try:
            sandbox.start()
        except ConfigurationError as exc:
            print(isinstance(exc.__cause__, ImportError), "|", exc)
            print("started:", sandbox.worker is not None or sandbox.market is not None)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"True | {HINT}", "started: False"]


def test_sandbox_command_without_uvicorn_exits_with_the_extra(tmp_path: Path) -> None:
    """``python -m flxtrd sandbox`` without uvicorn prints the extra to install and exits 1."""
    result = subprocess.run(
        [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0", "--amqp", "memory://"],
        env=without_uvicorn(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.strip() == f"error: {HINT}"
    assert "ready" not in result.stdout


@pytest.mark.parametrize("module", ["flxtrd", "flxtrd.sandbox", "flxtrd.sandbox._cli"])
def test_modules_import_without_uvicorn(tmp_path: Path, module: str) -> None:
    """Without uvicorn installed, flxtrd, its sandbox and the sandbox command still import."""
    result = run_python(f"import {module}", env=without_uvicorn(tmp_path))
    assert result.returncode == 0, result.stderr
