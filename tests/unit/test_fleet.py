"""spbe fleet without a cluster: the fleet file, waves, pins and holds, the plan by rendering and comparing,
the journal's resume and halt logic (with a stand-in engine), and the evidence it files.

The rollout against the real engine and the local cluster is in tests/integration/test_fleet.py."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from spbe_kit.catalog import load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.drift.live import Snapshot
from spbe_kit.errors import FieldProblem
from spbe_kit.fleet import config as fleet_config
from spbe_kit.fleet import journal, report, rollout
from spbe_kit.fleet.plan import FleetRequestsInvalid, plan
from spbe_kit.request import load_request
from tests.conftest import ROOT


def _fleet(tmp_path: Path, fleet_yaml: str | None = None, pin: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "fleet"
    folder.mkdir()
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        text = example.read_text()
        name = example.stem
        if pin and name in pin:
            text = text.replace("\nspec:\n", f"\nspec:\n  catalogVersion: \"{pin[name]}\"\n", 1)
        (folder / example.name).write_text(text)
    if fleet_yaml:
        (folder / "fleet.yaml").write_text(fleet_yaml)
    return folder


def _live(*tenants: tuple[str, str]) -> Snapshot:
    """A cluster where each (example, catalog version) runs exactly its desired state."""
    snap = Snapshot()
    for name, version in tenants:
        state = desired_state(load_request(ROOT / "examples" / f"{name}.yaml"), load_catalog(version))
        for m in state.manifests:
            body = copy.deepcopy(m.body)
            if m.generated_keys:  # the engine filled them
                body["data"] = {k: base64.b64encode(b"generated").decode() for k in m.generated_keys}
            if m.kind == "Namespace":
                snap.namespaces[m.name] = body
            else:
                snap.add(m.kind, body)
    return snap


FLEET_YAML = """
waves:
  - name: pilot
    tenants: [kab-banyuwangi]
    maxParallel: 1
    failureBudget: 0
  - name: jawa-timur
    selector: {province: "Jawa Timur"}
    failureBudget: "50%"
  - name: rest
    maxParallel: 8
holds:
  - tenant: kota-bandung
    reason: audit BSSN in progress
"""


def test_a_fleet_file_with_mistakes_names_each_with_its_path(tmp_path):
    folder = _fleet(tmp_path, """
waves:
  - name: pilot
    tenants: [kab-banyuwangi]
    selector: {tier: small}
    maxParallel: 0
    failureBudget: lots
  - name: pilot
    colour: red
holds:
  - reason: no tenant
