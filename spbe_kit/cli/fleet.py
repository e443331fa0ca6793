"""`spbe fleet`: roll a catalog version over a folder of tenant requests, in waves, with health gates."""

from __future__ import annotations

from pathlib import Path

import click

from spbe_kit.cli.output import EXIT_FAIL, EXIT_SUCCESS, emit_json, output_option, table
from spbe_kit.cli.tenant import _engine_options, _engine_ready, _progress, _settings

_folder = click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
_to = click.option("--to", "target", required=True, help="Catalog version to roll out (e.g. 2026.12).")


@click.group()
def fleet() -> None:
    """Roll a catalog version over a fleet: plan, apply in waves with health gates, resume, roll back."""


def _snapshot(settings):
    from spbe_kit.drift.live import read
    from spbe_kit.kubeclient import api_client

    with api_client(settings.kubeconfig, settings.context) as api:
        return read(api, None)


def _checked(folder: Path, target: str):
    """The fleet file, the requests and the target version, checked before any cluster is read; the fleet
    file and the loaded requests, so that the plan does not read and validate them again."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.fleet import config as fleet_config
    from spbe_kit.fleet import plan as fleet_plan

    config = fleet_config.load(folder)
    load_catalog(target)
    loaded = fleet_plan.load_fleet(folder)
    fleet_plan.assign_waves(config, [spec for _, spec in loaded])
    return config, loaded


def _plan(folder: Path, target: str, settings, precise: bool, workers: int, checked):
    from spbe_kit.fleet import plan as fleet_plan

    config, loaded = checked
    result = fleet_plan.plan(folder, target, _snapshot(settings), config, _progress, loaded=loaded)
    if precise:
        _engine_ready()
        result = fleet_plan.precise(result, folder, settings, workers, _progress)
    return result


def _show_plan(result) -> None:
    rows = []
    for wave, members in result.waves():
        for t in members:
            note = ", ".join(x for x in (f"pinned {t.pinned}" if t.pinned else "", f"held: {t.held}" if t.held else "",
                                          f"suspended since {t.suspended}" if t.suspended else "",
                                          "PREVIEW FAILED (rendered changes shown)" if t.preview_error else "") if x)
            rows.append([wave.name, t.tenant, t.current or "-", t.target, t.action, str(t.changes) if t.rolls else "", note])
    for t in result.tenants:
        if t.wave is None:
            rows.append(["(none)", t.tenant, t.current or "-", t.target, t.action, "", "in no wave of fleet.yaml"])
    click.echo(table(rows, ["WAVE", "TENANT", "NOW", "TARGET", "ACTION", "CHANGES", "NOTE"]))
    counts = ", ".join(f"{n} {k}" for k, n in result.to_dict()["summary"].items())
    click.echo(f"\n{len(result.tenants)} tenant(s) onto catalog {result.target}: {counts} "
               f"({'engine previews' if result.precise else 'rendered and compared'} in {result.seconds:.1f}s)")


@fleet.command("plan")
@_folder
@_to
@click.option("--precise", is_flag=True, help="Run the engine's previews (in parallel) instead of rendering and comparing.")
@click.option("--workers", default=4, show_default=True, help="Parallel previews with --precise.")
@_engine_options
@output_option()
def plan_cmd(folder, target, precise, workers, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Show what rolling catalog TARGET over FOLDER would do, wave by wave. Nothing is applied."""
    checked = _checked(folder, target)
    result = _plan(folder, target, _settings(kubeconfig, context, backend, secrets_provider), precise, workers, checked)
    if output == "json":
        emit_json(result.to_dict())
    else:
        _show_plan(result)
    raise SystemExit(EXIT_FAIL if any(t.preview_error for t in result.tenants) else EXIT_SUCCESS)


def _finish(run_status, output: str) -> None:
    if output == "json":
        emit_json(run_status.to_dict())
    else:
        _show_status(run_status)
    ok = run_status.status in ("finished",) and all(t.outcome not in ("failed", "rolled-back", "rollback-failed")
                                                    for t in run_status.tenants)
    raise SystemExit(EXIT_SUCCESS if ok else EXIT_FAIL)


