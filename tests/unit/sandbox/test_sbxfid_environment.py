"""`ServedSandbox.environment()`: the variables a client sets to reach a served sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flxtrd._config import normalize_market_url
from flxtrd.sandbox._served import ServedOptions, ServedSandbox, _public_broker_url


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl; a failure in CI)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed to make the TLS test certificate in CI")
        pytest.skip("openssl is not on PATH")
    folder = tmp_path_factory.mktemp("served-env")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextmanager
def served(**options: object) -> Iterator[ServedSandbox]:
    """A started served sandbox on memory:// and a free port, stopped afterwards."""
    sandbox = ServedSandbox(
        ServedOptions(http_port=0, amqp_url="memory://", **options)  # type: ignore[arg-type]
    )
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def test_with_a_certificate_it_names_sandbox_https_and_the_certificate(
    certificate: tuple[Path, Path],
) -> None:
    """--certfile: FLXTRD_MARKET_URL=sandbox+https://host:port, FLXTRD_CA_BUNDLE=its full path."""
    cert, key = certificate
    relative = os.path.relpath(cert)
    with served(certfile=relative, keyfile=str(key)) as sandbox:
        env = sandbox.environment()
        port = sandbox.http_url.rsplit(":", 1)[1]
    assert env == {
        "FLXTRD_MARKET_URL": f"sandbox+https://127.0.0.1:{port}",
        "FLXTRD_CA_BUNDLE": str(cert.resolve()),
    }
    assert normalize_market_url(env["FLXTRD_MARKET_URL"]).base_url == f"https://127.0.0.1:{port}"


def test_without_a_certificate_it_names_sandbox_http_only() -> None:
    """No certificate: sandbox://host:port and no CA bundle; a wildcard host names loopback."""
    with served(http_host="0.0.0.0") as sandbox:
        env = sandbox.environment()
        lines = sandbox.environment_lines()
        port = sandbox.http_url.rsplit(":", 1)[1]
    assert env == {"FLXTRD_MARKET_URL": f"sandbox://127.0.0.1:{port}"}
    assert lines == [f"export FLXTRD_MARKET_URL=sandbox://127.0.0.1:{port}"]


def test_before_start_there_is_nothing_to_name() -> None:
    """environment() before start(): a clear error, not a URL with port 0."""
    with pytest.raises(RuntimeError, match="start"):
        ServedSandbox(ServedOptions(amqp_url="memory://")).environment()


@pytest.mark.parametrize(
    ("amqp_url", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://127.0.0.1:5672//"),
        ("amqps://u:secret@broker.test:5671/sandbox", "amqps://broker.test:5671/sandbox"),
        ("amqp://0.0.0.0", "amqp://127.0.0.1/"),
        ("memory://", None),
    ],
)
def test_the_broker_url_drops_the_sandboxs_own_login(amqp_url: str, expected: str | None) -> None:
    """FLXTRD_BROKER_URL is --amqp without its credentials (clients log in as themselves)."""
    assert _public_broker_url(amqp_url) == expected
