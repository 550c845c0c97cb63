"""Side-by-side REST benchmarks of the flxtrd client (not a test; run it as a script).

Work items, each with three contenders:

- REST order placement over plain HTTP and over HTTPS to a local uvicorn + Starlette server:
  - ``flxtrd``: typed placement through ``FlexAPIClient.orders.place`` (validation, plugins,
    auth header, retry transport, error mapping, parsing the generated ``Order``), one pool;
  - ``raw``: ``httpx.Client.post(json=<the same body>)`` to the same server (target for HTTP:
    flxtrd >= 0.9x);
  - ``0.2.9``: flxtrd 0.2.9's ``make_request("POST", "/api/v1/order/")`` with the same JSON body
    (requests without a session: a new connection -- and over HTTPS a TLS handshake and trust
    store load -- per call), installed into ``.bench-venv`` (target for HTTPS: flxtrd >= 30x).
    Its AuthPlugin validates the device token over HTTPS once, during the warm-up; 0.2.9 cannot
    validate over plain HTTP, so there the user comes pre-validated.
- ``python -c "import flxtrd"`` wall time, flxtrd vs 0.2.9 (target <= 0.7x), beside
  ``python -c "import httpx, kombu"`` (the raw libraries flxtrd wraps: what a user of the bare
  libraries imports), ``python -c "pass"`` (the interpreter's own start, the floor) and, for
  information, ``import flxtrd._client._client`` (what using the client imports).

Every round runs four worker processes in a rotating order: the flxtrd/httpx pair over HTTP,
the pair over HTTPS (in each pair the two clients alternate in ``--batches`` batches, who goes
first swapping, so both see the same machine load), and 0.2.9 over HTTP and over HTTPS. A round's
value is the contender's request rate over all its batches in that round.

The server runs in its own process. Its certificate (ECDSA P-256, self-signed) is made with
``cryptography`` when installed, else with the ``openssl`` CLI. Every HTTPS client verifies it
against the same trust store, the one a user has: certifi's public CA bundle (what httpx and
requests use by default) plus the bench certificate (``ca_bundle=`` for flxtrd,
``REQUESTS_CA_BUNDLE`` for 0.2.9). This module imports only the standard library at the top
(``_old.py`` reads its constants under 0.2.9's interpreter).

    .venv/bin/python benchmarks/bench_rest.py [--rounds 5] [--n-http 500] [--n-https 250]
        [--batches 4] [--n-029-http 200] [--n-029-https 100] [--import-rounds 20]
        [--skip-029] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from _harness import (
    FLXTRD,
    OLD,
    RAW,
    Report,
    add_json_option,
    ensure_old_venv,
    old_env,
    paired_ratios,
    rotated,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
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

IMPORT_NEW = "import flxtrd (flxtrd)"
IMPORT_OLD = "import flxtrd (0.2.9)"
IMPORT_CLIENT = "import flxtrd._client._client"
IMPORT_NOTHING = "pass"
IMPORT_RAW = "import httpx, kombu"
IMPORT_LABELS = {
    IMPORT_NEW: 'python -c "import flxtrd" (flxtrd)',
    IMPORT_OLD: 'python -c "import flxtrd" (0.2.9)',
    IMPORT_CLIENT: 'python -c "import flxtrd._client._client"',
    IMPORT_RAW: 'python -c "import httpx, kombu"',
    IMPORT_NOTHING: 'python -c "pass"',
}


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


def typed_placer(url: str, cafile: str | None) -> tuple[Any, Any]:
    """flxtrd: a client and a function placing one typed order through it."""
    from datetime import datetime

    sys.path.insert(0, str(ROOT))
    from flxtrd._client._client import FlexAPIClient
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


def _rate(call: Any, n: int) -> tuple[int, float]:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return n, time.perf_counter() - start


def worker_pair(url: str, n: int, batches: int, cafile: str | None) -> None:
    """flxtrd typed vs bare httpx in one process, alternating batches; one rate each."""
    typed_client, place = typed_placer(url, cafile)
    bare_client, post = bare_poster(url, cafile)
    done = {"typed": [0, 0.0], "bare": [0, 0.0]}
    with typed_client, bare_client:
        for _ in range(max(50, n // 10)):  # warm-up: pools, TLS sessions, lazy imports
            place()
            post()
        for b in range(batches):
            order = [("typed", place), ("bare", post)]
            for name, call in order[::-1] if b % 2 else order:
                count, seconds = _rate(call, n)
                done[name][0] += count
                done[name][1] += seconds
    print(json.dumps({k: v[0] / v[1] for k, v in done.items()}), flush=True)


def run_worker(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run one worker process; return its JSON line."""
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
    if done.returncode != 0:
        raise RuntimeError(f"worker {argv[2:4]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- setup -----------------------------------------------------------------------------------


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
    subprocess.run([python, "-c", code], check=True, cwd=tempfile.gettempdir(), env=old_env())
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
    ratios = paired_ratios(results[a], results[b])
    low, high = min(ratios), max(ratios)
    return f"paired per round: median {statistics.median(ratios):.3f}, {low:.3f} - {high:.3f}"


def build_report(results: dict[str, list[float]], params: dict[str, Any]) -> Report:
    report = Report("bench_rest", params=params)
    report.item("rest_http", "REST order placement over HTTP")
    report.item("rest_https", "REST order placement over HTTPS")
    report.item("import", "`import flxtrd` (python -c, wall time)")
    for scheme, item in (("http", "rest_http"), ("https", "rest_https")):
        report.add(item, FLXTRD, "FlexAPIClient.orders.place", "req/s", results[f"{scheme} typed"])
        report.add(item, RAW, "httpx.Client.post", "req/s", results[f"{scheme} bare"])
        if f"{scheme} 0.2.9" in results:
            report.add(item, OLD, "FlexAPIClient.make_request (requests, no session)", "req/s",
                       results[f"{scheme} 0.2.9"])  # fmt: skip
    report.add("import", FLXTRD, 'python -c "import flxtrd"', "ms", results[IMPORT_NEW],
               higher_is_better=False)  # fmt: skip
    report.add("import", RAW, 'python -c "import httpx, kombu" (the libraries flxtrd wraps)',
               "ms", results[IMPORT_RAW], higher_is_better=False)  # fmt: skip
    if IMPORT_OLD in results:
        report.add("import", OLD, 'python -c "import flxtrd"', "ms", results[IMPORT_OLD],
                   higher_is_better=False)  # fmt: skip
    report.target("rest_http", ">=", 0.9, "issue 3", RAW)
    report.target("rest_https", ">=", 30, "issue 3", OLD)
    report.target("import", "<=", 0.7, "issue 3", OLD)
    report.extra["import flxtrd._client._client ms"] = results[IMPORT_CLIENT]
    report.extra["python -c pass ms"] = results[IMPORT_NOTHING]
    return report


def main() -> None:
    """Run the benchmarks and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n-http", type=int, default=500, help="requests per HTTP batch")
    parser.add_argument("--n-https", type=int, default=250, help="requests per HTTPS batch")
    parser.add_argument("--batches", type=int, default=4, help="batches per client per round")
    parser.add_argument("--n-029-http", type=int, default=200)
    parser.add_argument("--n-029-https", type=int, default=100)
    parser.add_argument("--import-rounds", type=int, default=20)
    parser.add_argument("--skip-029", action="store_true")
    add_json_option(parser)
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
            batches = str(args.batches)
            steps: list[tuple[str, list[str]]] = [
                ("http", [here, __file__, "--worker", "pair", http_url, str(args.n_http),
                          batches]),
                ("https", [here, __file__, "--worker", "pair", https_url, str(args.n_https),
                           batches, cafile]),
            ]  # fmt: skip
            if old_python is not None:
                old = [old_python, str(HERE / "_old.py"), "rest"]
                steps += [
                    ("http 0.2.9", [*old, "http", f"127.0.0.1:{http.port}",
                                    str(args.n_029_http), cafile]),
                    ("https 0.2.9", [*old, "https", f"127.0.0.1:{https.port}",
                                     str(args.n_029_https), cafile]),
                ]  # fmt: skip
            for r in range(rounds):
                for name, argv in rotated(steps, r):
                    env = old_env() if "0.2.9" in name else None
                    got = run_worker(argv, env)
                    if "rate" in got:
                        results.setdefault(name, []).append(got["rate"])
                    else:
                        for kind, rate in got.items():
                            results.setdefault(f"{name} {kind}", []).append(rate)
                    shown = ", ".join(f"{k} {v:,.0f} req/s" for k, v in got.items())
                    print(f"round {r + 1}: {name}: {shown}", file=sys.stderr, flush=True)
        finally:
            http.close()
            https.close()

    imports: list[tuple[str, str, str]] = [
        (IMPORT_NEW, here, "import flxtrd"),
        (IMPORT_CLIENT, here, "import flxtrd._client._client"),
        (IMPORT_RAW, here, "import httpx, kombu"),
        (IMPORT_NOTHING, here, "pass"),
    ]
    if old_python is not None:
        imports.append((IMPORT_OLD, old_python, "import flxtrd"))
    for r in range(max(args.import_rounds, 5)):
        for name, python, code in rotated(imports, r):
            results.setdefault(name, []).append(import_time(python, code))

    params = vars(args) | {"rounds": rounds}
    params.pop("json")
    build_report(results, params).write(args.json)

    print(f"\nREST order placement, requests/s (median, min - max over {rounds} rounds)")
    for name in ("http typed", "http bare", "http 0.2.9", "https typed", "https bare",
                 "https 0.2.9"):  # fmt: skip
        if name in results:
            print(summarize(name, results[name], "req/s"))
    print("\nimport wall time, ms (median, min - max)")
    for name, shown in IMPORT_LABELS.items():
        if name in results:
            print(summarize(shown, results[name], "ms"))
    print("\nratios of medians")
    http_ratio = ratio(results, "http typed", "http bare")
    https_ratio = ratio(results, "https typed", "https bare")
    print(
        f"  flxtrd typed / bare httpx (HTTP):          {http_ratio:.3f}x"
        f"  (target >= 0.9; {paired(results, 'http typed', 'http bare')})"
    )
    print(
        f"  flxtrd typed / bare httpx (HTTPS):         {https_ratio:.3f}x"
        f"  ({paired(results, 'https typed', 'https bare')})"
    )
    if old_python is not None:
        print(
            f"  flxtrd typed / 0.2.9 make_request (HTTP):  "
            f"{ratio(results, 'http typed', 'http 0.2.9'):.1f}x"
        )
        print(
            f"  flxtrd typed / 0.2.9 make_request (HTTPS): "
            f"{ratio(results, 'https typed', 'https 0.2.9'):.1f}x"
            f"  (target >= 30; {paired(results, 'https typed', 'https 0.2.9')})"
        )
        print(
            f"  import flxtrd, flxtrd / 0.2.9:             "
            f"{ratio(results, IMPORT_NEW, IMPORT_OLD):.3f}x"
            f"  (target <= 0.7; {paired(results, IMPORT_NEW, IMPORT_OLD)})"
        )
        print(
            f"  bare httpx / 0.2.9 make_request (HTTPS):   "
            f"{ratio(results, 'https bare', 'https 0.2.9'):.1f}x  (this server's ceiling)"
        )
        print(
            f"  import flxtrd._client._client / 0.2.9 import:      "
            f"{ratio(results, IMPORT_CLIENT, IMPORT_OLD):.3f}x  (information)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        tls = sys.argv[sys.argv.index("--tls") + 1 :] if "--tls" in sys.argv else [None, None]
        serve(tls[0], tls[1])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, _kind, target, count, batch_count, *rest = sys.argv
        worker_pair(target, int(count), int(batch_count), rest[0] if rest else None)
    else:
        main()
