"""A real node beside the kwok nodes: containerd + runc + CNI plugins from Debian, kubelet and
kube-proxy built from ``k8s.io/kubernetes`` like the control plane, the cluster's DNS (CoreDNS)
as a pod on it, and NetworkPolicies enforced by ``sigs.k8s.io/kube-network-policies`` as a host
process.

What this host needed, found by running it (and why each setting below is there):

* containerd (Debian 1.6) runs with a private root/state/socket under the cluster's state
  directory, so it never touches a system containerd.
* runc refuses every pod sandbox with ``nsexec: failed to update /proc/self/oom_score_adj:
  Permission denied`` unless the CRI plugin has ``restrict_oom_score_adj = true`` (this host may
  not lower OOM scores).
* kubelet refuses a loopback ``--node-ip``; the node uses the host's first global IPv4 address
  (``SPBE_CLUSTER_NODE_IP`` overrides), and the API server then advertises and listens on it
  too, so pods reach the ``kubernetes`` Service (CoreDNS watches Services through it).
* No registry is reachable: images are imported into containerd (see node_images).
* Pods get addresses from 10.250.0.0/24 on the bridge ``spbe0`` -- apart from the range kwok
  gives its simulated pods, so a real pod's address never names a simulated one.
* Once the real node is Ready the kwok nodes are tainted ``NoSchedule``: tenants land on the node
  that runs them for real (the fleet benchmarks use a cluster without a real node).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.devenv.cluster import certs, cpuview, node_images, nodes, processes
from spbe_kit.devenv.cluster.api import Api, ApiError, http_get
from spbe_kit.devenv.cluster.kubeconfig import component_kubeconfig
from spbe_kit.devenv.cluster.layout import Layout
from spbe_kit.errors import ClusterError

Progress = Callable[[str], None]

NODE_NAME = "spbe-local-real"
NODE_LABELS = {"type": "real", "spbe.go.id/real-node": "true"}
POD_SUBNET = "10.250.0.0/24"
CLUSTER_CIDR = "10.250.0.0/16"
BRIDGE = "spbe0"
CNI_NETWORK = "spbe"
DNS_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
KUBELET_PORT = 10250
KUBELET_HEALTHZ = 10248
PROXY_HEALTHZ = 10256
PROXY_METRICS = 10249
KNP_METRICS = 10259
FAKE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}

#: the node's processes, in start order (stopped in reverse)
ORDER = ("registry", "containerd", "kubelet", "kube-proxy", "network-policies")
START_TIMEOUT = {"registry": 30.0, "containerd": 30.0, "kubelet": 60.0, "kube-proxy": 30.0, "network-policies": 30.0}
#: the registry mirror's address (containerd pulls registry.pdn.go.id/* from it)
REGISTRY_ADDR = "127.0.0.1:15000"
MIRRORED = "registry.pdn.go.id"
CNI_BIN = Path("/usr/lib/cni")
HOST_TOOLS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables")


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class NodePaths:
    root: Path

    @classmethod
    def of(cls, layout: Layout) -> NodePaths:
        return cls(layout.root / "node")

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def socket(self) -> Path:
        return self.containerd_state / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_data(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet-config.yaml"

    @property
    def proxy_config(self) -> Path:
        return self.root / "kube-proxy-config.yaml"

    @property
    def registry_config(self) -> Path:
        return self.root / "registry.yaml"

    @property
    def registry_data(self) -> Path:
        return self.root / "registry"

    @property
    def sysview(self) -> Path:
        return self.root / "sysview"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def record(self) -> Path:
        return self.root / "node.json"


# --------------------------------------------------------------------------- host facts


def host_problems() -> list[str]:
    """Why this host cannot run the real node (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the real node needs root (containerd, runc, network namespaces, iptables)")
    for tool in HOST_TOOLS:
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not installed (Debian: containerd, runc, iptables)")
    for plugin in ("bridge", "host-local", "portmap", "loopback"):
        if not (CNI_BIN / plugin).is_file():
            problems.append(f"CNI plugin {CNI_BIN / plugin} is missing (Debian: containernetworking-plugins)")
    if not Path("/sys/fs/cgroup").is_dir():
        problems.append("no cgroup filesystem at /sys/fs/cgroup")
    return problems


def node_ip() -> str:
    """The address the node registers: SPBE_CLUSTER_NODE_IP, else the host's first global IPv4."""
    override = os.environ.get("SPBE_CLUSTER_NODE_IP")
    if override:
        try:
            ipaddress.IPv4Address(override)
        except ValueError:
            raise ClusterError(f"SPBE_CLUSTER_NODE_IP={override!r} is not an IPv4 address") from None
        return override
    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "scope", "global"], capture_output=True, text=True)
    try:
        links = json.loads(out.stdout or "[]")
    except ValueError:
        links = []
    for link in links:
        if link.get("ifname") == BRIDGE or link.get("ifname", "").startswith(("veth", "cni", "docker")):
            continue
        for addr in link.get("addr_info", []):
            if addr.get("family") == "inet":
                return addr["local"]
    raise ClusterError("this host has no global IPv4 address for the real node (kubelet refuses loopback)",
                       hint="set SPBE_CLUSTER_NODE_IP to an address of this host")


