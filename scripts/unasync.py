#!/usr/bin/env python3
"""Write the sync REST code from its async source: one source, two clients that cannot drift.

Usage: scripts/unasync.py [--check] [--root DIR]

  --check     generate in memory and exit 1, naming each file, if a sync file differs
  --root DIR  the project tree to read and write (default: this script's project)

The async modules (``flxtrd/<package>/_async_*.py``, listed in ``FILES``) are the hand-written
source; each sync module is this script's output and is never edited by hand. The rewrite is the one
httpcore's ``scripts/unasync.py`` made well known, written anew for flxtrd: a fixed, ordered list
of whole-word substitutions applied line by line (``async def`` -> ``def``, ``await x`` -> ``x``,
``AsyncRestAPI`` -> ``RestAPI``, ``aclose`` -> ``close``, ...), so a line of the source becomes
exactly one line of the output and the two files can be read side by side.

Two directives cover the few lines only one side has: a comment ``# unasync: add <code>`` in
the source becomes ``<code>`` (same indentation) in the sync module (it is a comment in the async
one), and a line ending in ``# unasync: drop`` is left out of the sync module. The output is
then passed through the project's pinned ruff (unused imports the rewrite left behind, import
order, ``__all__`` order, format) with the project's settings, so the sync modules pass
``make lint`` as written. ``make regenerate`` runs this script; ``make check-generated`` runs it
with ``--check``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"

#: (async source, generated sync module), relative to the project root.
FILES: tuple[tuple[str, str], ...] = (
    ("flxtrd/_rest/_async_transport.py", "flxtrd/_rest/_transport.py"),
    ("flxtrd/_rest/_async_api.py", "flxtrd/_rest/_api.py"),
    ("flxtrd/_rest/_async_resources.py", "flxtrd/_rest/_resources.py"),
    ("flxtrd/_client/_async_client.py", "flxtrd/_client/_client.py"),
    ("flxtrd/_streams/_async_stream.py", "flxtrd/_streams/_stream.py"),
)

#: Whole-word rewrites, applied in this order to every line (strings and docstrings included).
SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    # syntax
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bAwaitable\[None\]", "None"),
    (r"\bAwaitable\[([\w.\[\], |]+)\]", r"\1"),
    (r"^import asyncio$", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    # httpx
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\baiter_raw\b", "iter_raw"),
    (r"\baread\b", "read"),
    (r"\baclose\b", "close"),
    # flxtrd names whose sync twin is not the name without "Async"
    (r"\bAsyncPaginator\b", "SyncPage"),
    (r"\bAsyncPage\b", "SyncPage"),
    (r"\bapaginate\b", "paginate"),
    (r"\babefore_request\b", "before_request"),
    (r"\baafter_request\b", "after_request"),
    (r"\babefore\b", "before"),
    (r"\baafter\b", "after"),
    (r"\balogin\b", "login"),
    (r"\baidentity\b", "identity"),
    (r"\babearer_token\b", "bearer_token"),
    (r"\barecover\b", "recover"),
    (r"\b_auth_asend\b", "_auth_send"),
    (r"\b_aread_body\b", "_read_body"),
    (r"\b_adiscard\b", "_discard"),
    (r"\b_aplace\b", "_place"),
    (r"\b_aclose_extras\b", "_close_extras"),
    (r"\basync_to_raw_response_wrapper\b", "to_raw_response_wrapper"),
    (r"\b_AsyncClientExtras\b", "_TradingExtras"),
    (r"\b_async_extras\b", "_sync_extras"),
    (r"\b_AsyncRestShell\b", "_SyncRestShell"),
    (r"\bembedded_async_transport\b", "embedded_transport"),
    (r"\b_AsyncConnection\b", "_SyncConnection"),
    (r"\b_async_value\b", "_sync_value"),
    (r"\basync_(open_connection|sleep_for|enter_client)\b", r"\1"),
    (r"\basyncio\.Event\b", "threading.Event"),
    # the general rules: AsyncX -> X, flxtrd._async_x -> flxtrd._x, "async" -> "sync"
    (r"\bAsync(?=[A-Z])", ""),
    (r"\b_Async(?=[A-Z])", "_"),
    (r"\b_async_", "_"),
    (r"\basync\b", "sync"),
)
_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in SUBSTITUTIONS)
_DIRECTIVE = re.compile(r"^(\s*)# unasync: add (.*)$")
_DROP = "# unasync: drop"


def banner(source: str) -> str:
    """The header every generated sync module starts with."""
    return (
        f"# Generated from {source} by scripts/unasync.py; do not edit.\n"
        "# Change the async source and run `make regenerate`.\n"
    )


def unasync_line(line: str) -> str:
    """One source line rewritten for the sync module."""
    directive = _DIRECTIVE.match(line)
    if directive is not None:
        line = directive.group(1) + directive.group(2)
    for pattern, repl in _COMPILED:
        line = pattern.sub(repl, line)
    return line


def unasync_text(text: str) -> str:
    """A whole source module rewritten (before formatting); repeated import lines dropped."""
    out: list[str] = []
    imports: set[str] = set()
    for line in text.splitlines():
        if line.rstrip().endswith(_DROP):
            continue
        new = unasync_line(line)
        if new.startswith(("import ", "from ")) and not new.endswith("("):
            if new in imports:
                continue
            imports.add(new)
        out.append(new)
    return "\n".join(out) + "\n"


def _ruff(args: list[str], code: str, filename: Path, root: Path) -> str:
    """Run the pinned ruff on ``code`` as if it were ``filename``, with the project's config."""
    result = subprocess.run(
        [str(RUFF), *args, "--config", str(root / "pyproject.toml"), "--stdin-filename",
         str(filename), "-"],
        input=code, capture_output=True, text=True, check=False, cwd=root,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"unasync: ruff {args[0]} failed on {filename}:\n{result.stderr}")
    return result.stdout


def generate(source: Path, target: Path, root: Path) -> str:
    """The sync module for ``source``: rewritten, fixed and formatted by ruff."""
    code = banner(source.relative_to(root).as_posix()) + unasync_text(source.read_text())
    fixes = ["check", "--fix-only", "--exit-zero", "--select", "F401,I,RUF022"]
    code = _ruff(fixes, code, target, root)
    return _ruff(["format"], code, target, root)


def main(argv: list[str] | None = None) -> int:
    """Entry point: write the sync modules, or ``--check`` that they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a sync module is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project tree")
    options = parser.parse_args(argv)
    root: Path = options.root.resolve()
    stale: list[str] = []
    for source_name, target_name in FILES:
        source, target = root / source_name, root / target_name
        code = generate(source, target, root)
        if options.check:
            if not target.exists() or target.read_text() != code:
                stale.append(target_name)
        elif not target.exists() or target.read_text() != code:
            target.write_text(code)
    if stale:
        print("sync modules differ from what their async sources produce:", *stale, sep="\n  ")
        print("Run `make regenerate` and commit the result (never edit them by hand).")
        return 1
    if options.check:
        print("sync modules are up to date with their async sources.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
