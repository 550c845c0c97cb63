"""Retrying httpx transports: exponential backoff with jitter, ``Retry-After``, idempotency.

:func:`decide_retry` is the one retry decision; it logs why it retries (INFO) or why it does not
although it could have (DEBUG). :class:`RetryTransport` and :class:`AsyncRetryTransport` wrap any
httpx transport with it, so retries happen below the client and every request path (typed calls,
``make_request``, auth) shares one policy. Clock, sleep and randomness are injected, so tests
check the number of attempts and the backoff bounds without sleeping.

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

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
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
    "AsyncRetryTransport",
    "RetryDecision",
    "RetryPolicy",
    "RetryTransport",
    "decide_retry",
    "is_certificate_error",
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


def _may_retry_method(policy: RetryPolicy, request: httpx.Request) -> bool:
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
    if not safe_anyway and not _may_retry_method(policy, request):
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


class RetryTransport(httpx.BaseTransport):
    """A sync httpx transport that retries through :func:`decide_retry`.

    ``sleep``, ``clock`` (epoch seconds, for ``Retry-After`` dates) and ``random`` (a ``[0, 1)``
    source for the jitter) are injectable for tests.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.transport = transport
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._random = random

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows."""
        retries = 0
        policy = self.policy
        while True:
            try:
                response = self.transport.handle_request(request)
                if _is_upgrade(request, response):
                    return response  # the socket now belongs to the caller: never read it
                if response.status_code not in policy.statuses:
                    if retries < policy.max_retries and _may_retry_method(policy, request):
                        response = _read_body(response)  # a body breaking off is retried too
                    return response
            except httpx.TransportError as exc:
                decision = decide_retry(
                    self.policy,
                    request,
                    retries,
                    error=exc,
                    now=self._clock(),
                    random_fraction=self._random(),
                )
                if not decision.retry:
                    raise
            else:
                decision = decide_retry(
                    self.policy,
                    request,
                    retries,
                    response=response,
                    now=self._clock(),
                    random_fraction=self._random(),
                )
                if not decision.retry:
                    return response
                _discard(response)
            self._sleep(decision.delay_s)
            retries += 1

    def close(self) -> None:
        """Close the wrapped transport."""
        self.transport.close()


def _is_upgrade(request: httpx.Request, response: httpx.Response) -> bool:
    """True when ``response`` hands the connection over (``101 Switching Protocols``, any other
    1xx, a 2xx to ``CONNECT``): reading or closing its body would close the upgraded socket.

    The status decides, not the ``network_stream`` extension: httpcore puts one on every response.
    """
    status = response.status_code
    return status < 200 or (request.method == "CONNECT" and status < 300)


def _read_body(response: httpx.Response) -> httpx.Response:
    """The response with its raw body read now, as a new in-memory response (encoding intact).

    Raises the transport's error when the body breaks off; the connection is released either
    way. A response whose body was already read (e.g. by a wrapped transport) is returned as is.
    """
    if response.is_stream_consumed or response.is_closed:
        return response
    try:
        body = b"".join(response.iter_raw())
    finally:
        response.close()
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(body),
        extensions=response.extensions,
    )


async def _aread_body(response: httpx.Response) -> httpx.Response:
    """Async :func:`_read_body`."""
    if response.is_stream_consumed or response.is_closed:
        return response
    try:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(body),
        extensions=response.extensions,
    )


def _discard(response: httpx.Response) -> None:
    """Read and close a response that will be retried, so its connection returns to the pool."""
    try:
        response.read()
    except httpx.HTTPError:
        pass
    finally:
        response.close()


async def _adiscard(response: httpx.Response) -> None:
    """Async :func:`_discard`."""
    try:
        await response.aread()
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`RetryTransport`; ``sleep`` is awaited."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.transport = transport
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._random = random

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows."""
        retries = 0
        policy = self.policy
        while True:
            try:
                response = await self.transport.handle_async_request(request)
                if _is_upgrade(request, response):
                    return response  # the socket now belongs to the caller: never read it
                if response.status_code not in policy.statuses:
                    if retries < policy.max_retries and _may_retry_method(policy, request):
                        response = await _aread_body(response)  # breaking off: retried too
                    return response
            except httpx.TransportError as exc:
                decision = decide_retry(
                    self.policy,
                    request,
                    retries,
                    error=exc,
                    now=self._clock(),
                    random_fraction=self._random(),
                )
                if not decision.retry:
                    raise
            else:
                decision = decide_retry(
                    self.policy,
                    request,
                    retries,
                    response=response,
                    now=self._clock(),
                    random_fraction=self._random(),
                )
                if not decision.retry:
                    return response
                await _adiscard(response)
            await self._sleep(decision.delay_s)
            retries += 1

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.transport.aclose()
