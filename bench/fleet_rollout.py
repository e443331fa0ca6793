"""Benchmark: `spbe fleet` against a sequential loop of `spbe tenant up`, in one run.

On the running local cluster (`spbe cluster up`) with the engine built (`spbe engine build`):

1. plan over the whole fleet: the 546 tenants of the official region list, every one running
   catalog 2026.11 (an in-memory snapshot of their objects), planned onto 2026.12 by rendering
   and comparing -- seconds, and per tenant;
2. on the cluster, N tenants (default 50) are created on 2026.11 by `spbe fleet apply`;
3. plan of those N: rendered and compared against `--precise` (the engine's previews) -- ratio;
4. the move 2026.11 -> 2026.12: `spbe fleet apply --to 2026.12` (one wave, maxParallel W,
   default 4, every gate) against, after `spbe fleet rollback` of that run, a sequential loop of
   `spbe tenant up --catalog-version 2026.12` over the same tenants -- ratio.

    python bench/fleet_rollout.py [--tenants 50] [--workers 4] [--output json] [--keep]

Every namespace it makes is deleted at the end (`--keep` leaves them); its file backend and
state directory live in a temporary directory removed with them.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from spbe_kit.catalog import load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.devenv.cluster import control_plane
from spbe_kit.drift.live import Snapshot
from spbe_kit.fleet import config as fleet_config
from spbe_kit.fleet.plan import plan
from spbe_kit.regions import all_regions
from spbe_kit.request import parse_request
from spbe_kit.scaffold import new_request


def _fleet_requests(folder: Path, count: int | None, tier: str | None = None) -> list[str]:
    """Requests of the first ``count`` regions (all when None) that validate; returns their tenant ids."""
    from spbe_kit.errors import RegionError

    folder.mkdir(parents=True)
    catalog = load_catalog()
    ids = []
    for code, region in all_regions().items():
        if region.is_administrative:
            continue
        try:
            text = new_request(code, catalog)
        except RegionError:
            continue
        if tier:
            text = text.replace("tier: medium", f"tier: {tier}").replace("tier: large", f"tier: {tier}")
        spec = parse_request(text)
        (folder / f"{spec.tenant_id}.yaml").write_text(text)
        ids.append(spec.tenant_id)
        if count and len(ids) == count:
            break
    return ids


def plan_whole_fleet(work: Path) -> dict:
    folder = work / "all"
    ids = _fleet_requests(folder, None)
    snapshot = Snapshot()
    old = load_catalog("2026.11")
    built = time.perf_counter()
    for path in sorted(folder.glob("*.yaml")):
        for m in desired_state(parse_request(path.read_text()), old).manifests:
            body = copy.deepcopy(m.body)
            if m.generated_keys:
                body["data"] = dict.fromkeys(m.generated_keys, "Z2VuZXJhdGVk")
            if m.kind == "Namespace":
                snapshot.namespaces[m.name] = body
            else:
                snapshot.add(m.kind, body)
    built = time.perf_counter() - built
    start = time.perf_counter()
    result = plan(folder, "2026.12", snapshot, fleet_config.load(folder))
    seconds = time.perf_counter() - start
    return {"tenants": len(ids), "seconds": round(seconds, 2), "ms_per_tenant": round(1000 * seconds / len(ids), 1),
            "snapshot_objects": len(snapshot.objects), "snapshot_build_seconds": round(built, 1),
            "actions": result.to_dict()["summary"]}


class Cli:
    def __init__(self, work: Path, kubeconfig: Path) -> None:
        self.kubeconfig, self.backend = kubeconfig, (work / "backend").as_uri()
        (work / "backend").mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
        self.env["SPBE_STATE_DIR"] = str(work / "state")

    def __call__(self, *args: str) -> tuple[float, subprocess.CompletedProcess]:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "spbe_kit", *args, "--kubeconfig", str(self.kubeconfig),
                               "--backend", self.backend], capture_output=True, text=True, env=self.env)
        return time.perf_counter() - start, proc


def _ok(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    info = control_plane.status()
    if not info.healthy:
        raise SystemExit("the local cluster is not running: spbe cluster up")
    kubeconfig = info.kubeconfig
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="spbe-bench-fleet-") as tmp:
        work = Path(tmp)
        out["plan_546"] = plan_whole_fleet(work)
        folder = work / "fleet"
        ids = _fleet_requests(folder, args.tenants, tier="small")
        (folder / "fleet.yaml").write_text(f"waves:\n  - name: all\n    maxParallel: {args.workers}\n    failureBudget: 100%\n")
        cli = Cli(work, kubeconfig)
        try:
            seconds, _ = cli("fleet", "apply", str(folder), "--to", "2026.11")
            out["create_on_2026.11"] = {"tenants": len(ids), "seconds": round(seconds, 1)}
            fast, proc = cli("fleet", "plan", str(folder), "--to", "2026.12", "-o", "json")
            _ok(proc, "fleet plan")
            slow, proc = cli("fleet", "plan", str(folder), "--to", "2026.12", "--precise", "--workers", str(args.workers), "-o", "json")
            _ok(proc, "fleet plan --precise")
            out["plan_n"] = {"rendered_seconds": round(fast, 1), "precise_seconds": round(slow, 1),
                             "ratio": round(slow / fast, 1)}
            fleet_s, proc = cli("fleet", "apply", str(folder), "--to", "2026.12", "-o", "json")
            status = json.loads(_ok(proc, "fleet apply").stdout)
            _ok(cli("fleet", "rollback", status["run"])[1], "fleet rollback")
            loop_s = 0.0
            for tenant in ids:
                seconds, proc = cli("tenant", "up", str(folder / f"{tenant}.yaml"), "--catalog-version", "2026.12")
                _ok(proc, f"tenant up {tenant}")
                loop_s += seconds
            out["move_to_2026.12"] = {"tenants": len(ids), "workers": args.workers, "fleet_seconds": round(fleet_s, 1),
                                      "sequential_tenant_up_seconds": round(loop_s, 1), "ratio": round(loop_s / fleet_s, 2),
                                      "fleet_outcomes": status["counts"]}
        finally:
            if not args.keep:
                config.load_kube_config(config_file=str(kubeconfig))
                core = client.CoreV1Api()
                for tenant in ids:
                    try:
                        core.delete_namespace(tenant)
                    except client.ApiException:
                        pass
    if args.output == "json":
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key}: {json.dumps(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
