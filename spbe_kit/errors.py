"""Every error spbe-kit raises on purpose, one class each.

The CLI turns these into one readable block and an exit code; anything else that escapes
is a bug. Third-party errors (PyYAML, kubernetes, Pulumi) are mapped to these at the
boundary where they happen.
"""

from __future__ import annotations

from dataclasses import dataclass


class SpbeError(Exception):
    """Base class: a problem the user can act on, with a message meant for people."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong in a tenant request: where, what, and how to fix it."""

    path: str
    message: str
    hint: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        return {"path": self.path, "line": self.line, "message": self.message, "hint": self.hint}


class RequestInvalid(SpbeError):
    """A tenant request failed validation; carries every problem found, not just the first."""

    exit_code = 1

    def __init__(self, source: str, problems: list[FieldProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s) in the tenant request")


class RequestUnreadable(SpbeError):
    """A tenant request file cannot be read at all (missing, a directory, no permission): a usage error."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        super().__init__(f"{source}: cannot read the file: {reason}", hint="check the path")


class CatalogError(SpbeError):
    """The baseline catalog is missing, malformed, or does not have the requested version."""


class RegionError(SpbeError):
    """A region code is not in the official Kemendagri list."""

    exit_code = 1


class ToolBuildError(SpbeError):
    """A Go-built tool (etcd, kube-apiserver, kwok, pulumi...) could not be built or found."""


class ClusterError(SpbeError):
    """The local cluster could not be started, stopped or reached."""


class KubeconfigError(SpbeError):
    """There is no usable kubeconfig for the cluster a command should talk to."""


class ProvisionError(SpbeError):
    """A tenant stack could not be previewed, updated, destroyed or read."""


class TenantBusy(ProvisionError):
    """Another run is already updating this tenant."""


class ChangeRefused(ProvisionError):
    """A change to a tenant cannot be applied whole, so nothing of it was applied."""

    exit_code = 1

    def __init__(self, tenant: str, reasons: list[str], hint: str | None = None) -> None:
        self.tenant = tenant
        self.reasons = reasons  # not `problems`: those are a request's field problems
        super().__init__(
            f"tenant {tenant}: the change cannot be applied whole, so nothing was changed:\n  - " + "\n  - ".join(reasons),
            hint=hint,
        )


class DestroyRefused(SpbeError):
    """Destroying the tenant would lose data (no recent backup) and --force was not given."""

    exit_code = 1


class DriftError(SpbeError):
    """A drift check could not run (cluster unreachable, requests missing, bad options)."""


class BackupError(SpbeError):
    """The backup store or a tenant's backup repository cannot do what was asked (unreachable, refused,
    missing, or a restore that does not match what the backup recorded)."""
