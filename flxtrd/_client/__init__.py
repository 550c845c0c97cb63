"""The documented clients: ``AsyncFlexAPIClient`` written once, ``FlexAPIClient`` generated from it.

``_async_client`` is the source; ``_client`` is its sync twin written by ``scripts/unasync.py``.
``_async_extras``/``_sync_extras`` hold the trading helpers both clients mix in. The clients
compose the protocol layers (``_rest``, ``_amqp``, ``_streams``); they add no protocol of their own.
"""
