"""The embedded local Kubernetes cluster: a real control plane built from Go modules.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as local processes on
127.0.0.1; kwok keeps a few fake nodes Ready and runs their pods; a small provisioner
binds PersistentVolumeClaims. No Docker, no VM.

    from spbe_kit.devenv.cluster import ensure_running
    info = ensure_running()          # builds missing binaries, starts what is not running
    info.kubeconfig, info.server
"""

from spbe_kit.devenv.cluster.binaries import KUBERNETES_VERSION, build_missing
from spbe_kit.devenv.cluster.control_plane import ClusterInfo, ClusterStatus, down, ensure_running, status, up
from spbe_kit.devenv.cluster.kubeconfig import kubeconfig_path

__all__ = [
    "KUBERNETES_VERSION",
    "ClusterInfo",
    "ClusterStatus",
    "build_missing",
    "down",
    "ensure_running",
    "kubeconfig_path",
    "status",
    "up",
]
