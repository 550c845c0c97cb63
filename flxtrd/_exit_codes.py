"""The exit codes of ``python -m flxtrd``, in one place, and the error each one stands for.

Scripts can trust them::

    0    ok
    1    any other failure (the market or the broker refused or failed in a way not below)
    2    usage: a wrong command line (argparse), or missing credentials or other settings
    3    auth: the market refused the credentials or the token (401, 403)
    4    validation: bad or missing input, refused before anything was sent (an order field, the
         market URL, ...), or refused by the market (422)
    5    network: the market or broker could not be reached, timed out, or asked to come back
         later (429, 5xx); trying again later may work
    6    not found: no such order, contract or device token (404)
    7    conflict: the order's state does not allow it (409, e.g. cancelling a filled order),
         or another connection already uses the application key
    130  interrupted (Ctrl-C)

:func:`exit_code_for` maps a :class:`~flxtrd.FlexError` to its code; the most specific class
decides (an :class:`~flxtrd.OrderInDoubtError` is a lost connection, so 5, not 1).
"""

from __future__ import annotations

from flxtrd._errors import (
    AlreadyConnectedError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FlexConnectionError,
    FlexError,
    FlexValidationError,
    NotFoundError,
    OrderInDoubtError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES_HELP",
    "EXIT_CONFLICT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_VALIDATION",
    "exit_code_for",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_VALIDATION = 4
EXIT_NETWORK = 5
EXIT_NOT_FOUND = 6
EXIT_CONFLICT = 7
EXIT_INTERRUPTED = 130

#: First match wins: subclasses come before the classes they derive from.
_CODES: tuple[tuple[type[FlexError], int], ...] = (
    (OrderInDoubtError, EXIT_NETWORK),
    (AuthenticationError, EXIT_AUTH),
    (PermissionDeniedError, EXIT_AUTH),
    (NotFoundError, EXIT_NOT_FOUND),
    (ConflictError, EXIT_CONFLICT),
    (AlreadyConnectedError, EXIT_CONFLICT),
    (UnprocessableEntityError, EXIT_VALIDATION),
    (FlexValidationError, EXIT_VALIDATION),
    (RateLimitError, EXIT_NETWORK),
    (ServerError, EXIT_NETWORK),
    (FlexConnectionError, EXIT_NETWORK),
    (ConfigurationError, EXIT_USAGE),
)

EXIT_CODES_HELP = """\
exit codes:
  0    ok
  1    any other failure (the market or broker refused or failed otherwise)
  2    usage: wrong command line, or missing credentials
  3    auth: credentials or token refused (401, 403)
  4    validation: bad or missing input (an order field, the market URL) or 422
  5    network: market or broker unreachable, timed out, 429 or 5xx (retry later)
  6    not found: no such order, contract or device token (404)
  7    conflict: the order's state forbids it (409), or the key is in use
  130  interrupted (Ctrl-C)"""
"""The exit code table as ``--help`` shows it."""


def exit_code_for(error: BaseException) -> int:
    """The exit code of a command that failed with ``error`` (see the module doc)."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return EXIT_ERROR
