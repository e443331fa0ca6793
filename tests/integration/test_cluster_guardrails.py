"""The baseline's guardrails enforced by a real kube-apiserver (local cluster, kwok nodes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from spbe_kit.catalog import load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.request import load_request, parse_request

from .conftest import apply_state, tenant_state, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_rendered_manifests_pass_a_server_side_dry_run(example, dyn, tenant_namespaces):
    # under a tenant id of its own: a real tenant of the example may live on this cluster (README's main job)
    spec = load_request(example)
    text = spec.request_text.replace(f"name: {spec.tenant_id}", f"name: dryrun-{spec.tenant_id}", 1)
    state = tenant_namespaces(desired_state(parse_request(text), load_catalog()))
    # the namespace must exist for namespaced objects to be dry-run; everything else is not persisted
    apply_state(dyn, state, skip=tuple(m.kind for m in state.manifests if m.kind != "Namespace"))
    apply_state(dyn, state, dry_run=True)
    core = client.CoreV1Api(dyn.client)
    assert core.list_namespaced_config_map(state.tenant_id).items == [] or all(
        cm.metadata.name == "kube-root-ca.crt" for cm in core.list_namespaced_config_map(state.tenant_id).items
    ), "a dry run persisted nothing"


@pytest.fixture(scope="module")
def fence(dyn):
    """One tenant whose fence (namespace, quota, limits, RBAC) is applied for real."""
    from .conftest import delete_namespace

    state = tenant_state("35.10", "guard-kab-banyuwangi")
    fence_kinds = {"Namespace", "ResourceQuota", "LimitRange", "Role", "RoleBinding", "ServiceAccount", "NetworkPolicy"}
    apply_state(dyn, state, skip=tuple({m.kind for m in state.manifests} - fence_kinds))
    yield state
    delete_namespace(dyn.client, state.tenant_id)


def _message(exc: ApiException) -> str:
    return json.loads(exc.body)["message"]


def _pod(name: str, containers: list[dict], privileged: bool = False) -> dict:
    security = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"}}
    if privileged:
        security = {"privileged": True}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": f"c{i}", "image": "registry.local/x@sha256:" + "0" * 64,
                                     "securityContext": security, **c} for i, c in enumerate(containers)]}}


def test_a_privileged_pod_is_rejected_by_pod_security(fence, api_client):
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(fence.tenant_id, _pod("privileged", [{}], privileged=True))
    assert info.value.status == 403
    assert 'violates PodSecurity "restricted' in _message(info.value)


def test_a_pod_over_the_quota_is_rejected(fence, api_client):
    core = client.CoreV1Api(api_client)
    quota = fence.get("ResourceQuota", "spbe-quota").body["spec"]["hard"]["requests.cpu"]  # "12" on medium
    big = {"resources": {"requests": {"cpu": "7", "memory": "1Gi"}, "limits": {"cpu": "8", "memory": "2Gi"}}}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(fence.tenant_id, _pod("too-big", [big, big]))
    assert info.value.status == 403 and "exceeded quota" in _message(info.value)
    assert f"limited: requests.cpu={quota}" in _message(info.value)


def test_a_container_over_the_limit_range_is_rejected(fence, api_client):
    core = client.CoreV1Api(api_client)
    huge = {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "64", "memory": "2Gi"}}}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(fence.tenant_id, _pod("huge", [huge]))
    assert info.value.status == 403 and "maximum cpu usage per Container" in _message(info.value)


def _can(api_client, user: str, group: str, verb: str, resource: str, namespace: str, group_api: str = "") -> bool:
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, groups=[group, "system:authenticated"],
        resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, namespace=namespace, group=group_api),
    ))
    return client.AuthorizationV1Api(api_client).create_subject_access_review(review).status.allowed


def test_the_tenant_admin_manages_its_namespace_and_nothing_else(fence, api_client):
    ns, group = fence.tenant_id, f"spbe:{fence.tenant_id}:admins"
    assert _can(api_client, "ani", group, "create", "deployments", ns, "apps")
    assert _can(api_client, "ani", group, "delete", "secrets", ns)
    assert not _can(api_client, "ani", group, "patch", "resourcequotas", ns)
    assert not _can(api_client, "ani", group, "delete", "networkpolicies", ns, "networking.k8s.io")
    assert not _can(api_client, "ani", group, "create", "rolebindings", ns, "rbac.authorization.k8s.io")
    assert not _can(api_client, "ani", group, "create", "deployments", "default", "apps")
    assert not _can(api_client, "ani", group, "list", "namespaces", "")


def test_the_auditor_reads_everything_but_secrets_and_writes_nothing(fence, api_client):
    ns = fence.tenant_id
    assert _can(api_client, "budi", "spbe:auditors", "list", "pods", ns)
    assert _can(api_client, "budi", "spbe:auditors", "get", "networkpolicies", ns, "networking.k8s.io")
    assert _can(api_client, "budi", "spbe:auditors", "list", "rolebindings", ns, "rbac.authorization.k8s.io")
    assert not _can(api_client, "budi", "spbe:auditors", "get", "secrets", ns)
    assert not _can(api_client, "budi", "spbe:auditors", "list", "secrets", ns)
    assert not _can(api_client, "budi", "spbe:auditors", "delete", "pods", ns)


def test_tenant_b_admin_cannot_touch_tenant_a(fence, dyn, api_client, tenant_namespaces):
    other = tenant_namespaces(tenant_state("32.73", "guard-kota-bandung"))
    apply_state(dyn, other, skip=tuple({m.kind for m in other.manifests} - {"Namespace", "Role", "RoleBinding"}))
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(fence.tenant_id, {"metadata": {"name": "a-private"}, "data": {"x": "1"}})
    impersonating = client.ApiClient(api_client.configuration)
    impersonating.set_default_header("Impersonate-User", "bob")
    impersonating.set_default_header("Impersonate-Group", f"spbe:{other.tenant_id}:admins")
    as_b = client.CoreV1Api(impersonating)
    as_b.create_namespaced_config_map(other.tenant_id, {"metadata": {"name": "b-own"}})  # its own: fine
    for attempt in (lambda: as_b.read_namespaced_config_map("a-private", fence.tenant_id),
                    lambda: as_b.delete_namespaced_config_map("a-private", fence.tenant_id),
                    lambda: as_b.list_namespaced_secret(fence.tenant_id)):
        with pytest.raises(ApiException) as info:
            attempt()
        assert info.value.status == 403
    assert core.read_namespaced_config_map("a-private", fence.tenant_id).data == {"x": "1"}


def test_applied_tenant_becomes_ready_with_bound_volumes(dyn, api_client, tenant_namespaces):
    state = tenant_namespaces(tenant_state("35.10", "ready-kab-banyuwangi"))
    apply_state(dyn, state)
    apps = client.AppsV1Api(api_client)
    core = client.CoreV1Api(api_client)
    ns = state.tenant_id

    def workloads_ready() -> tuple[bool, str]:
        pending = []
        for m in state.of_kind("Deployment"):
            d = apps.read_namespaced_deployment(m.name, ns)
            if (d.status.ready_replicas or 0) < d.spec.replicas:
                pending.append(f"Deployment/{m.name} {d.status.ready_replicas or 0}/{d.spec.replicas}")
        for m in state.of_kind("StatefulSet"):
            s = apps.read_namespaced_stateful_set(m.name, ns)
            if (s.status.ready_replicas or 0) < s.spec.replicas:
                pending.append(f"StatefulSet/{m.name} {s.status.ready_replicas or 0}/{s.spec.replicas}")
        return not pending, ", ".join(pending)

    def claims_bound() -> tuple[bool, str]:
        phases = {c.metadata.name: c.status.phase for c in core.list_namespaced_persistent_volume_claim(ns).items}
        return len(phases) == len(state.of_kind("PersistentVolumeClaim")) and set(phases.values()) == {"Bound"}, str(phases)

    wait_for("PVCs Bound", claims_bound)
    wait_for("workloads Ready", workloads_ready)
    pods = core.list_namespaced_pod(ns).items
    assert pods and all(p.spec.node_name for p in pods), "every pod was scheduled onto a node"

    def ingress_published() -> tuple[bool, str]:
        ing = client.NetworkingV1Api(api_client).read_namespaced_ingress("web", ns)
        lb = ing.status.load_balancer.ingress or []
        return [i.ip for i in lb] == ["127.0.0.1"], str(lb)

    wait_for("the ingress address (local stand-in for the platform's ingress controller)", ingress_published, 30)


def test_the_api_server_reports_the_pinned_kubernetes_version(api_client):
    from spbe_kit.devenv.cluster.binaries import KUBERNETES_VERSION

    info = client.VersionApi(api_client).get_code()
    assert info.git_version == KUBERNETES_VERSION and info.git_tree_state == "clean"
    assert (info.major, info.minor) == tuple(KUBERNETES_VERSION.lstrip("v").split(".")[:2])
