"""``scripts/unasync.py``: the sync REST modules are exactly what their async sources produce.

``make check-generated`` (``scripts/regenerate --check``) fails when a generated sync module was
edited by hand or its async source changed without ``make regenerate``; the rewrite rules turn
the async idioms into their sync twins line for line.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def _load_unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPTS / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unasync = _load_unasync()


def run(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run one of the project's scripts with this interpreter (ruff lives beside it)."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def copy_sync_tree(destination: Path) -> Path:
    """A copy of the async sources, their sync modules and the ruff settings they follow."""
    for source, target in unasync.FILES:
        for name in (source, target):
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, destination / name)
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def test_the_committed_sync_modules_are_up_to_date() -> None:
    """--check exits 0 on the committed tree: every sync module is its source's output."""
    result = run("unasync.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_generated_fails_on_a_one_line_edit_in_a_sync_module(tmp_path: Path) -> None:
    """``regenerate --check`` exits 1 and names the sync module one hand-edited line changed."""
    copy = copy_sync_tree(tmp_path)
    target = copy / "flxtrd" / "_client" / "_client.py"
    text = target.read_text()
    edited = text.replace("raise ConfigurationError(", "raise ValueError(", 1)
    assert edited != text
    target.write_text(edited)
    result = run("regenerate", "--check", "--sync-root", copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "flxtrd/_client/_client.py" in result.stdout
    assert "flxtrd/_rest/_api.py" not in result.stdout


def test_check_fails_when_an_async_source_changed_without_regenerating(tmp_path: Path) -> None:
    """A changed async source makes its (unchanged) sync module stale; writing fixes it."""
    copy = copy_sync_tree(tmp_path)
    source = copy / "flxtrd" / "_rest" / "_async_api.py"
    text = source.read_text()
    source.write_text(text.replace('"""Close the connection pool."""', '"""Close."""'))
    stale = run("unasync.py", "--check", "--root", copy)
    assert stale.returncode == 1
    assert "flxtrd/_rest/_api.py" in stale.stdout
    assert run("unasync.py", "--root", copy).returncode == 0
    assert '"""Close."""' in (copy / "flxtrd" / "_rest" / "_api.py").read_text()
    assert run("unasync.py", "--check", "--root", copy).returncode == 0


def test_rewrite_turns_async_idioms_into_their_sync_twins() -> None:
    """Each rule: awaits, async defs and names (AsyncX, aclose, _async_x modules, a-hooks)."""
    line = unasync.unasync_line
    assert line("    async def aclose(self) -> None:") == "    def close(self) -> None:"
    assert line("        await self._http.aclose()") == "        self._http.close()"
    assert (
        line("from flxtrd._rest._async_api import AsyncRestAPI")
        == "from flxtrd._rest._api import RestAPI"
    )
    assert line("class _AsyncWithRawResponse:") == "class _WithRawResponse:"
    assert line("x: Callable[[float], Awaitable[None]]") == "x: Callable[[float], None]"
    assert line("await chain.abefore(a)") == "chain.before(a)"
    assert line("-> AsyncPaginator[Order]:") == "-> SyncPage[Order]:"
    assert line("async with lock:") == "with lock:"
    assert line("the async client") == "the sync client"


def test_add_directive_puts_a_sync_only_line_in_the_sync_module() -> None:
    """``# unasync: add <code>`` is a comment in the source and ``<code>`` in the sync module."""
    assert unasync.unasync_line("        # unasync: add trade_protocol: Any = None,") == (
        "        trade_protocol: Any = None,"
    )


def test_drop_directive_leaves_an_async_only_line_out_of_the_sync_module() -> None:
    """A line ending in ``# unasync: drop`` is not in the sync module; its neighbours are."""
    source = "class A:\n    aclose = close  # unasync: drop\n    x = 1\n"
    assert unasync.unasync_text(source) == "class A:\n    x = 1\n"


def test_every_sync_module_says_it_is_generated_and_from_what() -> None:
    """Each sync module starts with the banner naming its async source."""
    for source, target in unasync.FILES:
        assert (ROOT / target).read_text().startswith(unasync.banner(source)), target
