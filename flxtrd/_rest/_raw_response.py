"""``client.with_raw_response``: any typed call, returning the raw response beside the model.

One wrapper serves every resource method, in the manner of anthropic-sdk-python's
``_legacy_response.to_raw_response_wrapper``: :func:`to_raw_response_wrapper` (and its async
twin) runs the method as it is, while the client's ``_call`` records the ``httpx.Response`` and
the plugin data of the call it sends (:func:`record_response`) in a context variable the wrapper
set; the wrapper returns them with the parsed model as a :class:`~flxtrd.RawResponse`. So the
raw view of a resource is the resource's own methods, not a twin class restating them. The
context variable keeps concurrent calls (threads, asyncio tasks) apart.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import httpx

from flxtrd._rest._http import RawResponse

__all__ = ["async_to_raw_response_wrapper", "record_response", "to_raw_response_wrapper"]

P = ParamSpec("P")
R = TypeVar("R")


class _Capture:
    """The response (and plugin data) of the last call sent while a raw wrapper runs."""

    __slots__ = ("plugin_data", "response")

    def __init__(self) -> None:
        self.response: httpx.Response | None = None
        self.plugin_data: dict[str, Any] | None = None

    def raw(self, parsed: R) -> RawResponse[R]:
        """The raw response of the call, with ``parsed`` as its model."""
        if self.response is None:
            raise RuntimeError("with_raw_response: the call sent no request")
        return RawResponse(self.response, parsed, self.plugin_data or None)


_CAPTURE: ContextVar[_Capture | None] = ContextVar("flxtrd_raw_response", default=None)


def record_response(response: httpx.Response, plugin_data: dict[str, Any] | None) -> None:
    """Note a typed call's response for the raw wrapper running it (none: nothing to do)."""
    capture = _CAPTURE.get()
    if capture is not None:
        capture.response = response
        capture.plugin_data = plugin_data


@contextmanager
def _capturing() -> Iterator[_Capture]:
    capture = _Capture()
    token = _CAPTURE.set(capture)
    try:
        yield capture
    finally:
        _CAPTURE.reset(token)


def to_raw_response_wrapper(func: Callable[P, R]) -> Callable[P, RawResponse[R]]:
    """``func`` returning a :class:`~flxtrd.RawResponse` of its model instead of the model."""

    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[R]:
        with _capturing() as capture:
            parsed = func(*args, **kwargs)
        return capture.raw(parsed)

    return wrapped


def async_to_raw_response_wrapper(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[RawResponse[R]]]:
    """The async :func:`to_raw_response_wrapper`."""

    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[R]:
        with _capturing() as capture:
            parsed = await func(*args, **kwargs)
        return capture.raw(parsed)

    return wrapped
