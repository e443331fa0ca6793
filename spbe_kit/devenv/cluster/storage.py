"""Storage for the local cluster: a default StorageClass and a tiny hostPath provisioner.

There is no CSI driver here, so PersistentVolumeClaims would stay Pending forever. The
default StorageClass names our own provisioner and binds immediately; `reconcile` (run in
a loop by the background process in provisioner.py) does what an external provisioner
does on a real cluster:

* for each Pending claim of our class, create a PersistentVolume pre-bound to it (hostPath
  directory under the state dir); kube-controller-manager's PV binder then binds the pair,
  so the claim truly becomes Bound on the API server;
* for each Bound claim of our class that asks for more than it has (a resize: the class
  allows volume expansion), grow its volume's capacity and then record the new capacity in
  the claim's status, as an external resizer does (a hostPath directory has no size limit
  to grow, so nothing else changes on disk);
* for each of our volumes that became Released (its claim was deleted) with reclaim policy
  Delete, delete the volume and its directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from spbe_kit.devenv.cluster.api import Api, ApiError

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
        "allowVolumeExpansion": True,
    }


def ensure_storage_class(api: Api) -> None:
    """Create the class, or bring an older cluster's class up to date (only allowVolumeExpansion may change)."""
    wanted = storage_class()
    if api.create("/apis/storage.k8s.io/v1/storageclasses", wanted):
        return
    path = f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}"
    if api.get(path).get("allowVolumeExpansion") != wanted["allowVolumeExpansion"]:
        api.request("PATCH", path, {"allowVolumeExpansion": wanted["allowVolumeExpansion"]},
                    content_type="application/merge-patch+json")


def _bytes(quantity: str) -> int:
    from spbe_kit.catalog.quantity import parse_quantity

    return int(parse_quantity(quantity))


def _resize(api: Api, claim: dict) -> bool:
    """Grow the claim's volume to what the claim asks for; True when it did."""
    meta, spec, status = claim["metadata"], claim.get("spec", {}), claim.get("status", {})
    wanted = spec.get("resources", {}).get("requests", {}).get("storage")
    has = status.get("capacity", {}).get("storage")
    if status.get("phase") != "Bound" or not wanted or not has or not spec.get("volumeName"):
        return False
    if _bytes(wanted) <= _bytes(has):
        return False
    api.request("PATCH", f"/api/v1/persistentvolumes/{spec['volumeName']}",
                {"spec": {"capacity": {"storage": wanted}}}, content_type="application/merge-patch+json")
    api.request("PATCH", f"/api/v1/namespaces/{meta['namespace']}/persistentvolumeclaims/{meta['name']}/status",
                {"status": {"capacity": {"storage": wanted}, "allocatedResources": {"storage": wanted},
                            "allocatedResourceStatuses": None, "conditions": None}},
                content_type="application/merge-patch+json")
    return True


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
        if spec.get("storageClassName") == STORAGE_CLASS and not meta.get("deletionTimestamp"):
            try:
                _resize(api, claim)
            except ApiError:
                continue  # retried on the next pass
        if claim.get("status", {}).get("phase") != "Pending" or meta.get("deletionTimestamp"):
            continue
        if spec.get("storageClassName") != STORAGE_CLASS or spec.get("volumeName"):
            continue
        pv = volume_for(claim, volumes)
        directory = volumes / pv["metadata"]["name"]
        directory.mkdir(parents=True, exist_ok=True)
        # kubelet applies no fsGroup to hostPath volumes: the pods run as non-root users, so the
        # directory is world-writable as local-path-provisioner makes it (the sticky bit keeps
        # one user from removing another's files)
        directory.chmod(0o1777)
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
