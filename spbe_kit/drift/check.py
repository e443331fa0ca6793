"""Check tenants against their desired state: missing, changed, stray objects and credentials.

The desired state is recomputed from each tenant's request and the catalog version recorded
on its namespace, so the check needs neither Pulumi state nor write access. Secrets are
checked by presence of their keys and by a keyed hash (HMAC-SHA256 with the auditor's key):
comparing the hashes with a previous report shows a credential changed without anyone ever
seeing a value.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spbe_kit.catalog import available_versions, load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.desired.context import LABEL_CATALOG
from spbe_kit.desired.model import DesiredState, Manifest
from spbe_kit.drift import rules
from spbe_kit.drift.compare import differences
from spbe_kit.drift.live import Snapshot
from spbe_kit.drift.model import Finding, FindingKind, ObjectRef, Phrase, TenantResult
from spbe_kit.request.spec import TenantSpec
from spbe_kit.suspension import Suspension, suspension_of

GUARDRAIL_KINDS = {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "Role", "RoleBinding"}


@dataclass
class DriftReport:
    """The whole check: when, against which cluster, what was found, under which rules."""

    generated_at: str
    cluster: str
    tenants: list[TenantResult]
    rules: list[dict[str, str]]
    api_requests: int
    seconds: float
    hash_key_id: str  # which key the secret hashes were made with (a fingerprint, not the key)
    extra_namespaces: list[str] = field(default_factory=list)  # tenant namespaces with no request

    @property
    def clean(self) -> bool:
        # a tenant the platform suspended (and recorded so) deviates only as the record says
        return all(t.status in ("clean", "suspended") for t in self.tenants) and not self.extra_namespaces

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "spbe.go.id/v1alpha1",
            "kind": "DriftReport",
            "generatedAt": self.generated_at,
            "cluster": self.cluster,
            "clean": self.clean,
            "summary": {
                "tenants": len(self.tenants),
                "clean": sum(t.status == "clean" for t in self.tenants),
                "drifted": sum(t.status == "drift" for t in self.tenants),
                "unverified": sum(t.status == "unverified" for t in self.tenants),
                "errors": sum(t.status == "error" for t in self.tenants),
                "notProvisioned": sum(t.status == "not-provisioned" for t in self.tenants),
                "suspended": sum(t.status == "suspended" for t in self.tenants),
                "findings": sum(len(t.findings) for t in self.tenants),
                "apiRequests": self.api_requests,
                "seconds": round(self.seconds, 2),
            },
            "secretHashKey": self.hash_key_id,
            "unknownTenantNamespaces": self.extra_namespaces,
            "tenants": [
                {"tenant": t.tenant, "status": t.status, "catalogVersion": t.catalog_version,
                 "objectsChecked": t.objects_checked, "error": t.error, "suspended": t.suspended,
                 "findings": [f.to_dict() for f in t.findings], "secretHashes": t.secret_hashes}
                for t in self.tenants
            ],
            "rules": self.rules,
        }


def key_id(key: bytes) -> str:
    """A fingerprint of the hash key, so reports made with the same key can be compared."""
    return "sha256:" + hashlib.sha256(b"spbe-drift-key:" + key).hexdigest()[:16]


def keyed_hash(key: bytes, value: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, value, hashlib.sha256).hexdigest()


def _ref(manifest: Manifest) -> ObjectRef:
    return ObjectRef(manifest.api_version, manifest.kind, manifest.namespace or "", manifest.name)


def _catalog_for(spec: TenantSpec, snapshot: Snapshot, registry: str | None) -> tuple[Any, str | None]:
    """The catalog version recorded on the tenant's namespace (the newest if none is recorded)."""
    ns = snapshot.namespaces.get(spec.tenant_id)
    recorded = ((ns or {}).get("metadata", {}).get("labels") or {}).get(LABEL_CATALOG)
    version = recorded if recorded in available_versions() else None
    return load_catalog(version, registry), recorded


def check_tenant(spec: TenantSpec, snapshot: Snapshot, hash_key: bytes, previous: dict[str, dict[str, str]] | None,
                 registry: str | None = None, catalog: Any = None) -> TenantResult:
    """Every finding for one tenant (pure over the snapshot), against the catalog recorded on its namespace
    or, given ``catalog``, against that one (what a move onto it would change)."""
    if catalog is None:
        catalog, recorded = _catalog_for(spec, snapshot, registry)
    else:
        recorded = catalog.version
    state: DesiredState = desired_state(spec, catalog)
    result = TenantResult(spec.tenant_id, recorded or catalog.version)
    if spec.tenant_id not in snapshot.namespaces and "Namespace" not in snapshot.forbidden:
        ns = state.get("Namespace", spec.tenant_id)
        result.findings.append(Finding(FindingKind.MISSING, _ref(ns), ns.component, guardrail=True))
        result.objects_checked = 1
        result.not_provisioned = True
        return result
    for manifest in state.manifests:
        result.objects_checked += 1
        guardrail = manifest.kind in GUARDRAIL_KINDS
        if not snapshot.readable(manifest.kind, manifest.namespace or ""):
            result.findings.append(Finding(FindingKind.UNVERIFIED, _ref(manifest), manifest.component,
                                           actual=Phrase("value.not-permitted"), guardrail=guardrail))
            continue
        live = snapshot.get(manifest.kind, manifest.namespace or "", manifest.name)
        if live is None:
            result.findings.append(Finding(FindingKind.MISSING, _ref(manifest), manifest.component, guardrail=guardrail))
            continue
        for path, expected, actual in differences(manifest.kind, manifest.body, live):
            result.findings.append(Finding(FindingKind.CHANGED, _ref(manifest), manifest.component, path, expected, actual,
                                           guardrail))
        if manifest.generated_keys:
            result.findings += _check_secret(manifest, live, hash_key, previous, result)
    result.findings += _strays(state, snapshot)
    suspension = suspension_of(snapshot.namespaces.get(spec.tenant_id))
    if suspension is not None:
        result.suspended = {"at": suspension.at, "by": suspension.by, "backup": suspension.backup}
        result.findings = [f for f in result.findings if not _stopped_by(suspension, f)]
    return result


