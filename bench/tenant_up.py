"""Benchmark: `spbe tenant up` on the real Pulumi engine against kubectl, in one run.

On the running local cluster (`spbe cluster up`) with the engine built (`spbe engine build`):

1. create: `spbe tenant up` of one tenant (the real CLI, a subprocess) against
   `kubectl apply --server-side` + `kubectl wait` of the same manifests in another
   namespace (credentials filled with throw-away values, as the engine would);
2. no change: a second `spbe tenant up` of the same tenant (target < 3 s);
3. drift check: `spbe tenant preview` (a real `pulumi preview --refresh`) against `spbe drift`
   of the same tenant;
4. fleet: N tenants with W parallel `spbe tenant up` workers against a sequential loop;
5. drills: `kill -9` of `tenant up` part-way, then `up` again, repeated; reports how many
   converged with nothing pending and the live objects equal to the desired state.

    python bench/tenant_up.py [--fleet 20] [--workers 4] [--drills 20] [--output json]

Every namespace it makes is deleted at the end (`--keep` to leave them); its own file backend
lives in a temporary directory that is removed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

from spbe_kit.catalog import load_catalog
from spbe_kit.devenv.cluster import binaries, control_plane
from spbe_kit.desired import desired_state
from spbe_kit.regions import all_regions
from spbe_kit.request import parse_request
from spbe_kit.scaffold import new_request
from spbe_kit.yaml_emit import dump as dump_yaml


def _regions(count: int, skip: int = 0) -> list[str]:
    codes = [r.code for r in all_regions().values() if not r.is_administrative]
    return codes[skip:skip + count]


class Bench:
    def __init__(self, work: Path, kubeconfig: Path) -> None:
        self.work = work
        self.kubeconfig = kubeconfig
        self.backend = (work / "backend").as_uri()
        (work / "backend").mkdir()
        self.env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
        self.catalog = load_catalog()
        self.tenants: list[str] = []

    def request(self, region: str, tenant_id: str | None = None, tier: str = "small") -> Path:
        from spbe_kit.request import Tier

        text = new_request(region, self.catalog, Tier(tier))
        spec = parse_request(text)
        if tenant_id:
            text = text.replace(f"name: {spec.tenant_id}", f"name: {tenant_id}", 1)
        path = self.work / f"{tenant_id or spec.tenant_id}.yaml"
        path.write_text(text)
        self.tenants.append(parse_request(text).tenant_id)
        return path

    def spbe(self, *args: str, engine: bool = True) -> subprocess.CompletedProcess:
        extra = ["--kubeconfig", str(self.kubeconfig)] + (["--backend", self.backend] if engine else [])
        return subprocess.run([sys.executable, "-m", "spbe_kit", *args, *extra], capture_output=True, text=True,
                              env=self.env, timeout=1800)

    def timed(self, *args: str, engine: bool = True, ok=(0,)) -> float:
        start = time.monotonic()
        result = self.spbe(*args, engine=engine)
        took = time.monotonic() - start
        if result.returncode not in ok:
            raise SystemExit(f"spbe {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return took


def kubectl_apply_and_wait(bench: Bench, region: str, tenant_id: str) -> float:
    """The same manifests through `kubectl apply --server-side`, then `kubectl wait` for the workloads."""
    kubectl = str(binaries.installed_path(binaries.TOOLS["kubectl"]))
    spec = parse_request(bench.request(region, tenant_id).read_text())
    state = desired_state(spec, bench.catalog)
    docs = []
    for m in state.manifests:
        body = dict(m.body)
        if m.generated_keys:
            body["stringData"] = {k: secrets.token_urlsafe(24) for k in m.generated_keys}
        docs.append(dump_yaml(body))
    manifest = bench.work / f"{tenant_id}.manifest.yaml"
    manifest.write_text("---\n".join(docs))
    base = [kubectl, "--kubeconfig", str(bench.kubeconfig)]
    start = time.monotonic()
    # the namespace first (kubectl cannot order a namespace before its objects in one server-side apply)
    ns = next(m for m in state.manifests if m.kind == "Namespace")
    subprocess.run(base + ["apply", "--server-side", "-f", "-"], input=dump_yaml(ns.body), text=True, check=True,
                   capture_output=True)
    subprocess.run(base + ["apply", "--server-side", "--force-conflicts", "-f", str(manifest)], check=True,
                   capture_output=True)
    for kind in ("deployment", "statefulset"):
        subprocess.run(base + ["-n", tenant_id, "wait", "--for=jsonpath={.status.readyReplicas}=1",
                               "--timeout=300s", kind, "--all"], check=False, capture_output=True)
    subprocess.run(base + ["-n", tenant_id, "rollout", "status", "--timeout=300s", "deployment", "statefulset"],
                   check=False, capture_output=True)
    return time.monotonic() - start


def drill(bench: Bench, request: Path, tenant_id: str, delay: float) -> dict:
    log = bench.work / f"{tenant_id}.drill.log"
    args = [sys.executable, "-m", "spbe_kit", "tenant", "up", str(request), "--skip-config",
            "--kubeconfig", str(bench.kubeconfig), "--backend", bench.backend]
    with log.open("w") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=bench.env, start_new_session=True)
    deadline = time.monotonic() + 300
    while "creating" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    again = bench.spbe("tenant", "up", str(request), "--skip-config", "-o", "json")
    requests_dir = bench.work / f"drift-{tenant_id}"
    requests_dir.mkdir(exist_ok=True)
    shutil.copy(request, requests_dir / request.name)
    drift = bench.spbe("drift", tenant_id, "--requests", str(requests_dir), "-o", "json", engine=False)
    preview = bench.spbe("tenant", "preview", str(request), "-o", "json")
    return {"tenant": tenant_id, "killedAfter": delay, "upExit": again.returncode, "driftExit": drift.returncode,
            "previewExit": preview.returncode,
            "converged": again.returncode == 0 and drift.returncode == 0 and preview.returncode == 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--drills", type=int, default=20)
    parser.add_argument("--output", "-o", choices=["table", "json"], default="table")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    info = control_plane.status()
    if not info.healthy:
        raise SystemExit("the local cluster is not running: `spbe cluster up` first")
    from spbe_kit.devenv.engine.build import ensure_engine

    ensure_engine(lambda line: print(line, file=sys.stderr))
    work = Path(tempfile.mkdtemp(prefix="spbe-bench-up-"))
    bench = Bench(work, info.kubeconfig)
    results: dict = {}
    try:
        # 1-2: one tenant, create and no change, against kubectl
        request = bench.request("35.10", "bench-up-banyuwangi")
        results["upCreateSeconds"] = round(bench.timed("tenant", "up", str(request), "--skip-config"), 2)
        results["kubectlApplyWaitSeconds"] = round(kubectl_apply_and_wait(bench, "35.10", "bench-kubectl-banyuwangi"), 2)
        results["upVsKubectl"] = round(results["upCreateSeconds"] / results["kubectlApplyWaitSeconds"], 2)
        nochange = [bench.timed("tenant", "up", str(request), "--skip-config") for _ in range(3)]
        results["upNoChangeSeconds"] = round(min(nochange), 2)
        results["upNoChangeSecondsAll"] = [round(x, 2) for x in nochange]
        # 3: the engine's view of drift against spbe drift
        results["previewRefreshSeconds"] = round(bench.timed("tenant", "preview", str(request)), 2)
        requests_dir = work / "drift-requests"
        requests_dir.mkdir()
        shutil.copy(request, requests_dir / request.name)
        results["driftSeconds"] = round(bench.timed("drift", "bench-up-banyuwangi", "--requests", str(requests_dir),
                                                    engine=False), 2)
        results["previewVsDrift"] = round(results["previewRefreshSeconds"] / results["driftSeconds"], 2)
        # 4: a fleet, parallel against sequential
        if args.fleet:
            half = args.fleet
            seq_requests = [bench.request(code) for code in _regions(half, skip=10)]
            par_requests = [bench.request(code, f"par-{i:03d}") for i, code in enumerate(_regions(half, skip=10))]
            start = time.monotonic()
            for r in seq_requests:
                bench.timed("tenant", "up", str(r), "--skip-config")
            results["fleetSequentialSeconds"] = round(time.monotonic() - start, 1)
            start = time.monotonic()
            with ThreadPoolExecutor(args.workers) as pool:
                list(pool.map(lambda r: bench.timed("tenant", "up", str(r), "--skip-config"), par_requests))
            results["fleetParallelSeconds"] = round(time.monotonic() - start, 1)
            results["fleet"] = {"tenants": half, "workers": args.workers}
            results["fleetSpeedup"] = round(results["fleetSequentialSeconds"] / results["fleetParallelSeconds"], 2)
        # 5: kill -9 drills
        if args.drills:
            rng = random.Random(2026)
            outcomes = []
            for i in range(args.drills):
                delay = round(rng.uniform(0.0, 8.0), 1)
                outcomes.append(drill(bench, bench.request("35.10", f"drill-{i:02d}"), f"drill-{i:02d}", delay))
                print(f"drill {i + 1}/{args.drills}: {outcomes[-1]}", file=sys.stderr)
            results["drills"] = {"trials": len(outcomes), "converged": sum(o["converged"] for o in outcomes),
                                 "outcomes": outcomes}
    finally:
        if not args.keep:
            api = config.new_client_from_config(config_file=str(info.kubeconfig))
            core = client.CoreV1Api(api)
            # the backend is a temporary directory: deleting the namespaces is the whole clean-up
            for tenant in set(bench.tenants):
                try:
                    core.delete_namespace(tenant)
                except client.ApiException:
                    pass
            shutil.rmtree(work, ignore_errors=True)
    if args.output == "json":
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            if key != "drills":
                print(f"{key:28} {value}")
        if "drills" in results:
            print(f"{'drills':28} {results['drills']['converged']} of {results['drills']['trials']} converged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
