"""Run a tenant stack: preview, up, destroy, rotate credentials, and read its record.

One Pulumi stack per tenant (project ``spbe-tenant``, stack = tenant id), run as an
Automation API inline program; who may run it now is :mod:`spbe_kit.provision.locks`.

An ``up`` goes: desired state (pure: bad input applies nothing) -> this machine's lock ->
the stack -> a backend lock left by a killed run on this host is removed (never another
host's) -> credentials read back from the stack's encrypted state -> preflight (the change
must be able to land whole) -> pending operations of a killed run reconciled -> ``up`` with
refresh (so what someone changed by hand is seen and put back).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto

from spbe_kit.catalog.model import Catalog
from spbe_kit.desired import desired_state
from spbe_kit.desired.model import DesiredState
from spbe_kit.errors import ChangeRefused, ProvisionError, TenantBusy
from spbe_kit.health import wait_ready
from spbe_kit.kubeclient import cluster_server
from spbe_kit.paths import state_dir
from spbe_kit.stacks import credentials as creds
from spbe_kit.backups import platform as backup_platform
from spbe_kit.provision import file_backend, preflight, unchanged
from spbe_kit.provision.backend_locks import redact_url
from spbe_kit.provision.locks import release_dead_locks, tenant_lock
from spbe_kit.provision.engine import engine_command
from spbe_kit.stacks.program import tenant_program
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
    new_credentials: list[str] = field(default_factory=list)  # secret/key names (never values)
    engine_skipped: str | None = None  # why the engine was not needed (a no-change run proven without it)

    @property
    def changed(self) -> bool:
        return any(count for op, count in self.changes.items() if op != "same")

    def to_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "operation": self.operation, "changes": self.changes,
                "changed": self.changed, "seconds": round(self.seconds, 1),
                "outputs": {k: v for k, v in self.outputs.items() if k not in ("request", "desiredStateSha256")},
                "newCredentials": self.new_credentials, "engineSkipped": self.engine_skipped}




#: The baseline owns every field it sets: when someone else took one over (kubectl edit, scale),
#: `up` takes it back instead of stopping at a server-side apply conflict. Fields the baseline
#: does not set stay whoever's they are.
ENGINE_POLICY = {"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}


def _workspace_options(tenant_id: str, settings: EngineSettings) -> auto.LocalWorkspaceOptions:
    command, env, home = engine_command()
    work_dir = state_dir() / "workspaces" / tenant_id  # each LocalWorkspace rewrites its Pulumi.yaml
    work_dir.mkdir(parents=True, exist_ok=True)
    return auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_home=home,
        pulumi_command=command,
        # the provider reads the cluster's credentials from this file, never from the state (see stacks.program)
        env_vars={**env, **settings.engine_env(), **ENGINE_POLICY, "KUBECONFIG": str(settings.kubeconfig)},
        secrets_provider=settings.secrets_provider,
        project_settings=auto.ProjectSettings(
            name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=settings.engine_backend_url)
        ),
    )


def _noop() -> None:
    pass


def _stack(tenant_id: str, settings: EngineSettings, progress: Progress, create: bool) -> auto.Stack:
    if settings.local_backend_dir is not None:
        for torn in file_backend.repair_sidecars(settings.local_backend_dir, PROJECT, tenant_id):
            progress(f"removed {torn.name}: metadata torn by a killed run (the state itself is intact)")
    opts = _workspace_options(tenant_id, settings)
    try:
        if create:
            return auto.create_or_select_stack(stack_name=tenant_id, project_name=PROJECT, program=_noop, opts=opts)
        return auto.select_stack(stack_name=tenant_id, project_name=PROJECT, program=_noop, opts=opts)
    except auto.StackNotFoundError:
        raise ProvisionError(
            f"no tenant named {tenant_id} has been provisioned (no stack in {redact_url(settings.backend_url)})",
            hint="provision it with `spbe tenant up REQUEST`, or check --backend",
        ) from None
    except auto.CommandError as exc:
        raise ProvisionError(f"cannot open the stack of tenant {tenant_id}: {_last_line(str(exc))}") from None




def _deployment(stack: auto.Stack) -> dict[str, Any]:
    try:
        return stack.export_stack().deployment or {}
    except auto.CommandError as exc:
        raise ProvisionError(f"cannot read the state of stack {stack.name}: {_last_line(str(exc))}") from None


def _recover(stack: auto.Stack, deployment: dict[str, Any], printer: EventPrinter, progress: Progress) -> None:
    """Reconcile the state with the cluster if an earlier run was interrupted."""
    pending = deployment.get("pending_operations") or []
    if not pending:
        return
    progress(f"an earlier run was interrupted with {len(pending)} operation(s) in flight; reading them from the cluster")
    # A create that was in flight is dropped from the state: the provider creates with
    # server-side apply, which upserts, so the next step adopts the object if it got created.
    # (Its credentials were already read from the pending operation: see credentials.from_deployment.)
    stack.refresh(clear_pending_creates=True, on_event=printer, color="never", show_secrets=False,
                  suppress_outputs=True)


def _outputs(stack: auto.Stack) -> dict[str, Any]:
    return _plain(stack.outputs())


def _plain(outputs: auto.OutputMap) -> dict[str, Any]:
    return {k: v.value for k, v in outputs.items() if not v.secret}


def _changes(summary: dict[str, int] | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in (summary or {}).items()}


def _fail(what: str, tenant_id: str, exc: Exception, printer: EventPrinter) -> ProvisionError:
    text = str(exc)
    if isinstance(exc, auto.ConcurrentUpdateError) or "currently locked by" in text:
        holder = next((line.strip() for line in text.splitlines() if "created by" in line), "")
        holder = holder.split("created by", 1)[-1].strip() if holder else "another run"
        return TenantBusy(f"tenant {tenant_id} is being updated by {holder}",
                          hint="wait for that run to finish, then run the same command again")
    detail = "; ".join(printer.errors[-3:]) or _last_line(text)
    return ProvisionError(f"{what} of tenant {tenant_id} failed: {detail}",
                          hint="fix the cause and run the same command again; it converges from where it stopped")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("code:", "stdout:"))]
    return lines[-1][:500] if lines else "unknown error"


def _check_rotation(state: DesiredState, rotate: Iterable[str] | None) -> list[str]:
    names = sorted(set(rotate or ()))
    known = creds.generated_secret_names(state)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ProvisionError(f"tenant {state.tenant_id} has no generated credential named {', '.join(unknown)}",
                             hint="generated credentials: " + ", ".join(known))
    return names


def _check_cluster(tenant_id: str, recorded: dict[str, Any], server: str) -> None:
    """Refuse to run a tenant's stack against another cluster than the one it lives on."""
    before = recorded.get("clusterServer")
    if before and before != server:
        raise ChangeRefused(tenant_id, [f"the tenant lives on the cluster at {before}; this kubeconfig points at {server}"],
                            hint="use the tenant's cluster (--kubeconfig/--context); moving a tenant between clusters "
                                 "is not an ordinary update")