# --------------------------------------------------------------------------- configuration files


def containerd_config(paths: NodePaths) -> str:
    return f'''version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
[grpc]
  address = "{paths.socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{node_images.PAUSE_REF}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{paths.cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  # the baseline pulls Always: from the data center's registry, here its local mirror
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{MIRRORED}"]
    endpoint = ["http://{REGISTRY_ADDR}"]
'''


def registry_config(paths: NodePaths) -> str:
    return f'''version: 0.1
log:
  level: warn
  accesslog: {{disabled: true}}
storage:
  filesystem: {{rootdirectory: "{paths.registry_data}"}}
  delete: {{enabled: false}}
http:
  addr: {REGISTRY_ADDR}
'''


def cni_conflist(paths: NodePaths) -> str:
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(paths.cni_data),
                      "ranges": [[{"subnet": POD_SUBNET}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"},
        ],
    }, indent=2) + "\n"


def kubelet_config(paths: NodePaths, ip: str, layout: Layout) -> str:
    return f'''apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{paths.socket}
failSwapOn: false
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: "{certs.ca(layout.pki).cert}"}}
authorization: {{mode: Webhook}}
address: {ip}
port: {KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {KUBELET_HEALTHZ}
clusterDNS: [{DNS_IP}]
clusterDomain: {CLUSTER_DOMAIN}
resolvConf: /etc/resolv.conf
enforceNodeAllocatable: []
localStorageCapacityIsolation: false
serializeImagePulls: false
# the images were loaded by hand and there is no registry to pull them again: never collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {{memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%"}}
'''


def proxy_config(layout: Layout) -> str:
    return f'''apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: "{component_kubeconfig(layout, 'kube-proxy')}"
hostnameOverride: {NODE_NAME}
mode: iptables
clusterCIDR: {CLUSTER_CIDR}
healthzBindAddress: 127.0.0.1:{PROXY_HEALTHZ}
metricsBindAddress: 127.0.0.1:{PROXY_METRICS}
conntrack:
  # leave this host's conntrack sysctls alone (they may be read-only here)
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
'''


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class NodeProcess:
    name: str
    argv: list[str]
    marker: str


