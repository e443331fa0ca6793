"""Benchmark: `spbe drift --all` over a fleet of tenants on the local cluster, against kubectl.

1. Provision N tenants (default 100, up to all 546 autonomous regions) on the running local
   cluster with server-side apply of their desired state (the Pulumi engine cannot be built
   on the reference machine, see issue 4), and let the controllers settle.
2. Time `spbe drift --all` (the real CLI, a subprocess) and take its API request count; the
   fleet must come out clean -- no false positives at scale.
3. Baseline in the same run: `kubectl diff --server-side` per tenant over a sample, scaled to
   the fleet, with its API requests counted from kubectl's own -v=6 log. `pulumi preview
   --refresh --expect-no-changes` is reported as unavailable while the engine is.

    python bench/drift_fleet.py [--tenants 100] [--sample 10] [--output json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from spbe_kit.catalog import load_catalog
from spbe_kit.devenv.cluster import binaries, control_plane
from spbe_kit.desired import desired_state
from spbe_kit.regions import all_regions
from spbe_kit.render import write_manifests
from spbe_kit.request import parse_request
from spbe_kit.scaffold import new_request

FIELD_MANAGER = "spbe-bench"


def fleet(count: int, folder: Path):
    """Request files and desired states of the first `count` autonomous regions."""
    catalog = load_catalog()
    states = []
    for region in all_regions().values():
        if region.is_administrative:
            continue
        text = new_request(region.code, catalog)
        (folder / f"{region.tenant_id}.yaml").write_text(text)
        states.append(desired_state(parse_request(text), catalog))
        if len(states) == count:
            break
    return states


def wait_gone(api: client.ApiClient, states, timeout: float = 600) -> None:
    """Wait until namespaces of an earlier run of the same fleet have finished terminating."""
    core = client.CoreV1Api(api)
    wanted = {s.tenant_id for s in states}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [n.metadata.name for n in core.list_namespace().items
                if n.metadata.name in wanted and n.status.phase == "Terminating"]
        if not left:
            return
        print(f"waiting for {len(left)} namespace(s) of an earlier run to be deleted ...", file=sys.stderr)
        time.sleep(5)
    raise SystemExit("namespaces of an earlier run are still terminating")


def provision(dyn: DynamicClient, states, workers: int = 6) -> float:
    start = time.monotonic()
    resources = {}

    def resource(m):
        key = (m.api_version, m.kind)
        if key not in resources:
            resources[key] = dyn.resources.get(api_version=m.api_version, kind=m.kind)
        return resources[key]

    for m in states[0].manifests:  # discovery once, before the threads
        resource(m)

    def apply(state):
        for m in state.manifests:
            body = m.body
            if m.generated_keys:
                body = {**body, "stringData": {k: secrets.token_urlsafe(24) for k in m.generated_keys}}
            dyn.server_side_apply(resource(m), body=body, name=m.name, namespace=m.namespace,
                                  field_manager=FIELD_MANAGER, force_conflicts=True)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(apply, states))
    return time.monotonic() - start


def settle(api: client.ApiClient, states, timeout: float = 900) -> float:
    """Wait until every workload of the fleet is Ready (status filled in by the controllers)."""
    apps = client.AppsV1Api(api)
    wanted = {s.tenant_id for s in states}
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        pending = 0
        for items in (apps.list_deployment_for_all_namespaces().items, apps.list_stateful_set_for_all_namespaces().items):
            pending += sum(1 for o in items if o.metadata.namespace in wanted and (o.status.ready_replicas or 0) < o.spec.replicas)
        if not pending:
            return time.monotonic() - start
        time.sleep(2)
    raise SystemExit(f"the fleet did not settle in {timeout}s ({pending} workloads not ready)")


def spbe_drift(requests: Path, kubeconfig: Path) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "spbe_kit", "drift", "--all", "--requests", str(requests),
                           "--kubeconfig", str(kubeconfig), "--output", "json"], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"spbe drift failed: {proc.stderr}")
    return seconds, json.loads(proc.stdout)


def kubectl_diff(states, kubeconfig: Path, sample: int, work: Path) -> dict:
    kubectl = binaries.require("kubectl")
    seconds = 0.0
    requests = 0
    differing = 0
    for state in states[:sample]:
        folder = work / "kubectl" / state.tenant_id
        write_manifests(state, folder)
        start = time.monotonic()
        proc = subprocess.run([str(kubectl), "--kubeconfig", str(kubeconfig), "diff", "--server-side",
                               "--field-manager", FIELD_MANAGER, "--force-conflicts", "-v=6", "-f", str(folder)],
                              capture_output=True, text=True, env={**os.environ, "KUBECTL_EXTERNAL_DIFF": "diff -qr"})
        seconds += time.monotonic() - start
        if proc.returncode > 1:
            raise SystemExit(f"kubectl diff failed: {proc.stderr[-2000:]}")
        differing += proc.returncode
        requests += len(re.findall(r'round_trippers\.go:\d+\] "Response" verb="', proc.stderr))  # kubectl -v=6
    n = min(sample, len(states))
    return {"tool": "kubectl diff --server-side (per tenant)", "sample": n, "seconds": seconds,
            "requests": requests, "tenants_with_diff": differing,
            "fleet_seconds_estimate": seconds / n * len(states), "fleet_requests_estimate": requests / n * len(states)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--sample", type=int, default=10, help="tenants for the kubectl baseline")
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.add_argument("--keep", action="store_true", help="keep the tenants on the cluster afterwards")
    args = parser.parse_args(argv)

    info = control_plane.up(progress=lambda line: print(line, file=sys.stderr))
    api = config.new_client_from_config(config_file=str(info.kubeconfig))
    dyn = DynamicClient(api)
    with tempfile.TemporaryDirectory(prefix="spbe-drift-bench-") as tmp:
        work = Path(tmp)
        requests = work / "requests"
        requests.mkdir()
        states = fleet(args.tenants, requests)
        wait_gone(api, states)
        print(f"provisioning {len(states)} tenants ({sum(len(s.manifests) for s in states)} objects) ...", file=sys.stderr)
        provisioned = provision(dyn, states)
        print(f"provisioned in {provisioned:.1f}s; waiting for the controllers to settle ...", file=sys.stderr)
        settled = settle(api, states)
        ours_seconds, report = spbe_drift(requests, info.kubeconfig)
        base = kubectl_diff(states, info.kubeconfig, args.sample, work)
        if not args.keep:
            core = client.CoreV1Api(api)
            for s in states:
                core.delete_namespace(s.tenant_id)
    summary = report["summary"]
    result = {
        "tenants": len(states),
        "objects": sum(len(s.manifests) for s in states),
        "provision_seconds": round(provisioned, 1),
        "settle_seconds": round(settled, 1),
        "spbe_drift": {"seconds": round(ours_seconds, 2), "api_requests": summary["apiRequests"],
                       "clean": report["clean"], "findings": summary["findings"]},
        "kubectl": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in base.items()},
        "pulumi_preview": "unavailable: the Pulumi engine cannot be built on this machine (Go proxy 403, issue 4)",
    }
    result["ratio_kubectl_over_spbe"] = round(base["fleet_seconds_estimate"] / ours_seconds, 1)
    if args.output == "json":
        print(json.dumps(result, indent=2))
    else:
        d, k = result["spbe_drift"], result["kubectl"]
        print(f"fleet: {result['tenants']} tenants, {result['objects']} objects (provisioned {result['provision_seconds']}s, "
              f"settled {result['settle_seconds']}s)")
        print(f"spbe drift --all: {d['seconds']}s, {d['api_requests']} API requests, clean={d['clean']} "
              f"({d['findings']} findings)")
        print(f"kubectl diff --server-side: {k['seconds']}s and {k['requests']} requests for {k['sample']} tenants "
              f"-> ~{k['fleet_seconds_estimate']}s and ~{int(k['fleet_requests_estimate'])} requests for the fleet "
              f"({k['tenants_with_diff']} of the sample showed a diff)")
        print(f"ratio: spbe drift is {result['ratio_kubectl_over_spbe']}x faster than the kubectl loop")
        print(f"pulumi preview: {result['pulumi_preview']}")
    ok = report["clean"] and ours_seconds < 30 and result["ratio_kubectl_over_spbe"] >= 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
