"""The tenant's public web endpoints, behind the platform's ingress controller with TLS."""

from __future__ import annotations

from spbe_kit.catalog.load import dashboards_image
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.request.model import Component

COMPONENT = "guardrails"


def endpoints(ctx: TenantContext) -> dict[str, tuple[str, int]]:
    """Public host -> (Service, port) for every web component the tenant has."""
    dashboards = dashboards_image(ctx.catalog)  # a Service of that name, on its container port
    out = {ctx.host("sso"): ("identity", 8080), ctx.host("monitoring"): (dashboards, PORT[dashboards])}
    if ctx.spec.has(Component.EOFFICE):
        out[ctx.host("eoffice")] = ("eoffice", 8080)
    return dict(sorted(out.items()))


def build(ctx: TenantContext) -> list[Manifest]:
    """One Ingress with a rule per endpoint and a certificate from the platform issuer."""
    platform = ctx.catalog.platform
    hosts = endpoints(ctx)
    rules = [
        {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": svc, "port": {"number": port}}}}]}}
        for host, (svc, port) in hosts.items()
    ]
    annotations = {
        "cert-manager.io/cluster-issuer": platform.tls_cluster_issuer,
        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
    }
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": ctx.metadata("web", COMPONENT, annotations=annotations),
        "spec": {
            "ingressClassName": platform.ingress_class_name,
            "tls": [{"hosts": list(hosts), "secretName": "web-tls"}],
            "rules": rules,
        },
    }
    return [Manifest(body, COMPONENT)]
