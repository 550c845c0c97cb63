# Generated from flxtrd/_rest/_async_transport.py by scripts/unasync.py; do not edit.
# Change the async source and run `make regenerate`.
"""The retrying httpx transport, below the REST clients.

:class:`RetryTransport` wraps any httpx transport with the one retry decision of
``flxtrd._retry`` (:func:`~flxtrd._retry.decide_retry`), so retries happen below the client and
every request path (typed calls, ``make_request``, auth) shares one policy. A response whose
request may still be retried has its body read inside the loop, so a body breaking off is retried
like a failure before the headers; an upgrade (``101 Switching Protocols``) is never read nor
retried. Clock, sleep and randomness are injected, so tests count attempts and check the backoff
without sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import httpx

from flxtrd._retry import RetryDecision, RetryPolicy, decide_retry, is_upgrade, may_retry_method

__all__ = ["RetryTransport"]


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries through :func:`~flxtrd._retry.decide_retry`.

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
                if is_upgrade(request, response):
                    return response  # the socket now belongs to the caller: never read it
                if response.status_code not in policy.statuses:
                    if retries < policy.max_retries and may_retry_method(policy, request):
                        response = _read_body(response)  # breaking off: retried too
                    return response
            except httpx.TransportError as exc:
                decision = self._decide(policy, request, retries, error=exc)
                if not decision.retry:
                    raise
            else:
                decision = self._decide(policy, request, retries, response=response)
                if not decision.retry:
                    return response
                _discard(response)
            self._sleep(decision.delay_s)
            retries += 1

    def _decide(
        self,
        policy: RetryPolicy,
        request: httpx.Request,
        retries: int,
        *,
        error: httpx.TransportError | None = None,
        response: httpx.Response | None = None,
    ) -> RetryDecision:
        """The policy's verdict on one attempt's failure or response, at the injected time."""
        return decide_retry(
            policy,
            request,
            retries,
            error=error,
            response=response,
            now=self._clock(),
            random_fraction=self._random(),
        )

    def close(self) -> None:
        """Close the wrapped transport."""
        self.transport.close()


def _read_body(response: httpx.Response) -> httpx.Response:
    """The response with its raw body read now, as a new in-memory response (encoding intact).

    Raises the transport's error when the body breaks off; the connection is released either
    way. A response whose body was already read (e.g. by a wrapped transport) is returned as is.
    """
    if response.is_stream_consumed or response.is_closed:
        return response
    try:
        body = b"".join([chunk for chunk in response.iter_raw()])
    finally:
        response.close()
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