def _stopped_by(suspension: Suspension, finding: Finding) -> bool:
    """A difference the platform's suspension made and recorded: a recorded workload at 0 replicas, a recorded
    CronJob paused. Anything else (another workload, other fields, a job paused that was not) stays drift."""
    if finding.kind is not FindingKind.CHANGED or not suspension.stopped(finding.object.kind, finding.object.name):
        return False
    if finding.object.kind in ("Deployment", "StatefulSet"):
        return finding.path == "spec.replicas" and finding.actual == 0
    return finding.object.kind == "CronJob" and finding.path == "spec.suspend" and finding.actual is True


def _check_secret(manifest: Manifest, live: dict[str, Any], key: bytes, previous: dict[str, dict[str, str]] | None,
                  result: TenantResult) -> list[Finding]:
    findings = []
    data = live.get("data") or {}
    hashes: dict[str, str] = {}
    for name in manifest.generated_keys:
        value = data.get(name)
        if not value:
            findings.append(Finding(FindingKind.CHANGED, _ref(manifest), manifest.component, f"data.{name}",
                                    Phrase("value.generated"), Phrase("value.absent-or-empty")))
            continue
        hashes[name] = keyed_hash(key, base64.b64decode(value))
        before = (previous or {}).get(manifest.name, {}).get(name)
        if before is not None and before != hashes[name]:
            findings.append(Finding(FindingKind.SECRET_CHANGED, _ref(manifest), manifest.component, f"data.{name}",
                                    before, hashes[name]))
    extra = sorted(set(data) - set(manifest.generated_keys))
    if extra:
        findings.append(Finding(FindingKind.CHANGED, _ref(manifest), manifest.component, "data",
                                sorted(manifest.generated_keys), Phrase("value.extra-keys", (("keys", ", ".join(extra)),))))
    result.secret_hashes[manifest.name] = hashes
    return findings


def _strays(state: DesiredState, snapshot: Snapshot) -> list[Finding]:
    """Objects in the tenant namespace that the baseline does not define and no baseline object made."""
    objects = snapshot.in_namespace(state.tenant_id)
    wanted = {(m.kind, m.name) for m in state.manifests}
    by_uid = {obj["metadata"].get("uid"): (kind, obj) for kind, obj in objects}

    def made_by_controller(kind: str, obj: dict[str, Any]) -> bool:
        """A ReplicaSet, Job or Pod whose controller (by UID) exists here: that object's work.

        If the controller is a baseline object the child is fine; if it is itself a stray, the
        stray is reported once, at its root. A dangling or forged owner does not count.
        """
        if kind not in rules.CONTROLLER_MADE_KINDS:
            return False
        owner = next((o for o in obj["metadata"].get("ownerReferences") or [] if o.get("controller")), None)
        return owner is not None and owner.get("uid") in by_uid

    findings = []
    for kind, obj in sorted(objects, key=lambda x: (x[0], x[1]["metadata"]["name"])):
        meta = obj["metadata"]
        if (kind, meta["name"]) in wanted or made_by_controller(kind, obj) or rules.exempt(kind, meta["name"]):
            continue
        findings.append(Finding(FindingKind.STRAY, ObjectRef(obj.get("apiVersion") or "", kind, state.tenant_id, meta["name"]),
                                (meta.get("labels") or {}).get("spbe.go.id/component", "unknown"),
                                actual=Phrase("value.not-in-baseline"), guardrail=kind in GUARDRAIL_KINDS))
    return findings


def run_check(specs: list[TenantSpec], snapshot: Snapshot, hash_key: bytes, cluster: str,
              previous: dict[str, dict[str, dict[str, str]]] | None = None, all_tenants: bool = False,
              registry: str | None = None, progress: Callable[[int, int], None] | None = None,
              started: float | None = None) -> DriftReport:
    """Check every tenant against the snapshot; in fleet mode also list tenant namespaces with no request."""
    results = []
    for index, spec in enumerate(specs, 1):
        results.append(check_tenant(spec, snapshot, hash_key, (previous or {}).get(spec.tenant_id), registry))
        if progress:
            progress(index, len(specs))
    extra = sorted(set(snapshot.namespaces) - {s.tenant_id for s in specs}) if all_tenants else []
    return DriftReport(
        generated_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        cluster=cluster,
        tenants=results,
        rules=rules.listed(),
        api_requests=snapshot.requests,
        seconds=time.monotonic() - (started or time.monotonic()),
        hash_key_id=key_id(hash_key),
        extra_namespaces=extra,
    )
