"""``flxtrd.log`` and the console output flxtrd 0.2.9 gave the ``flxtrd`` logger.

0.2.9 attached a ``StreamHandler`` (standard error) to the ``flxtrd`` logger, set that logger to
``INFO`` and exported ``log = logger.log``. Its users' code relies on that: ``log(INFO, msg)``
and ``logging.getLogger("flxtrd").info(msg)`` print a line such as::

    INFO flxtrd 2023-11-15 12:56:14,486 | trading_client.py:40 | msg

flxtrd keeps exactly that for records logged *on the ``flxtrd`` logger itself* -- by
:func:`log` and by application code -- and for nothing else: the library logs on child loggers
(``flxtrd.auth``, ``flxtrd.amqp``, ...) and those records never reach the console, so the
library stays silent until the application configures logging. Two differences from 0.2.9:

- the ``flxtrd`` logger's level is left unset (0.2.9 set ``INFO``, which made the library's
  own ``INFO`` records reach any handler the application installed); :func:`log` applies the
  ``INFO`` threshold itself, or the level the application sets on the ``flxtrd`` logger;
- once the application has configured logging (the root logger has a handler), the record is
  printed there only, not a second time by the console handler.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import TextIO

from flxtrd._log import LOGGER_NAME, ExcInfo, logger

__all__ = [
    "DEFAULT_FORMATTER",
    "LOGGER_NAME",
    "ConsoleHandler",
    "console_handler",
    "log",
    "logger",
]

SysExcInfo = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)

#: 0.2.9's format of a console line.
DEFAULT_FORMATTER = logging.Formatter(
    "%(levelname)s %(name)s %(asctime)s | %(filename)s:%(lineno)d | %(message)s"
)
#: What :func:`log` prints when the application set no level on the ``flxtrd`` logger.
DEFAULT_LEVEL = logging.INFO


class ConsoleHandler(logging.Handler):
    """Prints records of the ``flxtrd`` logger itself on standard error, as 0.2.9 did.

    Records of child loggers (the library's own) are ignored, and so is everything once the
    root logger has a handler (the application then decides where records go).
    """

    terminator = "\n"

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(DEFAULT_FORMATTER)

    @property
    def stream(self) -> TextIO:
        """Standard error as it is now (so redirections and test captures see the output)."""
        return sys.stderr

    def filter(self, record: logging.LogRecord) -> bool:
        """Only records logged on ``flxtrd`` itself, and only while logging is unconfigured."""
        if record.name != LOGGER_NAME or logging.getLogger().handlers:
            return False
        return bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line."""
        try:
            stream = self.stream
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:  # as logging.StreamHandler does
            raise
        except Exception:
            self.handleError(record)


def _install() -> ConsoleHandler:
    """The console handler of the ``flxtrd`` logger (added once, even if this module reloads)."""
    for handler in logger.handlers:
        if type(handler).__name__ == ConsoleHandler.__name__:
            logger.removeHandler(handler)
    handler = ConsoleHandler()
    logger.addHandler(handler)
    return handler


console_handler = _install()


def log(
    level: int,
    msg: object,
    *args: object,
    exc_info: ExcInfo = None,
    stack_info: bool = False,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Log on the ``flxtrd`` logger and print it as flxtrd 0.2.9 did, e.g. ``log(INFO, data)``.

    ``msg`` may be any object (``log(INFO, response.status_code)`` works); ``args`` are merged
    with ``%`` formatting as in :meth:`logging.Logger.log`. The record names the caller's file
    and line. Levels below ``INFO`` (or below the level set on the ``flxtrd`` logger) are
    dropped; secrets registered with the client are redacted.
    """
    threshold = logger.level or DEFAULT_LEVEL
    if level < threshold or logger.disabled or logger.manager.disable >= level:
        return
    filename, lineno, func, stack = logger.findCaller(stack_info, stacklevel=2)
    error: SysExcInfo | None = None
    if isinstance(exc_info, BaseException):
        error = (type(exc_info), exc_info, exc_info.__traceback__)
    elif isinstance(exc_info, tuple):
        error = exc_info
    elif exc_info:
        error = sys.exc_info()
    record = logger.makeRecord(
        LOGGER_NAME,
        level,
        filename,
        lineno,
        msg,
        args,
        error,
        func,
        dict(extra) if extra else None,
        stack,
    )
    logger.handle(record)
