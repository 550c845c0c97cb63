"""The ``flxtrd`` command line: one parser (``_main``) with a module per command family.

``_common`` and ``_output`` are shared by every command; ``_rest`` holds the REST commands,
``_bot`` the trading-bot commands and ``_fleet`` the fleet commands. The console script is
``flxtrd._cli._main:main``; this is the top layer and nothing in flxtrd imports it.
"""
