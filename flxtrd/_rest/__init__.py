"""The REST side: request primitives, the one adapter to ``generated/``, transports, auth, clients.

Bottom to top: ``_http`` (operations, the adapter to the generated client), ``_operations`` and
``_model_check``; ``_async_transport`` (retrying httpx transport; ``_transport`` is generated from
it); ``_plugins``, ``_auth``, ``_audit_plugin``; ``_base_client`` (the request pipeline);
``_api_core`` with ``_async_api``/``_api`` (the ``AsyncRestAPI``/``RestAPI`` shells);
``_resource_core`` with ``_async_resources``/``_resources`` (``client.orders`` and friends);
``_pagination``, ``_history``, ``_raw_response``. Nothing here imports ``_amqp`` or ``_streams``.
"""
