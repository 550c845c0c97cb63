"""Redaction that fits real logs: short passwords only as whole values; tokens that user code
obtained with ``make_request`` from the auth endpoints are secrets too."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pprint import pformat

import pytest

import flxtrd
from flxtrd import FlexAPIClient, User
from flxtrd._log import SecretsFilter, forget_secret, secrets_filter

TOKEN = "tok-0123456789abcdef"


@pytest.fixture
def forget_new_secrets() -> Iterator[None]:
    """Secrets registered by the test are forgotten afterwards (the registry is per process)."""
    before = secrets_filter.secrets
    yield
    forget_secret(*(secrets_filter.secrets - before))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email=a%40b.test&password=p", "email=a%40b.test&password=***"),
        ('{"password": "p"}', '{"password": "***"}'),
        ("POST http://sandbox.test/users/login", "POST http://sandbox.test/users/login"),
        ("Added plugin AuthPlugin for application key app-1", None),
        ("p", "***"),
    ],
)
def test_a_short_secret_is_redacted_only_as_a_whole_value(text: str, expected: str | None) -> None:
    """Password "p": its value is redacted, the p of "http", "plugin", "application" is not."""
    assert SecretsFilter(["p"]).redact(text) == (text if expected is None else expected)


def test_a_long_secret_is_still_redacted_inside_other_text() -> None:
    """Tokens (long secrets) are redacted wherever they occur, even glued to other characters."""
    assert SecretsFilter([TOKEN]).redact(f"x{TOKEN}y /mptoken/{TOKEN}") == "x***y /mptoken/***"


def test_verbose_login_with_a_one_letter_password_keeps_the_log_readable() -> None:
    """`python -m flxtrd -v login` with password "p": URLs and words intact, no token leaks."""
    env = {**os.environ, "FLXTRD_MARKET_URL": "sandbox://", "FLXTRD_USERNAME": "v@example.com",
           "FLXTRD_PASSWORD": "p"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "flxtrd", "-v", "login"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "http://sandbox.flxtrd.invalid/users/login" in result.stderr
    assert "for application key" in result.stderr
    assert "htt***" not in result.stderr and "a******lication" not in result.stderr


@pytest.mark.usefixtures("forget_new_secrets")
def test_tokens_of_a_login_made_with_make_request_are_registered_secrets() -> None:
    """make_request("POST", "/users/login") (0.2.9's examples): the JWT and device tokens of the
    answer are redacted when the example logs the body with flxtrd.log."""
    user = User(name=f"{uuid.uuid4().hex[:8]}@example.com", password="pw-long-enough")
    with FlexAPIClient(base_url="sandbox://", user=user, env={}) as client:
        response, err = client.make_request(
            "POST", "/users/login", data={"email": user.name, "password": user.password}
        )
    assert err is None
    body = response.request_response.json()  # type: ignore[union-attr]
    tokens = [body["token"], *(loc["token"] for loc in body["locations"])]
    assert set(tokens) <= secrets_filter.secrets
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("flxtrd").addHandler(handler)
    try:
        flxtrd.log(logging.INFO, pformat(body))
    finally:
        logging.getLogger("flxtrd").removeHandler(handler)
    assert body["userId"] in stream.getvalue()
    assert not any(token in stream.getvalue() for token in tokens)


@pytest.mark.usefixtures("forget_new_secrets")
def test_tokens_of_an_oauth_grant_made_with_make_request_are_registered_secrets() -> None:
    """make_request("POST", "/auth/oauth/v2/token"): access and refresh token become secrets."""
    user = User(name=f"{uuid.uuid4().hex[:8]}@example.com", password="pw-long-enough")
    grant = {"client_id": "glocalflexmarket_public_api", "grant_type": "password",
             "username": user.name, "password": user.password}  # fmt: skip
    with FlexAPIClient(base_url="sandbox://", user=user, env={}) as client:
        response, err = client.make_request("POST", "/auth/oauth/v2/token", data=grant)
    assert err is None
    body = response.request_response.json()  # type: ignore[union-attr]
    assert {body["access_token"], body["refresh_token"]} <= secrets_filter.secrets
