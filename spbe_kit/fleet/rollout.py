"""Running a rollout: waves in order, tenants in parallel up to maxParallel, gates after each `up`,
rollback of a tenant that fails them, a halt when a wave spends more than its failure budget.

Each step is journalled before and after it happens (spbe_kit.fleet.journal), so a killed run is
resumed from the journal: tenants that finished (passed, failed, rolled back) are never run again;
one that was in flight is run again (`tenant up` converges whatever state it was left in).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.catalog.load import load_catalog
from spbe_kit.errors import SpbeError
from spbe_kit.fleet import journal
from spbe_kit.fleet.config import FleetConfig, GateCommand, Wave
from spbe_kit.fleet.config import load as load_config
from spbe_kit.fleet.plan import FleetPlan, TenantPlan, load_fleet
from spbe_kit.request.spec import TenantSpec

Progress = Callable[[str], None]
PASSED, FAILED, ROLLED_BACK, ROLLBACK_FAILED = "passed", "failed", "rolled-back", "rollback-failed"


class ConfigureFailed(SpbeError):
    """The objects were applied, but a component could not be reached or one of its roles failed."""

    def __init__(self, tenant: str, outcome) -> None:
        if outcome.status == "unreachable":
            why = "; ".join(f"{c}: {w}" for c, w in sorted(outcome.problems.items()))
            message = f"{tenant}: configuration not done, components not reachable ({why})"
        else:
            failed = [r for r in outcome.roles if r.status != "configured"]
            why = "; ".join(f"{r.component} ({r.role}) {r.status}" + (f": {r.detail.strip().splitlines()[-1][:300]}"
                                                                      if r.detail.strip() else "") for r in failed)
            message = f"{tenant}: configuration failed: {why}"
        super().__init__(message, hint=f"`spbe tenant configure REQUEST` shows each role's output; the objects of "
                                       f"{tenant} are applied")


@dataclass
class GateResult:
    gate: str
    status: str  # pass | fail | skipped
    detail: str = ""

    def to_dict(self) -> dict:
        return {"gate": self.gate, "status": self.status, "detail": self.detail}


@dataclass
class Engine:
    """What a rollout acts through; the real one drives `tenant up` and reads the cluster. Tests of the
    journal logic may give another, but the fleet tests use this one against the local cluster."""

    settings: object  # EngineSettings
    progress: Progress = lambda _: None

    def up(self, spec: TenantSpec, version: str) -> dict:
        """What `spbe tenant up` does before it verifies: the objects, then the roles inside every component
        that runs on a real node (a new component, e.g. 2026.12's dashboards, is unconfigured until they
        run). Verification is left to the gates."""
        from spbe_kit.configure.tenant import configure_tenant
        from spbe_kit.provision import runner

        def progress(line: str) -> None:
            self.progress(f"{spec.tenant_id}: {line}")

        # the version the plan chose (a pin was honoured there; a rollback goes to the version before)
        catalog = load_catalog(version)
        result = runner.up(spec, catalog, self.settings, progress)
        outcome = configure_tenant(spec, catalog, self.settings.kubeconfig, self.settings.context, progress,
                                   verify=False, skip_simulated=True)
        if outcome.status not in ("configured", "simulated"):
            raise ConfigureFailed(spec.tenant_id, outcome)
        return result.changes

    def gates(self, spec: TenantSpec, version: str, commands: tuple[GateCommand, ...], ready_timeout: float) -> list[GateResult]:
        return [self._ready(spec, ready_timeout), self._drift(spec, version), self._verify(spec, version),
                *(self._command(spec, c) for c in commands)]

    def _ready(self, spec: TenantSpec, timeout: float) -> GateResult:
        from spbe_kit.health import tenant_health, wait_ready

        try:
            wait_ready(spec.tenant_id, self.settings.kubeconfig, self.settings.context, timeout=timeout)
        except SpbeError as exc:
            return GateResult("ready", "fail", exc.message)
        live = tenant_health(spec.tenant_id, self.settings.kubeconfig, self.settings.context)
        if live.problems:
            return GateResult("ready", "fail", "; ".join(live.problems))
        simulated = live.unknowns
        return GateResult("ready", "pass", "every workload Ready" + (f" ({simulated[0]})" if simulated else ""))

    def _drift(self, spec: TenantSpec, version: str) -> GateResult:
        from spbe_kit.drift.check import check_tenant
        from spbe_kit.drift.live import read
        from spbe_kit.kubeclient import api_client

        with api_client(self.settings.kubeconfig, self.settings.context) as api:
            snapshot = read(api, [spec.tenant_id])
        result = check_tenant(spec, snapshot, b"fleet-gate", None)
        if result.catalog_version != version:
            return GateResult("drift", "fail", f"the namespace records catalog {result.catalog_version}, not {version}")
        if result.status != "clean":
            shown = "; ".join(f"{f.kind.value} {f.object}{(' ' + f.path) if f.path else ''}" for f in result.findings[:5])
            return GateResult("drift", "fail", f"{len(result.findings)} finding(s): {shown}")
        return GateResult("drift", "pass", f"{result.objects_checked} objects as the baseline says")

    def _verify(self, spec: TenantSpec, version: str) -> GateResult:
        """`spbe verify`'s suite against the tenant's running pods, judged by ``version``'s desired state."""
        from spbe_kit.desired import desired_state
        from spbe_kit.health import tenant_health
        from spbe_kit.verify.hosts import cluster_targets
        from spbe_kit.verify.run import run_suite

        live = tenant_health(spec.tenant_id, self.settings.kubeconfig, self.settings.context)
        if live.unknowns:
            return GateResult("verify", "skipped", "no real node runs this tenant: " + live.unknowns[0])
        state = desired_state(spec, load_catalog(version))
        report = run_suite(*cluster_targets(state, self.settings.kubeconfig, self.settings.context))
        if report.verified:
            return GateResult("verify", "pass", f"{len(report.results)} checks passed")
        bad = [f"{r.component}: {r.check} {r.status}" + (f" ({r.detail.strip()[:200]})" if r.detail.strip() else "")
               for r in report.results if r.status != "pass"]
        return GateResult("verify", "fail", f"{len(bad)} of {len(report.results)} checks not passed: " + "; ".join(bad[:5]))

    def _command(self, spec: TenantSpec, gate: GateCommand) -> GateResult:
        env = {**os.environ, "SPBE_TENANT": spec.tenant_id, "SPBE_KUBECONFIG": str(self.settings.kubeconfig)}
        try:
            proc = subprocess.run(list(gate.argv), capture_output=True, text=True, env=env, timeout=gate.timeout_seconds)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return GateResult(gate.name, "fail", str(exc)[:300])
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
        return GateResult(gate.name, "pass" if proc.returncode == 0 else "fail", f"exit {proc.returncode}: {last[0][:300]}")


