"""Side-by-side REST benchmarks of the flxtrd client (not a test; run it as a script).

Cases:

- ``http: flxtrd orders.place``: typed order placement through ``FlexAPIClient.orders.place``
  (validation, plugins, auth header, retry transport, error mapping, parsing the generated
  ``Order``) over plain HTTP to a local uvicorn + Starlette server, one connection pool;
- ``http: bare httpx.Client``: ``httpx.Client.post(json=<the same body>)`` to the same server
  (the baseline; target ratio >= 0.9). These two run in one worker process in alternating
  batches (``--http-batches`` of ``--n-http`` requests each, order swapped every batch pair), so
  each pair of batches sees the same machine load;
- ``https: flxtrd orders.place``: the typed placement over HTTPS (certificate verified against the
  self-signed CA this script makes);
- ``https: bare httpx.Client``: the same bare post over HTTPS, the ceiling any client reaches on
  this server (for information);
- ``https: flxtrd 0.2.9 make_request``: flxtrd 0.2.9's ``make_request("POST", "/api/v1/order/")``
  with the same JSON body (requests without a session: a new connection, TLS handshake and trust
  store load per call, its AuthPlugin before every call), installed into ``.bench-venv`` by this
  script (target: flxtrd >= 30x);
The HTTPS cases run in fresh worker processes (0.2.9 lives in another virtualenv), rounds
interleaved with the case order rotating each round.

- ``python -c "import flxtrd"`` wall time, flxtrd vs 0.2.9 (target <= 0.7x); also shown:
  ``python -c "pass"`` and ``import flxtrd._client`` (what using the client imports).

The server runs in its own process. Its certificate (ECDSA P-256, self-signed) is made with
``cryptography`` when installed, else with the ``openssl`` CLI. Both HTTPS clients verify it
against the same trust store, the one a user has: certifi's public CA bundle (what httpx and
requests use by default) plus the bench certificate (``ca_bundle=`` for flxtrd,
``REQUESTS_CA_BUNDLE`` for 0.2.9). Every table row shows the median, min-max and the ratio of
medians.

    .venv/bin/python benchmarks/bench_rest.py [--rounds 5] [--n-http 500] [--http-batches 40]
        [--n-https 2000] [--n-029 200] [--import-rounds 15] [--skip-029]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".bench-venv"
USER = "bench@example.com"
PASSWORD = "bench-password"
DEVICE_TOKEN = "bench-device-token"
BEARER = "Bearer bench-token"
BODY: dict[str, Any] = {
    "side": "buy",
    "power": 2500.0,
    "price": 0.25,
    "delivery_start": "2030-01-01T10:00:00Z",
    "delivery_end": "2030-01-01T10:15:00Z",
    "expiry_time": "2030-01-01T09:30:00Z",
    "location": {"location_id": ["loc-001"], "country_code": "DE"},
    "baseline": None,
}

HTTP_TYPED = "http: flxtrd orders.place"
HTTP_BARE = "http: bare httpx.Client"
HTTPS_TYPED = "https: flxtrd orders.place"
HTTPS_BARE = "https: bare httpx.Client"
HTTPS_029 = "https: flxtrd 0.2.9 make_request"
IMPORT_NEW = 'python -c "import flxtrd" (flxtrd)'
IMPORT_OLD = 'python -c "import flxtrd" (0.2.9)'
IMPORT_CLIENT = 'python -c "import flxtrd._client"'
IMPORT_NOTHING = 'python -c "pass"'


# --- the server (own process) ----------------------------------------------------------------


def serve(certfile: str | None, keyfile: str | None) -> None:
    """Run the stand-in market on 127.0.0.1 with an OS-chosen port; print ``PORT <n>``."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    order = dict(BODY, id=42, status="pending", filled_power=0.0, created_at="2029-12-31T09:00:00Z")
    order.pop("baseline")
    order_bytes = json.dumps(order).encode()
    token_bytes = json.dumps(
        {
            "access_token": "bench-token",
            "refresh_token": "r",
            "expires_in": 3600,
            "token_type": "Bearer",
        }
    ).encode()
    location = {"_id": "5f0c8e1a2b3c4d5e6f7081a0", "token": DEVICE_TOKEN}
    login_bytes = json.dumps({"userId": "u1", "locations": [location]}).encode()

    def answer(payload: bytes) -> Any:
        async def endpoint(request: Request) -> Response:
            await request.body()
            return Response(payload, media_type="application/json")

        return endpoint

    app = Starlette(
        routes=[
            Route("/api/v1/order/", answer(order_bytes), methods=["POST"]),
            Route("/auth/oauth/v2/token", answer(token_bytes), methods=["POST"]),
            Route("/users/login", answer(login_bytes), methods=["POST"]),
            Route("/users/mptoken/{token}", answer(login_bytes), methods=["GET"]),
        ]
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            port = self.servers[0].sockets[0].getsockname()[1]
            print(f"PORT {port}", flush=True)

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    Server(config).run()


class ServerProcess:
    """The server subprocess; ``port`` once it listens."""

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        args = [sys.executable, __file__, "--serve"]
        if certfile and keyfile:
            args += ["--tls", certfile, keyfile]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])

    def close(self) -> None:
        """Stop the server."""
        self.proc.terminate()
        self.proc.wait(timeout=30)