def _recorded_outputs(deployment: dict[str, Any]) -> dict[str, Any]:
    for resource in deployment.get("resources") or []:
        if resource.get("type") == "pulumi:pulumi:Stack":
            return {k: v for k, v in (resource.get("outputs") or {}).items()
                    if not (isinstance(v, dict) and creds.SECRET_SIG in v)}
    return {}


def up(spec: TenantSpec, catalog: Catalog, settings: EngineSettings, progress: Progress = _quiet,
       expect_no_changes: bool = False, rotate: Iterable[str] | None = None,
       always_run_engine: bool = False) -> RunResult:
    """Create or converge the tenant to its desired state; wait until its workloads are ready.

    ``rotate``: names of generated Secrets to give new values; every other credential keeps
    the value recorded in the stack. A run with provably nothing to do skips the engine
    (:mod:`spbe_kit.provision.unchanged`) unless ``always_run_engine``.
    """
    state = desired_state(spec, catalog)  # pure, before any lock or engine: bad input applies nothing
    rotating = _check_rotation(state, rotate)
    start = time.monotonic()
    printer = EventPrinter(progress)
    with tenant_lock(spec.tenant_id):
        stack = _stack(spec.tenant_id, settings, progress, create=True)
        release_dead_locks(settings, spec.tenant_id, progress)
        deployment = _deployment(stack)
        recorded = creds.from_deployment(deployment)
        platform = backup_platform.platform_values(state)
        credentials, new = creds.resolve(state, recorded, rotating, platform)
        server = cluster_server(settings.kubeconfig, settings.context)
        _check_cluster(spec.tenant_id, _recorded_outputs(deployment), server)
        preflight.check_not_suspended(spec.tenant_id, settings.kubeconfig, settings.context)
        preflight.check_images(state, catalog, settings.kubeconfig, settings.context, progress)
        backup_platform.prepare(state, catalog, settings.kubeconfig, settings.context, progress)
        if deployment.get("resources") and not (new or always_run_engine):
            verdict = unchanged.check(state, spec, credentials, deployment, settings.kubeconfig, settings.context,
                                      catalog.registry_override)
            if verdict.unchanged:
                progress(f"no changes: {verdict.reason} ({verdict.objects_checked} objects checked); "
                         "the engine was not needed (--always-run-engine runs it anyway)")
                wait_ready(spec.tenant_id, settings.kubeconfig, settings.context, progress=progress)
                return RunResult(spec.tenant_id, "up", {"same": len(deployment["resources"])},
                                 time.monotonic() - start, _recorded_outputs(deployment), [], verdict.reason)
            progress(f"the engine runs: {verdict.reason}")
        preflight.check_change(state, settings.kubeconfig, settings.context, deployment, catalog.retired_volumes)
        for urn, claim, why in preflight.retired_volumes(state, deployment, catalog.retired_volumes):
            # the one protected deletion an update may make: catalog {version} retires the volume
            progress(f"retiring volume {claim}: {why} (catalog {state.catalog_version})")
            stack._run_pulumi_cmd_sync(["state", "unprotect", urn, "--yes"])
        applied: dict[str, list[str]] = {"new": new}

        def credentials_now() -> creds.Credentials:
            # read again under the engine's stack lock: another machine may have rotated since. The first
            # read stays underneath: it still holds values of a create that was in flight when a run was
            # killed, which the recovery refresh has since dropped from the state
            latest = {**recorded, **creds.from_deployment(_deployment(stack))}
            fresh, fresh_new = creds.resolve(state, latest, rotating, platform)
            applied["new"] = fresh_new
            return fresh

        program = tenant_program(state, credentials_now, server, settings.context,
                                 spec.request_text, registry=catalog.registry_override)
        try:
            _recover(stack, deployment, printer, progress)
            progress(f"updating tenant {spec.tenant_id} ({len(state.manifests)} objects, catalog {state.catalog_version})")
            result = stack.up(program=program, refresh=bool(deployment.get("resources")),
                              on_event=printer, color="never", show_secrets=False, suppress_outputs=True,
                              expect_no_changes=expect_no_changes,
                              message=f"spbe tenant up (catalog {state.catalog_version})"
                              + (f"; rotate {', '.join(rotating)}" if rotating else ""))
        except (auto.CommandError, auto.ConcurrentUpdateError) as exc:
            raise _fail("update", spec.tenant_id, exc, printer) from None
        # the engine awaits what it changed; the tenant is up when every workload is Ready
        wait_ready(spec.tenant_id, settings.kubeconfig, settings.context, progress=progress)
        return RunResult(spec.tenant_id, "up", _changes(result.summary.resource_changes), time.monotonic() - start,
                         _plain(result.outputs), applied["new"])