def _processes(layout: Layout, paths: NodePaths, ip: str, bins: dict[str, Path]) -> dict[str, NodeProcess]:
    labels = ",".join(f"{k}={v}" for k, v in NODE_LABELS.items())
    cpu_dir, node_dir = paths.sysview / "cpu", paths.sysview / "node"
    containerd = shlex.join(["containerd", "--config", str(paths.containerd_config)])
    runtime_ns = processes.running(layout.run, "containerd")
    procs = {
        "registry": NodeProcess("registry", [str(bins["registry"]), "serve", str(paths.registry_config)],
                                str(paths.registry_config)),
        # containerd owns a mount namespace with the CPU view (cpuview.py); kubelet joins it
        "containerd": NodeProcess("containerd", [
            "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            f"{cpuview.mount_script(cpu_dir, node_dir)} && exec {containerd}"], str(paths.containerd_config)),
        "kubelet": NodeProcess("kubelet", [
            "nsenter", f"--mount=/proc/{runtime_ns.pid if runtime_ns else 'self'}/ns/mnt", "--",
            str(bins["kubelet"]),
            f"--config={paths.kubelet_config}",
            f"--kubeconfig={component_kubeconfig(layout, 'kubelet')}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={ip}",
            f"--root-dir={paths.kubelet_root}",
            f"--cert-dir={paths.kubelet_root / 'pki'}",
            f"--node-labels={labels}",
            "--v=1",
        ], str(paths.kubelet_root)),
        "kube-proxy": NodeProcess("kube-proxy", [str(bins["kube-proxy"]), f"--config={paths.proxy_config}"],
                                  str(paths.proxy_config)),
    }
    if "kube-network-policies" in bins:
        procs["network-policies"] = NodeProcess("network-policies", [
            str(bins["kube-network-policies"]),
            f"--kubeconfig={component_kubeconfig(layout, 'network-policies')}",  # patched in, see patches/
            f"--hostname-override={NODE_NAME}",
            "--disable-nri",  # containerd 1.6 has no NRI
            "--netfilter-bug-1766-fix=false",  # fixed in the kernel since 6.12
            f"--metrics-bind-address=127.0.0.1:{KNP_METRICS}",
            "--v=1",
        ], str(bins["kube-network-policies"]))
    return procs


def _check(name: str, paths: NodePaths) -> tuple[bool, str]:
    if name == "registry":
        url = f"http://{REGISTRY_ADDR}/v2/"
    elif name == "containerd":
        proc = subprocess.run(["ctr", "--address", str(paths.socket), "version"], capture_output=True, text=True)
        return (proc.returncode == 0, "ok" if proc.returncode == 0 else proc.stderr.strip()[-200:])
    elif name == "kubelet":
        url = f"http://127.0.0.1:{KUBELET_HEALTHZ}/healthz"
    elif name == "kube-proxy":
        url = f"http://127.0.0.1:{PROXY_HEALTHZ}/healthz"
    elif name == "network-policies":
        url = f"http://127.0.0.1:{KNP_METRICS}/metrics"
    else:
        return True, "running"
    try:
        code, body = http_get(url, None, timeout=3.0)
    except ApiError as err:
        return False, err.message
    return code == 200, "ok" if code == 200 else f"HTTP {code}: {body.strip()[:120]}"


def _wait(what: str, check: Callable[[], tuple[bool, str]], timeout: float, log: Path | None = None,
          died: Callable[[], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ok, detail = check()
        if ok:
            return
        if died is not None and died():
            raise ClusterError(f"{what} exited during startup; last log lines:\n{processes.tail(log) if log else ''}",
                               hint=f"full log: {log}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not ready after {timeout:.0f}s ({detail})"
                               + (f"; last log lines:\n{processes.tail(log)}" if log else ""),
                               hint=f"full log: {log}" if log else "")
        time.sleep(0.5)


def _sysctl(key: str, value: str) -> None:
    path = Path("/proc/sys") / key.replace(".", "/")
    try:
        if path.read_text().strip() != value:
            path.write_text(value)
    except OSError as err:
        raise ClusterError(f"cannot set {key}={value}: {err}",
                           hint="the real node needs IP forwarding and bridged traffic through iptables") from None


def _ensure_br_netfilter() -> None:
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True)
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        raise ClusterError("the kernel module br_netfilter is not loaded and cannot be loaded",
                           hint="Services between pods on one bridge need it: modprobe br_netfilter")
    _sysctl("net.bridge.bridge-nf-call-iptables", "1")
    _sysctl("net.ipv4.ip_forward", "1")


def recorded_ip(layout: Layout) -> str | None:
    """The node IP of the real node this cluster was started with (None: no real node)."""
    record = NodePaths.of(layout).record
    try:
        return json.loads(record.read_text())["nodeIP"]
    except (OSError, ValueError, KeyError):
        return None


def enabled(layout: Layout) -> bool:
    return recorded_ip(layout) is not None


def prepare(layout: Layout) -> str:
    """Record that this cluster has a real node (before the API server starts: it listens on the node IP)."""
    problems = host_problems()
    if problems:
        raise ClusterError("this host cannot run the real node:\n  - " + "\n  - ".join(problems),
                           hint="install the Debian packages named above, or start the cluster without --real-node")
    ip = recorded_ip(layout) or node_ip()
    paths = NodePaths.of(layout)
    paths.root.mkdir(parents=True, exist_ok=True)
    _write(paths.record, json.dumps({"nodeIP": ip, "node": NODE_NAME}) + "\n")
    return ip


def start(layout: Layout, bins: dict[str, Path], progress: Progress = _quiet) -> None:
    """Start whatever part of the real node is not running, load its images, wait until it is Ready."""
    ip = recorded_ip(layout)
    if ip is None:
        raise ClusterError("the real node was not prepared (internal error)")
    paths = NodePaths.of(layout)
    _ensure_br_netfilter()
    for d in (paths.containerd_root, paths.containerd_state, paths.cni_conf, paths.cni_data, paths.kubelet_root):
        d.mkdir(parents=True, exist_ok=True)
    _write(paths.containerd_config, containerd_config(paths))
    _write(paths.cni_conf / "10-spbe.conflist", cni_conflist(paths))
    _write(paths.kubelet_config, kubelet_config(paths, ip, layout))
    _write(paths.proxy_config, proxy_config(layout))
    _write(paths.registry_config, registry_config(paths))
    paths.registry_data.mkdir(parents=True, exist_ok=True)
    cpus = cpuview.advertised_cpus()
    if not processes.running(layout.run, "containerd"):
        cpuview.write_view(paths.sysview, cpus)
        processes.stop(layout.run, "kubelet")  # it must join the new runtime's mount namespace
    _start(layout, paths, _processes(layout, paths, ip, bins)["registry"], progress)
    _start(layout, paths, _processes(layout, paths, ip, bins)["containerd"], progress)
    procs = _processes(layout, paths, ip, bins)  # now naming containerd's mount namespace
    sync_images(layout, bins, progress)

    api = Api.for_client(layout, "admin")
    for name in ("kubelet", "kube-proxy", "network-policies"):
        if name in procs:
            _start(layout, paths, procs[name], progress)

    progress(f"waiting for the real node {NODE_NAME} ({ip}) to be Ready ...")
    _wait(f"real node {NODE_NAME}", lambda: _node_ready(api), 90.0, log=layout.log("kubelet"))
    taint_fake_nodes(api)
    from spbe_kit.devenv.cluster import dns

    dns.ensure(api, node_images.COREDNS_REF.format(version=_coredns_version(bins)))
    progress("waiting for the cluster DNS (CoreDNS) to be Ready on the real node ...")
    _wait("CoreDNS", lambda: dns.ready(api), 120.0, log=layout.log("kubelet"))


def sync_images(layout: Layout, bins: dict[str, Path], progress: Progress = _quiet) -> None:
    """Load into the node (and its registry mirror) every image it lacks: new builds land on a running node too."""
    paths = NodePaths.of(layout)
    images = [
        node_images.NodeImage(*_pause_image(progress)),
        node_images.binary_image(bins["coredns"], node_images.COREDNS_REF.format(version=_coredns_version(bins)),
                                 paths.images),
        *node_images.baseline_images(progress),
    ]
    loaded = node_images.load(paths.socket, images, progress)
    pushed = node_images.mirror(paths.socket, images, MIRRORED, REGISTRY_ADDR, progress)
    progress(f"real node images: {len(images)} present ({loaded} loaded now, {pushed} pushed to the mirror)")


def _pause_image(progress: Progress) -> tuple[Path, str, str]:
    from spbe_kit.images.build import build

    built = build(node_images.PAUSE, progress)
    return Path(built.archive), node_images.PAUSE_REF, built.digest


def _coredns_version(bins: dict[str, Path]) -> str:
    from spbe_kit.devenv.cluster.binaries import NODE_TOOLS

    return NODE_TOOLS["coredns"].version.lstrip("v")


def _start(layout: Layout, paths: NodePaths, proc: NodeProcess, progress: Progress) -> None:
    if processes.running(layout.run, proc.name):
        return
    progress(f"starting {proc.name} ...")
    record = processes.start(layout.run, proc.name, proc.argv, layout.log(proc.name), env=dict(os.environ),
                             cwd=layout.root, marker=proc.marker)
    _wait(proc.name, lambda: _check(proc.name, paths), START_TIMEOUT[proc.name], log=layout.log(proc.name),
          died=lambda: processes.exited(record))
    progress(f"{proc.name} is healthy (pid {record.pid})")


def _node_ready(api: Api) -> tuple[bool, str]:
    try:
        node = api.get_or_none(f"/api/v1/nodes/{NODE_NAME}")
    except ApiError as err:
        return False, err.message
    if node is None:
        return False, "not registered yet"
    for cond in node.get("status", {}).get("conditions", []):
        if cond.get("type") == "Ready":
            return cond.get("status") == "True", cond.get("message", "")
    return False, "no Ready condition yet"


def taint_fake_nodes(api: Api) -> None:
    """Keep workloads off the simulated nodes while a real node runs them."""
    for name in nodes.readiness(api):
        node = api.get_or_none(f"/api/v1/nodes/{name}")
        if node is None:
            continue
        taints = node.get("spec", {}).get("taints") or []
        if any(t.get("key") == FAKE_TAINT["key"] and t.get("effect") == FAKE_TAINT["effect"] for t in taints):
            continue
        api.request("PATCH", f"/api/v1/nodes/{name}", {"spec": {"taints": [*taints, FAKE_TAINT]}},
                    content_type="application/merge-patch+json")


# --------------------------------------------------------------------------- status


@dataclass
class NodeStatus:
    name: str
    ip: str
    ready: bool
    processes: dict[str, dict]
    pods: int
    images: int
    cpus: str  # advertised (capacity), "" when unknown
    host_cpus: int

    def to_dict(self) -> dict:
        return {"name": self.name, "ip": self.ip, "ready": self.ready, "processes": self.processes,
                "pods": self.pods, "images": self.images, "cpus": self.cpus, "host_cpus": self.host_cpus}


def status(layout: Layout, api: Api | None) -> NodeStatus | None:
    ip = recorded_ip(layout)
    if ip is None:
        return None
    paths = NodePaths.of(layout)
    procs: dict[str, dict] = {}
    for name in ORDER:
        record = processes.running(layout.run, name)
        if record is None:
            procs[name] = {"running": False, "healthy": False, "detail": "not running", "rss_bytes": 0}
            continue
        ok, detail = _check(name, paths)
        procs[name] = {"running": True, "healthy": ok, "detail": detail, "pid": record.pid,
                       "rss_bytes": processes.rss_bytes(record.pid)}
    ready, pods, images, cpus = False, 0, 0, ""
    if api is not None:
        ready = _node_ready(api)[0]
        try:
            node = api.get_or_none(f"/api/v1/nodes/{NODE_NAME}") or {}
            cpus = node.get("status", {}).get("capacity", {}).get("cpu", "")
            listing = api.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE_NAME}") or {}
            pods = len(listing.get("items", []))
        except ApiError:
            pass
    if procs["containerd"]["healthy"]:
        try:
            images = len([n for n in node_images.loaded(paths.socket) if "@sha256:" not in n and not n.startswith("sha256:")])
        except ClusterError:
            pass
    return NodeStatus(NODE_NAME, ip, ready, procs, pods, images, cpus, cpuview.host_cpus())


# --------------------------------------------------------------------------- stop


def stop(layout: Layout, progress: Progress = _quiet, api: Api | None = None) -> list[str]:
    """Stop the node: its pods first (so CNI releases their network), then its processes."""
    paths = NodePaths.of(layout)
    stopped: list[str] = []
    if api is not None and processes.running(layout.run, "kubelet") and processes.running(layout.run, "containerd"):
        _drain(api, paths, progress)
    for name in reversed(ORDER):
        if processes.stop(layout.run, name):
            stopped.append(name)
            progress(f"stopped {name}")
    return stopped


def _drain(api: Api, paths: NodePaths, progress: Progress) -> None:
    try:
        listing = api.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE_NAME}") or {}
    except ApiError:
        return
    pods = listing.get("items", [])
    if not pods:
        return
    progress(f"stopping {len(pods)} pod(s) on the real node ...")
    for pod in pods:
        meta = pod["metadata"]
        try:
            api.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        except ApiError:
            pass
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _running_tasks(paths):
        time.sleep(1)


def _running_tasks(paths: NodePaths) -> list[str]:
    proc = subprocess.run(["ctr", "--address", str(paths.socket), "-n", "k8s.io", "tasks", "ls", "-q"],
                          capture_output=True, text=True)
    return proc.stdout.split() if proc.returncode == 0 else []


def cleanup_host(layout: Layout, bins: dict[str, Path] | None, progress: Progress = _quiet) -> None:
    """Undo what the node did to this host: leftover container processes, mounts, iptables rules, bridge."""
    paths = NodePaths.of(layout)
    _kill_shims(paths)
    _unmount_under(paths.root)
    proxy = (bins or {}).get("kube-proxy")
    if proxy is not None and proxy.is_file():
        subprocess.run([str(proxy), "--cleanup"], capture_output=True)
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
    for table in ("nat", "filter"):
        # the bridge plugin's ipMasq chains (CNI-xxxx) name our network in their comments
        rules = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
        if f'name: "{CNI_NETWORK}"' in rules:
            _drop_cni_rules(table, rules)
    progress("cleaned up the real node's mounts, iptables rules and bridge")


def _kill_shims(paths: NodePaths) -> None:
    marker = str(paths.containerd_state).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and marker in cmdline:
            try:
                os.kill(int(entry.name), 9)
            except ProcessLookupError:
                pass


def _unmount_under(root: Path) -> None:
    prefix = str(root.resolve()) + "/"
    try:
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def _drop_cni_rules(table: str, saved: str) -> None:
    chains = {line.split()[0][1:] for line in saved.splitlines() if line.startswith(":CNI-")}
    for line in saved.splitlines():
        if line.startswith("-A ") and " -j CNI-" in line and line.split()[1] in ("POSTROUTING", "FORWARD"):
            subprocess.run(["iptables", "-t", table, "-D", *shlex.split(line)[1:]], capture_output=True)
    for chain in chains:
        subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True)


def wipe(layout: Layout) -> None:
    paths = NodePaths.of(layout)
    _unmount_under(paths.root)
    shutil.rmtree(paths.root, ignore_errors=True)
