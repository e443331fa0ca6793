"""Who may run a tenant's stack now: this machine's per-tenant lock, and the backend's stack locks.

On this machine a per-tenant lock file refuses a second run of the same tenant at once (the OS
releases it when a run dies, so a killed run never blocks the next). Across machines the
backend's own stack lock does: a lock whose owner is proven gone is removed, the orphaned engine
of a run killed on this host is waited for, and any other holder is named and refused.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from spbe_kit.errors import ProvisionError, TenantBusy
from spbe_kit.paths import state_dir
from spbe_kit.provision.backend_locks import LockStore, redact_url
from spbe_kit.provision.settings import PROJECT, EngineSettings

Progress = Callable[[str], None]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else "unknown error"


@contextmanager
def tenant_lock(tenant_id: str) -> Iterator[None]:
    """Exclusive right to run this tenant's stack on this machine; TenantBusy if taken."""
    folder = state_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{tenant_id}.lock", "a+") as fh:  # "w" would wipe the holder's pid before we know
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            raise TenantBusy(
                f"tenant {tenant_id} is already being updated by another spbe run on this machine (pid {holder})",
                hint="wait for that run to finish; it holds " + str(folder / f"{tenant_id}.lock"),
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: how long to wait for the engine process of a killed run to notice and unlock by itself
ORPHAN_WAIT_SECONDS = 90.0


def release_dead_locks(settings: EngineSettings, tenant_id: str, progress: Progress) -> None:
    """Remove backend locks whose owner is proven gone; wait for an orphaned engine of a killed run here;
    name any other live holder and refuse."""
    store = LockStore(settings.backend_url, PROJECT)

    def current() -> list:
        try:
            return store.locks(tenant_id)
        except Exception as exc:  # psycopg2/OS errors: the backend is unreachable or not set up
            raise ProvisionError(f"cannot read the locks of tenant {tenant_id} in {redact_url(settings.backend_url)}: "
                                 f"{_last_line(str(exc))}") from None

    locks = current()
    orphans = [lock for lock in locks if lock.orphaned_here()]
    if orphans:
        progress(f"waiting for the engine of an interrupted run to stop ({orphans[0].holder}) ...")
        deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
        while any(lock.orphaned_here() for lock in orphans) and time.monotonic() < deadline:
            time.sleep(0.2)
        locks = current()
    for lock in locks:
        if lock.owner_gone():
            progress(f"removing the backend lock of an interrupted run: {lock.holder} no longer runs")
            store.remove(lock)
        else:
            raise TenantBusy(
                f"tenant {tenant_id} is being updated by {lock.holder}",
                hint="wait for that run to finish; a lock from another machine is never removed by spbe "
                     "(if that machine is gone for good: `pulumi cancel` by hand, with care)",
            )
