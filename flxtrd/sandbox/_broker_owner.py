"""Who owns a sandbox's broker users, and whether that owner is certainly gone.

A served sandbox names itself in its owner tags (:mod:`flxtrd.sandbox._rabbitmq`) with
``<random>.<pid>.<pid namespace>.<boot id>``: the process, its PID namespace and the boot of
the machine it runs on (Linux: ``/proc/self/ns/pid``, ``/proc/sys/kernel/random/boot_id``). An
owner is **dead** only when it ran on this very boot and PID namespace and its process no longer
exists; anything else (another machine or container, an older tag without these parts, a PID
reused by a live process) counts as alive, so a live sandbox's tag is never taken for a dead one.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

__all__ = ["owner_is_dead", "this_owner"]

_OWNER = re.compile(r"^[0-9a-f]{12}\.(?P<pid>[0-9]+)\.(?P<ns>[0-9]+)\.(?P<boot>[0-9a-f]{32})$")


def _machine() -> tuple[str, str] | None:
    """(PID namespace inode, boot id) of this process, or None where they are not known."""
    try:
        ns = re.fullmatch(r"pid:\[([0-9]+)\]", os.readlink("/proc/self/ns/pid"))
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii")
    except OSError:
        return None
    boot = boot.strip().replace("-", "").lower()
    if ns is None or not re.fullmatch(r"[0-9a-f]{32}", boot):
        return None
    return ns[1], boot


def this_owner() -> str:
    """A new owner name for this process (random; with pid, namespace and boot where known)."""
    random = uuid.uuid4().hex[:12]
    machine = _machine()
    if machine is None:
        return random
    return f"{random}.{os.getpid()}.{machine[0]}.{machine[1]}"


def owner_is_dead(owner: str) -> bool:
    """Whether ``owner`` (a `this_owner` name) ran on this boot and PID namespace and its
    process is gone; False whenever that is not certain."""
    found = _OWNER.match(owner)
    machine = _machine()
    if found is None or machine is None or (found["ns"], found["boot"]) != machine:
        return False
    pid = int(found["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: a process of another user has that pid
        return False
    return False
