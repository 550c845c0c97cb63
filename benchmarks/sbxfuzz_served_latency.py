"""Per-request latency of a served sandbox on loopback, one keep-alive httpx client.

Usage: .venv/bin/python benchmarks/sbxfuzz_served_latency.py [-n 500]

Starts ``python -m flxtrd sandbox --http 127.0.0.1:0 --amqp memory://`` and times ``-n``
requests of three kinds (an order list, an order POST refused with 422, a login form). Without
TCP_NODELAY on the server's connections each took ~44 ms (a response's head and body writes
waited for the client's delayed ACK); with it, ~1.5 ms. Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

CLIENT_ID = "glocalflexmarket_public_api"


def _start() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0"]
    process = subprocess.Popen([*command, "--amqp", "memory://"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://[0-9.:]+)", line)
    if match is None:
        process.terminate()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process, match[1]


def _time(label: str, count: int, call: Callable[[], httpx.Response]) -> None:
    laps = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        laps.append(time.perf_counter() - start)
    median, low = statistics.median(laps) * 1000, min(laps) * 1000
    print(f"{label:24} median {median:6.2f} ms  min {low:6.2f} ms  ({count} requests)")


def main() -> None:
    """Start the sandbox, time the requests, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="requests per kind (default 500)")
    count = parser.parse_args().n
    process, url = _start()
    try:
        with httpx.Client(base_url=url) as client:
            form = {"grant_type": "password", "client_id": CLIENT_ID, "username": "b@example.com"}
            token = client.post("/auth/oauth/v2/token", data={**form, "password": "pw"})
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            _time("GET /api/v1/order/", count, lambda: client.get("/api/v1/order/", headers=auth))
            _time(
                "POST /api/v1/order/ 422",
                count,
                lambda: client.post("/api/v1/order/", json={"side": "buy"}, headers=auth),
            )
            login = {"email": "b@example.com", "password": "pw"}
            _time("POST /users/login", count, lambda: client.post("/users/login", data=login))
    finally:
        process.terminate()
        process.wait(20)


if __name__ == "__main__":
    main()
