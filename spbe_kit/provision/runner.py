"""Run a tenant stack: preview, up, destroy, and read its status.

One Pulumi stack per tenant (project `spbe-tenant`, stack = tenant id). A per-tenant lock
file refuses a second run of the same tenant on this machine at once (the OS releases it
when a run dies, so a killed run never blocks the next); Pulumi's own backend lock does the
same across machines. A run that was killed leaves a stale backend lock and pending
operations in the state: the next run clears the lock (no other run can hold it, we hold
ours) and refreshes the pending objects from the cluster before converging.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto

from spbe_kit.catalog.model import Catalog
from spbe_kit.desired import desired_state
from spbe_kit.errors import ProvisionError, TenantBusy
from spbe_kit.paths import state_dir
from spbe_kit.provision.engine import engine_command
from spbe_kit.provision.program import tenant_program
from spbe_kit.provision.progress import EventPrinter, Progress
from spbe_kit.provision.settings import PROJECT, EngineSettings
from spbe_kit.request.spec import TenantSpec


def _quiet(_: str) -> None:
    pass


@dataclass
class RunResult:
    """What one preview/up/destroy did."""

    tenant: str
    operation: str
    changes: dict[str, int]
    seconds: float
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(count for op, count in self.changes.items() if op != "same")

    def to_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "operation": self.operation, "changes": self.changes,
                "changed": self.changed, "seconds": round(self.seconds, 1), "outputs": self.outputs}


@contextmanager
def tenant_lock(tenant_id: str) -> Iterator[None]:
    """Exclusive right to run this tenant's stack on this machine; TenantBusy if taken."""
    folder = state_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{tenant_id}.lock", "a+") as fh:  # "w" would wipe the holder's pid before we know
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TenantBusy(
                f"tenant {tenant_id} is already being updated by another spbe run on this machine",
                hint="wait for that run to finish (it holds " + str(folder / f"{tenant_id}.lock") + ")",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _workspace_options(tenant_id: str, settings: EngineSettings, progress: Progress) -> auto.LocalWorkspaceOptions:
    command, env, home = engine_command(progress)
    work_dir = state_dir() / "workspaces" / tenant_id  # each LocalWorkspace rewrites its Pulumi.yaml
    work_dir.mkdir(parents=True, exist_ok=True)
    return auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_home=home,
        pulumi_command=command,
        env_vars={**env, **settings.engine_env()},
        secrets_provider=settings.secrets_provider,
        project_settings=auto.ProjectSettings(
            name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=settings.backend_url)
        ),
    )


def _stack(tenant_id: str, settings: EngineSettings, program, progress: Progress, create: bool) -> auto.Stack:
    opts = _workspace_options(tenant_id, settings, progress)
    try:
        if create:
            return auto.create_or_select_stack(stack_name=tenant_id, project_name=PROJECT, program=program, opts=opts)
        return auto.select_stack(stack_name=tenant_id, project_name=PROJECT, program=program, opts=opts)
    except auto.StackNotFoundError:
        raise ProvisionError(
            f"tenant {tenant_id} has no stack in {settings.backend_url}",
            hint="provision it with `spbe tenant up REQUEST`, or check --backend",
        ) from None
    except auto.CommandError as exc:
        raise ProvisionError(f"cannot open the stack of tenant {tenant_id}: {_last_line(str(exc))}") from None


def _clear_stale_backend_lock(settings: EngineSettings, tenant_id: str, progress: Progress) -> None:
    """Remove a file-backend lock left by a killed run (safe: we hold this tenant's lock)."""
    root = settings.local_backend_dir
    if root is None:
        return
    folder = root / ".pulumi" / "locks" / "organization" / PROJECT / tenant_id
    for lock in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        progress(f"removing the lock of an interrupted run ({lock.name})")
        lock.unlink(missing_ok=True)


def _recover(stack: auto.Stack, printer: EventPrinter, progress: Progress) -> None:
    """Reconcile the state with the cluster if an earlier run was interrupted."""
    try:
        deployment = stack.export_stack().deployment or {}
    except auto.CommandError:
        return
    pending = deployment.get("pending_operations") or []
    if not pending:
        return
    progress(f"an earlier run was interrupted with {len(pending)} operation(s) in flight; reading them from the cluster")
    stack.refresh(clear_pending_creates=True, on_event=printer, color="never", show_secrets=False, suppress_outputs=True)


def _outputs(stack: auto.Stack) -> dict[str, Any]:
    return {k: v.value for k, v in stack.outputs().items() if not v.secret}


def _changes(summary: dict[str, int] | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in (summary or {}).items()}


