"""``sandbox+https://host:port`` and ``FLXTRD_CA_BUNDLE``: the TLS form of a served sandbox."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from flxtrd import AsyncFlexAPIClient, FlexAPIClient, User
from flxtrd._config import (
    is_sandbox_redirect,
    normalize_market_url,
    resolve_broker_url,
    resolve_ca_bundle,
    resolve_market,
)
from flxtrd._errors import FlexValidationError

CA_RULE = "readable PEM file of CA certificates"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A PEM file of real CA certificates."""
    path = tmp_path / "ca.pem"
    path.write_text(Path(certifi.where()).read_text())
    return path


@pytest.mark.parametrize(
    ("given", "base_url", "host"),
    [
        ("sandbox+https://127.0.0.1:8443", "https://127.0.0.1:8443", "127.0.0.1"),
        ("SANDBOX+HTTPS://localhost:9443/", "https://localhost:9443", "localhost"),
        ("sandbox+https://[::1]:8443", "https://[::1]:8443", "::1"),
        ("sandbox+https://sandbox.test", "https://sandbox.test", "sandbox.test"),
    ],
)
def test_sandbox_https_url_is_https_to_the_served_sandbox(
    given: str, base_url: str, host: str
) -> None:
    """sandbox+https://host:port means HTTPS to host:port (443 without a port), not embedded."""
    endpoint = normalize_market_url(given)
    assert (endpoint.base_url, endpoint.host, endpoint.sandbox) == (base_url, host, False)


def test_sandbox_https_broker_is_the_served_sandboxs_plain_rabbitmq() -> None:
    """The sandbox does not terminate AMQP TLS: its broker is amqp://host:5672// by default."""
    endpoint = normalize_market_url("sandbox+https://127.0.0.1:8443")
    assert resolve_broker_url(endpoint=endpoint, env={}) == "amqp://127.0.0.1:5672//"
    tls_broker = {"FLXTRD_BROKER_URL": "amqps://127.0.0.1:5671//"}
    assert resolve_broker_url(endpoint=endpoint, env=tls_broker) == "amqps://127.0.0.1:5671//"


@pytest.mark.parametrize("bad", ["sandbox+https://", "sandbox+https://host/path", "sandbox+https:"])
def test_sandbox_https_without_a_host_is_refused_naming_the_field(bad: str) -> None:
    """A TLS sandbox URL must name host[:port]: a FlexValidationError naming the field."""
    with pytest.raises(FlexValidationError) as raised:
        normalize_market_url(bad, field="FLXTRD_MARKET_URL")
    assert raised.value.field == "FLXTRD_MARKET_URL"
    assert "sandbox+https://host:port" in str(raised.value)


def test_sandbox_https_in_the_environment_redirects_code_that_names_the_market() -> None:
    """FLXTRD_MARKET_URL=sandbox+https://... wins over the market named in code, like sandbox://."""
    assert is_sandbox_redirect("sandbox+https://127.0.0.1:8443")
    env = {"FLXTRD_MARKET_URL": "sandbox+https://127.0.0.1:8443"}
    endpoint = resolve_market(base_url="glocalflexmarket.com", env=env)
    assert endpoint.base_url == "https://127.0.0.1:8443"


def test_ca_bundle_comes_from_the_environment_when_not_given(bundle: Path) -> None:
    """FLXTRD_CA_BUNDLE names the CA file; ca_bundle= wins over it; neither: system CAs."""
    env = {"FLXTRD_CA_BUNDLE": str(bundle)}
    assert resolve_ca_bundle(None, env=env) == str(bundle)
    assert resolve_ca_bundle(certifi.where(), env=env) == certifi.where()
    assert resolve_ca_bundle(None, env={}) is None


@pytest.mark.parametrize("kind", ["missing", "directory", "not PEM", "empty"])
def test_a_bad_ca_bundle_variable_is_a_validation_error_naming_it(
    kind: str, tmp_path: Path
) -> None:
    """A missing, unreadable or certificate-less FLXTRD_CA_BUNDLE: FlexValidationError naming
    the variable (not a bare FileNotFoundError / ssl.SSLError), when the client is made."""
    path = tmp_path / "ca.pem"
    if kind == "directory":
        path.mkdir()
    elif kind == "not PEM":
        path.write_text("this is not a certificate\n")
    elif kind == "empty":
        path.write_text("")
    env = {"FLXTRD_MARKET_URL": "sandbox+https://127.0.0.1:8443", "FLXTRD_CA_BUNDLE": str(path)}
    for client_class in (FlexAPIClient, AsyncFlexAPIClient):
        with pytest.raises(FlexValidationError) as raised:
            client_class(user=User(name="a@b.test", password="pw"), env=env)
        assert raised.value.field == "FLXTRD_CA_BUNDLE"
        assert "FLXTRD_CA_BUNDLE" in str(raised.value) and CA_RULE in str(raised.value)
        assert not isinstance(raised.value, OSError)


def test_a_bad_ca_bundle_argument_is_a_validation_error_naming_it(tmp_path: Path) -> None:
    """ca_bundle=<missing file>: FlexValidationError naming ca_bundle, before anything is sent."""
    with pytest.raises(FlexValidationError) as raised:
        FlexAPIClient(
            base_url="https://market.test",
            user=User(name="a@b.test", password="pw"),
            ca_bundle=tmp_path / "nope.pem",
            env={},
        )
    assert raised.value.field == "ca_bundle" and CA_RULE in str(raised.value)


def test_the_client_hands_the_environments_ca_bundle_to_rest_and_the_broker(bundle: Path) -> None:
    """The CA file of FLXTRD_CA_BUNDLE reaches the REST transport and the AMQP connection."""
    env = {"FLXTRD_CA_BUNDLE": str(bundle)}
    with FlexAPIClient(
        base_url="https://market.test", user=User(name="a@b.test", password="pw"), env=env
    ) as client:
        assert client.ca_bundle == str(bundle)
        assert client._trade_kwargs(True)["ca_bundle"] == str(bundle)
        context = client.request_protocol._verify
        assert not isinstance(context, bool) and context.get_ca_certs()
