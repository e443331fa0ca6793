"""Find the pod each component runs in, as testinfra kubectl:// hosts."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from spbe_kit.desired.context import LABEL_COMPONENT, LABEL_TENANT
from spbe_kit.errors import SpbeError
from spbe_kit.kubeclient import api_client

# the container whose configuration each component's checks look at
CONTAINER = {"database": "postgres", "identity": "keycloak", "mail": "mail", "monitoring": "prometheus",
             "eoffice": "eoffice"}


def kubectl_host(pod: str, namespace: str, container: str, kubeconfig: Path, context: str | None) -> str:
    query = {"namespace": namespace, "container": container, "kubeconfig": str(kubeconfig)}
    if context:
        query["context"] = context
    return f"kubectl://{pod}?{urllib.parse.urlencode(query)}"


def running_pods(tenant_id: str, components: list[str], kubeconfig: Path, context: str | None = None) -> dict[str, str]:
    """One running pod per component that has the component's container; components without one are left out."""
    core = client.CoreV1Api(api_client(kubeconfig, context))
    try:
        pods = core.list_namespaced_pod(tenant_id, label_selector=LABEL_TENANT + "=" + tenant_id).items
    except ApiException as exc:
        raise SpbeError(f"cannot list the pods of tenant {tenant_id}: HTTP {exc.status} {exc.reason}",
                        hint="verification needs get/list on pods and create on pods/exec in the tenant's namespace") from None
    except HTTPError as exc:
        raise SpbeError(f"cannot reach the cluster: {exc}", hint="is it running? `spbe cluster status`") from None
    found: dict[str, str] = {}
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        component = (pod.metadata.labels or {}).get(LABEL_COMPONENT)
        if component not in components or component in found or (pod.status and pod.status.phase != "Running"):
            continue
        if CONTAINER.get(component) in {c.name for c in pod.spec.containers}:
            found[component] = pod.metadata.name
    return found


def component_hosts(tenant_id: str, components: list[str], kubeconfig: Path,
                    context: str | None = None) -> dict[str, str]:
    """The testinfra kubectl:// host of each component's running pod."""
    return {component: kubectl_host(pod, tenant_id, CONTAINER[component], kubeconfig, context)
            for component, pod in running_pods(tenant_id, components, kubeconfig, context).items()}


def cluster_targets(state, kubeconfig: Path, context: str | None = None):
    """Verification targets for a provisioned tenant: its pods, the desired state's facts, the last backup.

    Returns the targets and the components that should have been verified (those without a pod are
    reported as unverified by the run)."""
    from spbe_kit.health import tenant_health
    from spbe_kit.verify.targets import production_targets

    components = [c for c in CONTAINER if any(m.component == c for m in state.manifests)]
    hosts = component_hosts(state.tenant_id, components, kubeconfig, context)
    last_backup = tenant_health(state.tenant_id, kubeconfig, context).last_backup
    return production_targets(state, hosts, last_backup), components
