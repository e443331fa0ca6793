"""Where the local cluster keeps its files, and which 127.0.0.1 ports it listens on.

Everything lives under ``state_dir()/cluster/``::

    cluster.json     ports and versions of the cluster that was started (so a changed
                     environment does not confuse `status`/`down` of a running cluster)
    kubeconfig       admin kubeconfig (see kubeconfig.kubeconfig_path())
    pki/             CA, serving and client certificates, service-account key pair
    kubeconfigs/     one kubeconfig per component
    data/etcd/       etcd's data
    volumes/         hostPath directories backing provisioned PersistentVolumes
    run/             pidfiles (and the provisioner's heartbeat)
    logs/            one log per process; nothing is written to the terminal

Ports default to values unlikely to clash with a real cluster on the same machine and can
be overridden with ``SPBE_CLUSTER_<NAME>_PORT`` (e.g. ``SPBE_CLUSTER_APISERVER_PORT``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.errors import ClusterError
from spbe_kit.paths import state_dir

HOST = "127.0.0.1"

DEFAULT_PORTS: dict[str, int] = {
    "apiserver": 16443,
    "etcd": 12379,
    "etcd_peer": 12380,
    "controller_manager": 20257,
    "scheduler": 20259,
    "kwok": 20247,
}

#: Service network of the cluster (the `kubernetes` Service gets its first address).
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.1/16"
CLUSTER_NAME = "spbe-local"


def _env_port(name: str, default: int) -> int:
    var = f"SPBE_CLUSTER_{name.upper()}_PORT"
    raw = os.environ.get(var)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ClusterError(f"{var}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ClusterError(f"{var}={raw!r} is not a port number")
    return port


@dataclass(frozen=True)
class Layout:
    root: Path
    ports: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, root: Path | None = None) -> Layout:
        """Ports from the environment (or defaults), ignoring any record of an earlier cluster."""
        root = root or state_dir() / "cluster"
        return cls(root=root, ports={name: _env_port(name, d) for name, d in DEFAULT_PORTS.items()})

    @classmethod
    def load(cls, root: Path | None = None) -> Layout:
        """The layout of the cluster on this machine: recorded ports if it ran, else env/defaults."""
        root = root or state_dir() / "cluster"
        recorded = root / "cluster.json"
        ports = {name: _env_port(name, default) for name, default in DEFAULT_PORTS.items()}
        if recorded.is_file():
            try:
                ports.update({k: int(v) for k, v in json.loads(recorded.read_text())["ports"].items()})
            except (ValueError, KeyError, TypeError):
                pass  # unreadable record: fall back to the environment
        return cls(root=root, ports=ports)

    # files and directories
    @property
    def record(self) -> Path:
        return self.root / "cluster.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfigs(self) -> Path:
        return self.root / "kubeconfigs"

    @property
    def etcd_data(self) -> Path:
        return self.root / "data" / "etcd"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def kwok_home(self) -> Path:
        """HOME for kwok, so a user's ~/.kwok/kwok.yaml never leaks into our cluster."""
        return self.root / "kwok-home"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    # endpoints
    @property
    def server(self) -> str:
        return f"https://{HOST}:{self.ports['apiserver']}"

    @property
    def etcd_url(self) -> str:
        return f"http://{HOST}:{self.ports['etcd']}"

    @property
    def etcd_peer_url(self) -> str:
        return f"http://{HOST}:{self.ports['etcd_peer']}"

    def write_record(self, versions: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.record.write_text(json.dumps({"ports": self.ports, "versions": versions}, indent=2) + "\n")
