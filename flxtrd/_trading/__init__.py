"""The trading layer: strategies, the devices they trade for, and the bots that run them.

Above the clients (``flxtrd._client``), below the fleet and the command line. Modules by job:

- ``_strategy``: the strategy base class, its events and actions (no I/O);
- ``_strategies``: the example strategies, and strategies by name (``--strategy``);
- ``_energy``: the device side of a strategy (offers, reservations, obligations);
- ``_devices``: the device models that ship (battery, heat pump);
- ``_events``: market messages of either generation to strategy events;
- ``_connections``: one market connection per API generation;
- ``_bot``: one strategy on one connection, and its counts;
- ``_runner``: several bots on one clock, and what a run saw;
- ``_simulation``: bots against the embedded sandbox on a simulated clock;
- ``_format``: a run's progress line and summary; ``_plot``: a run's plot (matplotlib).

Import from the concrete module; this package re-exports nothing.
"""
