"""The local backup store: one SeaweedFS process (master, volume, filer, S3) on 127.0.0.1.

Dev tooling, like the local cluster it stands beside -- in production the platform's store is
any S3 endpoint (spbe_kit.backups.store). It lives under ``state_dir()/backup-store/``, apart
from the cluster's own directory, so `spbe cluster down` (which wipes the cluster) stops it but
keeps every backup: the store is a different failure domain from the cluster::

    settings.json       endpoint and bucket (what spbe_kit.backups.store reads)
    admin.credentials   the platform's own S3 identity (0600)
    master.key          the platform's master key: every tenant key derives from it (0600)
    s3.json             the store's identities and policies (0600; reloaded with SIGHUP)
    data/               volumes and filer metadata
    run/ logs/          pidfile, log

Ports (S3 18333, master 19333, volume 18380, filer 18888; gRPC each +10000) can be moved with
``SPBE_CLUSTER_STORE_<S3|MASTER|VOLUME|FILER>_PORT``. Only the S3 port takes credentials: the other
three answer anyone on this machine, which is why every one of them listens on 127.0.0.1 only.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.backups import admission, s3
from spbe_kit.backups.store import Credentials, StoreSettings, master_key, write_credentials
from spbe_kit.devenv.cluster import binaries, processes
from spbe_kit.devenv.cluster.layout import HOST, _env_port
from spbe_kit.errors import ClusterError
from spbe_kit.paths import state_dir

Progress = Callable[[str], None]
BUCKET = "spbe-backups"
DEFAULT_PORTS = {"store_s3": 18333, "store_master": 19333, "store_volume": 18380, "store_filer": 18888}
NAME = "backup-store"
#: the forwarder that lets the real node's pods reach the S3 port (spbe_kit.devenv.tcpforward)
POD_FORWARDER = "backup-store-pods"
START_TIMEOUT = 60.0


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class StoreLayout:
    root: Path
    ports: dict[str, int]

    @classmethod
    def from_env(cls, root: Path | None = None) -> StoreLayout:
        return cls(root=root or state_dir() / "backup-store",
                   ports={name: _env_port(name, port) for name, port in DEFAULT_PORTS.items()})

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['store_s3']}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "logs" / "weed.log"

    @property
    def identity_file(self) -> Path:
        return self.root / "s3.json"

    @property
    def credentials_file(self) -> Path:
        return self.root / "admin.credentials"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    def settings(self) -> StoreSettings:
        from spbe_kit.backups.store import _read_credentials

        return StoreSettings(endpoint=self.endpoint, bucket=BUCKET, admin=_read_credentials(self.credentials_file),
                             master_key_file=self.root / "master.key", identity_file=self.identity_file,
                             reload_pidfile=processes.pidfile(self.run, NAME))


def argv(layout: StoreLayout, weed: Path) -> list[str]:
    p = layout.ports
    return [
        str(weed), f"-logdir={layout.log.parent}", "server",
        f"-dir={layout.data}", f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-master.port={p['store_master']}", f"-volume.port={p['store_volume']}", f"-filer.port={p['store_filer']}",
        "-s3", f"-s3.port={p['store_s3']}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={layout.identity_file}",
        # small volumes (a local store holds test-sized backups); slots sized from the free disk
        "-master.volumeSizeLimitMB=256", "-volume.max=0",
        "-master.telemetry=false", "-volume.preStopSeconds=1",
    ]


def _env() -> dict[str, str]:
    # weed turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in its environment into an extra Admin identity
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEED_"))}
    env["WEED_MASTER_VOLUME_GROWTH_COPY_1"] = "1"
    return env


@contextmanager
def _locked(layout: StoreLayout) -> Iterator[None]:
    layout.root.mkdir(parents=True, exist_ok=True)
    with (layout.root / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _healthy(layout: StoreLayout) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"{layout.endpoint}/healthz", timeout=2) as resp:
            return resp.status == 200, f"HTTP {resp.status}"
    except (urllib.error.URLError, OSError) as exc:
        return False, str(getattr(exc, "reason", exc))


def _busy_ports(layout: StoreLayout) -> list[int]:
    """Ports of the store (and their gRPC twins) that something else already listens on."""
    busy = []
    for port in sorted({p + d for p in layout.ports.values() for d in (0, 10000)}):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                busy.append(port)
    return busy


def up(progress: Progress = _quiet, build: bool = True, layout: StoreLayout | None = None,
       pods_at: str | None = None) -> StoreSettings:
    """Start the local store unless it runs; return its settings (idempotent). ``pods_at``: the real node's
    address, where its pods (the backup jobs) reach the S3 port."""
    layout = layout or StoreLayout.from_env()
    if build and binaries.find("weed") is None:
        progress(f"building the backup store (SeaweedFS {binaries.SEAWEEDFS_VERSION}) ...")
        binaries.build(binaries.TOOLS["weed"], progress)
    weed = binaries.require("weed")
    with _locked(layout):
        for d in (layout.data, layout.run, layout.log.parent):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.root, 0o700)
        if not layout.credentials_file.is_file():
            write_credentials(layout.credentials_file, Credentials("spbe-platform", secrets.token_urlsafe(30)))
        master_key(layout.settings())  # made now, on the first start
        if processes.running(layout.run, NAME) and _healthy(layout)[0]:
            progress(f"backup store already running at {layout.endpoint}")
        else:
            processes.stop(layout.run, NAME)
            busy = _busy_ports(layout)
            if busy:
                raise ClusterError(f"the backup store's ports {busy} are taken by another process",
                                   hint="stop it, or move the store with SPBE_CLUSTER_STORE_<S3|MASTER|VOLUME|FILER>_PORT")
            admission.write_identities(layout.settings(), admission.admitted(layout.settings()))
            progress(f"starting the backup store (SeaweedFS) at {layout.endpoint} ...")
            record = processes.start(layout.run, NAME, argv(layout, weed), layout.log, env=_env(), cwd=layout.root,
                                     marker=f"-dir={layout.data}")
            deadline = time.monotonic() + START_TIMEOUT
            ok, detail = False, "not started"
            while time.monotonic() < deadline:
                ok, detail = _healthy(layout)
                if ok or processes.exited(record):
                    break
                time.sleep(0.3)
            if not ok:
                raise ClusterError(f"the backup store did not become healthy: {detail}",
                                   hint=f"its log: {layout.log}\n{processes.tail(layout.log)}")
            progress(f"backup store is healthy (pid {record.pid})")
        settings = layout.settings()
        if s3.ensure_bucket(settings):
            progress(f"created bucket {settings.bucket}")
        pod_endpoint = _expose_to_pods(layout, pods_at, progress) if pods_at else None
        if not pods_at:
            processes.stop(layout.run, POD_FORWARDER)
        layout.settings_file.write_text(json.dumps({
            "endpoint": settings.endpoint, "bucket": settings.bucket, "identityFile": str(layout.identity_file),
            "reloadPidfile": str(settings.reload_pidfile),
            **({"podEndpoint": pod_endpoint} if pod_endpoint else {})}, indent=1) + "\n")
        return settings


def _expose_to_pods(layout: StoreLayout, address: str, progress: Progress) -> str:
    """Forward the S3 port (only it) from ``address`` (the real node's, which its pods reach); the pods' endpoint."""
    port = layout.ports["store_s3"]
    endpoint = f"http://{address}:{port}"
    argv_ = [sys.executable, "-m", "spbe_kit.devenv.tcpforward", address, str(port), HOST, str(port)]
    marker = f"spbe_kit.devenv.tcpforward {address} {port}"
    record = processes.running(layout.run, POD_FORWARDER)
    if record is None or record.marker != marker:
        processes.stop(layout.run, POD_FORWARDER)
        record = processes.start(layout.run, POD_FORWARDER, argv_, layout.log.with_name("pods-forwarder.log"),
                                 marker=marker)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _listening(address, port):
            if processes.exited(record):
                raise ClusterError(f"cannot forward the backup store's S3 port to {address}:{port} for the pods",
                                   hint=processes.tail(layout.log.with_name("pods-forwarder.log")))
            time.sleep(0.1)
        progress(f"the real node's pods reach the backup store at {endpoint} (S3 port only)")
    return endpoint


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def down(layout: StoreLayout | None = None, progress: Progress = _quiet) -> bool:
    """Stop the store; its data stays (it is not the cluster's to wipe)."""
    layout = layout or StoreLayout.from_env()
    processes.stop(layout.run, POD_FORWARDER)
    stopped = processes.stop(layout.run, NAME)
    if stopped:
        progress(f"stopped the backup store (its data stays in {layout.data})")
    return stopped


def status(layout: StoreLayout | None = None) -> dict:
    layout = layout or StoreLayout.from_env()
    record = processes.running(layout.run, NAME)
    ok, detail = _healthy(layout) if record else (False, "not running")
    return {"name": NAME, "pid": record.pid if record else None, "healthy": ok, "detail": detail,
            "endpoint": layout.endpoint, "data": str(layout.data)}
