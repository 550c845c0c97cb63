"""flxtrd 0.2.9's side of the benchmarks: run by ``.bench-venv/bin/python`` (never by .venv).

Imports only the standard library, ``_harness`` and flxtrd 0.2.9 (with its pika and requests).
Each subcommand does one measurement and prints one JSON line on stdout; ``roundtrip`` and
``memory`` first print ``READY`` and then follow the parent's lead (see each function).

Patches, for the benchmarks only (0.2.9 itself is untouched on disk):

- 0.2.9 forces TLS on the broker connection (``AmpqAPI._ssl_context``); the local RabbitMQ
  speaks plain AMQP on 5672, so the method returns ``None`` (no TLS);
- 0.2.9 hard-codes the virtual host ``/``; the round trip runs the sandbox in its own virtual
  host, so the vhost argument is replaced by the one given (only there).

    .bench-venv/bin/python benchmarks/_old.py amqp-send HOST PORT EXCHANGE REPLY_EXCHANGE KEY N
    .bench-venv/bin/python benchmarks/_old.py rest http|https HOST:PORT N CAFILE
    .bench-venv/bin/python benchmarks/_old.py decode BODIES_FILE
    .bench-venv/bin/python benchmarks/_old.py roundtrip HOST PORT VHOST USER TOKEN KEY START_MS
    .bench-venv/bin/python benchmarks/_old.py memory HOST PORT REPLY_EXCHANGE KEY COUNT TIMEOUT
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from _harness import peak_rss_kib, rss_kib


def _no_tls() -> None:
    from flxtrd.protocols import ampq

    ampq.AmpqAPI._ssl_context = lambda self, verify_ssl=True: None  # type: ignore[method-assign]


def _client(host: str, port: int, key: str, user: str, token: str, reply_exchange: str) -> Any:
    from flxtrd import FlexAPIClient, FlexMarket, FlexUser

    _no_tls()
    flex_user = FlexUser(
        name="bench", password="x", access_token=token, app_key=key, user_id=user
    )  # app_key given: the AuthPlugin takes the user as validated and calls no REST endpoint
    market = FlexMarket(market_url=host, broker_port=port)
    market.broker.tickeroutexname = reply_exchange
    return FlexAPIClient(user=flex_user, market=market)


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def amqp_send(host: str, port: str, exchange: str, reply_exchange: str, key: str, n: str) -> None:
    """``FlexAPIClient.send_order`` N times (0.2.9 has no confirms); prints the rate."""
    from flxtrd import ASK, FlexResource, MarketOrder

    client = _client(host, int(port), key, "guest", "guest", reply_exchange)
    client.market.broker.exchangename = exchange
    resource = FlexResource(
        power_w=2500.0,
        start_time_epoch_s=int(time.time()) + 3600,
        duration_min=15,
        order_expiration_min=-30,
    )
    order = MarketOrder(order_type=ASK, price_eur=10.0, resource=resource)
    _, err = client.send_order(market_order=order)  # connects; warm-up
    assert err is None, err
    count = int(n)
    t0 = time.perf_counter()
    for _ in range(count):
        client.send_order(market_order=order)
    elapsed = time.perf_counter() - t0
    client.disconnect()
    _emit({"rate": count / elapsed})


def rest(scheme: str, host: str, n: str, cafile: str) -> None:
    """``make_request("POST", "/api/v1/order/")`` N times over http or https; prints the rate.

    Over https the AuthPlugin validates the device token once (``/users/mptoken``) during the
    warm-up, as it would for a user; over http it cannot (0.2.9 validates over https only), so
    the user comes pre-validated (``app_key`` set).
    """
    os.environ["REQUESTS_CA_BUNDLE"] = cafile
    from bench_rest import BEARER, BODY, DEVICE_TOKEN, PASSWORD, USER  # stdlib-only module

    from flxtrd import FlexAPIClient, FlexMarket, FlexUser

    secure = scheme == "https"
    user = FlexUser(
        name=USER,
        password=PASSWORD,
        access_token=DEVICE_TOKEN,
        app_key=None if secure else "5f0c8e1a2b3c4d5e6f7081a0",
    )
    client = FlexAPIClient(user=user, market=FlexMarket(market_url=host))
    body = json.dumps(BODY)
    headers = {"Content-Type": "application/json", "Authorization": BEARER}

    def once() -> None:
        _, err = client.make_request(
            "POST", "/api/v1/order/", data=body, headers=headers, ssl=secure
        )
        if err:
            raise RuntimeError(err)

    count = int(n)
    for _ in range(max(5, count // 20)):
        once()
    t0 = time.perf_counter()
    for _ in range(count):
        once()
    _emit({"rate": count / (time.perf_counter() - t0)})


def decode(bodies_file: str) -> None:
    """0.2.9's handling of each reply body (``AmpqAPI.callback_on_response``), CPU time.

    That is ``json.loads``, the DEBUG log line it formats whatever the log level
    (``json.dumps(..., indent=4)``) and the append to ``callback_responses``.
    """
    from flxtrd.protocols.ampq import AmpqAPI

    with open(bodies_file, "rb") as f:
        bodies = f.read().splitlines()
    api = AmpqAPI.__new__(AmpqAPI)  # no connection needed: only the callback runs
    api.broker = "bench"
    api.callback_responses = []
    callback = api.callback_on_response
    for body in bodies[:1000]:  # warm-up
        callback(None, None, None, body)
    api.callback_responses = []
    t0 = time.process_time()
    for body in bodies:
        callback(None, None, None, body)
    elapsed = time.process_time() - t0
    assert len(api.callback_responses) == len(bodies)
    _emit({"rate": len(bodies) / elapsed})


def roundtrip(
    host: str, port: str, vhost: str, user: str, token: str, key: str, start_ms: str
) -> None:
    """A 0.2.9 buyer: for each ``trade`` line on stdin, send a bid and poll for its closed order.

    Prints ``READY`` once connected, then one latency in ms per trade (send_order until the
    ``bid_closed_order`` is in ``check_market_responses()``); ``drain`` reads and forgets the
    replies that arrived meanwhile (answers ``ok``); ``quit`` ends it.
    """
    import pika

    from flxtrd import BID, FlexResource, MarketOrder
    from flxtrd.protocols import ampq

    base = pika.ConnectionParameters

    class VhostParameters(base):  # type: ignore[misc, valid-type]
        def __init__(self, host: str, port: int, _vhost: str, *args: Any, **kw: Any) -> None:
            super().__init__(host, port, vhost, *args, **kw)

    ampq.pika.ConnectionParameters = VhostParameters
    client = _client(host, int(port), key, user, token, "ticker-out")
    client.connect()
    resource = FlexResource(
        power_w=2500.0,
        start_time_epoch_s=int(start_ms) // 1000,
        duration_min=15,
        order_expiration_min=-30,
    )
    order = MarketOrder(order_type=BID, price_eur=12.0, resource=resource)
    print("READY", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "drain":
            client.check_market_responses()
            client.empty_market_responses()
            print("ok", flush=True)
            continue
        if command != "trade":
            break
        t0 = time.perf_counter()
        _, err = client.send_order(market_order=order)
        if err is not None:
            print(f"ERR {err}", flush=True)
            return
        deadline = t0 + 5
        done = None
        while done is None and time.perf_counter() < deadline:
            for message in client.check_market_responses() or ():
                if message.get("msg_type") == "bid_closed_order":
                    done = time.perf_counter()
                    break
        if done is None:
            print("ERR no bid_closed_order within 5 s", flush=True)
            return
        print(f"{(done - t0) * 1000:.6f}", flush=True)
        client.empty_market_responses()
    client.disconnect()


def memory(host: str, port: str, reply_exchange: str, key: str, count: str, timeout: str) -> None:
    """A 0.2.9 client that reads replies and never empties its buffer; prints its peak RSS.

    Prints ``READY`` once its reply queue is bound; then polls as 0.2.9's README does
    (``sleep``, then ``check_market_responses()``) until COUNT replies arrived or TIMEOUT s,
    printing ``PROGRESS <received>`` after each poll (the publisher keeps its lead bounded).
    """
    client = _client(host, int(port), key, "guest", "guest", reply_exchange)
    client.connect()
    start_rss = rss_kib()
    print("READY", flush=True)
    expected, deadline = int(count), time.monotonic() + float(timeout)
    protocol = client.trade_protocol
    samples: list[tuple[int, int | None]] = []
    step = next_sample = max(1, expected // 10)
    while True:
        client.sleep(0.2)
        client.check_market_responses()
        received = len(protocol.callback_responses)
        print(f"PROGRESS {received}", flush=True)
        if received >= next_sample:
            samples.append((received, rss_kib()))
            next_sample = (received // step + 1) * step
        if received >= expected or time.monotonic() > deadline:
            break
    _emit(
        {
            "received": received,
            "buffered": len(protocol.callback_responses),
            "start_rss_kib": start_rss,
            "peak_rss_kib": peak_rss_kib(),
            "samples": samples,
        }
    )
    client.disconnect()


COMMANDS = {
    "amqp-send": amqp_send,
    "rest": rest,
    "decode": decode,
    "roundtrip": roundtrip,
    "memory": memory,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