""")
    with pytest.raises(fleet_config.FleetInvalid) as err:
        fleet_config.load(folder)
    paths = {p.path for p in err.value.problems}
    assert {"waves[0]", "waves[0].maxParallel", "waves[0].failureBudget", "waves[1].name", "waves[1].colour",
            "holds[0]"} <= paths, paths


def test_waves_take_tenants_by_name_then_selector_then_the_rest_and_budgets_scale(tmp_path):
    folder = _fleet(tmp_path, FLEET_YAML)
    result = plan(folder, "2026.12", Snapshot(), fleet_config.load(folder))
    waves = {w.name: [t.tenant for t in members] for w, members in result.waves()}
    assert waves == {"pilot": ["kab-banyuwangi"], "jawa-timur": ["prov-jawa-timur"], "rest": ["kota-bandung"]}
    assert fleet_config.Wave("w", failure_budget="5%").allowed_failures(546) == 27
    assert fleet_config.Wave("w", failure_budget="2").allowed_failures(3) == 2


def test_the_plan_shows_where_each_tenant_is_and_what_the_move_would_change(tmp_path):
    """banyuwangi runs 2026.11 (an upgrade: Grafana's objects go, the dashboards and the exporter's
    credentials come), jawa-timur pins 2026.11 and runs it (nothing to do), bandung is held, and a
    tenant never provisioned is a create of every object."""
    folder = _fleet(tmp_path, FLEET_YAML, pin={"prov-jawa-timur": "2026.11"})
    live = _live(("kab-banyuwangi", "2026.11"), ("prov-jawa-timur", "2026.11"), ("kota-bandung", "2026.11"))
    result = {t.tenant: t for t in plan(folder, "2026.12", live, fleet_config.load(folder)).tenants}
    upgrade = result["kab-banyuwangi"]
    assert (upgrade.current, upgrade.target, upgrade.action) == ("2026.11", "2026.12", "upgrade")
    assert upgrade.changes.create > 0 and upgrade.changes.delete > 0 and upgrade.changes.update > 0
    pinned = result["prov-jawa-timur"]
    assert (pinned.pinned, pinned.target, pinned.action, str(pinned.changes)) == ("2026.11", "2026.11", "unchanged", "nothing")
    assert (result["kota-bandung"].action, result["kota-bandung"].held) == ("hold", "audit BSSN in progress")
    new = plan(folder, "2026.12", Snapshot(), fleet_config.load(folder)).tenants
    fresh = next(t for t in new if t.tenant == "kab-banyuwangi")
    assert fresh.action == "create" and fresh.changes.create == len(
        desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"), load_catalog("2026.12")).manifests)


def test_a_live_change_to_an_immutable_field_plans_a_replace(tmp_path):
    folder = _fleet(tmp_path)
    live = _live(("kab-banyuwangi", "2026.12"))
    sts = live.get("StatefulSet", "kab-banyuwangi", "database")
    sts["spec"]["serviceName"] = "something-else"
    entry = next(t for t in plan(folder, "2026.12", live, fleet_config.load(folder)).tenants if t.tenant == "kab-banyuwangi")
    assert (entry.action, entry.changes.replace, entry.changes.update) == ("converge", 1, 0)


def test_an_invalid_request_stops_the_plan_with_every_problem(tmp_path):
    folder = _fleet(tmp_path)
    bad = folder / "kota-bandung.yaml"
    bad.write_text(bad.read_text().replace("tier: small", "tier: huge").replace("\nspec:\n", "\nspec:\n  catalogVersion: latest\n", 1))
    with pytest.raises(FleetRequestsInvalid) as err:
        plan(folder, "2026.12", Snapshot(), fleet_config.load(folder))
    paths = {p.path for e in err.value.errors for p in e.problems}
    assert {"spec.tier", "spec.catalogVersion"} <= paths, paths


def test_an_unknown_tenant_in_a_wave_is_refused(tmp_path):
    folder = _fleet(tmp_path, "waves:\n  - name: pilot\n    tenants: [kota-surabaya]\n")
    with pytest.raises(fleet_config.FleetInvalid) as err:
        plan(folder, "2026.12", Snapshot(), fleet_config.load(folder))
    assert err.value.problems == [FieldProblem("waves[0].tenants", "no request in the fleet folder for tenant 'kota-surabaya'",
                                               "a tenant id as in the request's metadata.name")]


class StandIn:
    """The engine a unit test may use: records what it is asked, fails the tenants it is told to."""

    def __init__(self, fail: set[str] = frozenset(), stop_after: int | None = None):
        self.fail, self.calls, self.stop_after = set(fail), [], stop_after

    def up(self, spec, version):
        self.calls.append((spec.tenant_id, version))
        if self.stop_after is not None and len(self.calls) > self.stop_after:
            raise KeyboardInterrupt  # the process dies here: nothing after this is journalled
        return {"update": 1}

    def gates(self, spec, version, commands, ready_timeout):
        ok = spec.tenant_id not in self.fail
        return [rollout.GateResult("ready", "pass"), rollout.GateResult("drift", "pass" if ok else "fail", "1 finding")]


def _run(tmp_path, monkeypatch, fleet_yaml: str):
    monkeypatch.setenv("SPBE_STATE_DIR", str(tmp_path / "state"))
    folder = _fleet(tmp_path, fleet_yaml)
    live = _live(("kab-banyuwangi", "2026.11"), ("prov-jawa-timur", "2026.11"), ("kota-bandung", "2026.11"))
    return rollout.start(plan(folder, "2026.12", live, fleet_config.load(folder)), folder, rollback=True)


def test_a_pilot_that_fails_its_gate_halts_the_rollout_and_is_rolled_back(tmp_path, monkeypatch):
    run = _run(tmp_path, monkeypatch, FLEET_YAML.replace("  - tenant: kota-bandung\n    reason: audit BSSN in progress\n", ""))
    engine = StandIn(fail={"kab-banyuwangi"})
    state = rollout.execute(run, engine)
    assert engine.calls == [("kab-banyuwangi", "2026.12"), ("kab-banyuwangi", "2026.11")]  # up, then the rollback
    assert state.halted and state.done["kab-banyuwangi"]["outcome"] == rollout.ROLLED_BACK
    s = report.status(run)
    assert {t.tenant: t.outcome for t in s.tenants} == {
        "kab-banyuwangi": "rolled-back", "kota-bandung": "untouched", "prov-jawa-timur": "untouched"}
    assert s.status == "halted" and "pilot" in s.halted
    # the report says why, under its own label (it was once overwritten by the status word "halted")
    import html

    assert f"<dt>Halted because</dt><dd>{html.escape(s.halted)}</dd>" in report.as_html(s)
    assert "<dt>Dihentikan karena</dt>" in report.as_html(s, "id")


def test_a_killed_run_resumes_without_running_finished_tenants_again(tmp_path, monkeypatch):
    run = _run(tmp_path, monkeypatch, "waves:\n  - name: all\n    maxParallel: 1\n")
    with pytest.raises(KeyboardInterrupt):
        rollout.execute(run, StandIn(stop_after=2))
    assert report.status(run).status == "running-or-killed"
    again = StandIn()
    state = rollout.execute(run, again)
    # two finished before the kill; the one in flight runs again, nothing else
    assert [t for t, _ in again.calls] == ["prov-jawa-timur"] and state.finished["outcome"] == "passed"
    assert sorted(state.done) == ["kab-banyuwangi", "kota-bandung", "prov-jawa-timur"]
    assert rollout.execute(run, StandIn()).finished  # a finished run is not run again


def test_two_rollouts_of_one_fleet_are_refused(tmp_path, monkeypatch):
    run = _run(tmp_path, monkeypatch, "waves:\n  - name: all\n")
    with journal.fleet_lock(run.header()["folder"], "other-run"):
        with pytest.raises(journal.FleetBusy, match="already running: run other-run"):
            rollout.execute(run, StandIn())


def test_rolling_back_a_run_brings_each_moved_tenant_to_its_version_before(tmp_path, monkeypatch):
    run = _run(tmp_path, monkeypatch, "waves:\n  - name: all\n    maxParallel: 2\n")
    rollout.execute(run, StandIn())
    back = StandIn()
    rollout.rollback_run(run, back)
    assert sorted(back.calls) == [("kab-banyuwangi", "2026.11"), ("kota-bandung", "2026.11"), ("prov-jawa-timur", "2026.11")]
    assert report.status(run).status == "rolled-back" and all(t.reverted for t in report.status(run).tenants)
    again = StandIn()
    rollout.rollback_run(run, again)
    assert again.calls == []  # already reverted


def test_the_evidence_names_who_when_what_and_each_outcome_in_english_and_indonesian(tmp_path, monkeypatch):
    run = _run(tmp_path, monkeypatch, "waves:\n  - name: all\n    failureBudget: 1\n")
    rollout.execute(run, StandIn(fail={"kota-bandung"}))
    s = report.status(run)
    data = s.to_dict()
    assert data["startedBy"] == journal.operator() and data["target"] == "2026.12"
    assert data["counts"] == {"passed": 2, "rolled-back": 1}
    gates = next(t for t in data["tenants"] if t["tenant"] == "kota-bandung")["gates"]
    assert {"gate": "drift", "status": "fail", "detail": "1 finding"} in gates
    english, bahasa = report.as_html(s, "en"), report.as_html(s, "id")
    assert "rolled back" in english and "dikembalikan" in bahasa and "Dimulai oleh" in bahasa
    assert "<script" not in english and "http" not in english.split("</style>")[0]  # self-contained
    json.dumps(data)  # serialisable as is


def test_a_pinned_request_keeps_its_version_and_a_contradicting_version_is_refused(tmp_path):
    from spbe_kit.catalog.load import catalog_for
    from spbe_kit.errors import CatalogError

    folder = _fleet(tmp_path, pin={"kab-banyuwangi": "2026.11"})
    spec = load_request(folder / "kab-banyuwangi.yaml")
    assert spec.catalog_version == "2026.11"
    assert catalog_for(spec).version == "2026.11" and catalog_for(spec, "2026.11").version == "2026.11"
    with pytest.raises(CatalogError, match="pins catalog 2026.11"):
        catalog_for(spec, "2026.12")
    (folder / "kab-banyuwangi.yaml").write_text((folder / "kab-banyuwangi.yaml").read_text().replace('"2026.11"', '"2031.01"'))
    with pytest.raises(CatalogError, match="does not ship"):
        catalog_for(load_request(folder / "kab-banyuwangi.yaml"))
    assert catalog_for(load_request(ROOT / "examples" / "kab-banyuwangi.yaml")).version == "2027.01"  # unpinned: newest


def test_the_cli_refuses_a_bad_fleet_before_reading_any_cluster(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from spbe_kit.cli.main import cli

    monkeypatch.setenv("SPBE_STATE_DIR", str(tmp_path / "state"))
    folder = _fleet(tmp_path, "waves:\n  - name: pilot\n    tenants: [kota-surabaya]\n    maxParallel: 0\n")
    nowhere = ["--kubeconfig", str(tmp_path / "no-such-kubeconfig")]
    bad = CliRunner().invoke(cli, ["fleet", "plan", str(folder), "--to", "2026.12", *nowhere])
    assert bad.exit_code == 1 and "waves[0].maxParallel: must be a whole number >= 1" in bad.output, bad.output
    (folder / "fleet.yaml").unlink()
    unknown = CliRunner().invoke(cli, ["fleet", "plan", str(folder), "--to", "2031.01", *nowhere])
    assert unknown.exit_code == 2 and "catalog version '2031.01' is not shipped" in unknown.output, unknown.output
    none = CliRunner().invoke(cli, ["fleet", "status", "-o", "json"])
    assert none.exit_code == 0 and json.loads(none.output) == []
    missing = CliRunner().invoke(cli, ["fleet", "status", "20261201T000000Z-abcdef"])
    assert missing.exit_code == 2 and "no fleet rollout run" in missing.output


def test_the_engine_modules_are_loaded_before_tenants_run_in_parallel():
    """pulumi-kubernetes' lazy imports race between threads (a CI run of the fleet test failed on
    `pulumi_kubernetes.meta.v1 has no attribute ObjectMetaArgs`): preload leaves none of the modules the
    tenant program uses lazy."""
    import sys

    from spbe_kit.stacks.kinds import _GROUPS_USED, preload

    preload()
    lazy = [name for name, m in sys.modules.items() if type(m).__name__ == "_LazyModule"
            and name.startswith("pulumi_kubernetes.") and name.split(".")[1] in _GROUPS_USED
            and (name.count(".") == 1 or name.endswith(".v1"))]
    assert lazy == []
    assert "pulumi_kubernetes.meta.v1" in sys.modules and hasattr(sys.modules["pulumi_kubernetes.meta.v1"], "ObjectMetaArgs")


def _engine_with(monkeypatch, outcome_status: str, roles=(), problems=None):
    """The real Engine.up with the engine run and the roles stood in for; records what it was asked."""
    from types import SimpleNamespace

    from spbe_kit.configure import tenant as configure_module
    from spbe_kit.configure.tenant import ConfigureOutcome
    from spbe_kit.provision import runner

    calls: list[tuple] = []
    monkeypatch.setattr(runner, "up", lambda spec, catalog, settings, progress: (
        calls.append(("up", spec.tenant_id, catalog.version)), SimpleNamespace(changes={"update": 1}))[1])

    def configure(spec, catalog, kubeconfig, context, progress, verify=True, skip_simulated=False):
        calls.append(("configure", spec.tenant_id, catalog.version, verify, skip_simulated))
        return ConfigureOutcome(spec.tenant_id, outcome_status, problems or {}, list(roles))

    monkeypatch.setattr(configure_module, "configure_tenant", configure)
    settings = SimpleNamespace(kubeconfig=Path("/nonexistent/kubeconfig"), context=None)
    return rollout.Engine(settings), calls


def test_a_fleet_up_runs_the_roles_after_the_objects_and_leaves_verification_to_the_gates(monkeypatch):
    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    engine, calls = _engine_with(monkeypatch, "configured")
    assert engine.up(spec, "2026.12") == {"update": 1}
    assert calls == [("up", "kab-banyuwangi", "2026.12"), ("configure", "kab-banyuwangi", "2026.12", False, True)]
    engine, _ = _engine_with(monkeypatch, "simulated")  # kwok: nothing runs to configure, not a failure
    assert engine.up(spec, "2026.12") == {"update": 1}


def test_a_role_that_fails_during_a_fleet_up_fails_the_tenant_with_the_role_named(monkeypatch):
    from spbe_kit.configure.run import RoleResult

    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    roles = [RoleResult("database", "spbe_database", "configured"),
             RoleResult("mail", "spbe_mail", "failed", detail="TASK [x]\nfatal: dovecot did not reload\n")]
    engine, _ = _engine_with(monkeypatch, "failed", roles)
    with pytest.raises(rollout.ConfigureFailed) as caught:
        engine.up(spec, "2026.12")
    assert caught.value.message == "kab-banyuwangi: configuration failed: mail (spbe_mail) failed: fatal: dovecot did not reload"
    engine, _ = _engine_with(monkeypatch, "unreachable", problems={"eoffice": "no pod is Ready"})
    with pytest.raises(rollout.ConfigureFailed, match=r"not reachable \(eoffice: no pod is Ready\)"):
        engine.up(spec, "2026.12")


def test_fleet_status_prints_a_table_with_its_headers_first_and_a_row_per_tenant(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from spbe_kit.cli.main import cli

    run = _run(tmp_path, monkeypatch, "waves:\n  - name: all\n    failureBudget: 1\n")
    rollout.execute(run, StandIn(fail={"kota-bandung"}))
    shown = CliRunner().invoke(cli, ["fleet", "status", run.id])
    lines = shown.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("WAVE"))
    assert lines[header].split() == ["WAVE", "TENANT", "FROM", "TO", "OUTCOME", "TIME", "GATES"], shown.output
    rows = {line.split()[1]: line.split()[4] for line in lines[header + 1:] if line.startswith("all ")}
    assert rows == {"kab-banyuwangi": "passed", "kota-bandung": "rolled-back", "prov-jawa-timur": "passed"}, shown.output
    listed = CliRunner().invoke(cli, ["fleet", "status"])
    assert listed.output.splitlines()[0].split()[:3] == ["RUN", "STATUS", "TARGET"], listed.output
