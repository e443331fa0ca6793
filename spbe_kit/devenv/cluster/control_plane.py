"""Bring the local cluster up, take it down, and report on it.

`up` starts, in order and each only once the previous one is healthy: etcd,
kube-apiserver, kube-controller-manager + kube-scheduler, the fake nodes and default
StorageClass (API objects), kwok, and the hostPath provisioner. It is idempotent: when
everything already runs and is healthy it returns at once; when only some processes died
it restarts just those.

`down` stops every process it started (pidfiles, plus any leftover process of this
cluster found in /proc) and by default wipes the cluster's data -- etcd, PKI,
kubeconfigs, volumes -- keeping only the logs. ``down(wipe=False)`` keeps the data so the
next `up` resumes the same cluster.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spbe_kit.devenv import backupstore
from spbe_kit.devenv.cluster import binaries, certs, components, ingress, kubeconfig, nodes, processes, realnode, storage
from spbe_kit.devenv.cluster.api import Api, ApiError, http_get, tls_context
from spbe_kit.devenv.cluster.components import Component
from spbe_kit.devenv.cluster.layout import HOST, Layout
from spbe_kit.devenv.cluster.provisioner import heartbeat_file
from spbe_kit.errors import ClusterError

Progress = Callable[[str], None]

ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "provisioner")

#: which recorded ports each process listens on (checked for clashes before starting it)
PORTS_OF = {
    "etcd": ("etcd", "etcd_peer"),
    "kube-apiserver": ("apiserver",),
    "kube-controller-manager": ("controller_manager",),
    "kube-scheduler": ("scheduler",),
    "kwok": ("kwok",),
    "provisioner": (),
}

START_TIMEOUT = {
    "etcd": 30.0,
    "kube-apiserver": 120.0,
    "kube-controller-manager": 60.0,
    "kube-scheduler": 60.0,
    "kwok": 60.0,
    "provisioner": 30.0,
}
HEARTBEAT_MAX_AGE = 15.0


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class ClusterInfo:
    """How to reach the running local cluster."""

    kubeconfig: Path
    server: str
    version: str
    ca_file: Path
    backup_store: str = ""  # the platform's backup store beside the cluster (S3 endpoint)

    def to_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    detail: str
    rss_bytes: int
    log: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClusterStatus:
    state: str  # running | degraded | stopped
    healthy: bool
    server: str
    kubeconfig: str
    readyz: str
    nodes: dict[str, bool] = field(default_factory=dict)
    components: list[ComponentStatus] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    real_node: realnode.NodeStatus | None = None
    backup_store: dict | None = None

    @property
    def rss_bytes(self) -> int:
        return sum(c.rss_bytes for c in self.components)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["components"] = [c.to_dict() for c in self.components]
        data["real_node"] = self.real_node.to_dict() if self.real_node else None
        data["rss_bytes"] = self.rss_bytes
        return data


# --------------------------------------------------------------------------- helpers


def versions() -> dict[str, str]:
    return {name: tool.version for name, tool in binaries.TOOLS.items()}


def info(layout: Layout | None = None) -> ClusterInfo:
    layout = layout or Layout.load()
    return ClusterInfo(
        kubeconfig=layout.kubeconfig,
        server=layout.server,
        version=binaries.KUBERNETES_VERSION,
        ca_file=certs.ca(layout.pki).cert,
        backup_store=backupstore.StoreLayout.from_env().endpoint,
    )


def _component(layout: Layout, name: str, bins: dict[str, Path]) -> Component:
    if name == "etcd":
        return components.etcd(layout, bins["etcd"])
    if name == "kube-apiserver":
        return components.kube_apiserver(layout, bins["kube-apiserver"], realnode.recorded_ip(layout))
    if name == "kube-controller-manager":
        return components.kube_controller_manager(layout, bins["kube-controller-manager"])
    if name == "kube-scheduler":
        return components.kube_scheduler(layout, bins["kube-scheduler"])
    if name == "kwok":
        return components.kwok(layout, bins["kwok"])
    if name == "provisioner":
        return components.provisioner(layout)
    raise KeyError(name)


def _check(layout: Layout, name: str) -> tuple[bool, str]:
    """Health of one component: (ok, short detail)."""
    if name == "provisioner":
        beat = heartbeat_file(layout)
        try:
            age = time.time() - beat.stat().st_mtime
        except OSError:
            return False, "no heartbeat yet"
        return (age <= HEARTBEAT_MAX_AGE, f"last pass {age:.0f}s ago")
    ca = certs.ca(layout.pki).cert
    if not ca.is_file():
        return False, "no PKI"
    ctx = None
    if name == "etcd":
        url = f"{layout.etcd_url}/health"
    elif name == "kube-apiserver":
        admin = certs.client(layout.pki, "admin")
        ctx = tls_context(ca, admin.cert, admin.key)
        url = f"{layout.server}/readyz"
    elif name == "kube-controller-manager":
        ctx, url = tls_context(ca), f"https://{HOST}:{layout.ports['controller_manager']}/healthz"
    elif name == "kube-scheduler":
        ctx, url = tls_context(ca), f"https://{HOST}:{layout.ports['scheduler']}/healthz"
    elif name == "kwok":
        url = f"http://{HOST}:{layout.ports['kwok']}/healthz"
    else:
        raise KeyError(name)
    try:
        status, body = http_get(url, ctx, timeout=3.0)
    except ApiError as err:
        return False, err.message
    body = body.strip()
    if name == "etcd":
        ok = status == 200 and '"health":"true"' in body.replace(" ", "")
    else:
        ok = status == 200 and body == "ok"
    return ok, "ok" if ok else f"HTTP {status}: {body.splitlines()[-1] if body else ''}"[:200]


def _wait(what: str, check: Callable[[], tuple[bool, str]], timeout: float,
          died: Callable[[], bool] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    detail = ""
    while True:
        ok, detail = check()
        if ok:
            return
        if died is not None and died():
            raise ClusterError(
                f"{what} exited during startup; last log lines:\n{processes.tail(log) if log else ''}",
                hint=f"full log: {log}",
            )
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{what} not ready after {timeout:.0f}s ({detail})"
                + (f"; last log lines:\n{processes.tail(log)}" if log else ""),
                hint=f"full log: {log}" if log else "see the logs under " + str(Layout.load().logs),
            )
        time.sleep(0.25)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers themselves do: connections of a just-stopped cluster linger in
        # TIME_WAIT and must not make the port look taken; a live listener still does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _check_ports(layout: Layout, name: str) -> None:
    for key in PORTS_OF[name]:
        port = layout.ports[key]
        if not _port_free(port):
            raise ClusterError(
                f"port {HOST}:{port} needed by {name} is already in use",
                hint=f"stop whatever listens there, or pick another port with SPBE_CLUSTER_{key.upper()}_PORT",
            )


@contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    """One `up`/`down` at a time per state directory (tests and terminals may race)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _leftovers(layout: Layout) -> list[int]:
    """Pids of processes of *this* cluster that have no (valid) pidfile.

    A process counts when its command line names this cluster's state directory and it is
    one of our binaries or the provisioner module -- never, say, a `tail -f` of a log.
    """
    names = (*ORDER, *realnode.ORDER)
    own = {processes.read(layout.run, n).pid for n in names if processes.running(layout.run, n)}
    exes = {str(p) for p in (binaries.find(n) for n in binaries.ALL_TOOLS) if p is not None}
    exes |= {"containerd", *filter(None, [shutil.which("containerd")])}
    root = str(layout.root)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if not args or not any(root in a for a in args[1:]):
            continue
        if args[0] in exes or components.PROVISIONER_MODULE in args:
            found.append(int(entry.name))
    return found


