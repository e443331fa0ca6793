"""The tenant's generated credentials, read from its Secrets (the stack generated them; they never leave memory)."""

from __future__ import annotations

import base64
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from spbe_kit.configure.plan import Credentials
from spbe_kit.desired.model import DesiredState
from spbe_kit.errors import SpbeError
from spbe_kit.kubeclient import api_client


def read_credentials(state: DesiredState, kubeconfig: Path, context: str | None = None) -> Credentials:
    core = client.CoreV1Api(api_client(kubeconfig, context))
    values: dict[str, dict[str, str]] = {}
    for manifest in state.manifests:
        if not manifest.generated_keys:
            continue
        namespace = manifest.namespace or state.tenant_id  # the backup job's is in the platform's namespace
        try:
            secret = core.read_namespaced_secret(manifest.name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                continue  # reported by name when the plan needs it
            raise SpbeError(f"cannot read Secret {namespace}/{manifest.name}: HTTP {exc.status} {exc.reason}",
                            hint="configuration needs get on the tenant's Secrets (platform ops)") from None
        values[manifest.name] = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
    return Credentials(values)
