"""The REST retry policy and decision: backoff with jitter, ``Retry-After``, idempotency.

:func:`decide_retry` is the one retry decision; it logs why it retries (INFO) or why it does not
although it could have (DEBUG). The retrying transports (``_rest._async_transport`` and the
sync ``_rest._transport`` generated from it) wrap any httpx transport with it, so retries happen
below the client and every request path (typed calls, ``make_request``, auth) shares one policy.
No I/O here: the transports inject clock, sleep and randomness.

What is retried (at most ``max_retries`` times after the first attempt):

- a connection that could not be opened (``httpx.ConnectError``, ``httpx.ConnectTimeout``), for
  every method: nothing reached the server, so even a POST cannot be duplicated -- except a
  failed TLS certificate or host name check, which another attempt cannot change;
- other transport errors (read/write errors and timeouts, protocol errors) and the statuses in
  ``RetryPolicy.statuses`` (408, 429, 502, 503, 504), for idempotent methods only, unless the
  policy or the request (extension ``RETRY_OPT_IN_EXTENSION``) opts in for non-idempotent ones.

A response whose request may still be retried has its body read inside the retry loop, so a
connection reset or a read timeout in the middle of the body is retried like one before the
headers (httpx transports return after the headers; the body would otherwise be read by the
client, beyond the reach of the retries). Other responses are passed on unread, and so is an
upgrade (``101 Switching Protocols`` of a WebSocket, any 1xx, a 2xx to ``CONNECT``): it is never
read nor retried, since its "body" is the socket the caller goes on to use.

The wait before retry ``n`` (0-based) is ``min(initial_delay_s * 2**n, max_delay_s)`` shortened by
a random fraction of at most ``jitter``; a ``Retry-After`` (or ``Retry-After-Ms``) header replaces
it, and one longer than ``max_retry_after_s`` ends the retries (the caller gets the 429/503 with
``retry_after`` instead of a hidden long wait).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field

import httpx

from flxtrd._backoff import Backoff
from flxtrd._defaults import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER_S,
    DEFAULT_MAX_RETRY_DELAY_S,
    DEFAULT_RETRY_DELAY_S,
    DEFAULT_RETRY_JITTER,
    IDEMPOTENT_METHODS,
    RETRY_OPT_IN_EXTENSION,
    RETRY_STATUSES,
)
from flxtrd._errors import FlexValidationError, parse_retry_after
from flxtrd._log import get_logger, redact_url
from flxtrd._validation import require_wait

__all__ = [
    "RetryDecision",
    "RetryPolicy",
    "decide_retry",
    "is_certificate_error",
    "is_upgrade",
    "may_retry_method",
]

_logger = get_logger("retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; the defaults live in ``flxtrd._defaults``."""

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay_s: float = DEFAULT_RETRY_DELAY_S
    max_delay_s: float = DEFAULT_MAX_RETRY_DELAY_S
    jitter: float = DEFAULT_RETRY_JITTER
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    idempotent_methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)
    retry_non_idempotent: bool = False

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise FlexValidationError("max_retries", "must be >= 0", self.max_retries)
        if not 0.0 <= self.jitter <= 1.0:  # NaN fails too
            raise FlexValidationError("jitter", "must be between 0 and 1", self.jitter)
        for name in ("initial_delay_s", "max_delay_s", "max_retry_after_s"):
            require_wait(name, getattr(self, name))

    @property
    def backoff(self) -> Backoff:
        """The backoff this policy waits by (``flxtrd._backoff``, shared with streams)."""
        return Backoff(self.initial_delay_s, self.max_delay_s, 2.0, self.jitter)

    def backoff_s(self, retry_index: int, random_fraction: float) -> float:
        """The wait before retry ``retry_index`` (0-based) for a ``random_fraction`` in [0, 1)."""
        return self.backoff.delay(retry_index, random_fraction)

    def backoff_bounds_s(self, retry_index: int) -> tuple[float, float]:
        """The smallest and largest wait :meth:`backoff_s` can return for ``retry_index``."""
        return self.backoff.bounds(retry_index)


#: A policy that never retries.
NO_RETRIES = RetryPolicy(max_retries=0)


