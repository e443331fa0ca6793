"""The cluster DNS of the local cluster's real node: CoreDNS as a pod in kube-system.

A pod, not a host process, because the tenants' NetworkPolicies allow DNS only to pods labelled
``k8s-app: kube-dns`` in the platform's DNS namespace -- exactly what a data center cluster runs.
It serves ``cluster.local`` from the API server (its ``kubernetes`` plugin, through the
``kubernetes`` Service) and answers on the Service address kubelet gives every pod.
"""

from __future__ import annotations

from spbe_kit.devenv.cluster.api import Api, ApiError

NAMESPACE = "kube-system"
NAME = "coredns"
LABELS = {"k8s-app": "kube-dns"}

COREFILE = """\
.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . /etc/resolv.conf
    cache 5
    reload
}
"""


def objects(image: str, dns_ip: str) -> list[tuple[str, dict]]:
    """(collection path, object) pairs, created in order."""
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)}
    return [
        (f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                             "metadata": meta}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                 "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        }),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        }),
        (f"/api/v1/namespaces/{NAMESPACE}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                                        "data": {"Corefile": COREFILE}}),
        (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(LABELS)},
                "template": {
                    "metadata": {"labels": dict(LABELS)},
                    "spec": {
                        "serviceAccountName": NAME,
                        "dnsPolicy": "Default",
                        "nodeSelector": {"spbe.go.id/real-node": "true"},
                        "securityContext": {
                            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                            # port 53 without any capability
                            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}],
                        },
                        "containers": [{
                            "name": "coredns",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                      {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10},
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                          "limits": {"memory": "170Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                        }],
                        "volumes": [{"name": "config", "configMap": {"name": NAME}}],
                    },
                },
            },
        }),
        (f"/api/v1/namespaces/{NAMESPACE}/services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {"selector": dict(LABELS), "clusterIP": dns_ip,
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
        }),
    ]


def ensure(api: Api, image: str, dns_ip: str = "10.96.0.10") -> None:
    for collection, obj in objects(image, dns_ip):
        api.create(collection, obj)


def ready(api: Api) -> tuple[bool, str]:
    try:
        deploy = api.get_or_none(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{NAME}")
    except ApiError as err:
        return False, err.message
    if deploy is None:
        return False, "no Deployment"
    n = deploy.get("status", {}).get("readyReplicas", 0) or 0
    return n >= 1, f"{n} ready replica(s)"
