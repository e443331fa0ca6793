"""The local cluster's stand-in for the platform's ingress controller.

On the national data center an ingress controller (ingress-nginx) publishes each Ingress's
address in `.status.loadBalancer`; Pulumi waits for that before it calls an Ingress ready.
The local cluster has no data plane, so `reconcile` (run by the background loop in
provisioner.py) publishes 127.0.0.1 for every Ingress of the platform's class, the way the
controller would. Tenant objects stay exactly what production gets.
"""

from __future__ import annotations

from spbe_kit.devenv.cluster.api import Api, ApiError

INGRESS_CLASS = "nginx"  # the catalog's platform.ingressClassName
CONTROLLER = "k8s.io/ingress-nginx"
ADDRESS = "127.0.0.1"


def ingress_class() -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": INGRESS_CLASS, "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": CONTROLLER},
    }


def ensure_ingress_class(api: Api) -> None:
    api.create("/apis/networking.k8s.io/v1/ingressclasses", ingress_class())


def reconcile(api: Api) -> int:
    """Publish the address of every Ingress of our class that has none yet; return how many."""
    published = 0
    for ing in api.get("/apis/networking.k8s.io/v1/ingresses").get("items", []):
        meta = ing["metadata"]
        if ing.get("spec", {}).get("ingressClassName", INGRESS_CLASS) != INGRESS_CLASS or meta.get("deletionTimestamp"):
            continue
        if ing.get("status", {}).get("loadBalancer", {}).get("ingress"):
            continue
        path = f"/apis/networking.k8s.io/v1/namespaces/{meta['namespace']}/ingresses/{meta['name']}/status"
        try:
            api.request("PATCH", path, {"status": {"loadBalancer": {"ingress": [{"ip": ADDRESS}]}}},
                        content_type="application/merge-patch+json")
            published += 1
        except ApiError as err:
            if err.status != 404:  # deleted meanwhile
                raise
    return published
