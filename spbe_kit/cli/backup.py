"""`spbe backup`: a tenant's backups in the platform's store -- list, drill (verify), restore, prune, drills."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from spbe_kit.cli.output import EXIT_FAIL, EXIT_SUCCESS, emit_json, output_option, table, warn

_tenant = click.argument("tenant")
_at = click.option("--at", "at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
                   default=None, help="The newest backup taken at or before this time (UTC), instead of the newest.")


@click.group()
def backup() -> None:
    """A tenant's backups in the platform's backup store (outside every tenant and the cluster)."""


def _settings():
    from spbe_kit.backups.store import load_settings

    return load_settings()


@backup.command("list")
@_tenant
@output_option()
def list_(tenant: str, output: str) -> None:
    """Every backup of TENANT in the store, oldest first."""
    from spbe_kit.backups.operations import list_backups

    snapshots = list_backups(_settings(), tenant)
    if output == "json":
        emit_json({"tenant": tenant, "backups": [s.to_dict() for s in snapshots]})
        return
    if not snapshots:
        warn(f"{tenant} has a repository in the store but no backup yet")
        return
    click.echo(table([[s.short_id, s.time.strftime("%Y-%m-%d %H:%M:%S"), ", ".join(s.tags)] for s in snapshots],
                     ["BACKUP", "TAKEN (UTC)", "TAGS"]))


@backup.command()
@_tenant
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--context", default=None)
@output_option()
def run(tenant: str, kubeconfig: Path | None, context: str | None, output: str) -> None:
    """Take a backup of TENANT now, from outside the tenant: the job's own script through a port-forward,
    as the read-only backup role, into the store with the tenant's append-only identity."""
    from spbe_kit.backups.cluster import tenant_server
    from spbe_kit.backups.run import backup_now

    settings = _settings()
    with tenant_server(tenant, kubeconfig, context, as_backup_role=True) as server:
        snapshot = backup_now(settings, tenant, server)
    if output == "json":
        emit_json({"tenant": tenant, "backup": snapshot.to_dict()})
    else:
        click.echo(f"backup {snapshot.short_id} of {tenant} taken at {snapshot.time.isoformat()} and stored in "
                   f"{settings.endpoint} ({settings.bucket}/tenants/{tenant})")


@backup.command()
@_tenant
@_at
@output_option()
def verify(tenant: str, at: datetime | None, output: str) -> None:
    """Restore drill: restore a backup of TENANT into a scratch PostgreSQL outside the tenant, check every
    file's SHA-256 and every table's rows against what the backup recorded, and file the signed result in
    the store (exit 1 when the drill fails)."""
    from spbe_kit.backups.operations import drill

    record = drill(_settings(), tenant, at)
    result = record.result
    if output == "json":
        emit_json(record.to_dict())
    else:
        rows = [[d["name"], str(d["tables"]), str(d["rows"]), "yes" if d["rowsMatchBackup"] else "NO"]
                for d in result["databases"]]
        click.echo(table(rows, ["DATABASE", "TABLES", "ROWS", "MATCHES BACKUP"]))
        for problem in result["problems"]:
            click.echo(f"problem: {problem}")
        verdict = "passed" if result["passed"] else "FAILED"
        click.echo(f"restore drill of {tenant} from backup {result['snapshotShort']} ({result['backupTime']}) "
                   f"{verdict} in {result['seconds']} s; signed result: {record.key}")
    raise SystemExit(EXIT_SUCCESS if result["passed"] else EXIT_FAIL)


@backup.command("verify-due")
@click.option("--every-days", default=7, show_default=True, type=click.IntRange(min=0),
              help="Drill a tenant when its newest passing drill is older than this.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Drills at a time.")
@output_option()
def verify_due(every_days: int, workers: int, output: str) -> None:
    """The platform's drill schedule (run it daily, e.g. from a systemd timer): every tenant in the store whose
    newest drill failed, is missing, or is older than --every-days is drilled now and its signed result filed;
    exit 1 when any drill fails or a tenant has no backup."""
    from spbe_kit.backups.operations import drill_due

    results = drill_due(_settings(), every_days, workers, progress=lambda line: click.echo(line, err=True))
    if output == "json":
        emit_json({"everyDays": every_days, "tenants": [r.to_dict() for r in results]})
    else:
        click.echo(table([[r.tenant, r.outcome, r.detail] for r in results], ["TENANT", "DRILL", "DETAIL"]))
    raise SystemExit(EXIT_FAIL if any(r.outcome in ("failed", "no-backup") for r in results) else EXIT_SUCCESS)


@backup.command()
@_tenant
@output_option()
@click.option("--public-key", "public_key", default=None,
              help="The platform's drill-signing public key (base64) to check against; default: this platform's.")
