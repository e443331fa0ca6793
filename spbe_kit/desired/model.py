"""The desired state of a tenant: the exact Kubernetes objects the baseline says it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GENERATED_KEYS_ANNOTATION = "spbe.go.id/generated-keys"
#: the keys of a generated certificate's Secret: PEM certificate and PEM private key
CERTIFICATE_KEYS = ("tls.crt", "tls.key")


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object as plain data, plus which component it belongs to.

    `body` is the full object (apiVersion, kind, metadata, ...) and must not be mutated.
    A Secret's values are never part of the desired state: `generated_keys` names the keys
    whose values the Pulumi stack generates (pulumi-random) and keeps as Pulumi secrets.
    """

    body: dict[str, Any]
    component: str
    generated_keys: tuple[str, ...] = ()
    #: DNS names of the certificate the stack generates into this Secret's CERTIFICATE_KEYS (empty: none)
    certificate_names: tuple[str, ...] = ()
    #: those of ``generated_keys`` whose values the platform gives (its backup store's address and the tenant's
    #: identity there, derived from the platform's master key) instead of a random one: filled on each ``up``
    platform_keys: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return self.body["apiVersion"]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.body["metadata"].get("namespace")

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of the object on the API server: (apiVersion, kind, namespace, name)."""
        return (self.api_version, self.kind, self.namespace or "", self.name)

    @property
    def resource_name(self) -> str:
        """A name unique within one tenant, used for Pulumi resource names and file names."""
        return f"{self.kind.lower()}-{self.name}"


@dataclass(frozen=True)
class DesiredState:
    """Every object of one tenant, in the order they should be created."""

    tenant_id: str
    catalog_version: str
    manifests: tuple[Manifest, ...]

    def of_kind(self, kind: str) -> list[Manifest]:
        """The manifests of one kind, in order."""
        return [m for m in self.manifests if m.kind == kind]

    def credentials(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Every Secret with generated values: name -> (its namespace, the keys), never the values. Most are in the
        tenant's namespace; the backup job's is in the platform's backup namespace when backups go to the store."""
        return {m.name: (m.namespace or self.tenant_id, tuple(m.generated_keys))
                for m in self.manifests if m.generated_keys}

    def endpoints(self) -> dict[str, str]:
        """Public web endpoints: https URL -> the Service behind it (from the Ingress rules)."""
        out = {}
        for ingress in self.of_kind("Ingress"):
            for rule in ingress.body["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    out[f"https://{rule['host']}{path['path'].rstrip('/')}"] = path["backend"]["service"]["name"]
        return dict(sorted(out.items()))

    def get(self, kind: str, name: str) -> Manifest:
        """The manifest of this kind and name; KeyError if the baseline has none."""
        for manifest in self.manifests:
            if manifest.kind == kind and manifest.name == name:
                return manifest
        raise KeyError(f"{kind}/{name}")
