"""``flxtrd.log`` and the ``flxtrd`` logger print as 0.2.9 did; the library stays silent.

Each case runs in a fresh interpreter, as a script would: pytest's own log capture installs a
root handler, which (as any application's logging configuration) takes over the output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

#: 0.2.9's console line: "LEVEL flxtrd <asctime> | <file>:<line> | <message>".
LINE = r"{level} flxtrd \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} \| script\.py:{line} \| {message}"


def run(tmp_path: Path, code: str) -> tuple[str, str]:
    """Run ``code`` as ``script.py`` in a fresh interpreter; return (stdout, stderr)."""
    script = tmp_path / "script.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    return done.stdout, done.stderr


def test_log_info_prints_0_2_9s_line_on_stderr(tmp_path: Path) -> None:
    """log(INFO, ...) prints one 0.2.9-formatted line on stderr, naming the caller's line."""
    out, err = run(
        tmp_path,
        "from logging import INFO\nfrom flxtrd import log\nlog(INFO, 'price %s', 12.5)\n",
    )
    assert out == ""
    assert re.fullmatch(LINE.format(level="INFO", line=3, message="price 12.5") + "\n", err), err


def test_log_below_info_prints_nothing_unless_the_level_is_lowered(tmp_path: Path) -> None:
    """log(DEBUG, ...) is dropped as in 0.2.9 (logger at INFO); setLevel(DEBUG) shows it."""
    _, err = run(
        tmp_path,
        "import logging\nfrom flxtrd import log\nlog(logging.DEBUG, 'hidden')\n"
        "logging.getLogger('flxtrd').setLevel(logging.DEBUG)\nlog(logging.DEBUG, 'shown')\n",
    )
    assert "hidden" not in err
    assert re.fullmatch(LINE.format(level="DEBUG", line=5, message="shown") + "\n", err), err


def test_flxtrd_logger_used_directly_prints_as_the_vendor_examples_expect(tmp_path: Path) -> None:
    """logging.getLogger('flxtrd').info(...) after setLevel(INFO) prints (0.2.9's examples)."""
    _, err = run(
        tmp_path,
        "import logging\nimport flxtrd\nlogger = logging.getLogger('flxtrd')\n"
        "logger.setLevel(logging.INFO)\nlogger.info('Waiting for messages')\n",
    )
    assert re.fullmatch(
        LINE.format(level="INFO", line=5, message="Waiting for messages") + "\n", err
    )


def test_the_librarys_own_records_stay_silent(tmp_path: Path) -> None:
    """Records of flxtrd's modules (child loggers) never reach the console, at any level."""
    _, err = run(
        tmp_path,
        "import logging\nimport flxtrd\nfrom flxtrd._log import get_logger\n"
        "logging.getLogger('flxtrd').setLevel(logging.DEBUG)\n"
        "get_logger('auth').error('library error')\nget_logger('amqp').info('library info')\n",
    )
    assert err == ""


def test_configured_logging_prints_each_record_once(tmp_path: Path) -> None:
    """After logging.basicConfig the record goes to the application's handler only."""
    _, err = run(
        tmp_path,
        "import logging\nlogging.basicConfig(format='APP %(name)s %(message)s')\n"
        "from flxtrd import log\nlog(logging.INFO, 'once')\n",
    )
    assert err == "APP flxtrd once\n"


def test_registered_secrets_are_redacted_on_the_console(tmp_path: Path) -> None:
    """A password known to the client never reaches the console line."""
    _, err = run(
        tmp_path,
        "from logging import INFO\nfrom flxtrd import log\n"
        "from flxtrd._log import register_secret\nregister_secret('pw-S3cr3t')\n"
        "log(INFO, 'login with %s', 'pw-S3cr3t')\n",
    )
    assert "S3cr3t" not in err and err.endswith("| login with ***\n")


def test_log_accepts_any_object_and_exc_info(tmp_path: Path) -> None:
    """log(INFO, 200) prints the number; exc_info=True adds the traceback (as Logger.log)."""
    _, err = run(
        tmp_path,
        "from logging import ERROR, INFO\nfrom flxtrd import log\nlog(INFO, 200)\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log(ERROR, 'failed', exc_info=True)\n",
    )
    lines = err.splitlines()
    assert re.fullmatch(LINE.format(level="INFO", line=3, message="200"), lines[0])
    assert re.fullmatch(LINE.format(level="ERROR", line=7, message="failed"), lines[1])
    assert lines[-1] == "ZeroDivisionError: division by zero"
