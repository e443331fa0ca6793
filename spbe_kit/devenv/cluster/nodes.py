"""Fake nodes: real Node objects on the API server, kept alive and Ready by kwok.

kwok only manages nodes carrying the annotation ``kwok.x-k8s.io/node=fake`` (see the
flags in components.kwok); it fills in the node's conditions and heartbeats, and moves
pods bound to those nodes to Running/Ready with its default (embedded) stages.

The nodes are not tainted: every node of this cluster is fake, so workloads need no
tolerations to be scheduled.
"""

from __future__ import annotations

import os

from spbe_kit.devenv.cluster.api import Api
from spbe_kit.devenv.cluster.components import KWOK_NODE_ANNOTATION, KWOK_NODE_VALUE
from spbe_kit.errors import ClusterError

NODE_PREFIX = "spbe-local-node"
# fake nodes: room for the whole fleet of 552 medium tenants on three of them
CAPACITY = {"cpu": "1000", "memory": "4Ti", "pods": "5000", "ephemeral-storage": "64Ti"}


def node_count() -> int:
    raw = os.environ.get("SPBE_CLUSTER_NODES", "3")
    try:
        count = int(raw)
    except ValueError:
        raise ClusterError(f"SPBE_CLUSTER_NODES={raw!r} is not a number") from None
    if not 1 <= count <= 100:
        raise ClusterError(f"SPBE_CLUSTER_NODES={raw!r} must be between 1 and 100")
    return count


def node_names(count: int) -> list[str]:
    return [f"{NODE_PREFIX}-{i}" for i in range(1, count + 1)]


def manifest(name: str, zone: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/region": "local",
                "topology.kubernetes.io/zone": zone,
            },
        },
        "spec": {},
        "status": {
            "allocatable": dict(CAPACITY),
            "capacity": dict(CAPACITY),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                "osImage": "kwok",
                "containerRuntimeVersion": "kwok",
                "kernelVersion": "kwok",
            },
        },
    }


def ensure_nodes(api: Api, count: int) -> list[str]:
    """Create the fake nodes that do not exist yet; return all their names."""
    names = node_names(count)
    for i, name in enumerate(names):
        api.create("/api/v1/nodes", manifest(name, zone=f"local-{chr(ord('a') + i % 3)}"))
    return names


def readiness(api: Api) -> dict[str, bool]:
    """Ready condition of each fake node (by name)."""
    listing = api.get("/api/v1/nodes") or {}
    result: dict[str, bool] = {}
    for node in listing.get("items", []):
        name = node["metadata"]["name"]
        if not name.startswith(NODE_PREFIX):
            continue
        conditions = node.get("status", {}).get("conditions", [])
        result[name] = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return result