def drills(tenant: str, output: str, public_key: str | None) -> None:
    """The restore-drill history of TENANT, each result with whether its signature holds (evidence)."""
    from spbe_kit.backups.operations import drill_history
    from spbe_kit.backups.operations import public_key as platform_key

    settings = _settings()
    history = drill_history(settings, tenant, public_key or platform_key(settings))
    if output == "json":
        emit_json({"tenant": tenant, "drills": history})
        return
    click.echo(table([[h["result"]["startedAt"], h["result"]["snapshotShort"],
                       "passed" if h["result"]["passed"] else "failed",
                       "valid" if h["signatureValid"] else "INVALID"] for h in history],
                     ["DRILL", "BACKUP", "RESULT", "SIGNATURE"]))


@backup.command()
@_tenant
@output_option()
@click.option("--public-key", "public_key", default=None,
              help="The platform's signing public key (base64) to check against; default: this platform's.")
def evidence(tenant: str, output: str, public_key: str | None) -> None:
    """Every signed record of TENANT in the store: its restore drills and, once it is gone, its decommission
    (final backup, export archive checksums, what was deleted), each with whether its signature holds."""
    from spbe_kit.backups.operations import evidence as evidence_of
    from spbe_kit.backups.operations import public_key as platform_key

    settings = _settings()
    records = evidence_of(settings, tenant, public_key or platform_key(settings))
    if output == "json":
        emit_json({"tenant": tenant, "evidence": records})
        return
    click.echo(table([[r["result"].get("kind", "?").split("/")[-1], r["result"].get("startedAt", ""), r["key"],
                       "valid" if r["signatureValid"] else "INVALID"] for r in records],
                     ["KIND", "WHEN", "KEY", "SIGNATURE"]))


@backup.command()
@_tenant
@_at
@click.option("--to-dir", "to_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Put the backup's files (dumps, row counts, checksums) in this directory.")
@click.option("--into", "into", default=None, metavar="NAMESPACE",
              help="Load the backup into the PostgreSQL of this tenant namespace (replacing its databases).")
@click.option("--database", "databases", multiple=True, help="Only this database (repeatable).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--yes", is_flag=True, help="Do not ask before replacing databases.")
@output_option()
def restore(tenant: str, at: datetime | None, to_dir: Path | None, into: str | None, databases: tuple[str, ...],
            kubeconfig: Path | None, yes: bool, output: str) -> None:
    """Restore a backup of TENANT: its files into --to-dir, or its databases into the tenant namespace --into."""
    from spbe_kit.backups import operations

    if bool(to_dir) == bool(into):
        raise click.UsageError("give exactly one of --to-dir DIR or --into NAMESPACE")
    settings = _settings()
    if to_dir:
        repo = operations.repository(settings, tenant)
        snapshot = operations.choose(repo.snapshots(host=tenant), tenant, at)
        operations.restore_snapshot(repo, snapshot, to_dir)
        result = {"tenant": tenant, "snapshot": snapshot.short_id, "time": snapshot.time.isoformat(),
                  "directory": str(to_dir), "files": sorted(p.name for p in to_dir.iterdir())}
    else:
        from spbe_kit.backups.cluster import tenant_server

        if not yes:
            click.confirm(f"replace the databases of {into} with backup of {tenant}?", abort=True, err=True)
        with tenant_server(into, kubeconfig) as server:
            result = operations.restore_into(settings, tenant, server, at, list(databases) or None)
    if output == "json":
        emit_json(result)
    else:
        click.echo(f"restored backup {result['snapshot']} of {tenant} ({result['time']})"
                   + (f" into {into}" if into else f" to {to_dir}"))


@backup.command("prune-due")
@click.option("--requests", "requests_dir", required=True, envvar="SPBE_REQUESTS_DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="The folder of every tenant's request (its backup.retentionDays decides); env SPBE_REQUESTS_DIR.")
@output_option()
def prune_due(requests_dir: Path, output: str) -> None:
    """The platform's prune (run it daily, beside verify-due): every tenant in the store that has a request in
    --requests keeps exactly its request's retention (else its catalog's default); a tenant without a request
    there is left as it is. Nothing is pruned when a request is invalid (exit 1)."""
    from spbe_kit.lifecycle.retention import prune_due as do_prune_due

    results = do_prune_due(_settings(), requests_dir, progress=lambda line: click.echo(line, err=True))
    if output == "json":
        emit_json({"requests": str(requests_dir), "tenants": [r.to_dict() for r in results]})
    else:
        click.echo(table([[r.tenant, r.outcome, "" if r.retention_days is None else f"{r.retention_days} days",
                           r.source, str(r.removed)] for r in results],
                         ["TENANT", "PRUNE", "RETENTION", "FROM", "REMOVED"]))


@backup.command()
@_tenant
@click.option("--retention-days", type=click.IntRange(min=7), required=True,
              help="Keep every backup younger than this (the tenant's retentionDays); the newest always stays.")
@output_option()
def prune(tenant: str, retention_days: int, output: str) -> None:
    """Drop backups of TENANT older than its retention: the platform's job, never the tenant's."""
    from spbe_kit.backups.operations import prune as do_prune

    result = do_prune(_settings(), tenant, retention_days)
    if output == "json":
        emit_json({"tenant": tenant, **result})
    else:
        click.echo(f"pruned {result['removed']} backup(s) of {tenant} older than {retention_days} days")
