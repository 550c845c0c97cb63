"""Devices from market logins: e-mail + password (or a device token) in, broker identities out.

A fleet needs each device's ``userId``, access token and application key. The market gives them
at login (``POST /users/login``, or ``GET /users/mptoken/{token}``); :func:`login_devices` does
that for many accounts through :class:`~flxtrd.FlexAPIClient` (one REST client, closed again)
and returns :class:`~flxtrd.FleetDevice` s. A login that fails is returned as that device's
error, so one bad account does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flxtrd._errors import FlexError
from flxtrd._types import User

from ._model import FleetDevice, check_device_ids

__all__ = ["login_devices", "sandbox_users"]


def sandbox_users(count: int, *, prefix: str = "fleet", password: str = "fleet") -> list[User]:
    """``count`` accounts ``<prefix>-<i>@example.com`` (a permissive sandbox makes them)."""
    return [User(name=f"{prefix}-{i}@example.com", password=password) for i in range(count)]


def login_devices(
    market_url: str,
    users: Sequence[tuple[str, User]],
    *,
    concurrency: int = 8,
    client_options: dict[str, Any] | None = None,
    strategy: Callable[[str], Any] | None = None,
) -> tuple[str, list[FleetDevice], dict[str, FlexError]]:
    """Log each ``(device_id, User)`` in; ``(broker_url, devices, errors by device id)``.

    ``strategy(device_id)`` makes each device's strategy when given. Ids are checked first.
    """
    from flxtrd._client._client import FlexAPIClient

    check_device_ids(device_id for device_id, _ in users)
    options = dict(client_options or {})

    def one(item: tuple[str, User]) -> tuple[str, str, FleetDevice | FlexError]:
        device_id, user = item
        client = FlexAPIClient(base_url=market_url, user=user, env={}, **options)
        try:
            identity = client.authenticate()
            return (
                client.broker_url,
                device_id,
                FleetDevice(
                    device_id,
                    identity.user_id,
                    identity.access_token,
                    identity.application_key,
                    strategy=strategy(device_id) if strategy is not None else None,
                ),
            )
        except FlexError as exc:
            return client.broker_url, device_id, exc
        finally:
            client.close()

    broker_url = ""
    devices: list[FleetDevice] = []
    errors: dict[str, FlexError] = {}
    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="flxtrd-fleet-login") as pool:
        for url, device_id, result in pool.map(one, _listed(users)):
            broker_url = broker_url or url
            if isinstance(result, FleetDevice):
                devices.append(result)
            else:
                errors[device_id] = result
    return broker_url, devices, errors


def _listed(users: Iterable[tuple[str, User]]) -> list[tuple[str, User]]:
    return list(users)
