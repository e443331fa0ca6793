"""`spbe tenant ...`: render, preview, provision, inspect and destroy one tenant."""

from __future__ import annotations

from pathlib import Path

import click

from spbe_kit.catalog.load import catalog_for
from spbe_kit.cli.output import EXIT_FAIL, EXIT_SUCCESS, emit_json, output_option, table, warn
from spbe_kit.desired import desired_state
from spbe_kit.render import write_manifests
from spbe_kit.request import load_request

_catalog_version = click.option("--catalog-version", "version", default=None, help="Catalog version (default: newest).")
_registry = click.option("--registry", default=None, envvar="SPBE_REGISTRY", help="Pull every image from this mirror.")


def _engine_options(func):
    """Where the stack state lives, how secrets are encrypted, which cluster is targeted."""
    for option in reversed([
        click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Target cluster (default: $SPBE_KUBECONFIG, else the local cluster). Never the ambient KUBECONFIG."),
        click.option("--context", default=None, help="Context in the kubeconfig."),
        click.option("--backend", default=None, help="Pulumi backend URL (default: $SPBE_PULUMI_BACKEND, else a local file backend)."),
        click.option("--secrets-provider", default=None,
                     help="Pulumi secrets provider (default: $SPBE_SECRETS_PROVIDER, else a generated local passphrase)."),
    ]):
        func = option(func)
    return func


def _settings(kubeconfig, context, backend, secrets_provider):
    from spbe_kit.provision.settings import EngineSettings

    return EngineSettings.resolve(kubeconfig, context, backend, secrets_provider)


def _warn_placeholders(state, catalog) -> None:
    """A loud warning (stderr) when the tenant would run images the catalog only holds as placeholders."""
    from spbe_kit.desired.images import placeholder_images

    names = placeholder_images(state, catalog)
    if names:
        warn("")
        warn(f"WARNING: {len(names)} image(s) of tenant {state.tenant_id} are PLACEHOLDERS in catalog "
             f"{catalog.version}: {', '.join(names)}")
        warn("  their digests name no real image, so those pods cannot start on a real node; "
             "`spbe tenant up` refuses them on any cluster with real nodes")
        warn("")


def _tenant_id(_ctx, _param, value: str) -> str:
    from spbe_kit.request.rules import DNS_LABEL

    if not DNS_LABEL.match(value):
        raise click.BadParameter(f"{value!r} is not a tenant id (lowercase letters, digits and '-', e.g. kab-banyuwangi)")
    return value


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _engine_ready() -> None:
    """Build what is missing of the Pulumi engine first (cached after the first time), with progress."""
    from spbe_kit.devenv.engine.build import ensure_engine

    ensure_engine(_progress)


@click.group()
def tenant() -> None:
    """Render, preview, provision, inspect and destroy tenants."""


