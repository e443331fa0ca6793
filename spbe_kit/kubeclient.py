"""Which cluster a command talks to, and a Kubernetes API client for exactly that one.

Shared by provisioning (`tenant up/status/destroy`) and the read-only drift checker. The
target is never the ambient KUBECONFIG by accident: an explicit path, then SPBE_KUBECONFIG,
then the local cluster's kubeconfig.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes import client, config

from spbe_kit.cluster.kubeconfig import kubeconfig_path
from spbe_kit.errors import KubeconfigError


def resolve_kubeconfig(explicit: Path | None = None) -> Path:
    """The kubeconfig to use; KubeconfigError when there is none."""
    chosen = explicit or (Path(os.environ["SPBE_KUBECONFIG"]) if os.environ.get("SPBE_KUBECONFIG") else kubeconfig_path())
    if not chosen.is_file():
        raise KubeconfigError(
            f"no kubeconfig at {chosen}",
            hint="start the local cluster with `spbe cluster up`, or pass --kubeconfig for another cluster",
        )
    return chosen


def api_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """A client for exactly this kubeconfig (never the ambient one)."""
    try:
        return config.new_client_from_config(config_file=str(kubeconfig), context=context)
    except (config.ConfigException, OSError, ValueError) as exc:
        raise KubeconfigError(f"cannot use the kubeconfig {kubeconfig}: {exc}") from None