# --- workers (own processes) -----------------------------------------------------------------


def _report(n: int, seconds: float) -> None:
    print(json.dumps({"rate": n / seconds}), flush=True)


def typed_placer(url: str, cafile: str | None) -> tuple[Any, Any]:
    """flxtrd: a client and a function placing one typed order through it."""
    from datetime import datetime

    sys.path.insert(0, str(ROOT))
    from flxtrd._client import FlexAPIClient
    from flxtrd._types import User

    fields = {
        "side": "buy",
        "power_w": 2500.0,
        "price_eur_per_kwh": 0.25,
        "delivery_start": datetime(2030, 1, 1, 10, 0, tzinfo=UTC),
        "delivery_end": datetime(2030, 1, 1, 10, 15, tzinfo=UTC),
        "expiry_time": datetime(2030, 1, 1, 9, 30, tzinfo=UTC),
        "country_code": "DE",
        "location_ids": ["loc-001"],
    }
    client = FlexAPIClient(
        base_url=url, user=User(name=USER, password=PASSWORD), env={}, ca_bundle=cafile
    )

    def place() -> None:
        client.orders.place(**fields)

    return client, place


def bare_poster(url: str, cafile: str | None) -> tuple[Any, Any]:
    """A bare httpx.Client and a function posting the same JSON body through it."""
    import ssl

    import httpx

    verify: Any = ssl.create_default_context(cafile=cafile) if cafile else True
    headers = {"Authorization": BEARER}
    target = url + "/api/v1/order/"
    client = httpx.Client(verify=verify)

    def post() -> None:
        response = client.post(target, json=BODY, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(response.status_code)

    return client, post


def _rate(call: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - start)


def worker_typed(url: str, n: int, cafile: str | None) -> None:
    """flxtrd: typed order placement, one measurement."""
    client, place = typed_placer(url, cafile)
    with client:
        for _ in range(max(50, n // 20)):
            place()
        print(json.dumps({"rate": _rate(place, n)}), flush=True)


def worker_bare(url: str, n: int, cafile: str | None) -> None:
    """A bare httpx.Client posting the same body, one measurement."""
    client, post = bare_poster(url, cafile)
    with client:
        for _ in range(max(50, n // 20)):
            post()
        print(json.dumps({"rate": _rate(post, n)}), flush=True)


def worker_pair(url: str, n: int, rounds: int) -> None:
    """flxtrd typed vs bare httpx in one process, alternating batches (paired rounds)."""
    typed_client, place = typed_placer(url, None)
    bare_client, post = bare_poster(url, None)
    with typed_client, bare_client:
        for _ in range(max(100, n // 10)):
            place()
            post()
        typed, bare = [], []
        for r in range(rounds):
            if r % 2:
                bare.append(_rate(post, n))
                typed.append(_rate(place, n))
            else:
                typed.append(_rate(place, n))
                bare.append(_rate(post, n))
    print(json.dumps({"typed": typed, "bare": bare}), flush=True)


def worker_029(host: str, n: int, cafile: str) -> None:
    """flxtrd 0.2.9 (in .bench-venv): make_request with the same JSON body, verified TLS."""
    os.environ["REQUESTS_CA_BUNDLE"] = cafile
    from flxtrd import FlexAPIClient, FlexMarket, FlexUser

    user = FlexUser(name=USER, password=PASSWORD, access_token=DEVICE_TOKEN)
    client = FlexAPIClient(user=user, market=FlexMarket(market_url=host))
    body = json.dumps(BODY)
    headers = {"Content-Type": "application/json", "Authorization": BEARER}

    def once() -> None:
        _, err = client.make_request("POST", "/api/v1/order/", data=body, headers=headers)
        if err:
            raise RuntimeError(err)

    for _ in range(max(5, n // 20)):
        once()
    start = time.perf_counter()
    for _ in range(n):
        once()
    _report(n, time.perf_counter() - start)


def run_worker(python: str, kind: str, target: str, n: int, cafile: str | None) -> float:
    """Run one worker process; return its request rate."""
    args = [python, __file__, "--worker", kind, target, str(n)] + ([cafile] if cafile else [])
    done = subprocess.run(args, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    rate: float = json.loads(done.stdout.strip().splitlines()[-1])["rate"]
    return rate


# --- setup -----------------------------------------------------------------------------------


def ensure_old_venv() -> Path:
    """``.bench-venv`` with flxtrd 0.2.9 and requests (never a project dependency)."""
    python = BENCH_VENV / "bin" / "python"
    probe = "import importlib.metadata as m; print(m.version('flxtrd'), m.version('requests'))"
    ok = python.exists() and subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, cwd=tempfile.gettempdir()
    ).stdout.startswith("0.2.9 ")
    if not ok:
        print("creating .bench-venv with flxtrd==0.2.9 and requests ...", file=sys.stderr)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "flxtrd==0.2.9", "requests"],
            check=True,
        )
    return python


def make_certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (ECDSA P-256); returns (certfile, keyfile)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SystemExit(
                "need the cryptography package or the openssl CLI for the HTTPS cases"
            ) from None
        subprocess.run(
            [
                openssl, "req", "-x509", "-nodes", "-days", "2",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-addext", "basicConstraints=critical,CA:TRUE",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return str(cert), str(key)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert), str(key)


def import_time(python: str, code: str) -> float:
    """Wall time of ``python -c code`` from a neutral directory, in ms."""
    start = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, cwd=tempfile.gettempdir())
    return (time.perf_counter() - start) * 1000


# --- report ----------------------------------------------------------------------------------


def summarize(name: str, values: list[float], unit: str) -> str:
    """``name  median  (min-max)`` for one case."""
    return (
        f"  {name:<40} {statistics.median(values):>10.1f} {unit}"
        f"   ({min(values):.1f} - {max(values):.1f}, n={len(values)})"
    )


def ratio(results: dict[str, list[float]], a: str, b: str) -> float:
    """Ratio of the medians of ``a`` and ``b``."""
    return statistics.median(results[a]) / statistics.median(results[b])


def paired(results: dict[str, list[float]], a: str, b: str) -> str:
    """Median and min-max of the per-round ratios ``a / b`` (robust to drift between rounds)."""
    ratios = [x / y for x, y in zip(results[a], results[b], strict=False)]
    low, high = min(ratios), max(ratios)
    return f"paired per round: median {statistics.median(ratios):.3f}, {low:.3f} - {high:.3f}"


def main() -> None:
    """Run the benchmarks and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n-http", type=int, default=500, help="requests per plain-HTTP batch")
    parser.add_argument(
        "--http-batches", type=int, default=40, help="batches per client (>= 2x rounds)"
    )
    parser.add_argument("--n-https", type=int, default=2000)
    parser.add_argument("--n-029", type=int, default=200)
    parser.add_argument("--import-rounds", type=int, default=15)
    parser.add_argument("--skip-029", action="store_true")
    args = parser.parse_args()
    rounds = max(args.rounds, 5)

    old_python = None if args.skip_029 else str(ensure_old_venv())
    here = sys.executable
    results: dict[str, list[float]] = {}

    with tempfile.TemporaryDirectory() as tmp:
        certfile, keyfile = make_certificate(Path(tmp))
        import certifi

        bundle = Path(tmp) / "trust-store.pem"
        bundle.write_text(Path(certifi.where()).read_text() + "\n" + Path(certfile).read_text())
        cafile = str(bundle)
        http, https = ServerProcess(), ServerProcess(certfile, keyfile)
        try:
            http_url = f"http://127.0.0.1:{http.port}"
            https_url = f"https://127.0.0.1:{https.port}"
            print("plain HTTP: typed vs bare, alternating batches in one process", file=sys.stderr)
            pair = subprocess.run(
                [
                    here,
                    __file__,
                    "--worker",
                    "pair",
                    http_url,
                    str(args.n_http),
                    str(max(2 * rounds, args.http_batches)),
                ],
                capture_output=True,
                text=True,
                cwd=tempfile.gettempdir(),
                check=True,
            )
            rates = json.loads(pair.stdout.strip().splitlines()[-1])
            results[HTTP_TYPED], results[HTTP_BARE] = rates["typed"], rates["bare"]
            cases: list[tuple[str, str, str, str, int, str | None]] = [
                (HTTPS_TYPED, here, "typed", https_url, args.n_https, cafile),
                (HTTPS_BARE, here, "bare", https_url, args.n_https, cafile),
            ]
            if old_python is not None:
                cases.append(
                    (HTTPS_029, old_python, "v029", f"127.0.0.1:{https.port}", args.n_029, cafile)
                )
            for r in range(rounds):
                shift = r % len(cases)
                for name, python, kind, target, n, ca in cases[shift:] + cases[:shift]:
                    rate = run_worker(python, kind, target, n, ca)
                    results.setdefault(name, []).append(rate)
                    print(f"round {r + 1}: {name}: {rate:.0f} req/s", file=sys.stderr)
        finally:
            http.close()
            https.close()

    imports: list[tuple[str, str, str]] = [
        (IMPORT_NEW, here, "import flxtrd"),
        (IMPORT_CLIENT, here, "import flxtrd._client"),
        (IMPORT_NOTHING, here, "pass"),
    ]
    if old_python is not None:
        imports.append((IMPORT_OLD, old_python, "import flxtrd"))
    for r in range(max(args.import_rounds, 5)):
        shift = r % len(imports)
        for name, python, code in imports[shift:] + imports[:shift]:
            results.setdefault(name, []).append(import_time(python, code))

    print(
        "\nREST order placement, requests/s "
        f"(median, min - max; HTTPS over {rounds} interleaved rounds)"
    )
    for name in (HTTP_TYPED, HTTP_BARE, HTTPS_TYPED, HTTPS_BARE, HTTPS_029):
        if name in results:
            print(summarize(name, results[name], "req/s"))
    print("\nimport wall time, ms (median, min - max)")
    for name in (IMPORT_NEW, IMPORT_OLD, IMPORT_CLIENT, IMPORT_NOTHING):
        if name in results:
            print(summarize(name, results[name], "ms"))
    print("\nratios of medians")
    print(
        f"  flxtrd typed / bare httpx (plain HTTP):    {ratio(results, HTTP_TYPED, HTTP_BARE):.3f}x"
        f"  (target >= 0.9; {paired(results, HTTP_TYPED, HTTP_BARE)})"
    )
    if old_python is not None:
        tls = ratio(results, HTTPS_TYPED, HTTPS_029)
        new_import = ratio(results, IMPORT_NEW, IMPORT_OLD)
        client_import = ratio(results, IMPORT_CLIENT, IMPORT_OLD)
        print(
            f"  flxtrd typed / 0.2.9 make_request (HTTPS): {tls:.1f}x"
            f"  (target >= 30; {paired(results, HTTPS_TYPED, HTTPS_029)})"
        )
        print(
            f"  import flxtrd, flxtrd / 0.2.9:             {new_import:.3f}x"
            f"  (target <= 0.7; {paired(results, IMPORT_NEW, IMPORT_OLD)})"
        )
        ceiling = ratio(results, HTTPS_BARE, HTTPS_029)
        print(
            f"  bare httpx / 0.2.9 make_request (HTTPS):   {ceiling:.1f}x  (this server's ceiling)"
        )
        print(f"  import flxtrd._client / 0.2.9 import:      {client_import:.3f}x  (information)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        tls = sys.argv[sys.argv.index("--tls") + 1 :] if "--tls" in sys.argv else [None, None]
        serve(tls[0], tls[1])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, kind, target, count, *rest = sys.argv
        cafile = rest[0] if rest else None
        if kind == "typed":
            worker_typed(target, int(count), cafile)
        elif kind == "bare":
            worker_bare(target, int(count), cafile)
        elif kind == "pair":
            worker_pair(target, int(count), int(rest[0]))
        else:
            assert cafile is not None
            worker_029(target, int(count), cafile)
    else:
        main()
