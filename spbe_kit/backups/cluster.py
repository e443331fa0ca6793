"""A tenant's PostgreSQL in the cluster, reached from the platform: a port-forward and the superuser's Secret."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from spbe_kit.backups.postgres import Server
from spbe_kit.configure.reach import _Kubectl
from spbe_kit.errors import BackupError
from spbe_kit.kubeclient import api_client
from spbe_kit.kubectl import require_kubectl
from spbe_kit.paths import local_kubeconfig

RELAY_CONNECT_SECONDS = 20.0
SUPERUSER_SECRET = "database-superuser"
#: the backup job's read-only login (spbe_kit.desired.database.BACKUP_ROLE / BACKUP_SECRET)
BACKUP_ROLE, BACKUP_SECRET = "spbe_backup", "database-backup"


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def _relay(target_port: int) -> Iterator[int]:
    """A local port whose every connection is carried to `target_port`, retrying the connect for a while.

    kubectl's port-forward ends when the pod side resets a connection and is started again (on the
    same port) a moment later; a backup opens several connections in a row (psql, pg_dumpall, pg_dump
    per database), and one of them landing in that moment failed the whole backup.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def carry(client: socket.socket) -> None:
        deadline = time.monotonic() + RELAY_CONNECT_SECONDS
        while True:
            try:
                upstream = socket.create_connection(("127.0.0.1", target_port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or stop.is_set():
                    client.close()
                    return
                time.sleep(0.2)
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=carry, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


@contextmanager
def tenant_server(namespace: str, kubeconfig: Path | None = None, context: str | None = None,
                  as_backup_role: bool = False) -> Iterator[Server]:
    """The tenant's PostgreSQL on a local port over TLS, logged in as its superuser (restores) or as the
    read-only backup role (backups); the password is read from the tenant's Secret and never printed."""
    kubeconfig = kubeconfig or local_kubeconfig()
    user, name = (BACKUP_ROLE, BACKUP_SECRET) if as_backup_role else ("postgres", SUPERUSER_SECRET)
    core = client.CoreV1Api(api_client(kubeconfig, context))
    try:
        secret = core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        raise BackupError(f"cannot read {namespace}/{name}: HTTP {exc.status} {exc.reason}",
                          hint="is the namespace a tenant with a database, and may you read its Secrets?") from None
    password = base64.b64decode((secret.data or {}).get("password", "")).decode()
    with _Kubectl(require_kubectl(), kubeconfig, context, namespace).port_forward("database", 5432) as port:
        if port is None:
            raise BackupError(f"cannot reach the database of {namespace} (kubectl port-forward to svc/database failed)",
                              hint="is its database pod running? (spbe tenant status)")
        with _relay(port) as local:
            yield Server(host="127.0.0.1", port=local, user=user, password=password, sslmode="require")