def _fail(what: str, tenant_id: str, exc: Exception, printer: EventPrinter) -> ProvisionError:
    if isinstance(exc, auto.ConcurrentUpdateError):
        return TenantBusy(
            f"tenant {tenant_id} is locked by another update of its stack",
            hint="another operator or machine is updating it; wait for that run to finish",
        )
    detail = "; ".join(printer.errors[-3:]) or _last_line(str(exc))
    return ProvisionError(f"{what} of tenant {tenant_id} failed: {detail}",
                          hint="fix the cause and run the same command again; it converges from where it stopped")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("code:", "stdout:"))]
    return lines[-1][:500] if lines else "unknown error"


def up(spec: TenantSpec, catalog: Catalog, settings: EngineSettings, progress: Progress = _quiet,
       expect_no_changes: bool = False) -> RunResult:
    """Create or converge the tenant to its desired state; wait until its workloads are ready."""
    state = desired_state(spec, catalog)  # pure, before any lock or engine: bad input applies nothing
    program = tenant_program(state, settings.kubeconfig.read_text(), settings.context)
    start = time.monotonic()
    printer = EventPrinter(progress)
    with tenant_lock(spec.tenant_id):
        _clear_stale_backend_lock(settings, spec.tenant_id, progress)
        stack = _stack(spec.tenant_id, settings, program, progress, create=True)
        try:
            _recover(stack, printer, progress)
            progress(f"updating tenant {spec.tenant_id} ({len(state.manifests)} objects, catalog {state.catalog_version})")
            result = stack.up(on_event=printer, color="never", show_secrets=False, suppress_outputs=True,
                              expect_no_changes=expect_no_changes, message=f"spbe tenant up (catalog {state.catalog_version})")
        except (auto.CommandError, auto.ConcurrentUpdateError) as exc:
            raise _fail("update", spec.tenant_id, exc, printer) from None
        return RunResult(spec.tenant_id, "up", _changes(result.summary.resource_changes), time.monotonic() - start,
                         _outputs(stack))


def preview(spec: TenantSpec, catalog: Catalog, settings: EngineSettings, progress: Progress = _quiet) -> RunResult:
    """What `up` would change, without changing anything."""
    state = desired_state(spec, catalog)
    program = tenant_program(state, settings.kubeconfig.read_text(), settings.context)
    start = time.monotonic()
    printer = EventPrinter(_quiet)
    with tenant_lock(spec.tenant_id):
        _clear_stale_backend_lock(settings, spec.tenant_id, progress)
        stack = _stack(spec.tenant_id, settings, program, progress, create=True)
        try:
            result = stack.preview(on_event=printer, color="never", show_secrets=False, suppress_outputs=True)
        except (auto.CommandError, auto.ConcurrentUpdateError) as exc:
            raise _fail("preview", spec.tenant_id, exc, printer) from None
    changes = {str(k.value if hasattr(k, "value") else k): int(v) for k, v in result.change_summary.items()}
    return RunResult(spec.tenant_id, "preview", changes, time.monotonic() - start)


def destroy(tenant_id: str, settings: EngineSettings, progress: Progress = _quiet) -> RunResult:
    """Delete every object of the tenant and its stack (the caller checks backups first)."""
    start = time.monotonic()
    printer = EventPrinter(progress)
    with tenant_lock(tenant_id):
        _clear_stale_backend_lock(settings, tenant_id, progress)
        stack = _stack(tenant_id, settings, lambda: None, progress, create=False)
        try:
            _recover(stack, printer, progress)
            result = stack.destroy(on_event=printer, color="never", show_secrets=False, suppress_outputs=True,
                                   message="spbe tenant destroy")
            stack.workspace.remove_stack(tenant_id)
        except (auto.CommandError, auto.ConcurrentUpdateError) as exc:
            raise _fail("destroy", tenant_id, exc, printer) from None
    return RunResult(tenant_id, "destroy", _changes(result.summary.resource_changes), time.monotonic() - start)


@dataclass
class StackRecord:
    """What the stack says of a tenant: outputs and its last update."""

    tenant: str
    outputs: dict[str, Any]
    last_update: dict[str, Any] | None


def stack_record(tenant_id: str, settings: EngineSettings, progress: Progress = _quiet) -> StackRecord:
    """The tenant's stack outputs and last update (no lock: read-only)."""
    stack = _stack(tenant_id, settings, lambda: None, progress, create=False)
    try:
        history = stack.history(page_size=1)
        outputs = _outputs(stack)
    except auto.CommandError as exc:
        raise ProvisionError(f"cannot read the stack of tenant {tenant_id}: {_last_line(str(exc))}") from None
    last = None
    if history:
        h = history[0]
        last = {"kind": h.kind, "result": h.result, "started": h.start_time.isoformat() if h.start_time else None,
                "ended": h.end_time.isoformat() if h.end_time else None, "message": h.message,
                "changes": _changes(h.resource_changes)}
    return StackRecord(tenant_id, outputs, last)