@dataclass(frozen=True)
class RetryDecision:
    """The outcome of :func:`decide_retry`: whether to retry, after how long, and why."""

    retry: bool
    delay_s: float
    reason: str


def may_retry_method(policy: RetryPolicy, request: httpx.Request) -> bool:
    """True when the request may be sent twice: idempotent, or opted in."""
    return (
        request.method in policy.idempotent_methods
        or policy.retry_non_idempotent
        or bool(request.extensions.get(RETRY_OPT_IN_EXTENSION))
    )


def decide_retry(
    policy: RetryPolicy,
    request: httpx.Request,
    retries_done: int,
    *,
    response: httpx.Response | None = None,
    error: Exception | None = None,
    now: float | None = None,
    random_fraction: float = 0.0,
) -> RetryDecision:
    """Decide whether to retry ``request`` after ``response`` or ``error``; log why.

    ``retries_done`` counts the retries already made; ``now`` (epoch s) dates ``Retry-After``
    HTTP dates; ``random_fraction`` in [0, 1) picks the jitter.
    """
    if response is not None:
        if response.status_code not in policy.statuses:
            return RetryDecision(False, 0.0, f"status {response.status_code} is not retried")
        cause = f"status {response.status_code}"
        safe_anyway = False
    elif isinstance(error, httpx.ConnectError) and is_certificate_error(error):
        return RetryDecision(
            False, 0.0, "TLS certificate verification failed: retrying cannot help"
        )
    elif isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
        cause = f"{type(error).__name__} (the connection was not opened)"
        safe_anyway = True  # nothing reached the server
    elif isinstance(error, httpx.TransportError):
        cause = type(error).__name__
        safe_anyway = False
    else:
        return RetryDecision(False, 0.0, "not a retryable failure")

    where = _describe(request)
    if retries_done >= policy.max_retries:
        reason = f"{cause}; giving up after {retries_done} retries"
        if policy.max_retries and _logger.isEnabledFor(logging.INFO):
            _logger.info("Not retrying %s: %s", where, reason)
        return RetryDecision(False, 0.0, reason)
    if not safe_anyway and not may_retry_method(policy, request):
        reason = f"{cause}; {request.method} is not idempotent and retries were not opted in"
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("Not retrying %s: %s", where, reason)
        return RetryDecision(False, 0.0, reason)

    delay = policy.backoff_s(retries_done, random_fraction)
    source = "backoff"
    if response is not None:
        retry_after = parse_retry_after(response.headers, now=now)
        if retry_after is not None:
            if retry_after > policy.max_retry_after_s:
                reason = (
                    f"{cause}; Retry-After {retry_after:g} s exceeds the"
                    f" {policy.max_retry_after_s:g} s limit"
                )
                if _logger.isEnabledFor(logging.INFO):
                    _logger.info("Not retrying %s: %s", where, reason)
                return RetryDecision(False, 0.0, reason)
            delay = retry_after
            source = "Retry-After"
    reason = (
        f"{cause}; retry {retries_done + 1} of {policy.max_retries} in {delay:.3f} s ({source})"
    )
    if _logger.isEnabledFor(logging.INFO):
        _logger.info("Retrying %s: %s", where, reason)
    return RetryDecision(True, delay, reason)


def is_certificate_error(exc: BaseException) -> bool:
    """True when a TLS certificate (or host name) check failed anywhere in ``exc``'s chain.

    httpx wraps httpcore's error, which carries the ``ssl.SSLCertVerificationError`` as its
    argument and cause.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or any(
            isinstance(arg, ssl.SSLCertVerificationError) for arg in current.args
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _describe(request: httpx.Request) -> str:
    """``METHOD /path`` with tokens and query values redacted, for log lines."""
    return f"{request.method} {redact_url(str(request.url), path_only=True)}"


def is_upgrade(request: httpx.Request, response: httpx.Response) -> bool:
    """True when ``response`` hands the connection over (``101 Switching Protocols``, any other
    1xx, a 2xx to ``CONNECT``): reading or closing its body would close the upgraded socket.

    The status decides, not the ``network_stream`` extension: httpcore puts one on every response.
    """
    status = response.status_code
    return status < 200 or (request.method == "CONNECT" and status < 300)
