"""Owned-field comparison: what is drift and, as important, what is not."""

from __future__ import annotations

import copy

from spbe_kit.drift.compare import differences


def _paths(kind, desired, live):
    return [d[0] for d in differences(kind, desired, live)]


def test_identical_objects_have_no_differences(banyuwangi):
    for m in banyuwangi.manifests:
        assert differences(m.kind, m.body, copy.deepcopy(m.body)) == [], m.key


def test_server_added_fields_defaults_and_status_are_not_drift():
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    live = copy.deepcopy(desired)
    live["status"] = {"readyReplicas": 2}
    live["metadata"] = {"uid": "u", "resourceVersion": "9", "managedFields": [{}]}
    live["spec"]["progressDeadlineSeconds"] = 600
    live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    assert differences("Deployment", desired, live) == []


def test_only_fields_the_server_omits_may_be_absent_when_zero():
    desired = {"spec": {"publishNotReadyAddresses": False, "selector": {}, "ports": []}}
    assert differences("Service", desired, {"spec": {}}) == []
    pod = {"spec": {"template": {"spec": {"automountServiceAccountToken": False, "enableServiceLinks": False,
                                          "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False}}]}}}}
    stripped = {"spec": {"template": {"spec": {"containers": [{"name": "c", "securityContext": {}}]}}}}
    assert sorted(_paths("Deployment", pod, stripped)) == [
        "spec.template.spec.automountServiceAccountToken",
        "spec.template.spec.containers[name=c].securityContext.allowPrivilegeEscalation",
        "spec.template.spec.enableServiceLinks",
    ]


def test_a_changed_image_replica_count_and_removed_guardrail_field_are_named():
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "keycloak", "image": "a@sha256:1", "securityContext": {"runAsNonRoot": True}}]}}}}
    live = copy.deepcopy(desired)
    live["spec"]["replicas"] = 5
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "evil@sha256:2"
    del live["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    found = {d[0]: (d[1], d[2]) for d in differences("Deployment", desired, live)}
    assert found == {
        "spec.replicas": (2, 5),
        "spec.template.spec.containers[name=keycloak].image": ("a@sha256:1", "evil@sha256:2"),
        "spec.template.spec.containers[name=keycloak].securityContext.runAsNonRoot": (True, None),
    }


def test_extra_elements_of_named_lists_are_drift_but_reordering_is_not():
    desired = {"subjects": [{"kind": "Group", "name": "admins"}, {"kind": "Group", "name": "ops"}]}
    reordered = {"subjects": list(reversed(desired["subjects"]))}
    assert differences("RoleBinding", desired, reordered) == []
    extra = {"subjects": desired["subjects"] + [{"kind": "User", "name": "mallory"}]}
    assert _paths("RoleBinding", desired, extra) == ["subjects[name=mallory]"]


def test_rules_lists_compare_in_order_and_by_length():
    desired = {"spec": {"ingress": [{"from": [{"podSelector": {"matchLabels": {"a": "b"}}}], "ports": [{"port": 5432}]}]}}
    opened = copy.deepcopy(desired)
    opened["spec"]["ingress"].append({})  # allow-all rule added
    assert _paths("NetworkPolicy", desired, opened) == ["spec.ingress"]
    port = copy.deepcopy(desired)
    port["spec"]["ingress"][0]["ports"][0]["port"] = 5433
    assert _paths("NetworkPolicy", desired, port) == ["spec.ingress[0].ports[0].port"]


def test_quantities_compare_by_value_only_where_they_are_quantities():
    desired = {"spec": {"hard": {"requests.cpu": "0.5", "requests.memory": "1024Mi"}}, "metadata": {"labels": {"v": "1.0"}}}
    live = {"spec": {"hard": {"requests.cpu": "500m", "requests.memory": "1Gi"}}, "metadata": {"labels": {"v": "1"}}}
    assert _paths("ResourceQuota", desired, live) == ["metadata.labels.v"]
    live["spec"]["hard"]["requests.cpu"] = "600m"
    assert "spec.hard.requests.cpu" in _paths("ResourceQuota", desired, live)


def test_scalar_lists_must_match_exactly():
    desired = {"rules": [{"verbs": ["get", "list", "watch"], "resources": ["pods"], "apiGroups": [""]}]}
    widened = copy.deepcopy(desired)
    widened["rules"][0]["verbs"].append("delete")
    assert _paths("Role", desired, widened) == ["rules[0].verbs"]


def test_declarative_ignore_rules_apply():
    desired = {"metadata": {"annotations": {"spbe.go.id/generated-keys": "password"}}}
    assert differences("Secret", desired, {"metadata": {}}) == []
    assert differences("ConfigMap", desired, {"metadata": {}}) != []


DEFAULT_DENY = {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def test_a_default_deny_opened_to_everything_is_drift():
    opened = copy.deepcopy(DEFAULT_DENY)
    opened["spec"]["ingress"] = [{}]
    assert _paths("NetworkPolicy", DEFAULT_DENY, opened) == ["spec.ingress"]


def test_a_peer_widened_to_every_namespace_is_drift():
    desired = {"spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"a": "b"}}}]}]}}
    widened = copy.deepcopy(desired)
    widened["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}  # empty: every namespace
    assert _paths("NetworkPolicy", desired, widened) == ["spec.ingress[0].from[0].namespaceSelector"]


def test_pod_spec_additions_the_baseline_never_makes_are_drift():
    desired = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "x", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}}}}
    live = copy.deepcopy(desired)
    pod = live["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    pod["initContainers"] = [{"name": "sneaky", "image": "y"}]
    pod["dnsPolicy"] = "ClusterFirst"  # a server default: fine
    pod["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    assert sorted(_paths("Deployment", desired, live)) == [
        "spec.template.spec.containers[name=app].securityContext.capabilities.add",
        "spec.template.spec.hostNetwork",
        "spec.template.spec.initContainers",
    ]


def test_a_duplicate_name_live_cannot_hide_behind_the_first():
    desired = {"spec": {"template": {"spec": {"containers": [{"name": "db", "volumeMounts": [
        {"name": "secret", "mountPath": "/run/secrets", "readOnly": True}]}]}}}}
    live = copy.deepcopy(desired)
    live["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].insert(
        0, {"name": "secret", "mountPath": "/srv/www/public"})
    assert "spec.template.spec.containers[name=db].volumeMounts[name=secret]" in _paths("StatefulSet", desired, live)


def test_content_found_live_is_never_copied_into_a_finding():
    desired = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}]}]}}}}
    live = copy.deepcopy(desired)
    live["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "DB_PASSWORD", "value": "Xk9-real-secret"})
    live["spec"]["template"]["spec"]["containers"].append({"name": "miner", "env": [{"name": "T", "value": "tok-123"}]})
    found = differences("Deployment", desired, live)
    assert {d[0] for d in found} == {"spec.template.spec.containers[name=app].env[name=DB_PASSWORD]",
                                     "spec.template.spec.containers[name=miner]"}
    assert "Xk9-real-secret" not in repr(found) and "tok-123" not in repr(found)
