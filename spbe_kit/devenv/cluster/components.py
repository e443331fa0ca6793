"""How each process of the local cluster is launched and how its health is checked.

Pure data: command lines and health URLs derived from a Layout and the binaries' paths.
Starting, waiting and stopping is control_plane.py's job.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.devenv.cluster import certs
from spbe_kit.devenv.cluster.kubeconfig import component_kubeconfig
from spbe_kit.devenv.cluster.layout import HOST, POD_CIDR, SERVICE_CIDR, Layout

#: Annotation kwok selects the nodes it manages by (see nodes.py).
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"

ADMISSION_PLUGINS = (
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "DefaultIngressClass",
    "PodSecurity",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
)

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

PROVISIONER_MODULE = "spbe_kit.devenv.cluster.provisioner"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # who changed what, when -- never request or response bodies (they may hold secrets)
  - level: None
    verbs: ["get", "list", "watch"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]
  - level: None
    resources: [{group: "coordination.k8s.io", resources: ["leases"]}]
  - level: None
    resources: [{group: "", resources: ["events", "nodes/status", "pods/status"]}]
  - level: Metadata
"""


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    health_url: str | None  # None: alive-process check only
    marker: str  # must appear in the process' command line (see processes.Record)
    env: dict[str, str] | None = None


def etcd(layout: Layout, binary: Path) -> Component:
    return Component(
        name="etcd",
        argv=[
            str(binary),
            "--name=spbe-local",
            f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls={layout.etcd_url}",
            f"--advertise-client-urls={layout.etcd_url}",
            f"--listen-peer-urls={layout.etcd_peer_url}",
            f"--initial-advertise-peer-urls={layout.etcd_peer_url}",
            f"--initial-cluster=spbe-local={layout.etcd_peer_url}",
            "--initial-cluster-state=new",
            "--listen-metrics-urls=",
            "--quota-backend-bytes=2147483648",
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=10m",
            # a local, throw-away cluster: no fsync makes etcd (and so every API write) much faster
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        health_url=f"{layout.etcd_url}/health",
        marker=str(binary),
    )


def kube_apiserver(layout: Layout, binary: Path, node_ip: str | None = None) -> Component:
    """The API server; with a real node (``node_ip``) it also listens on and advertises the node's
    address, so pods reach it through the `kubernetes` Service."""
    pki = layout.pki
    serving = certs.serving(pki)
    kubelet_client = certs.client(pki, "apiserver-kubelet-client")
    return Component(
        name="kube-apiserver",
        argv=[
            str(binary),
            f"--advertise-address={node_ip or HOST}",
            f"--bind-address={'0.0.0.0' if node_ip else HOST}",
            f"--kubelet-client-certificate={kubelet_client.cert}",
            f"--kubelet-client-key={kubelet_client.key}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--secure-port={layout.ports['apiserver']}",
            f"--etcd-servers={layout.etcd_url}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--client-ca-file={certs.ca(pki).cert}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            "--authorization-mode=Node,RBAC",
            "--anonymous-auth=true",  # only /healthz, /readyz, /livez, /version are bound to anonymous
            "--allow-privileged=true",  # Pod Security admission decides per namespace
            f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={certs.sa_public_key(pki)}",
            f"--service-account-signing-key-file={certs.sa_private_key(pki)}",
            f"--audit-policy-file={layout.root / 'audit-policy.yaml'}",
            f"--audit-log-path={layout.logs / 'audit.log'}",
            "--audit-log-maxsize=50",
            "--audit-log-maxbackup=2",
            "--event-ttl=1h",
            "--profiling=false",
        ],
        health_url=f"{layout.server}/readyz",
        marker=str(binary),
    )


def _secure_common(layout: Layout, name: str, port: int) -> list[str]:
    kubeconfig = component_kubeconfig(layout, name)
    serving = certs.serving(layout.pki)
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={port}",
        f"--tls-cert-file={serving.cert}",
        f"--tls-private-key-file={serving.key}",
        f"--client-ca-file={certs.ca(layout.pki).cert}",
        "--leader-elect=false",  # a single instance; no lease to wait for after a restart
        "--profiling=false",
    ]


def kube_controller_manager(layout: Layout, binary: Path) -> Component:
    pki = layout.pki
    port = layout.ports["controller_manager"]
    return Component(
        name="kube-controller-manager",
        argv=[
            str(binary),
            *_secure_common(layout, "kube-controller-manager", port),
            "--controllers=*,bootstrapsigner,tokencleaner",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={certs.sa_private_key(pki)}",
            f"--root-ca-file={certs.ca(pki).cert}",
            f"--cluster-signing-cert-file={certs.ca(pki).cert}",
            f"--cluster-signing-key-file={certs.ca(pki).key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allocate-node-cidrs=false",
            "--cluster-name=spbe-local",
        ],
        health_url=f"https://{HOST}:{port}/healthz",
        marker=str(binary),
    )


def kube_scheduler(layout: Layout, binary: Path) -> Component:
    port = layout.ports["scheduler"]
    return Component(
        name="kube-scheduler",
        argv=[str(binary), *_secure_common(layout, "kube-scheduler", port)],
        health_url=f"https://{HOST}:{port}/healthz",
        marker=str(binary),
    )


def kwok(layout: Layout, binary: Path) -> Component:
    port = layout.ports["kwok"]
    env = dict(os.environ)
    env["HOME"] = str(layout.kwok_home)  # ignore any ~/.kwok/kwok.yaml of the user
    return Component(
        name="kwok",
        argv=[
            str(binary),
            f"--kubeconfig={component_kubeconfig(layout, 'kwok')}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_VALUE}",
            "--node-lease-duration-seconds=40",
            f"--cidr={POD_CIDR}",
            f"--node-ip={HOST}",
            f"--server-address={HOST}:{port}",
        ],
        health_url=f"http://{HOST}:{port}/healthz",
        marker=str(binary),
        env=env,
    )


def provisioner(layout: Layout) -> Component:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])  # so `-m` works from a source checkout too
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return Component(
        name="provisioner",
        argv=[sys.executable, "-m", PROVISIONER_MODULE, "--state", str(layout.root)],
        health_url=None,
        marker=PROVISIONER_MODULE,
        env=env,
    )