@fleet.command("apply")
@_folder
@_to
@click.option("--no-rollback", is_flag=True, help="Leave a tenant that fails its gates as it is, for inspection.")
@_engine_options
@output_option()
def apply_cmd(folder, target, no_rollback, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Roll catalog TARGET over FOLDER: waves in order, gates after each tenant, rollback on failure, halt
    when a wave spends its failure budget. Exit 0 when every tenant passed, 1 otherwise."""
    from spbe_kit.fleet import report, rollout

    checked = _checked(folder, target)
    settings = _settings(kubeconfig, context, backend, secrets_provider)
    result = _plan(folder, target, settings, False, 1, checked)
    _engine_ready()
    run = rollout.begin(result, folder, not no_rollback, rollout.Engine(settings, _progress), _progress, started=lambda r: _progress(
        f"fleet run {r.id} (resume with `spbe fleet resume {r.id}` if it is interrupted)"))
    _finish(report.status(run), output)


@fleet.command("resume")
@click.argument("run_id")
@_engine_options
@output_option()
def resume_cmd(run_id, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Continue an interrupted run where it stopped; tenants that finished are never run again."""
    from spbe_kit.fleet import journal, report, rollout

    run = journal.find(run_id)
    _engine_ready()
    rollout.execute(run, rollout.Engine(_settings(kubeconfig, context, backend, secrets_provider), _progress), _progress)
    _finish(report.status(run), output)


@fleet.command("rollback")
@click.argument("run_id")
@_engine_options
@output_option()
def rollback_cmd(run_id, kubeconfig, context, backend, secrets_provider, output) -> None:
    """Bring every tenant RUN moved back to the catalog version it had before."""
    from spbe_kit.fleet import journal, report, rollout

    run = journal.find(run_id)
    _engine_ready()
    rollout.rollback_run(run, rollout.Engine(_settings(kubeconfig, context, backend, secrets_provider), _progress), _progress)
    s = report.status(run)
    if output == "json":
        emit_json(s.to_dict())
    else:
        _show_status(s)
    bad = [t.tenant for t in s.tenants if t.outcome == "passed" and t.source and t.source != t.target and not t.reverted]
    raise SystemExit(EXIT_FAIL if bad else EXIT_SUCCESS)


def _show_status(s) -> None:
    click.echo(f"run {s.run}: {s.status}; {s.started_by} at {s.started_at}; catalog -> {s.target}"
               + (f"; halted: {s.halted}" if s.halted else ""))
    rows = [[t.wave or "-", t.tenant, t.source or "-", t.target, t.outcome + (" (reverted)" if t.reverted else ""),
             "" if t.seconds is None else f"{t.seconds:.0f}s",
             " ".join(f"{g['gate']}:{g['status']}" for g in t.gates)] for t in s.tenants]
    click.echo(table(rows, ["WAVE", "TENANT", "FROM", "TO", "OUTCOME", "TIME", "GATES"]))
    click.echo(", ".join(f"{n} {k}" for k, n in s.counts().items()))


@fleet.command("status")
@click.argument("run_id", required=False)
@output_option()
def status_cmd(run_id, output) -> None:
    """A run's progress and each tenant's outcome (no RUN: every run on this machine)."""
    from spbe_kit.fleet import journal, report

    if run_id is None:
        runs = [report.status(r) for r in journal.all_runs()]
        if output == "json":
            emit_json([{k: v for k, v in r.to_dict().items() if k != "tenants"} for r in runs])
            return
        click.echo(table([[r.run, r.status, r.target, r.started_by, r.started_at,
                           ", ".join(f"{n} {k}" for k, n in r.counts().items())] for r in runs],
                         ["RUN", "STATUS", "TARGET", "BY", "STARTED", "OUTCOMES"]))
        return
    s = report.status(journal.find(run_id))
    if output == "json":
        emit_json(s.to_dict())
        return
    _show_status(s)


@fleet.command("report")
@click.argument("run_id")
@click.option("--out-file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write it: .html (self-contained page) or .json.")
@click.option("--lang", type=click.Choice(["en", "id"]), default="en", show_default=True, help="Language of the HTML page.")
def report_cmd(run_id, out_file, lang) -> None:
    """The run as change evidence: who, when, from which version to which, each tenant's outcome and gates."""
    import json

    from spbe_kit.fleet import journal, report

    s = report.status(journal.find(run_id))
    if out_file.suffix == ".json":
        out_file.write_text(json.dumps(s.to_dict(), indent=2, ensure_ascii=False))
    else:
        out_file.write_text(report.as_html(s, lang))
    click.echo(f"wrote {out_file} (run {s.run}, {s.status})")
