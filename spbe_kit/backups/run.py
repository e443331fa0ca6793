"""A backup taken now by the platform: the tenant job's own script, run outside the tenant.

For `spbe backup run` and the final backup `spbe tenant destroy` takes before it deletes anything.
It logs in exactly as the job does -- the read-only backup role over TLS, the tenant's append-only
store identity -- so a backup taken here is no different from a nightly one. Needs PostgreSQL's
client programs (the server's major version or newer) and restic on this machine.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from spbe_kit.backups import admission, operations
from spbe_kit.backups.job import BACKUP_SCRIPT
from spbe_kit.backups.postgres import ATTEMPTS, Server, bin_dir
from spbe_kit.backups.restic import Snapshot, restic_binary
from spbe_kit.backups.store import StoreSettings, master_key
from spbe_kit.errors import BackupError


def backup_now(settings: StoreSettings, tenant_id: str, server: Server, timeout: float = 6 * 3600) -> Snapshot:
    """Back up every database `server` holds into the tenant's repository; the new snapshot."""
    restic_binary()
    admission.admit(settings, tenant_id)
    keys = master_key(settings).tenant(tenant_id)
    before = {s.id for s in operations.list_backups(settings, tenant_id)}
    with tempfile.TemporaryDirectory(prefix="spbe-backup-") as tmp:
        work = Path(tmp)
        for name, value in (("pg", server.password or ""), ("restic", keys.repository_password)):
            fd = os.open(work / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
        env = {"PATH": f"{bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(work),
               "SPBE_TENANT": tenant_id, "SPBE_BACKUP_WORK": str(work / "dumps"),
               "PGHOST": server.host, "PGPORT": str(server.port), "PGUSER": server.user, "PGSSLMODE": server.sslmode,
               "PGPASSWORD_FILE": str(work / "pg"), "RESTIC_REPOSITORY": settings.repository(tenant_id),
               "RESTIC_PASSWORD_FILE": str(work / "restic"), "AWS_ACCESS_KEY_ID": keys.store.access_key,
               "AWS_SECRET_ACCESS_KEY": keys.store.secret_key, "AWS_DEFAULT_REGION": settings.region}
        for attempt in range(1, ATTEMPTS + 1):
            # a connection cut while kubectl restarts a port-forward fails one attempt; a new attempt
            # starts over (restic keeps nothing of a backup that did not finish but reusable data)
            proc = subprocess.run(["bash", "-c", BACKUP_SCRIPT], env=env, capture_output=True, text=True,
                                  timeout=timeout)
            if proc.returncode == 0 or attempt == ATTEMPTS:
                break
            time.sleep(2 * attempt)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise BackupError(f"the backup of {tenant_id} failed: {' | '.join(lines[-3:]) or 'exit ' + str(proc.returncode)}")
    new = [s for s in operations.list_backups(settings, tenant_id) if s.id not in before]
    if not new:
        raise BackupError(f"the backup of {tenant_id} ended but no new backup is in the store")
    return new[-1]