@dataclass
class RunState:
    """What the journal says has happened."""

    done: dict[str, dict] = field(default_factory=dict)  # tenant -> its tenant-done event
    waves_done: dict[str, dict] = field(default_factory=dict)
    halted: dict | None = None
    finished: dict | None = None
    soak_until: dict[str, float] = field(default_factory=dict)
    reverted: dict[str, dict] = field(default_factory=dict)  # tenant -> tenant-reverted (run rollback)

    @classmethod
    def of(cls, run: journal.Run) -> RunState:
        state = cls()
        for e in run.events():
            kind = e["event"]
            if kind == "tenant-done":
                state.done[e["tenant"]] = e
            elif kind == "wave-done":
                state.waves_done[e["wave"]] = e
            elif kind == "run-halted":
                state.halted = e
            elif kind == "run-finished":
                state.finished = e
            elif kind == "soak":
                state.soak_until[e["wave"]] = e["until"]
            elif kind == "tenant-reverted":
                state.reverted[e["tenant"]] = e
        return state

    def failures(self, wave: str) -> int:
        return sum(1 for e in self.done.values() if e["wave"] == wave and e["outcome"] != PASSED)


def start(fleet_plan: FleetPlan, folder: Path, rollback: bool) -> journal.Run:
    """A new run's folder: what was asked, by whom, the plan, and a copy of the requests."""
    from spbe_kit.fleet.plan import request_files

    header = {"folder": str(folder.resolve()), "target": fleet_plan.target, "startedBy": journal.operator(),
              "startedAt": journal.now(), "rollback": rollback, "plan": fleet_plan.to_dict()}
    return journal.create(header, request_files(folder), folder / "fleet.yaml")


