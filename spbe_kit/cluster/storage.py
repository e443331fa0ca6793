"""Storage for the local cluster: a default StorageClass and a tiny hostPath provisioner.

There is no CSI driver here, so PersistentVolumeClaims would stay Pending forever. The
default StorageClass names our own provisioner and binds immediately; `reconcile` (run in
a loop by the background process in provisioner.py) does what an external provisioner
does on a real cluster:

* for each Pending claim of our class, create a PersistentVolume pre-bound to it (hostPath
  directory under the state dir); kube-controller-manager's PV binder then binds the pair,
  so the claim truly becomes Bound on the API server;
* for each of our volumes that became Released (its claim was deleted) with reclaim policy
  Delete, delete the volume and its directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from spbe_kit.cluster.api import Api, ApiError

STORAGE_CLASS = "spbe-local"
PROVISIONER = "spbe.go.id/local-hostpath"
_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def storage_class() -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": False,
    }


def ensure_storage_class(api: Api) -> None:
    api.create("/apis/storage.k8s.io/v1/storageclasses", storage_class())


def volume_for(claim: dict, volumes: Path) -> dict:
    meta = claim["metadata"]
    spec = claim.get("spec", {})
    size = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
    name = f"pvc-{meta['uid']}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {_PROVISIONED_BY: PROVISIONER},
            "labels": {"spbe.go.id/claim-namespace": meta["namespace"]},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "hostPath": {"path": str(volumes / name), "type": "DirectoryOrCreate"},
        },
    }


def reconcile(api: Api, volumes: Path) -> tuple[int, int]:
    """One pass: provision Pending claims, delete Released volumes. Returns (created, deleted)."""
    created = deleted = 0
    claims = api.get("/api/v1/persistentvolumeclaims").get("items", [])
    for claim in claims:
        meta, spec = claim["metadata"], claim.get("spec", {})
        if claim.get("status", {}).get("phase") != "Pending" or meta.get("deletionTimestamp"):
            continue
        if spec.get("storageClassName") != STORAGE_CLASS or spec.get("volumeName"):
            continue
        pv = volume_for(claim, volumes)
        (volumes / pv["metadata"]["name"]).mkdir(parents=True, exist_ok=True)
        if api.create("/api/v1/persistentvolumes", pv):
            created += 1

    for pv in api.get("/api/v1/persistentvolumes").get("items", []):
        meta = pv["metadata"]
        if meta.get("annotations", {}).get(_PROVISIONED_BY) != PROVISIONER:
            continue
        if pv.get("status", {}).get("phase") not in ("Released", "Failed"):
            continue
        if pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete":
            continue
        try:
            if api.delete(f"/api/v1/persistentvolumes/{meta['name']}"):
                deleted += 1
        except ApiError:
            continue
        shutil.rmtree(volumes / meta["name"], ignore_errors=True)
    return created, deleted