def _kill(pids: list[int], timeout: float = 10.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- up


def _healthy_quick(layout: Layout) -> bool:
    if not layout.kubeconfig.is_file():
        return False
    for name in ORDER:
        if processes.running(layout.run, name) is None or not _check(layout, name)[0]:
            return False
    if realnode.enabled(layout):
        node = realnode.status(layout, Api.for_client(layout, "admin"))
        return node is not None and node.ready and all(p["healthy"] for p in node.processes.values())
    return True


def up(progress: Progress = _quiet, build: bool = True, real_node: bool = False) -> ClusterInfo:
    """Start whatever part of the local cluster is not running; return how to reach it.

    ``real_node`` adds a real node (realnode.py) beside the kwok nodes; once a cluster has one,
    every later `up` keeps it.
    """
    start = time.monotonic()
    layout = Layout.load()
    with _locked(layout):
        adding_node = real_node and not realnode.enabled(layout)
        if _healthy_quick(layout) and not adding_node:
            if realnode.enabled(layout):
                realnode.sync_images(layout, binaries.resolve_all(progress, build_if_missing=build, real_node=True),
                                     progress)
            backupstore.up(progress, build=build,
                           pods_at=realnode.recorded_ip(layout) if realnode.enabled(layout) else None)
            progress(f"local cluster already running at {layout.server} (kubeconfig: {layout.kubeconfig})")
            return info(layout)

        with_node = real_node or realnode.enabled(layout)
        bins = binaries.resolve_all(progress, build_if_missing=build, real_node=with_node)
        node_ip = realnode.prepare(layout) if with_node else None
        if node_ip:
            if adding_node and processes.running(layout.run, "kube-apiserver"):
                progress("restarting kube-apiserver to listen on the real node's address too")
                processes.stop(layout.run, "kube-apiserver")

        alive = [n for n in ORDER if processes.running(layout.run, n)]
        pki_ok = certs.ca(layout.pki).cert.is_file() and layout.kubeconfig.is_file()
        if alive and not pki_ok:
            progress("found cluster processes without their PKI; restarting from scratch")
            for name in reversed(ORDER):
                processes.stop(layout.run, name)
            alive = []
        if not alive:
            layout = Layout.from_env(layout.root)
        stray = _leftovers(layout)
        if stray:
            progress(f"stopping {len(stray)} leftover process(es) of an earlier run: {stray}")
            _kill(stray)

        for d in (layout.logs, layout.run, layout.etcd_data, layout.volumes, layout.kwok_home, layout.kubeconfigs):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.etcd_data, 0o700)
        certs.ensure_pki(layout.pki, (node_ip,) if node_ip else ())
        kubeconfig.write_all(layout)
        (layout.root / "audit-policy.yaml").write_text(components.AUDIT_POLICY)
        layout.write_record(versions())

        api = Api.for_client(layout, "admin")
        for group in (("etcd",), ("kube-apiserver",), ("kube-controller-manager", "kube-scheduler")):
            _start_group(layout, group, bins, progress)
        storage.ensure_storage_class(api)
        ingress.ensure_ingress_class(api)
        count = nodes.node_count()
        nodes.ensure_nodes(api, count)
        _start_group(layout, ("kwok",), bins, progress)
        _start_group(layout, ("provisioner",), bins, progress)

        progress(f"waiting for {count} fake node(s) to be Ready ...")
        _wait("fake nodes", lambda: _nodes_ready(api, count), 60.0, log=layout.log("kwok"))
        _wait("the default service account", lambda: _default_sa(api), 60.0,
              log=layout.log("kube-controller-manager"))
        if with_node:
            realnode.start(layout, bins, progress)
        # the backup store runs beside the cluster, not in it: its data outlives `cluster down`
        backupstore.up(progress, build=build, pods_at=realnode.recorded_ip(layout) if with_node else None)
        progress(
            f"local cluster up in {time.monotonic() - start:.1f}s: {layout.server} "
            f"(Kubernetes {binaries.KUBERNETES_VERSION}); kubeconfig: {layout.kubeconfig}"
        )
        return info(layout)


