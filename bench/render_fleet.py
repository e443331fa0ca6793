"""Benchmark: validate and render a tenant request for every one of the 552 regions.

For each region in wilayah.csv: scaffold its request (`spbe request new`), validate it, build
its desired state and render every object to YAML files -- the whole `spbe tenant render`
path. The 6 administrative Jakarta regions must be refused by validation (product rule), so
546 tenants are rendered.

Baseline in the same run (when a cluster is reachable through --kubeconfig, e.g. the local
one from `spbe cluster up`): `kubectl create --dry-run=client -o yaml -f DIR` over a sample
of the rendered tenants -- kubectl merely parsing and re-emitting the same manifests --
scaled to the fleet, and the ratio reported.

    python bench/render_fleet.py [--output json] [--max-seconds 10] [--kubeconfig PATH] [--work-dir DIR]

File creation cost depends on the file system (on the reference machine /tmp costs 0.6 ms per
file, the work volume 0.04 ms), so the report splits compute from disk time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spbe_kit.catalog import load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.errors import RegionError, RequestInvalid
from spbe_kit.regions import all_regions
from spbe_kit.render import to_yaml, write_manifests
from spbe_kit.request import parse_request
from spbe_kit.scaffold import new_request


def scaffold_all(catalog) -> dict[str, str]:
    """Request text per region; administrative regions get a hand-written request (new refuses them)."""
    texts = {}
    for code in all_regions():
        try:
            texts[code] = new_request(code, catalog)
        except RegionError:
            texts[code] = new_request("31", catalog).replace('regionCode: "31"', f'regionCode: "{code}"')
    return texts


def render_fleet(texts: dict[str, str], catalog, out: Path) -> dict:
    """The `tenant render` path for every request; also times the file writing on its own."""
    rendered = refused = objects = 0
    write_seconds = 0.0
    start = time.perf_counter()
    for code, text in texts.items():
        try:
            spec = parse_request(text, source=code)
        except RequestInvalid:
            refused += 1
            continue
        state = desired_state(spec, catalog)
        before = time.perf_counter()
        objects += len(write_manifests(state, out / spec.tenant_id))
        write_seconds += time.perf_counter() - before
        rendered += 1
    seconds = time.perf_counter() - start
    # write_manifests renders YAML text too; measure that part alone to split compute from disk
    before = time.perf_counter()
    for code, text in texts.items():
        try:
            state = desired_state(parse_request(text, source=code), catalog)
        except RequestInvalid:
            continue
        for manifest in state.manifests:
            to_yaml(manifest.body)
    compute = time.perf_counter() - before
    return {"seconds": seconds, "compute_seconds": compute, "disk_seconds": max(seconds - compute, 0.0),
            "write_seconds": write_seconds, "rendered": rendered, "refused": refused, "objects": objects}


def kubectl_baseline(out: Path, kubeconfig: str, sample: int) -> dict | None:
    kubectl = shutil.which("kubectl")
    if not kubectl or not Path(kubeconfig).is_file():
        return None
    dirs = sorted(p for p in out.iterdir() if p.is_dir())[:sample]
    start = time.perf_counter()
    for d in dirs:
        subprocess.run([kubectl, "--kubeconfig", kubeconfig, "create", "--dry-run=client", "-o", "yaml", "-f", str(d)],
                       check=True, capture_output=True)
    seconds = time.perf_counter() - start
    return {"tool": "kubectl create --dry-run=client -o yaml", "sample": len(dirs), "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="exit 1 if validating and rendering the fleet (without file creation) takes longer")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    parser.add_argument("--sample", type=int, default=20, help="tenants for the kubectl baseline")
    parser.add_argument("--work-dir", default=".", help="where the rendered files go (a temporary folder inside)")
    args = parser.parse_args(argv)

    catalog = load_catalog()
    texts = scaffold_all(catalog)
    with tempfile.TemporaryDirectory(prefix=".spbe-bench-", dir=args.work_dir) as tmp:
        ours = render_fleet(texts, catalog, Path(tmp))
        base = kubectl_baseline(Path(tmp), args.kubeconfig, args.sample) if args.kubeconfig else None
    result = {"regions": len(texts), "work_dir": str(Path(args.work_dir).resolve()), **ours, "per_tenant_ms": 1000 * ours["seconds"] / max(ours["rendered"], 1)}
    if base:
        fleet_estimate = base["seconds"] / base["sample"] * ours["rendered"]
        result["baseline"] = {**base, "fleet_seconds_estimate": fleet_estimate,
                              "ratio_baseline_over_ours": fleet_estimate / ours["seconds"]}
    if args.output == "json":
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['regions']} regions: {ours['rendered']} rendered ({ours['objects']} objects), "
              f"{ours['refused']} refused by validation, in {ours['seconds']:.2f}s "
              f"({result['per_tenant_ms']:.1f} ms per tenant): {ours['compute_seconds']:.2f}s validating and "
              f"rendering, ~{ours['disk_seconds']:.2f}s creating files under {result['work_dir']}")
        if base:
            b = result["baseline"]
            print(f"baseline {b['tool']}: {b['seconds']:.2f}s for {b['sample']} tenants, "
                  f"~{b['fleet_seconds_estimate']:.1f}s for the fleet; ours is {b['ratio_baseline_over_ours']:.1f}x faster")
        else:
            print("baseline: skipped (no --kubeconfig of a reachable cluster)", file=sys.stderr)
    if args.max_seconds is not None and ours["compute_seconds"] > args.max_seconds:
        print(f"FAIL: {ours['compute_seconds']:.2f}s is over the {args.max_seconds}s target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
