"""Sandbox markets for the history, frames and CLI tests: embedded in-process, or served on HTTP.

:func:`served_app` serves ``flxtrd.sandbox.create_app(market)`` with uvicorn on 127.0.0.1 (an
OS-chosen port, in a thread; ``ready`` is awaited, no sleeps), so clients and ``python -m
flxtrd`` subprocesses reach the same market over real sockets. :func:`trade_gen1` makes one
generation-1 deal by submitting a matching ask and bid straight to the market (what the broker
worker does with AMQP orders), so ``GET /deals/`` has something to list.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import uvicorn

from flxtrd._line_protocol import OrderLine
from flxtrd.sandbox import SandboxMarket, Trade, create_app

Q_MS = 900_000


class _ThreadServer(uvicorn.Server):
    """uvicorn in a thread; ``ready`` is set once it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Start, then signal the test thread."""
        try:
            await super().startup(sockets)  # type: ignore[arg-type]
        finally:
            self.ready.set()


@contextlib.contextmanager
def served_app(market: SandboxMarket) -> Iterator[str]:
    """Serve ``market``'s REST + WebSocket app on 127.0.0.1; yield its ``http://`` base URL."""
    config = uvicorn.Config(
        create_app(market), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(timeout=30), "uvicorn did not start"
        assert server.started, "uvicorn failed to start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def trade_gen1(
    market: SandboxMarket, *, price: float = 0.2, wattage: float = 1000.0, slot: int = 4
) -> Trade:
    """One generation-1 deal: a matching ask and bid, delivering ``slot`` quarter hours ahead."""
    now = market.now_ms()
    start = (now // Q_MS + slot) * Q_MS
    seller, buyer = market.login("seller@x.test", "pw"), market.login("buyer@x.test", "pw")
    for side, account in (("ask", seller), ("bid", buyer)):
        line = OrderLine(
            side=side,
            application_key=account.locations[0].id,
            starttime=start,
            wattage=wattage,
            runtime=Q_MS,
            totalenergy=wattage / 4,
            price=price,
            expirationtime=start - Q_MS,
        )
        result = market.submit_gen1(line, user_id=account.user_id)
    trade = next(e for e in result.events if isinstance(e, Trade))
    return trade