def _start_group(layout: Layout, names: tuple[str, ...], bins: dict[str, Path], progress: Progress) -> None:
    started: list[tuple[str, processes.Record]] = []
    for name in names:
        if processes.running(layout.run, name):
            continue
        _check_ports(layout, name)
        comp = _component(layout, name, bins)
        progress(f"starting {name} ...")
        record = processes.start(layout.run, name, comp.argv, layout.log(name), env=comp.env,
                                 cwd=layout.root, marker=comp.marker)
        started.append((name, record))
    for name, record in started:
        _wait(name, lambda n=name: _check(layout, n), START_TIMEOUT[name],
              died=lambda r=record: processes.exited(r), log=layout.log(name))
        progress(f"{name} is healthy (pid {record.pid})")


def _nodes_ready(api: Api, count: int) -> tuple[bool, str]:
    try:
        ready = nodes.readiness(api)
    except ApiError as err:
        return False, err.message
    n = sum(ready.values())
    return n >= count, f"{n}/{count} Ready"


def _default_sa(api: Api) -> tuple[bool, str]:
    try:
        found = api.get_or_none("/api/v1/namespaces/default/serviceaccounts/default")
    except ApiError as err:
        return False, err.message
    return found is not None, "present" if found else "not created yet"


def ensure_running(progress: Progress = _quiet) -> ClusterInfo:
    """The running local cluster, started (and its binaries built) if needed.

    Meant for test fixtures elsewhere: ``info = ensure_running(); info.kubeconfig``.
    """
    return up(progress=progress, build=True)


