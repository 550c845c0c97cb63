"""Logging for flxtrd: one library logger, secrets redaction.

flxtrd logs on child loggers of ``logging.getLogger("flxtrd")`` (``flxtrd.auth``, ``flxtrd.amqp``,
...; see :func:`get_logger`) and nothing of it is printed until the application configures
logging, e.g. ``logging.basicConfig(level=logging.INFO)``, as a library should. The ``flxtrd``
logger itself carries a :class:`logging.NullHandler` and flxtrd 0.2.9's console handler, which
prints only what is logged on ``flxtrd`` itself -- by ``flxtrd.log`` and by application code
(``flxtrd._compat._console``).

Secrets (passwords, access tokens, refresh tokens) never reach a log record: the client registers
them with :func:`register_secret`, and :data:`secrets_filter`, a :class:`SecretsFilter` attached
to the ``flxtrd`` logger and to every logger made by :func:`get_logger`, replaces each occurrence
in the formatted message, the formatted traceback and the stack info with ``***``. The same
registry backs :func:`redact` and :func:`redact_url`, which error messages use.

A secret shorter than :data:`WHOLE_VALUE_BELOW` characters (a password such as ``"p"``) is
redacted only where it stands as a whole value, not inside a longer word: otherwise every
``p`` of every line would become ``***`` (``htt***s://``), which hides the log and, by where the
stars fall, tells the secret. Longer secrets (tokens) are redacted wherever they occur.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "LOGGER_NAME",
    "REDACTED",
    "WHOLE_VALUE_BELOW",
    "SecretsFilter",
    "forget_secret",
    "get_logger",
    "logger",
    "redact",
    "redact_url",
    "register_secret",
    "secrets_filter",
]

LOGGER_NAME = "flxtrd"
REDACTED = "***"
#: Secrets shorter than this are matched only as whole values (not next to a letter or digit).
WHOLE_VALUE_BELOW = 8

#: Path segments whose *next* segment is a credential, e.g. ``/users/mptoken/<access token>``.
_SECRET_PATH_MARKERS = frozenset({"mptoken"})

ExcInfo = (
    None
    | bool
    | BaseException
    | tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None]
)


def _variants(secret: str) -> set[str]:
    """Return the secret and the URL-encoded spellings it takes in query strings and forms."""
    return {secret, quote(secret, safe=""), quote_plus(secret, safe="")}


def _alternative(secret: str) -> str:
    """The pattern of one secret: anywhere, or as a whole value when it is short."""
    escaped = re.escape(secret)
    if len(secret) < WHOLE_VALUE_BELOW:
        return rf"(?<!\w){escaped}(?!\w)"
    return escaped


def _compile(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """Compile one alternation, longest first so a secret containing another is fully redacted."""
    ordered = sorted({s for s in secrets if s}, key=lambda s: (-len(s), s))
    if not ordered:
        return None
    return re.compile("|".join(_alternative(s) for s in ordered))


class SecretsFilter(logging.Filter):
    """A logging filter that replaces registered secret strings with ``***``.

    The filter never drops a record (``filter`` always returns ``True``); it rewrites the
    record's message (arguments merged in), traceback text and stack info. Registration is
    thread-safe and copy-on-write, so filtering takes no lock.
    """

    def __init__(self, secrets: Iterable[str] = (), name: str = "") -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    @property
    def secrets(self) -> frozenset[str]:
        """The registered secrets (as registered; their URL-encoded spellings are implied)."""
        return self._secrets

    def _set(self, secrets: frozenset[str]) -> None:
        with self._lock:
            self._secrets = secrets
            self._pattern = _compile(v for s in secrets for v in _variants(s))

    def add(self, *secrets: str | None) -> None:
        """Register secrets; ``None`` and empty strings are ignored."""
        new = {s for s in secrets if s}
        if not new <= self._secrets:
            self._set(self._secrets | new)

    def remove(self, *secrets: str | None) -> None:
        """Forget secrets (e.g. an access token that was replaced by a refreshed one)."""
        self._set(self._secrets - {s for s in secrets if s})

    def clear(self) -> None:
        """Forget every secret."""
        self._set(frozenset())

    def redact(self, text: str) -> str:
        """Return ``text`` with every registered secret replaced by ``***``."""
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always keep it."""
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:
            # A malformed call such as log(INFO, "x:", y) (argument without %s): logging would
            # report it at emit time. Keep the content, redacted, instead of raising here.
            try:
                message = " ".join([str(record.msg), *(str(a) for a in record.args or ())])
            except Exception:
                message = "<unformattable log message>"
        record.msg = self.redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


#: The shared registry used by the ``flxtrd`` loggers, :func:`redact` and :func:`redact_url`.
secrets_filter = SecretsFilter()

logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())
logger.addFilter(secrets_filter)


def get_logger(name: str) -> logging.Logger:
    """Return the ``flxtrd.<name>`` child logger with the secrets filter attached.

    Logger filters do not apply to records of child loggers, so every flxtrd module that wants
    its own logger must take it from here rather than from :func:`logging.getLogger`.
    """
    child = logger.getChild(name)
    if secrets_filter not in child.filters:
        child.addFilter(secrets_filter)
    return child


def register_secret(*secrets: str | None) -> None:
    """Register secrets with the shared filter so they never appear in logs or error messages."""
    secrets_filter.add(*secrets)


def forget_secret(*secrets: str | None) -> None:
    """Remove secrets from the shared filter (e.g. a replaced access token)."""
    secrets_filter.remove(*secrets)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """Replace each secret in ``text`` with ``***``.

    With ``secrets=None`` the secrets registered with :func:`register_secret` are used.
    URL-encoded spellings of each secret are redacted too; empty strings are ignored.
    """
    if secrets is None:
        return secrets_filter.redact(text)
    pattern = _compile(v for s in secrets if s for v in _variants(s))
    return text if pattern is None else pattern.sub(REDACTED, text)


def redact_url(url: str, *, path_only: bool = False) -> str:
    """Return ``url`` safe to show: no password, no query values, no tokens in the path.

    - the password of ``scheme://user:password@host`` becomes ``***`` (the user name stays);
    - every query value becomes ``***`` (the keys stay, so the request stays recognisable);
    - the segment after ``/mptoken/`` (a device access token) becomes ``***``;
    - the fragment is dropped, and registered secrets are redacted wherever they remain.

    With ``path_only=True`` only the path and query are returned, e.g. ``/users/mptoken/***``.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:{REDACTED}@{host}"
        segments = parts.path.split("/")
        for i in range(1, len(segments)):
            if segments[i - 1] in _SECRET_PATH_MARKERS and segments[i]:
                segments[i] = REDACTED
        path = "/".join(segments)
        query = urlencode(
            [(k, REDACTED) for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*"
        )
    except ValueError:
        return REDACTED
    if path_only:
        shown = path + (f"?{query}" if query else "")
    else:
        shown = urlunsplit((parts.scheme, netloc, path, query, ""))
    return redact(shown)
