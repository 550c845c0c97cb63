"""The generation-1 trading connection: confirmed AMQP orders and typed market replies, on kombu.

Modules (bottom first): :mod:`._order_codec` (orders to line-protocol bodies),
:mod:`._market_messages` (reply bodies to typed models), :mod:`._results` (receipts, outcomes,
counters), :mod:`._backend` (the :class:`_Backend` protocol both transports implement, the
:class:`_BackendContext` they are given, shared helpers), :mod:`._frames` (the publish frame
encoder), :mod:`._kombu_backend` (py-amqp), :mod:`._memory_backend` (``memory://``),
:mod:`._dispatch` (confirm and reply handling) and :mod:`._api` (:class:`AmpqAPI`). Import
from the submodules; this package face re-exports nothing, so it creates no import cycle.

:class:`AmpqAPI` (flxtrd 0.2.9's spelling) connects a device to the market's broker, publishes
orders with publisher confirms and consumes the device's reply queue.

Topology (see ``specs/asyncapi.yaml``)
--------------------------------------
Orders go to the direct exchange ``in`` with routing key ``ask`` or ``bid``; replies come through
the direct exchange ``ticker-out`` into an **exclusive** queue named after the application key,
bound with the key itself. The real market declares both exchanges; a bare RabbitMQ (sandbox,
tests) does not. Both are first checked with a passive declare (no configure permission
needed); ``declare_exchanges`` decides what happens to a missing one: ``True`` declares it
(direct, durable), ``False`` fails with :class:`~flxtrd.BrokerError`.
The default (``None``) is ``False`` for ``amqps://`` (the market) and ``True`` otherwise.

Connecting
----------
``broker_url`` picks the transport as kombu does: ``amqps://host:5671//`` (TLS, certificate and
host name verified; ``ca_bundle`` adds a CA file; ``verify_ssl=False`` turns verification off for
self-signed development brokers), ``amqp://host:5672//`` (plain), ``memory://`` (in-process).
Credentials come from the URL's userinfo when it has one, else ``user_id`` / ``access_token``.
RabbitMQ refuses a message whose ``user_id`` property differs from the login, so the property is
the login name. The access token and the URL password are registered with the logging secrets
filter and never appear in logs, ``repr()`` or error messages.

A second live connection for the same application key makes the broker refuse the exclusive queue
(``RESOURCE_LOCKED``): :class:`~flxtrd.AlreadyConnectedError` is raised and the connection that
was opened for the attempt is closed again (0.2.9 leaked it).

Publishing
----------
The body is one line-protocol line (:mod:`flxtrd._amqp._order_codec`), routing key = the
order's side (a routing hint that disagrees, like the seed's ``endpoint="bi"``, is logged and
ignored), properties ``user_id``, ``reply_to`` (the application key), ``message_id`` (uuid4
hex unless the caller gives one), ``content_type=text/plain``, header ``sendertimestamp_in_ms``,
``mandatory=True``, on a channel in publisher-confirm mode. Confirms are tracked by delivery tag
from the channel's ``basic_ack`` / ``basic_nack`` / ``basic_return`` events (py-amqp), so
:meth:`AmpqAPI.send_orders` pipelines: it publishes up to ``max_in_flight`` orders before it
waits, and collects the confirms as they come. RabbitMQ *acks* an unroutable mandatory message
after returning it: a ``basic.return`` marks the order (found by its ``message_id``) so its ack
becomes :class:`~flxtrd.OrderUnroutableError`; a nack is :class:`~flxtrd.OrderNotConfirmedError`.
Two orders with the same ``message_id`` cannot be in flight at once (the return could not be
attributed).

The publish frames are built here rather than by py-amqp's generic serialiser (byte for byte the
same; a property test compares them) and ``send_orders`` writes them in batches of up to 64 per
socket write; everything else (handshake, declarations, confirms, deliveries) is py-amqp's. The
connection's socket timeout is ``confirm_timeout``, which also bounds py-amqp's own waits.

Losing the connection
---------------------
Every order ends exactly once: confirmed, or failed. An order published on a connection that is
lost before its confirm arrives may or may not have reached the market; it fails with
:class:`OrderInDoubtError` (a :class:`~flxtrd.OrderNotConfirmedError`) carrying its
``message_id``: re-send it with the same ``message_id`` and the market (or a test consumer) can
recognise the duplicate. flxtrd never re-sends on its own. After a loss the connection is
re-established at once with bounded exponential backoff and jitter (``retry_policy``, the
project's :class:`~flxtrd._retry.RetryPolicy`; a ``RESOURCE_LOCKED`` is retried too, because the
broker may not have deleted the lost connection's exclusive queue yet), the reply queue and its
consumer are declared again, and publishing continues. If reconnecting fails the error surfaces
on the next call, as :class:`~flxtrd.FlexConnectionError`. Replies the market sent while the
queue did not exist are lost: that is what an exclusive queue means.

Consuming replies
-----------------
There is **no background thread**: like kombu's and 0.2.9's pika ``BlockingConnection``, I/O
happens when the caller calls in. Every method that touches the connection (``send_order``,
``send_orders``, ``check_market_responses``, ``market_messages``, ``sleep``) also reads the
replies that have arrived, decodes each into the generated models (:class:`MarketMessage`) and

- passes it to ``on_message(message)`` when that callback is set, or else
- appends it to a bounded buffer (``buffer_size``, oldest dropped first, drops counted in
  :attr:`AmpqAPI.stats`), which ``check_market_responses()`` returns (without removing, as 0.2.9
  did; ``empty_market_responses()`` clears it) and ``market_messages(timeout)`` consumes.

A message that does not decode (not JSON, wrong types, unknown ``msg_type``) is counted
(``stats.rejected_inbound``) and handed to ``on_invalid(raw_body, error)``; it never stops the
consumer or later messages. An exception raised by either callback is logged and counted
(``stats.callback_errors``). ``on_message`` may itself send orders. Replies are consumed with
automatic acknowledgement: the queue is exclusive, so unacknowledged messages would die with the
connection anyway.

Heartbeats are off by default (``heartbeat=0``): a client that sleeps between polls, as 0.2.9's
example does, is not dropped by the broker; dead peers are found by TCP keepalive (py-amqp's
defaults) or on the next call. With ``heartbeat=N`` call in at least every ``N/2`` seconds.

Threads: one :class:`AmpqAPI` serialises its calls with a lock; it is meant to be used from one
thread at a time, like a kombu connection.

``memory://``
-------------
kombu's in-process transport has no broker behind it, so some guarantees are emulated and some do
not exist:

- *mandatory / returns* -- emulated: an order is checked against the exchange's bindings before
  it is put, and fails with :class:`~flxtrd.OrderUnroutableError` when no queue is bound;
- *publisher confirms* -- a put into an in-process queue cannot fail, so every routed order is
  confirmed at once; there is no nack and no in-doubt state;
- *exclusive queues* -- emulated per process: a second :class:`AmpqAPI` with the same
  application key raises :class:`~flxtrd.AlreadyConnectedError`; the queue is deleted on close;
- not available: ``user_id`` checking, TLS, heartbeats, connection loss and reconnection,
  message sharing across processes. Messages only travel between threads of one process.
"""
