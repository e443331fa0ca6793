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


def test_zero_values_the_server_omits_are_not_drift():
    desired = {"spec": {"publishNotReadyAddresses": False, "sc": {"privileged": False}, "l": [], "n": 0}}
    assert differences("Service", desired, {"spec": {}}) == []


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
