"""flxtrd 0.2.9's ``flxtrd.core.logger``: the ``flxtrd`` logger, its console handler, ``log``."""

from flxtrd._compat._console import DEFAULT_FORMATTER, LOGGER_NAME, console_handler, log, logger

#: 0.2.9's name of the ``flxtrd`` logger.
flexLogger = logger

__all__ = [
    "DEFAULT_FORMATTER",
    "LOGGER_NAME",
    "console_handler",
    "flexLogger",
    "log",
    "logger",
]
