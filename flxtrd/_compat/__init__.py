"""flxtrd 0.2.9 compatibility, in one place.

flxtrd replaces the vendor's flxtrd 0.2.9; code written for it keeps working. What exists only
for that code lives here:

- :mod:`._console` -- ``flxtrd.log`` and 0.2.9's console output of the ``flxtrd`` logger;
- :mod:`._utils` -- the time and unit helpers of ``flxtrd.utils``;
- :mod:`._auth` -- ``AuthResponse`` and the 0.2.9 methods of ``AuthPlugin``
  (``before_request()`` without arguments, ``authenticate_user()``);
- :mod:`._config` -- 0.2.9's rule that a client needs a user and a market;
- :mod:`._protocols` -- ``BaseAPI``, ``create_line_message`` and 0.2.9's other protocol helpers;
- :mod:`._client` -- ``MarketMessages``, 0.2.9's placeholder class.

0.2.9's module paths (``flxtrd.core.types``, ``flxtrd.protocols.rest``, ...) are alias modules
under ``flxtrd/core/`` and ``flxtrd/protocols/`` that only re-export from here and from today's
modules. Nothing is imported by this package itself, so ``import flxtrd`` stays cheap.
"""