def begin(fleet_plan: FleetPlan, folder: Path, rollback: bool, engine: Engine, progress: Progress = lambda _: None,
          started: Callable[[journal.Run], None] = lambda _: None) -> journal.Run:
    """A new run of ``fleet_plan``: refused while another rollout of the folder runs, else recorded and run."""
    with journal.fleet_lock(str(folder.resolve()), "starting"):
        run = start(fleet_plan, folder, rollback)
        started(run)
        _execute(run, engine, progress)
        return run


def execute(run: journal.Run, engine: Engine, progress: Progress = lambda _: None) -> RunState:
    """Run (or resume) ``run`` to its end or its halt; returns what the journal then says."""
    with journal.fleet_lock(run.header()["folder"], run.id):
        return _execute(run, engine, progress)


def _execute(run: journal.Run, engine: Engine, progress: Progress) -> RunState:
    """The run from wherever its journal stands (the caller holds the fleet's lock)."""
    header = run.header()
    folder = run.requests_dir
    config: FleetConfig = load_config(folder)
    specs = {s.tenant_id: s for _, s in load_fleet(folder)}
    plan = {t["tenant"]: _entry(t) for t in header["plan"]["tenants"]}
    state = RunState.of(run)
    if state.finished or state.halted:
        return state
    if not run.events():
        run.append("run-started", target=header["target"], by=header["startedBy"])
    else:
        run.append("run-resumed", by=journal.operator(), done=len(state.done))
    waves = list(config.waves)
    for wave in waves:
        if wave.name in state.waves_done:
            continue
        members = [p for p in plan.values() if p.wave == wave.name and p.rolls]
        halted = _wave(run, engine, wave, members, specs, config, header["rollback"], state, progress)
        state = RunState.of(run)
        if halted:
            return state
        _soak(run, wave, state, progress, last=wave is waves[-1])
    outcome = "passed" if all(e["outcome"] == PASSED for e in state.done.values()) else "passed-with-failures"
    run.append("run-finished", outcome=outcome)
    return RunState.of(run)


def _entry(data: dict) -> TenantPlan:
    """A tenant's plan as the run's header recorded it."""
    from dataclasses import fields

    from spbe_kit.fleet.plan import Changes

    names = {f.name for f in fields(TenantPlan)}
    return TenantPlan(**{**{k: v for k, v in data.items() if k in names}, "changes": Changes(**data["changes"])})


def _soak(run: journal.Run, wave: Wave, state: RunState, progress: Progress, last: bool) -> None:
    if last or wave.soak_seconds <= 0:
        return
    until = state.soak_until.get(wave.name)
    if until is None:
        until = time.time() + wave.soak_seconds
        run.append("soak", wave=wave.name, until=until, seconds=wave.soak_seconds)
    remaining = until - time.time()
    if remaining > 0:
        progress(f"wave {wave.name}: soaking {remaining:.0f}s before the next wave")
        time.sleep(remaining)


