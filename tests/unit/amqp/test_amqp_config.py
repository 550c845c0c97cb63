"""AmpqAPI configuration: URLs and credentials, TLS options, secrets, connect retries and errors."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from market_double import NO_RETRY

from flxtrd._amqp._api import AmpqAPI
from flxtrd._errors import ConfigurationError, FlexConnectionError, FlexValidationError
from flxtrd._retry import RetryPolicy

TOKEN = "tok-5ecret-98765"
URL_PASSWORD = "pw-5ecret-12345"


def free_port() -> int:
    """A local TCP port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("url", ["http://host/", "redis://x", "host:5672", ""])
def test_unknown_scheme_is_a_configuration_error(url: str) -> None:
    """Only amqps://, amqp:// and memory:// select a transport."""
    with pytest.raises(ConfigurationError):
        AmpqAPI(url, "u", TOKEN, "key")


@pytest.mark.parametrize("key", ["", None, 5])
def test_application_key_is_required(key: object) -> None:
    """The application key names the reply queue: it must be a non-empty string."""
    with pytest.raises(FlexValidationError, match="application_key"):
        AmpqAPI("memory://", "u", TOKEN, key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"), [("buffer_size", 0), ("max_in_flight", 0), ("confirm_timeout", 0)]
)
def test_bad_limits_are_validation_errors(option: str, value: int) -> None:
    """Limits must be positive."""
    with pytest.raises(FlexValidationError, match=option):
        AmpqAPI("memory://", "u", TOKEN, "key", **{option: value})  # type: ignore[arg-type]


def test_a_real_broker_needs_a_login() -> None:
    """Without user_id and without URL userinfo there is nobody to log in as."""
    with pytest.raises(ConfigurationError, match="login"):
        AmpqAPI("amqp://127.0.0.1//", None, TOKEN, "key")


def test_url_userinfo_wins_over_user_id_and_token() -> None:
    """Credentials in the broker URL are used as given; user_id property = the login."""
    api = AmpqAPI(f"amqp://alice:{URL_PASSWORD}@broker//", "bob", TOKEN, "key")
    assert api._login == "alice" and api._password == URL_PASSWORD
    plain = AmpqAPI("amqp://broker//", "bob", TOKEN, "key")
    assert plain._login == "bob" and plain._password == TOKEN


def test_percent_encoded_userinfo_is_decoded() -> None:
    """A password with reserved characters is written percent-encoded in the URL."""
    api = AmpqAPI("amqp://a%40b:p%2Fw@broker//", "bob", TOKEN, "key")
    assert (api._login, api._password) == ("a@b", "p/w")


def test_tls_verifies_certificate_and_host_name_by_default() -> None:
    """amqps:// requires a valid certificate for the broker's host name."""
    api = AmpqAPI("amqps://market.example:5671//", "u", TOKEN, "key")
    options = api._ssl_options()
    assert options == {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "market.example"}


def test_ca_bundle_is_honoured() -> None:
    """ca_bundle is the CA file the certificate is verified against."""
    api = AmpqAPI("amqps://h//", "u", TOKEN, "key", ca_bundle="/etc/my-ca.pem")
    options = api._ssl_options()
    assert isinstance(options, dict) and options["ca_certs"] == "/etc/my-ca.pem"


def test_verify_ssl_false_is_the_explicit_escape_hatch() -> None:
    """verify_ssl=False turns certificate checking off (amqps only)."""
    assert AmpqAPI("amqps://h//", "u", TOKEN, "key", verify_ssl=False)._ssl_options() == {
        "cert_reqs": ssl.CERT_NONE
    }
    assert AmpqAPI("amqp://h//", "u", TOKEN, "key")._ssl_options() is False


@pytest.mark.parametrize(
    ("url", "declares"), [("amqps://h//", False), ("amqp://h//", True), ("memory://", True)]
)
def test_exchanges_are_declared_except_on_the_market(url: str, declares: bool) -> None:
    """Default: passive-check the market's exchanges on amqps, declare them elsewhere."""
    assert AmpqAPI(url, "u", TOKEN, "key").declare_exchanges is declares
    assert AmpqAPI(url, "u", TOKEN, "key", declare_exchanges=not declares).declare_exchanges is (
        not declares
    )


def test_repr_and_broker_url_hide_secrets() -> None:
    """Neither the URL password nor the access token shows in repr() or broker_url."""
    api = AmpqAPI(f"amqp://alice:{URL_PASSWORD}@broker:5672//", "bob", TOKEN, "key")
    for text in (repr(api), api.broker_url):
        assert URL_PASSWORD not in text and TOKEN not in text
    assert "alice:***@broker" in api.broker_url


def test_connection_refused_is_retried_by_the_policy_then_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connecting retries max_retries times with backoff, then raises FlexConnectionError."""
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3, initial_delay_s=0.1, max_delay_s=1.0, jitter=0.0)
    port = free_port()
    url = f"amqp://alice:{URL_PASSWORD}@127.0.0.1:{port}//"
    api = AmpqAPI(url, "bob", TOKEN, "key", retry_policy=policy, connect_timeout=2)
    api._sleep = waits.append
    with (
        caplog.at_level(logging.DEBUG, logger="flxtrd"),
        pytest.raises(FlexConnectionError) as info,
    ):
        api.connect()
    assert waits == [0.1, 0.2, 0.4]
    assert not api.is_connected()
    for text in (str(info.value), caplog.text, repr(info.value.__cause__)):
        assert URL_PASSWORD not in text and TOKEN not in text
    assert f"127.0.0.1:{port}" in str(info.value)


# --- TLS against a local server with a self-signed certificate --------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1 and its key (needs openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    return cert, key


@pytest.fixture
def tls_server(self_signed: tuple[Path, Path]) -> Iterator[int]:
    """A TLS server that completes handshakes and then hangs up; yields its port."""
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(8)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = int(listener.getsockname()[1])
    yield port
    stop.set()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # wakes accept() so the thread sees the stop flag
    thread.join(timeout=10)
    listener.close()


def test_untrusted_certificate_fails_without_retrying(tls_server: int) -> None:
    """Verification is on by default: a self-signed broker is refused at once, not retried."""
    waits: list[float] = []
    api = AmpqAPI(
        f"amqps://localhost:{tls_server}//",
        "bob",
        TOKEN,
        "key",
        retry_policy=RetryPolicy(max_retries=3),
        connect_timeout=5,
    )
    api._sleep = waits.append
    with pytest.raises(FlexConnectionError, match="certificate verification failed"):
        api.connect()
    assert waits == []


def test_trusted_ca_bundle_gets_past_the_handshake(
    tls_server: int, self_signed: tuple[Path, Path]
) -> None:
    """With ca_bundle the handshake succeeds; the fake broker then hangs up (a retryable error)."""
    api = AmpqAPI(
        f"amqps://localhost:{tls_server}//",
        "bob",
        TOKEN,
        "key",
        ca_bundle=str(self_signed[0]),
        retry_policy=NO_RETRY,
        connect_timeout=5,
    )
    with pytest.raises(FlexConnectionError) as info:
        api.connect()
    assert "certificate" not in str(info.value)


def test_verify_ssl_false_gets_past_the_handshake(tls_server: int) -> None:
    """verify_ssl=False accepts the self-signed certificate."""
    api = AmpqAPI(
        f"amqps://localhost:{tls_server}//",
        "bob",
        TOKEN,
        "key",
        verify_ssl=False,
        retry_policy=NO_RETRY,
        connect_timeout=5,
    )
    with pytest.raises(FlexConnectionError) as info:
        api.connect()
    assert "certificate" not in str(info.value)
