"""Shared test configuration: hypothesis profiles and the real-broker switch."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, settings

# dev: what a developer runs (`make test`); ci: CI=true; thorough: on demand.
settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

AMQP_URL = os.environ.get("FLXTRD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _broker_reachable(url: str) -> bool:
    """True when a TCP connection to the broker's host and port succeeds."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), 2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """URL of the real RabbitMQ; fails in CI and skips elsewhere when it is unreachable."""
    if not _broker_reachable(AMQP_URL):
        where = urlparse(AMQP_URL)
        message = f"RabbitMQ is not reachable at {where.hostname}:{where.port}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the real-broker contract tests")
        pytest.skip(f"{message} (set CI=true to make this a failure)")
    return AMQP_URL


@pytest.fixture(autouse=True)
def _isolated_secrets() -> Iterator[None]:
    """Restore the process-wide secrets registry after each test, so tests cannot leak secrets."""
    from flxtrd._log import secrets_filter

    saved = secrets_filter.secrets
    yield
    secrets_filter.clear()
    secrets_filter.add(*saved)