@tenant.command("render")
@click.argument("request_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out-dir", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the YAML files.")
@_catalog_version
@_registry
@output_option()
def render(request_file: Path, out: Path, version: str | None, registry: str | None, output: str) -> None:
    """Write every Kubernetes object of a tenant as YAML (same input, byte-identical output)."""
    spec = load_request(request_file)
    catalog = catalog_for(spec, version, registry)
    state = desired_state(spec, catalog)
    files = write_manifests(state, out)
    _warn_placeholders(state, catalog)
    if output == "json":
        emit_json({"tenant": state.tenant_id, "catalogVersion": state.catalog_version, "directory": str(out),
                   "objects": [{"kind": m.kind, "name": m.name, "component": m.component, "file": f.name}
                               for m, f in zip(state.manifests, files)]})
        return
    click.echo(f"rendered {len(files)} objects of tenant {state.tenant_id} (catalog {state.catalog_version}) into {out}")


@tenant.command("preview")
@click.argument("request_file", type=click.Path(dir_okay=False, path_type=Path))
@_catalog_version
@_registry
@_engine_options
@output_option()
def preview(request_file, version, registry, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Show what `tenant up` would change. Exit 0 if nothing, 1 if changes are pending."""
    from spbe_kit.provision import runner

    spec = load_request(request_file)
    _engine_ready()
    result = runner.preview(spec, catalog_for(spec, version, registry), _settings(kubeconfig, context, backend, secrets_provider), _progress)
    if output == "json":
        emit_json(result.to_dict())
    else:
        changes = ", ".join(f"{n} to {op}" for op, n in sorted(result.changes.items()) if op != "same" and n) or "no changes"
        click.echo(f"tenant {spec.tenant_id}: {changes} ({result.changes.get('same', 0)} unchanged)")
    raise SystemExit(EXIT_FAIL if result.changed else EXIT_SUCCESS)


@tenant.command("up")
@click.argument("request_file", type=click.Path(dir_okay=False, path_type=Path))
@_catalog_version
@_registry
@_engine_options
@click.option("--skip-config", is_flag=True,
              help="Only create the Kubernetes objects: do not run the Ansible roles and the verification after.")
@click.option("--always-run-engine", is_flag=True,
              help="Run the engine (refresh + up) even when the live tenant provably matches its desired state.")
@output_option()
def up(request_file, version, registry, kubeconfig, context, backend, secrets_provider, skip_config,
       always_run_engine, output) -> None:
    """Validate, create or converge the tenant and wait until it is ready, then configure its components
    with the roles and verify them (progress on stderr)."""
    from spbe_kit.provision import runner

    spec = load_request(request_file)  # invalid: exit 1 before anything is touched
    catalog = catalog_for(spec, version, registry)
    settings = _settings(kubeconfig, context, backend, secrets_provider)
    _engine_ready()
    result = runner.up(spec, catalog, settings, _progress, always_run_engine=always_run_engine)
    outcome = None
    if not skip_config:
        from spbe_kit.configure.tenant import configure_tenant

        outcome = configure_tenant(spec, catalog, settings.kubeconfig, settings.context, _progress,
                                   skip_simulated=True)
    if output == "json":
        emit_json({**result.to_dict(), "configuration": outcome.to_dict() if outcome else None})
        _exit_for(outcome)
        return
    changes = ", ".join(f"{n} {op}d" if op != "same" else f"{n} unchanged" for op, n in sorted(result.changes.items()))
    click.echo(f"tenant {spec.tenant_id} is up in {result.seconds:.1f}s ({changes or 'no changes'})")
    click.echo(f"  namespace:        {result.outputs.get('namespace')}")
    click.echo(f"  catalog version:  {result.outputs.get('catalogVersion')}")
    for url, service in (result.outputs.get("endpoints") or {}).items():
        click.echo(f"  endpoint:         {url}  ({service})")
    _echo_credentials(result, desired_state(spec, catalog))
    if outcome is not None:
        _echo_configuration(outcome)
    _exit_for(outcome)


def _recorded_state(result, registry):
    """The desired state of the request the stack recorded (where each Secret is), or None when it has none."""
    from spbe_kit.request import parse_request

    text = result.outputs.get("request")
    if not text:
        return None
    spec = parse_request(text, source="the stack's recorded request")
    return desired_state(spec, catalog_for(spec, result.outputs.get("catalogVersion"), registry))


def _echo_credentials(result, state) -> None:
    """Where the credentials are (Secret names and keys, in the namespace each is in), never their values."""
    namespace = result.outputs.get("namespace")
    located = state.credentials() if state is not None else {}
    for secret, keys in sorted((result.outputs.get("credentials") or {}).items()):
        where = located.get(secret, (namespace, ()))[0]
        click.echo(f"  credential:       Secret {where}/{secret} ({', '.join(keys)})")
    if result.outputs.get("credentials"):
        click.echo("  (values are never printed; an admin reads them with cluster access: "
                   f"kubectl -n {namespace} get secret NAME -o jsonpath='{{.data}}')")
    if result.new_credentials:
        click.echo(f"  new values this run: {', '.join(result.new_credentials)}")


def _exit_for(outcome) -> None:
    """Objects created: 0 when configured and verified (or --skip-config, or no real pod to configure: said
    plainly, never as verified); 1 when verification failed; 2 when the components could not be reached or a
    role failed."""
    from spbe_kit.cli.output import EXIT_ERROR

    if outcome is None or outcome.status == "simulated":  # said plainly by _echo_configuration; nothing ran
        return
    if outcome.status != "configured":
        raise SystemExit(EXIT_ERROR)
    if outcome.verification is not None and not outcome.verified:
        raise SystemExit(EXIT_FAIL)


def _echo_configuration(outcome) -> None:
    if outcome.status == "simulated":
        click.echo("configuration: NOT done and NOT verified: every pod of this tenant runs on a simulated (kwok) "
                   "node, so no component runs to be configured; `spbe tenant status` says 'unknown' for them")
        return
    if outcome.status == "unreachable":
        click.echo(f"configuration: not done, components not reachable ({len(outcome.problems)}):")
        for component, why in sorted(outcome.problems.items()):
            click.echo(f"  {component}: {why}")
        click.echo("  nothing was configured; run `spbe tenant configure REQUEST` once they answer")
        return
    rows = [[r.component, r.role, r.status, str(r.changed), f"{r.seconds:.1f}s"] for r in outcome.roles]
    click.echo(table(rows, ["COMPONENT", "ROLE", "RESULT", "CHANGED", "TIME"]))
    for r in outcome.roles:
        if r.detail:
            click.echo(f"\n{r.role} failed:\n{r.detail}")
    if outcome.verification is not None:
        counts = outcome.verification["counts"]
        verdict = "verified" if outcome.verified else "NOT verified"
        click.echo(f"verification: {verdict} ({counts['pass']} passed, {counts['fail']} failed, "
                   f"{counts['unverified']} unverified, {counts['error']} errors); details: `spbe verify REQUEST`")


@tenant.command("rotate-credentials")
@click.argument("tenant_id", callback=_tenant_id)
@click.option("--secret", "secrets", multiple=True, metavar="NAME",
              help="A generated Secret to rotate (repeatable; default: every generated credential).")
@_registry
@_engine_options
@output_option()
def rotate_credentials(tenant_id, secrets, registry, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Give new values to a tenant's generated credentials, from the request recorded in its stack.

    Only the named Secrets change; the workloads that read them are rolled by the engine where
    their pod spec refers to them. Values are never printed. Run `spbe tenant configure` after
    rotating database or mail credentials so the components take the new values.
    """
    from spbe_kit.provision import runner

    settings = _settings(kubeconfig, context, backend, secrets_provider)
    _engine_ready()
    result = runner.rotate_credentials(tenant_id, secrets, settings, _progress, registry=registry)
    if output == "json":
        emit_json(result.to_dict())
        return
    click.echo(f"tenant {tenant_id}: rotated {', '.join(result.new_credentials) or 'nothing'} in {result.seconds:.1f}s")
    _echo_credentials(result, _recorded_state(result, registry))


@tenant.command("configure")
@click.argument("request_file", type=click.Path(dir_okay=False, path_type=Path))
@_catalog_version
@_registry
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cluster of the tenant (default: $SPBE_KUBECONFIG, else the local cluster).")
@click.option("--context", default=None, help="Context in the kubeconfig.")
@click.option("--no-verify", is_flag=True, help="Do not run the verification suite afterwards.")
@output_option()
def configure(request_file, version, registry, kubeconfig, context, no_verify, output) -> None:
    """Run the roles inside an already provisioned tenant's components, then verify them.

    Every component is reached first (port-forwards for identity and the database, exec into
    the mail and e-office pods); if one does not answer, nothing is configured. Exit 0 when
    configured and verified, 1 when verification failed, 2 when unreachable or a role failed.
    """
    from spbe_kit.configure.tenant import configure_tenant
    from spbe_kit.kubeclient import resolve_kubeconfig

    spec = load_request(request_file)
    catalog = catalog_for(spec, version, registry)
    outcome = configure_tenant(spec, catalog, resolve_kubeconfig(kubeconfig), context, _progress, verify=not no_verify)
    if output == "json":
        emit_json(outcome.to_dict())
    else:
        _echo_configuration(outcome)
    _exit_for(outcome)


@tenant.command("status")
@click.argument("tenant_id", callback=_tenant_id)
@_engine_options
@output_option()
def status(tenant_id, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Catalog version, last update and health of each component.

    Healthy only on evidence: credentials present, workloads Ready, components answering
    (readiness probes on a real node). Exit 0 healthy; 1 not healthy, unknown or not
    provisioned; 2 no such tenant.
    """
    from spbe_kit.errors import ProvisionError, ToolBuildError
    from spbe_kit import health
    from spbe_kit.provision import runner

    settings = _settings(kubeconfig, context, backend, secrets_provider)
    live = health.tenant_health(tenant_id, settings.kubeconfig, settings.context)
    stack_error = None
    try:
        record = runner.stack_record(tenant_id, settings)
        outputs, last = record.outputs, record.last_update or {}
    except ToolBuildError:
        outputs, last, stack_error = {}, {}, "the Pulumi engine is not built here (`spbe engine build`)"
    except ProvisionError as exc:
        outputs, last, stack_error = {}, {}, exc.message
    if not live.namespace_exists and not outputs and last.get("kind") != "destroy":
        # neither a namespace nor a stack record: most likely a mistyped name
        close = health.suggestion(tenant_id, health.tenant_namespaces(settings.kubeconfig, settings.context))
        raise ProvisionError(f"no tenant named {tenant_id}" + (f" (did you mean {close}?)" if close else ""),
                             hint="list tenants with `kubectl get namespaces -l spbe.go.id/tenant`")
    if stack_error and live.namespace_exists:
        warn(f"note: no stack record for {tenant_id}: {stack_error}")
    if live.namespace_exists:
        live.expect(outputs.get("credentials"), outputs.get("workloads"))
    catalog_version = outputs.get("catalogVersion") or live.catalog_version
    verdict = live.verdict if live.namespace_exists else "not provisioned"
    if output == "json":
        emit_json({"tenant": tenant_id, "catalogVersion": catalog_version, "lastUpdate": last or None,
                   "endpoints": outputs.get("endpoints"), "stackError": stack_error, **live.to_dict(),
                   "health": verdict})
    else:
        click.echo(f"tenant {tenant_id}: {verdict.upper() if verdict != health.HEALTHY else verdict}   "
                   f"catalog {catalog_version or '?'}   "
                   f"last update {last.get('ended') or '-'} ({last.get('kind', '-')}: {last.get('result', '-')})")
        if live.suspended:
            click.echo(f"  suspended since {live.suspended}: workloads at zero, backup jobs paused, data and backups kept; "
                       f"`spbe tenant resume {tenant_id}` brings it back")
        if not live.namespace_exists:
            click.echo("  it was destroyed (its stack and update history are kept)" if last.get("kind") == "destroy"
                       else "  its namespace does not exist: it was never brought up with `spbe tenant up`")
        rows = [[c, f"{w.kind}/{w.name}", f"{w.ready}/{w.desired}",
                 "not ready" if not w.healthy else ("ready (simulated node)" if w.simulated else "ok")]
                for c, ws in live.components.items() for w in ws]
        if rows:
            click.echo(table(rows, ["COMPONENT", "WORKLOAD", "READY", "HEALTH"]))
        if live.namespace_exists:
            click.echo(f"credentials: {live.credentials_checked - len(live.missing_credentials)} of "
                       f"{live.credentials_checked} present")
        for problem in live.problems:
            click.echo(f"  problem: {problem}")
        for unknown in live.unknowns:
            click.echo(f"  unknown: {unknown}")
        click.echo(f"last successful backup: {live.last_backup or 'none yet'}")
    raise SystemExit(EXIT_SUCCESS if live.healthy else EXIT_FAIL)


def _backup_store():
    """The platform's backup store when one is configured (SPBE_BACKUP_STORE or the local one), else None."""
    from spbe_kit.backups.store import load_settings
    from spbe_kit.errors import BackupError

    try:
        return load_settings()
    except BackupError as exc:
        if "no backup store is configured" in exc.message:
            return None
        raise


def _final_backup(store, tenant_id: str, settings, force: bool) -> dict | None:
    """The tenant's last backup, taken now into the store; refuses the destroy when it fails (unless --force)."""
    from spbe_kit.errors import BackupError, DestroyRefused
    from spbe_kit.lifecycle.final_backup import take_final_backup

    try:
        return take_final_backup(store, tenant_id, settings.kubeconfig, settings.context, _progress).to_dict()
    except BackupError as exc:
        if not force:
            raise DestroyRefused(f"refusing to destroy tenant {tenant_id}: its final backup failed: {exc.message}",
                                 hint="bring its database up (spbe tenant status), or pass --force if the data may be lost")
        warn(f"warning: destroying {tenant_id} without a final backup (--force): {exc.message}")
        return None


@tenant.command("destroy")
@click.argument("tenant_id", callback=_tenant_id)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Destroy even when no final backup could be taken (or none is recent).")
@_engine_options
@output_option()
def destroy(tenant_id, yes, force, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Delete every object of a tenant. With a backup store configured, a final backup goes into the store
    first (kept for the retention period); without one, refused without a recent backup. --force overrides."""
    from spbe_kit.provision import runner
    from spbe_kit.provision.guards import check_destroy

    settings = _settings(kubeconfig, context, backend, secrets_provider)
    store = _backup_store()
    check = None if store else check_destroy(tenant_id, settings, force)  # refuses before anything is asked
    if not yes:
        click.confirm(f"Destroy tenant {tenant_id} and every object in namespace {tenant_id}?", abort=True, err=True)
    final = _final_backup(store, tenant_id, settings, force) if store else None
    if check and check.warning:
        warn(check.warning)
    _engine_ready()
    result = runner.destroy(tenant_id, settings, _progress)
    if output == "json":
        emit_json({**result.to_dict(), "finalBackup": final})
    else:
        click.echo(f"tenant {tenant_id} destroyed in {result.seconds:.1f}s ({result.changes.get('delete', 0)} objects deleted); "
                   "its stack and update history are kept as evidence of change")


@tenant.command("decommission")
@click.argument("tenant_id", callback=_tenant_id)
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where the pemda's data export archive, its .sha256 and the signed evidence are written.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_engine_options
@output_option()
def decommission_cmd(tenant_id, out_dir, yes, kubeconfig, context, backend, secrets_provider, output) -> None:
    """End a tenant for good: a final backup into the store, the data export archive of that backup for the
    pemda (checksummed and read back), a restore drill of it, then the destroy, with signed evidence beside
    the archive and in the store. Any step before the destroy failing leaves the tenant as it was.
    Needs a backup store (SPBE_BACKUP_STORE, or the local cluster's)."""
    from spbe_kit.errors import DestroyRefused
    from spbe_kit.lifecycle.decommission import decommission

    settings = _settings(kubeconfig, context, backend, secrets_provider)
    store = _backup_store()
    if store is None:
        raise DestroyRefused(f"cannot decommission {tenant_id}: no backup store is configured, so there would be no "
                             "final backup to keep and no evidence to file",
                             hint="set SPBE_BACKUP_STORE (production) or run `spbe cluster up` (local store); "
                                  "`spbe tenant destroy` removes a tenant without a store")
    if not yes:
        click.confirm(f"Decommission tenant {tenant_id}: final backup, export to {out_dir}, then destroy namespace "
                      f"{tenant_id}?", abort=True, err=True)
    _engine_ready()
    done = decommission(tenant_id, settings, store, out_dir, _progress)
    if output == "json":
        emit_json(done.to_dict())
    else:
        click.echo(f"tenant {tenant_id} decommissioned; its final backup {done.record.result['finalBackup']['snapshot'][:8]} "
                   "stays in the store for the retention period")
        click.echo(f"  data export for the pemda: {done.archive.path} ({done.archive.size} bytes)")
        click.echo(f"  sha256 {done.archive.sha256} (also in {done.archive.path.name}.sha256)")
        click.echo(f"  evidence (signed): {done.evidence_file}" + ("" if done.filed_in_store else " (NOT filed in the store)"))


@tenant.command("suspend")
@click.argument("tenant_id", callback=_tenant_id)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Suspend even when the backup before it cannot be taken.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--context", default=None)
@output_option()
def suspend_cmd(tenant_id, yes, force, kubeconfig, context, output) -> None:
    """Stop a tenant without losing anything: a backup into the store first (when one is configured), then
    every workload scaled to zero and its CronJobs paused, recorded on its namespace (who, when, what).
    Volumes, Secrets and backups stay; `spbe drift` reports it as suspended; `tenant up` is refused until
    `spbe tenant resume`. Running it again changes nothing."""
    from spbe_kit.kubeclient import resolve_kubeconfig
    from spbe_kit.lifecycle.suspend import suspend

    if not yes:
        click.confirm(f"Suspend tenant {tenant_id} (every workload scaled to zero)?", abort=True, err=True)
    result = suspend(tenant_id, resolve_kubeconfig(kubeconfig), context, _backup_store(), force, _progress)
    _echo_suspension(result, output)


@tenant.command("resume")
@click.argument("tenant_id", callback=_tenant_id)
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--context", default=None)
@output_option()
def resume_cmd(tenant_id, kubeconfig, context, output) -> None:
    """Bring a suspended tenant back exactly as it was (the replicas and CronJobs its suspension recorded), and
    wait until those workloads are Ready. A tenant that is not suspended is left alone."""
    from spbe_kit.kubeclient import resolve_kubeconfig
    from spbe_kit.lifecycle.suspend import resume

    _echo_suspension(resume(tenant_id, resolve_kubeconfig(kubeconfig), context, _progress), output)


def _echo_suspension(result, output: str) -> None:
    if output == "json":
        emit_json(result.to_dict())
        return
    record = result.suspension
    words = {"suspended": "suspended", "already-suspended": "was already suspended", "resumed": "resumed",
             "not-suspended": "is not suspended: nothing to do"}
    click.echo(f"tenant {result.tenant} {words[result.action]} ({result.seconds:.1f}s)")
    if record and result.action != "not-suspended":
        click.echo(f"  suspended at {record.at} by {record.by}; backup before it: {record.backup or 'none (no store)'}")
        click.echo(f"  workloads: {', '.join(f'{k} ({v})' for k, v in sorted(record.replicas.items())) or '-'}")
        click.echo(f"  CronJobs: {', '.join(record.cronjobs) or '-'}")
