"""`spbe cluster up | status | down` on a second, isolated cluster (own state dir and ports).

Runs the real CLI in subprocesses, as a user would, so exit codes and process handling are
what is tested -- not the library called in-process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spbe_kit.devenv import backupstore
from spbe_kit.devenv.cluster import binaries
from spbe_kit.devenv.cluster.layout import DEFAULT_PORTS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def isolated(tmp_path_factory, cluster):  # `cluster`: the binaries are built by then
    state = tmp_path_factory.mktemp("lifecycle-state")
    env = {**os.environ, "SPBE_STATE_DIR": str(state), "SPBE_CLUSTER_NODES": "1"}
    for name, port in DEFAULT_PORTS.items():
        env[f"SPBE_CLUSTER_{name.upper()}_PORT"] = str(port + 1000)
    # its own backup store too, beside the session's (gRPC ports are these + 10000)
    for name, port in backupstore.DEFAULT_PORTS.items():
        env[f"SPBE_CLUSTER_{name.upper()}_PORT"] = str(port + 2000)
    yield env, state
    subprocess.run([sys.executable, "-m", "spbe_kit", "cluster", "down"], env=env, capture_output=True, timeout=120)


def spbe(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spbe_kit", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _pids(state: Path) -> dict[str, int]:
    run = state / "cluster" / "run"
    return {p.stem: json.loads(p.read_text())["pid"] for p in run.glob("*.pid")}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_status_restart_and_down(isolated):
    env, state = isolated
    up = spbe(env, "cluster", "up", "--no-build", "--output", "json")
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    assert info["server"] == f"https://127.0.0.1:{DEFAULT_PORTS['apiserver'] + 1000}"
    assert info["version"] == binaries.KUBERNETES_VERSION
    assert "starting kube-apiserver" in up.stderr and "local cluster up in" in up.stderr
    assert not any(line.startswith("I1") for line in up.stdout.splitlines()), "component logs stay out of the terminal"
    assert (state / "cluster" / "logs" / "kube-apiserver.log").stat().st_size > 0

    status = spbe(env, "cluster", "status", "--output", "json")
    assert status.returncode == 0, status.stdout
    report = json.loads(status.stdout)
    assert report["state"] == "running" and report["readyz"] == "ok"
    assert all(c["healthy"] for c in report["components"]) and report["nodes"] == {"spbe-local-node-1": True}
    assert report["rss_bytes"] > 100 * 2**20
    store = report["backup_store"]
    assert store["healthy"] and store["endpoint"] == f"http://127.0.0.1:{backupstore.DEFAULT_PORTS['store_s3'] + 2000}"
    assert info["backup_store"] == store["endpoint"]

    pids = _pids(state)
    started = time.monotonic()
    again = spbe(env, "cluster", "up", "--no-build")
    assert again.returncode == 0 and "already running" in again.stderr
    assert time.monotonic() - started < 10 and _pids(state) == pids, "a second up changes nothing"

    os.kill(pids["kwok"], signal.SIGKILL)
    time.sleep(0.5)
    degraded = spbe(env, "cluster", "status", "--output", "json")
    assert degraded.returncode == 1 and json.loads(degraded.stdout)["state"] == "degraded"
    repaired = spbe(env, "cluster", "up", "--no-build")
    assert repaired.returncode == 0, repaired.stderr
    assert "starting kwok" in repaired.stderr and "starting kube-apiserver" not in repaired.stderr
    after = _pids(state)
    assert after["kwok"] != pids["kwok"] and after["kube-apiserver"] == pids["kube-apiserver"]

    down = spbe(env, "cluster", "down")
    assert down.returncode == 0 and "stopped 7 process(es)" in down.stdout and "backup-store" in down.stdout
    time.sleep(0.5)
    assert not any(_alive(pid) for pid in after.values()), "down stops every process it started"
    stopped = spbe(env, "cluster", "status", "--output", "json")
    assert stopped.returncode == 1 and json.loads(stopped.stdout)["state"] == "stopped"
    assert not (state / "cluster" / "data").exists() and (state / "cluster" / "logs").is_dir()
    # the backups are not the cluster's to wipe: the store's data stays
    assert (state / "backup-store" / "data").is_dir() and (state / "backup-store" / "master.key").is_file()

    # straight back up: the stopped servers' connections linger in TIME_WAIT on the same ports
    back = spbe(env, "cluster", "up", "--no-build")
    assert back.returncode == 0, back.stderr
    assert spbe(env, "cluster", "down").returncode == 0
