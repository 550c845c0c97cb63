"""The market's streams (WebSocket and SSE): a core without I/O and two thin shells.

``_core`` holds the stream specs, frame decoding, counters and reconnect decisions; ``_io`` the
socket-level reads; ``_async_stream`` is the asyncio shell and ``_stream`` is generated from it by
``scripts/unasync.py``. Nothing here imports ``_rest`` or ``_amqp``.
"""