def _wave(run: journal.Run, engine: Engine, wave: Wave, members: list[TenantPlan], specs: dict[str, TenantSpec],
          config: FleetConfig, rollback: bool, state: RunState, progress: Progress) -> bool:
    """One wave; True when it spent more than its failure budget (the rollout halts)."""
    allowed = wave.allowed_failures(len(members))
    todo = [m for m in members if m.tenant not in state.done]
    run.append("wave-started", wave=wave.name, tenants=len(members), todo=len(todo), allowedFailures=allowed)
    progress(f"wave {wave.name}: {len(todo)} of {len(members)} tenant(s), {wave.max_parallel} at a time, "
             f"{allowed} failure(s) allowed")
    failures = state.failures(wave.name)
    if todo and wave.max_parallel > 1:
        from spbe_kit.stacks.kinds import preload

        preload()  # the engine runs in this process: its lazy imports must not race between tenants
    lock = threading.Lock()
    pending: set[Future] = set()
    queue = list(todo)
    with ThreadPoolExecutor(max_workers=wave.max_parallel) as pool:
        while queue or pending:
            while queue and len(pending) < wave.max_parallel and failures <= allowed:
                entry = queue.pop(0)
                pending.add(pool.submit(_tenant, run, engine, wave, entry, specs[entry.tenant], config, rollback, progress))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                with lock:
                    if future.result() != PASSED:
                        failures += 1
            if failures > allowed and queue:
                progress(f"wave {wave.name}: {failures} failure(s), more than the {allowed} allowed: halting; "
                         f"{len(queue)} tenant(s) left untouched")
                queue = []
    halted = failures > allowed
    run.append("wave-done", wave=wave.name, failures=failures, allowedFailures=allowed, halted=halted)
    if halted:
        run.append("run-halted", wave=wave.name, reason=f"{failures} failure(s) in wave {wave.name}, {allowed} allowed")
    return halted


def _tenant(run: journal.Run, engine: Engine, wave: Wave, entry: TenantPlan, spec: TenantSpec, config: FleetConfig,
            rollback: bool, progress: Progress) -> str:
    started = time.monotonic()
    run.append("tenant-started", tenant=entry.tenant, wave=wave.name, **{"from": entry.current, "to": entry.target})
    progress(f"{entry.tenant}: {entry.current or 'new'} -> {entry.target}")
    outcome, gates, error = PASSED, [], None
    try:
        changes = engine.up(spec, entry.target)
        run.append("tenant-up", tenant=entry.tenant, ok=True, changes=changes, seconds=round(time.monotonic() - started, 1))
        gates = engine.gates(spec, entry.target, config.gate_commands, config.ready_timeout_seconds)
    except SpbeError as exc:
        error = exc.message
        run.append("tenant-up", tenant=entry.tenant, ok=False, error=exc.message[:2000])
    for gate in gates:
        run.append("gate", tenant=entry.tenant, **gate.to_dict())
    failed = error is not None or any(g.status == "fail" for g in gates)
    if failed:
        outcome = FAILED
        progress(f"{entry.tenant}: FAILED " + (error or "; ".join(f"{g.gate}: {g.detail}" for g in gates if g.status == "fail")))
        if rollback and entry.current:
            outcome = _revert(run, engine, spec, entry.tenant, entry.current, progress, "tenant-rollback")
    run.append("tenant-done", tenant=entry.tenant, wave=wave.name, outcome=outcome, seconds=round(time.monotonic() - started, 1),
               **{"from": entry.current, "to": entry.target})
    progress(f"{entry.tenant}: {outcome} in {time.monotonic() - started:.0f}s")
    return outcome


def _revert(run: journal.Run, engine: Engine, spec: TenantSpec, tenant: str, version: str, progress: Progress,
            event: str) -> str:
    progress(f"{tenant}: rolling back to catalog {version}")
    try:
        engine.up(spec, version)
    except SpbeError as exc:
        run.append(event, tenant=tenant, to=version, ok=False, error=exc.message[:2000])
        return ROLLBACK_FAILED
    run.append(event, tenant=tenant, to=version, ok=True)
    return ROLLED_BACK


def rollback_run(run: journal.Run, engine: Engine, progress: Progress = lambda _: None) -> RunState:
    """Bring every tenant the run moved back to the version it had before (newest first); idempotent."""
    header = run.header()
    specs = {s.tenant_id: s for _, s in load_fleet(run.requests_dir)}
    with journal.fleet_lock(header["folder"], run.id):
        state = RunState.of(run)
        run.append("run-rollback-started", by=journal.operator())
        moved = [e for e in state.done.values() if e["outcome"] == PASSED and e.get("from") and e["from"] != e["to"]]
        for event in sorted(moved, key=lambda e: e["at"], reverse=True):
            if event["tenant"] in state.reverted and state.reverted[event["tenant"]].get("ok"):
                continue
            _revert(run, engine, specs[event["tenant"]], event["tenant"], event["from"], progress, "tenant-reverted")
        run.append("run-rolled-back", tenants=len(moved))
        return RunState.of(run)