# --------------------------------------------------------------------------- down


def down(wipe: bool = True, progress: Progress = _quiet) -> list[str]:
    """Stop every process of the local cluster; wipe its data unless ``wipe`` is False.

    Returns the names of the processes that were running.
    """
    layout = Layout.load()
    stopped: list[str] = []
    with _locked(layout):
        node = realnode.enabled(layout)
        if node:
            api = Api.for_client(layout, "admin") if processes.running(layout.run, "kube-apiserver") else None
            stopped += realnode.stop(layout, progress, api)
        for name in reversed(ORDER):
            if processes.stop(layout.run, name):
                stopped.append(name)
                progress(f"stopped {name}")
        if backupstore.down(progress=progress):
            stopped.append(backupstore.NAME)
        stray = _leftovers(layout)
        if stray:
            progress(f"stopping {len(stray)} leftover process(es): {stray}")
            _kill(stray)
        if node:
            realnode.cleanup_host(layout, {n: p for n in ("kube-proxy",) if (p := binaries.find(n))}, progress)
        if wipe:
            realnode.wipe(layout)
            for path in (layout.etcd_data.parent, layout.pki, layout.kubeconfigs, layout.volumes,
                         layout.run, layout.kwok_home):
                shutil.rmtree(path, ignore_errors=True)
            for path in (layout.kubeconfig, layout.record, layout.root / "audit-policy.yaml"):
                path.unlink(missing_ok=True)
            progress(f"wiped cluster data under {layout.root} (logs kept in {layout.logs})")
    return stopped


# --------------------------------------------------------------------------- status


def status() -> ClusterStatus:
    layout = Layout.load()
    comps: list[ComponentStatus] = []
    for name in ORDER:
        record = processes.running(layout.run, name)
        if record is None:
            comps.append(ComponentStatus(name, None, False, False, "not running", 0, str(layout.log(name))))
            continue
        ok, detail = _check(layout, name)
        comps.append(ComponentStatus(name, record.pid, True, ok, detail, processes.rss_bytes(record.pid),
                                     str(layout.log(name))))
    running = [c for c in comps if c.running]
    readyz = "unreachable"
    node_state: dict[str, bool] = {}
    api: Api | None = None
    if running and certs.client(layout.pki, "admin").cert.is_file():
        api = Api.for_client(layout, "admin")
        try:
            code, body = api.text("/readyz")
            readyz = "ok" if code == 200 and body.strip() == "ok" else f"HTTP {code}"
            node_state = nodes.readiness(api)
        except ApiError as err:
            readyz = f"unreachable: {err.message}"
            api = None
    real = realnode.status(layout, api) if running else None
    store = backupstore.status()
    healthy = (
        len(running) == len(ORDER)
        and all(c.healthy for c in comps)
        and readyz == "ok"
        and bool(node_state)
        and all(node_state.values())
        and (real is None or (real.ready and all(p["healthy"] for p in real.processes.values())))
        and store["healthy"]
    )
    state = "stopped" if not running else ("running" if healthy else "degraded")
    return ClusterStatus(
        state=state,
        healthy=healthy,
        server=layout.server,
        kubeconfig=str(layout.kubeconfig),
        readyz=readyz,
        nodes=node_state,
        components=comps,
        versions=versions(),
        real_node=real,
        backup_store=store,
    )