def preview(spec: TenantSpec, catalog: Catalog, settings: EngineSettings, progress: Progress = _quiet,
            refresh: bool = True) -> RunResult:
    """What `up` would change, without changing anything (refreshed from the cluster first)."""
    state = desired_state(spec, catalog)
    start = time.monotonic()
    printer = EventPrinter(_quiet)
    with tenant_lock(spec.tenant_id):
        stack = _stack(spec.tenant_id, settings, progress, create=True)
        release_dead_locks(settings, spec.tenant_id, progress)
        deployment = _deployment(stack)
        credentials, _new = creds.resolve(state, creds.from_deployment(deployment), None,
                                          backup_platform.platform_values(state))
        program = tenant_program(state, lambda: credentials, cluster_server(settings.kubeconfig, settings.context),
                                 settings.context, spec.request_text, registry=catalog.registry_override)
        # a volume the target catalog retires is protected in the state: `up` unprotects it first and the
        # engine deletes it; a preview may not touch the state, so it leaves it out and counts its deletion
        retiring = [urn for urn, _, _ in preflight.retired_volumes(state, deployment, catalog.retired_volumes)]
        try:
            result = stack.preview(program=program, refresh=refresh and bool(deployment.get("resources")),
                                   on_event=printer, color="never", suppress_outputs=True, exclude=retiring or None)
        except (auto.CommandError, auto.ConcurrentUpdateError) as exc:
            raise _fail("preview", spec.tenant_id, exc, printer) from None
    changes = {str(k.value if hasattr(k, "value") else k): int(v) for k, v in result.change_summary.items()}
    if retiring:
        changes["delete"] = changes.get("delete", 0) + len(retiring)
    return RunResult(spec.tenant_id, "preview", changes, time.monotonic() - start)


