"""Where tenant stacks keep their state, how their secrets are encrypted, which cluster they target.

Defaults suit one operator's machine and the embedded local cluster: a local file backend
under the state directory and a passphrase secrets provider whose passphrase is generated
once into a 0600 file. Production points at a real backend and KMS/Vault:

    SPBE_PULUMI_BACKEND=s3://pdn-spbe-state  SPBE_SECRETS_PROVIDER=hashivault://spbe-tenants

The target cluster is never the ambient KUBECONFIG by accident: --kubeconfig, then
SPBE_KUBECONFIG, then the local cluster's kubeconfig.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.errors import KubeconfigError, ProvisionError
from spbe_kit.kubeclient import resolve_kubeconfig
from spbe_kit.paths import private_secret_file, state_dir
from spbe_kit.provision import file_backend

PROJECT = "spbe-tenant"


@dataclass(frozen=True)
class EngineSettings:
    """How to run a tenant stack: backend, secrets provider, target cluster."""

    backend_url: str
    secrets_provider: str
    kubeconfig: Path
    context: str | None = None

    @classmethod
    def resolve(cls, kubeconfig: Path | None = None, context: str | None = None,
                backend_url: str | None = None, secrets_provider: str | None = None) -> EngineSettings:
        """Settings from explicit values, then SPBE_* environment variables, then local defaults."""
        backend = backend_url or os.environ.get("SPBE_PULUMI_BACKEND") or (state_dir() / "pulumi").as_uri()
        provider = secrets_provider or os.environ.get("SPBE_SECRETS_PROVIDER") or "passphrase"
        try:
            config = resolve_kubeconfig(kubeconfig)
        except KubeconfigError as exc:
            raise ProvisionError(exc.message, hint=exc.hint) from None
        return cls(backend_url=backend, secrets_provider=provider, kubeconfig=config, context=context)

    @property
    def local_backend_dir(self) -> Path | None:
        """The directory of a file:// backend (None for remote backends)."""
        return file_backend.backend_dir(self.backend_url)

    @property
    def engine_backend_url(self) -> str:
        """The URL the engine gets (file:// backends without torn-able metadata sidecars)."""
        return file_backend.engine_url(self.backend_url)

    def engine_env(self) -> dict[str, str]:
        """Environment the Pulumi engine needs for the backend and secrets provider."""
        env: dict[str, str] = {}
        if self.local_backend_dir is not None:
            self.local_backend_dir.mkdir(parents=True, exist_ok=True)
        if self.secrets_provider == "passphrase" and not (
            os.environ.get("PULUMI_CONFIG_PASSPHRASE") or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
        ):
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file())
        return env


def passphrase_file() -> Path:
    """The generated passphrase of the local secrets provider (created once, mode 0600)."""
    path = state_dir() / "pulumi-passphrase"
    try:
        private_secret_file(path)
    except ValueError as exc:
        raise ProvisionError(str(exc)) from None
    return path