def destroy(tenant_id: str, settings: EngineSettings, progress: Progress = _quiet) -> RunResult:
    """Delete every object of the tenant; keep the stack and its update history (the caller checks backups)."""
    start = time.monotonic()
    printer = EventPrinter(progress)
    with tenant_lock(tenant_id):
        stack = _stack(tenant_id, settings, progress, create=False)
        release_dead_locks(settings, tenant_id, progress)
        deployment = _deployment(stack)
        try:
            _recover(stack, deployment, printer, progress)
            # the Namespace and volumes are protected against ordinary updates; destroying is the one
            # operation that may delete them, so the protection is lifted for it alone
            stack._run_pulumi_cmd_sync(["state", "unprotect", "--all", "--yes"])
            result = stack.destroy(on_event=printer, color="never", show_secrets=False, suppress_outputs=True,
                                   message="spbe tenant destroy")
        except (auto.CommandError, auto.ConcurrentUpdateError) as exc:
            raise _fail("destroy", tenant_id, exc, printer) from None
    return RunResult(tenant_id, "destroy", _changes(result.summary.resource_changes), time.monotonic() - start)


@dataclass
class StackRecord:
    """What the stack says of a tenant: outputs, its last update, whether it holds any resources."""

    tenant: str
    outputs: dict[str, Any]
    last_update: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)


def _update(h: auto.UpdateSummary) -> dict[str, Any]:
    return {"kind": h.kind, "result": h.result, "started": h.start_time.isoformat() if h.start_time else None,
            "ended": h.end_time.isoformat() if h.end_time else None, "message": h.message,
            "changes": _changes(h.resource_changes)}


def stack_record(tenant_id: str, settings: EngineSettings, progress: Progress = _quiet,
                 history: int = 1) -> StackRecord:
    """The tenant's stack outputs and its last ``history`` updates (no lock: read-only)."""
    stack = _stack(tenant_id, settings, progress, create=False)
    try:
        updates = stack.history(page_size=history, page=1)
        outputs = _outputs(stack)
    except auto.CommandError as exc:
        raise ProvisionError(f"cannot read the stack of tenant {tenant_id}: {_last_line(str(exc))}") from None
    rows = [_update(h) for h in updates]
    return StackRecord(tenant_id, outputs, rows[0] if rows else None, rows)


def recorded_request(tenant_id: str, settings: EngineSettings) -> tuple[TenantSpec, str, str | None]:
    """The request, catalog version and image mirror the tenant's stack was last brought up with."""
    from spbe_kit.request import parse_request

    record = stack_record(tenant_id, settings)
    text, version = record.outputs.get("request"), record.outputs.get("catalogVersion")
    if not text or not version:
        raise ProvisionError(f"the stack of tenant {tenant_id} records no request (it was never brought up, "
                             "or was destroyed)", hint="run `spbe tenant up REQUEST` with the tenant's request")
    return (parse_request(text, source=f"the request recorded in the stack of {tenant_id}"), str(version),
            record.outputs.get("registry") or None)


def rotate_credentials(tenant_id: str, secrets: Iterable[str] | None, settings: EngineSettings,
                       progress: Progress = _quiet, registry: str | None = None) -> RunResult:
    """Give new values to the named generated Secrets (all of them when ``secrets`` is empty)."""
    from spbe_kit.catalog import load_catalog

    spec, version, recorded_registry = recorded_request(tenant_id, settings)
    if registry and registry != recorded_registry:
        raise ProvisionError(f"tenant {tenant_id} runs its images from {recorded_registry or 'the upstream registries'}; "
                             f"rotating with --registry {registry} would move every workload to other images",
                             hint="leave out --registry (rotation keeps the tenant's), or change it with `spbe tenant up`")
    catalog = load_catalog(version, registry or recorded_registry)
    names = list(secrets or ()) or creds.generated_secret_names(desired_state(spec, catalog))
    result = up(spec, catalog, settings, progress, rotate=names)
    result.operation = "rotate-credentials"
    return result
