"""`spbe tenant up | preview | rotate-credentials | destroy` on the real Pulumi engine and the local cluster.

Every test drives the real CLI in a subprocess (as an operator would) against a file backend
of its own; the cluster is the session's local cluster. Mocks are for tests/unit only.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from .conftest import delete_namespace, request_text, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine():
    """The Pulumi CLI and provider, built from Go modules if missing (`.ci/run` builds them first)."""
    from spbe_kit.devenv.engine.build import ensure_engine

    return ensure_engine(lambda line: print(line, flush=True))


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> str:
    return tmp_path_factory.mktemp("pulumi-backend").as_uri()


class Spbe:
    """Runs `python -m spbe_kit ...` against the test cluster and backend, never the ambient kubeconfig."""

    def __init__(self, cluster, backend: str, workdir: Path) -> None:
        self.kubeconfig = str(cluster.kubeconfig)
        self.backend = backend
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}

    def args(self, *args: str, engine: bool = True) -> list[str]:
        extra = ["--kubeconfig", self.kubeconfig] + (["--backend", self.backend] if engine else [])
        return [sys.executable, "-m", "spbe_kit", *args, *extra]

    def __call__(self, *args: str, engine: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(self.args(*args, engine=engine), capture_output=True, text=True, timeout=timeout,
                              env=self.env)

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        fh = log.open("w")
        return subprocess.Popen(self.args(*args), stdout=fh, stderr=subprocess.STDOUT, env=self.env,
                                start_new_session=True)

    def request(self, tenant_id: str, tier: str = "small", region: str = "35.10") -> Path:
        path = self.workdir / f"{tenant_id}-{tier}.yaml"
        path.write_text(request_text(region, tenant_id, tier=tier))
        return path

    def requests_dir(self, *files: Path) -> Path:
        folder = self.workdir / f"requests-{time.monotonic_ns()}"
        folder.mkdir()
        for f in files:
            (folder / f.name).write_text(f.read_text())
        return folder

    def drift(self, tenant_id: str, request: Path) -> tuple[int, dict]:
        result = self(("drift"), tenant_id, "--requests", str(self.requests_dir(request)), "--output", "json",
                      engine=False)
        assert result.returncode in (0, 1), result.stderr[-2000:]
        return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def spbe(cluster, engine, backend, tmp_path_factory) -> Spbe:
    return Spbe(cluster, backend, tmp_path_factory.mktemp("requests"))


@pytest.fixture
def cleanup(api_client):
    names: list[str] = []
    yield names.append
    for name in names:
        delete_namespace(api_client, name, wait=120)


def _wait_for_line(log: Path, text: str, timeout: float = 300) -> None:
    """Wait until a background run's log shows ``text`` (e.g. the engine started creating objects)."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared in {log}"
        time.sleep(0.1)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _secret_values(api_client, ns: str) -> dict[str, dict[str, str]]:
    core = client.CoreV1Api(api_client)
    return {s.metadata.name: dict(s.data or {}) for s in core.list_namespaced_secret(ns).items}


def _uids(api_client, ns: str) -> dict[str, str]:
    core = client.CoreV1Api(api_client)
    uids = {"Namespace": core.read_namespace(ns).metadata.uid}
    for pvc in core.list_namespaced_persistent_volume_claim(ns).items:
        uids[f"PVC/{pvc.metadata.name}"] = pvc.metadata.uid
    return uids


def _export(spbe: Spbe, tenant_id: str) -> dict:
    """The stack's state as the CLI stores it (encrypted secrets stay encrypted: no --show-secrets)."""
    from spbe_kit.engine.locate import resolve
    from spbe_kit.provision.settings import EngineSettings

    paths = resolve()
    settings = EngineSettings.resolve(Path(spbe.kubeconfig), backend_url=spbe.backend)
    work = spbe.workdir / "export"
    work.mkdir(exist_ok=True)
    (work / "Pulumi.yaml").write_text(
        f"name: spbe-tenant\nruntime: python\nbackend:\n  url: {settings.engine_backend_url}\n")
    env = {**os.environ, **paths.env(), **settings.engine_env()}
    proc = subprocess.run([str(paths.cli), "stack", "export", "--stack", tenant_id], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_up_creates_the_desired_state_a_second_up_changes_nothing_and_no_secret_is_shown(spbe, api_client, cleanup):
    tenant = "eng-kab-banyuwangi"
    cleanup(tenant)
    request = spbe.request(tenant)
    first = _ok(spbe("tenant", "up", str(request), "--skip-config"))
    # progress per resource on stderr, endpoints and credential Secret names on stdout
    assert "created Deployment/identity" in first.stderr and "created Namespace/" in first.stderr
    assert "https://sso.banyuwangikab.go.id" in first.stdout
    assert f"Secret {tenant}/identity-admin" in first.stdout
    # the live objects are exactly the desired state (the drift checker compares every owned field)
    code, report = spbe.drift(tenant, request)
    assert code == 0, json.dumps(report)[:3000]
    values = _secret_values(api_client, tenant)
    assert values["identity-admin"]["password"]
    for data in values.values():
        for encoded in data.values():
            plain = base64.b64decode(encoded).decode(errors="replace")
            assert plain not in first.stdout + first.stderr
    # the state holds the values only encrypted
    state_text = json.dumps(_export(spbe, tenant))
    plain_admin = base64.b64decode(values["identity-admin"]["password"]).decode()
    assert plain_admin not in state_text and "ciphertext" in state_text

    start = time.monotonic()
    second = _ok(spbe("tenant", "up", str(request), "--skip-config", "--output", "json"))
    took = time.monotonic() - start
    result = json.loads(second.stdout)
    assert result["changed"] is False, result["changes"]
    assert result["newCredentials"] == []
    assert _secret_values(api_client, tenant) == values  # no rotation on a re-run
    print(f"no-change tenant up: {took:.1f}s (CLI process, engine included)")

    preview = spbe("tenant", "preview", str(request), "--output", "json")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert json.loads(preview.stdout)["changed"] is False


def test_tier_changes_resize_in_place_and_keep_every_credential(spbe, api_client, cleanup):
    tenant = "eng-tier-change"
    cleanup(tenant)
    _ok(spbe("tenant", "up", str(spbe.request(tenant, "small")), "--skip-config"))
    uids, values = _uids(api_client, tenant), _secret_values(api_client, tenant)
    core = client.CoreV1Api(api_client)
    from spbe_kit.catalog import load_catalog

    catalog = load_catalog()
    for tier in ("medium", "large"):
        result = json.loads(_ok(spbe("tenant", "up", str(spbe.request(tenant, tier)), "--skip-config",
                                     "--output", "json")).stdout)
        changes = result["changes"]
        assert not {"create", "delete", "replace", "create-replacement", "delete-replaced"} & {
            k for k, v in changes.items() if v}, changes
        assert changes.get("update", 0) > 0
        quota = core.read_namespaced_resource_quota("spbe-quota", tenant).spec.hard
        assert quota["requests.cpu"] == catalog.tiers[tier].quota["requests.cpu"]
        wanted = catalog.tiers[tier].workloads["database"].storage

        def grown():
            pvc = core.read_namespaced_persistent_volume_claim("database-data", tenant)
            return (pvc.status.capacity or {}).get("storage") == wanted, str(pvc.status.capacity)

        wait_for(f"database-data grown to {wanted}", grown, 60)
        assert _uids(api_client, tenant) == uids, "a namespace or volume was replaced"
        assert _secret_values(api_client, tenant) == values, "a credential changed on a tier change"
    code, report = spbe.drift(tenant, spbe.request(tenant, "large"))
    assert code == 0, json.dumps(report)[:3000]


def test_a_change_that_cannot_land_whole_is_refused_before_anything_moves(spbe, api_client, cleanup):
    tenant = "eng-preflight"
    cleanup(tenant)
    _ok(spbe("tenant", "up", str(spbe.request(tenant, "medium")), "--skip-config"))
    core = client.CoreV1Api(api_client)
    before = core.read_namespaced_resource_quota("spbe-quota", tenant).spec.hard

    # a volume cannot shrink: medium -> small is refused whole, naming every volume
    shrink = spbe("tenant", "up", str(spbe.request(tenant, "small")), "--skip-config")
    assert shrink.returncode == 1, shrink.stderr
    assert "nothing was changed" in shrink.stderr and "PersistentVolumeClaim/database-data: a volume cannot shrink" in shrink.stderr
    assert core.read_namespaced_resource_quota("spbe-quota", tenant).spec.hard == before

    # growth on a StorageClass that does not allow expansion is refused, naming the class
    storage = client.StorageV1Api(api_client)
    storage.patch_storage_class("spbe-local", {"allowVolumeExpansion": False})
    try:
        grow = spbe("tenant", "up", str(spbe.request(tenant, "large")), "--skip-config")
    finally:
        storage.patch_storage_class("spbe-local", {"allowVolumeExpansion": True})
    assert grow.returncode == 1, grow.stderr
    assert "StorageClass 'spbe-local' does not allow volume expansion" in grow.stderr
    assert core.read_namespaced_resource_quota("spbe-quota", tenant).spec.hard == before
    assert core.read_namespaced_persistent_volume_claim("database-data", tenant).spec.resources.requests["storage"] == "50Gi"


def test_up_repairs_drift_and_leaves_strays_reported(spbe, api_client, cleanup):
    tenant = "eng-drift-repair"
    cleanup(tenant)
    request = spbe.request(tenant)
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    values = _secret_values(api_client, tenant)
    # the no-change fast path must not hide a changed credential value (drift only sees presence)
    core = client.CoreV1Api(api_client)
    core.patch_namespaced_secret("identity-admin", tenant, {"data": {"password": base64.b64encode(b"hunter2").decode()}})
    fixed = _ok(spbe("tenant", "up", str(request), "--skip-config", "--output", "json"))
    assert json.loads(fixed.stdout)["engineSkipped"] is None
    assert "credential identity-admin/password differs" in fixed.stderr
    assert _secret_values(api_client, tenant) == values, "the recorded credential was not put back"
    unchanged = json.loads(_ok(spbe("tenant", "up", str(request), "--skip-config", "--output", "json")).stdout)
    assert unchanged["engineSkipped"] and unchanged["changed"] is False
    apps, net, rbac = client.AppsV1Api(api_client), client.NetworkingV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    apps.patch_namespaced_deployment_scale("identity", tenant, {"spec": {"replicas": 0}})
    net.delete_namespaced_network_policy("default-deny", tenant)
    apps.patch_namespaced_deployment("dashboards", tenant, {"spec": {"template": {"spec": {"containers": [
        {"name": "dashboards", "image": "docker.io/grafana/grafana:evil"}]}}}})
    rbac.create_namespaced_role_binding(tenant, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="stray-admin"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"),
        subjects=[client.RbacV1Subject(kind="User", name="mallory", api_group="rbac.authorization.k8s.io")]))
    code, before = spbe.drift(tenant, request)
    assert code == 1
    found = json.dumps(before)
    assert "default-deny" in found and "stray-admin" in found and "grafana:evil" in found

    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    code, after = spbe.drift(tenant, request)
    text = json.dumps(after)
    assert "default-deny" not in text and "grafana:evil" not in text
    assert "stray-admin" in text, "a stray nobody defined must stay reported until a person removes it"
    assert apps.read_namespaced_deployment("identity", tenant).spec.replicas == 1
    rbac.delete_namespaced_role_binding("stray-admin", tenant)
    code, clean = spbe.drift(tenant, request)
    assert code == 0, json.dumps(clean)[:3000]


def _pending(spbe: Spbe, tenant: str) -> list:
    return _export(spbe, tenant)["deployment"].get("pending_operations") or []


@pytest.mark.parametrize("delay", [2.5, 6.0])
def test_kill_9_part_way_then_up_converges_with_nothing_pending(spbe, api_client, cleanup, tmp_path, delay):
    tenant = f"eng-killed-{int(delay * 10)}"
    cleanup(tenant)
    request = spbe.request(tenant)
    proc = spbe.start("tenant", "up", str(request), "--skip-config", log=tmp_path / "killed.log")
    # wait until the engine has started creating objects, then kill the whole process group
    _wait_for_line(tmp_path / "killed.log", "creating")
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    assert _pending(spbe, tenant) == []
    code, report = spbe.drift(tenant, request)
    assert code == 0, json.dumps(report)[:3000]
    urns = [r["urn"] for r in _export(spbe, tenant)["deployment"]["resources"]]
    assert len(urns) == len(set(urns)), "a resource is recorded twice"
    assert _sidecars(spbe, tenant) == []


def _sidecars(spbe: Spbe, tenant: str) -> list[Path]:
    """The gocloud metadata sidecars of one stack (the engine must never write any: see provision.file_backend)."""
    from spbe_kit.provision.file_backend import backend_dir

    state = backend_dir(spbe.backend) / ".pulumi"
    return sorted(p for p in state.rglob("*.attrs") if tenant in p.parts or p.name.startswith(f"{tenant}."))


def test_a_sidecar_torn_by_a_killed_run_does_not_lock_the_tenant_out(spbe, cleanup):
    """A SIGKILL between fileblob's create and write of `<stack>.json.attrs` left an empty file, and
    every later run failed with `failed to load checkpoint: EOF` (seen in CI). Now none are written,
    and a torn one (from an older kit or a plain `pulumi` CLI run) is removed before the stack opens."""
    from spbe_kit.provision.file_backend import backend_dir

    tenant = "eng-torn-sidecar"
    cleanup(tenant)
    request = spbe.request(tenant)
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    assert _sidecars(spbe, tenant) == []
    stack_file = backend_dir(spbe.backend) / ".pulumi" / "stacks" / "spbe-tenant" / f"{tenant}.json"
    assert stack_file.is_file()
    torn = stack_file.with_name(stack_file.name + ".attrs")
    torn.write_text("")  # what os.Create leaves when the process dies before the write
    result = _ok(spbe("tenant", "up", str(request), "--skip-config", "--always-run-engine"))
    assert f"removed {torn.name}" in result.stderr
    assert not torn.exists()
    assert _pending(spbe, tenant) == []


def test_the_same_tenant_twice_at_once_is_refused_and_two_tenants_run_side_by_side(spbe, cleanup, tmp_path):
    a, b = "eng-parallel-a", "eng-parallel-b"
    cleanup(a)
    cleanup(b)
    first = spbe.start("tenant", "up", str(spbe.request(a)), "--skip-config", log=tmp_path / "a.log")
    other = spbe.start("tenant", "up", str(spbe.request(b)), "--skip-config", log=tmp_path / "b.log")
    _wait_for_line(tmp_path / "a.log", "updating tenant")
    again = spbe("tenant", "up", str(spbe.request(a)), "--skip-config")
    assert again.returncode == 2, again.stderr
    assert f"tenant {a} is already being updated by another spbe run on this machine (pid {first.pid})" in again.stderr
    assert first.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]
    assert other.wait(600) == 0, (tmp_path / "b.log").read_text()[-3000:]


def test_rotation_changes_only_the_named_secret(spbe, api_client, cleanup):
    tenant = "eng-rotate"
    cleanup(tenant)
    _ok(spbe("tenant", "up", str(spbe.request(tenant)), "--skip-config"))
    before = _secret_values(api_client, tenant)
    result = _ok(spbe("tenant", "rotate-credentials", tenant, "--secret", "identity-admin"))
    assert "rotated identity-admin/password" in result.stdout
    after = _secret_values(api_client, tenant)
    assert after["identity-admin"] != before["identity-admin"]
    assert {k: v for k, v in after.items() if k != "identity-admin"} == \
        {k: v for k, v in before.items() if k != "identity-admin"}
    unknown = spbe("tenant", "rotate-credentials", tenant, "--secret", "nope")
    assert unknown.returncode == 2 and "no generated credential named nope" in unknown.stderr


def test_destroy_keeps_the_guard_and_the_update_history(spbe, api_client, cleanup):
    tenant = "eng-destroy"
    cleanup(tenant)
    _ok(spbe("tenant", "up", str(spbe.request(tenant)), "--skip-config"))
    batch = client.BatchV1Api(api_client)
    platform_jobs = lambda: sorted(c.metadata.name for c in batch.list_namespaced_cron_job(  # noqa: E731
        "spbe-backups", label_selector=f"spbe.go.id/tenant={tenant}").items)
    assert platform_jobs() == [f"{tenant}-backup", f"{tenant}-restore-check"]
    refused = spbe("tenant", "destroy", tenant, "--yes")
    # the store beside the cluster wants a final backup, which kwok's simulated database cannot give
    assert refused.returncode == 1 and "its final backup failed" in refused.stderr, refused.stderr
    forced = _ok(spbe("tenant", "destroy", tenant, "--yes", "--force"))
    assert "without a final backup (--force)" in forced.stderr
    wait_for("namespace gone", lambda: (tenant not in [n.metadata.name for n in client.CoreV1Api(api_client)
                                                      .list_namespace().items], ""), 120)
    # its backup jobs and their Secret in the platform's namespace are gone with it
    assert platform_jobs() == []
    assert not client.CoreV1Api(api_client).list_namespaced_secret(
        "spbe-backups", label_selector=f"spbe.go.id/tenant={tenant}").items
    history = _export(spbe, tenant)  # the stack is still there
    assert history["deployment"].get("resources") in (None, [])
    from spbe_kit.provision import runner
    from spbe_kit.provision.settings import EngineSettings

    record = runner.stack_record(tenant, EngineSettings.resolve(Path(spbe.kubeconfig), backend_url=spbe.backend),
                                 history=10)
    kinds = [h["kind"] for h in record.history]
    assert kinds[0] == "destroy" and "update" in kinds
    status = spbe("tenant", "status", tenant)
    assert status.returncode == 1 and "it was destroyed (its stack and update history are kept)" in status.stdout


def test_a_wiped_work_dir_neither_rotates_nor_changes_anything(spbe, api_client, cleanup):
    """Credentials live only in the stack's encrypted state: a new machine (no work dir) finds them there."""
    import shutil

    from spbe_kit.paths import state_dir

    tenant = "eng-wiped-workdir"
    cleanup(tenant)
    request = spbe.request(tenant)
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    before = _secret_values(api_client, tenant)
    shutil.rmtree(state_dir() / "workspaces" / tenant)
    result = json.loads(_ok(spbe("tenant", "up", str(request), "--skip-config", "--output", "json")).stdout)
    assert result["changed"] is False and result["newCredentials"] == []
    assert _secret_values(api_client, tenant) == before


@pytest.fixture(scope="module")
def postgres_backend(postgres_server) -> str:
    """A database for Pulumi state on the test's real PostgreSQL (TLS required)."""
    import psycopg2

    conn = psycopg2.connect(host=postgres_server.host, port=postgres_server.port, user="postgres",
                            password=postgres_server.password, dbname="postgres", sslmode="require")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS pulumi_state_test")
        cur.execute("CREATE DATABASE pulumi_state_test")
    conn.close()
    return (f"postgres://postgres:{postgres_server.password}@{postgres_server.host}:{postgres_server.port}"
            "/pulumi_state_test?sslmode=require")


def test_two_machines_share_a_tenant_through_the_postgres_backend(cluster, engine, postgres_backend, api_client,
                                                                   cleanup, tmp_path):
    """Two operators (separate state dirs = separate machines) share one tenant's stack and its history;
    a run while the other holds the stack is refused naming the holder; a lock from another host is never removed."""
    import psycopg2

    from spbe_kit.devenv import backupstore

    tenant = "eng-team-backend"
    cleanup(tenant)
    machines = []
    store = backupstore.StoreLayout.from_env()  # the platform's one store, as production ops point each machine at it
    for name in ("ops-a", "ops-b"):
        home = tmp_path / name
        home.mkdir()
        machine = Spbe(cluster, postgres_backend, home)
        # a team shares the passphrase of the secrets provider (or uses a KMS provider); the local file is per machine
        machine.env.update({"SPBE_STATE_DIR": str(home / "state"), "PULUMI_CONFIG_PASSPHRASE": "team-passphrase-42",
                            "SPBE_BACKUP_STORE": store.endpoint, "SPBE_BACKUP_BUCKET": backupstore.BUCKET,
                            "SPBE_BACKUP_STORE_CREDENTIALS": str(store.credentials_file),
                            "SPBE_BACKUP_MASTER_KEY_FILE": str(store.root / "master.key")})
        machines.append(machine)
    a, b = machines
    request = a.request(tenant)
    first = _ok(a("tenant", "up", str(request), "--skip-config"))
    assert postgres_backend.split("@")[0].split(":")[-1] not in first.stdout + first.stderr  # no backend password
    values = _secret_values(api_client, tenant)
    second = json.loads(_ok(b("tenant", "up", str(request), "--skip-config", "--output", "json")).stdout)
    assert second["changed"] is False and second["newCredentials"] == []
    assert _secret_values(api_client, tenant) == values

    # while machine A holds the stack (a tier upgrade: long enough), machine B is refused with A's identity
    conn = psycopg2.connect(postgres_backend.replace("postgres://", "postgresql://"))
    conn.autocommit = True
    proc = a.start("tenant", "up", str(a.request(tenant, "medium")), "--skip-config", log=tmp_path / "a.log")
    deadline, locked = time.monotonic() + 300, False
    while not locked and time.monotonic() < deadline and proc.poll() is None:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pulumi_state WHERE key LIKE %s",
                        (f"%/.pulumi/locks/organization/spbe-tenant/{tenant}/%",))
            locked = cur.fetchone()[0] > 0
        time.sleep(0.05)
    assert locked, "machine A never took the backend lock"
    busy = b("tenant", "up", str(request), "--skip-config")
    assert proc.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]
    assert busy.returncode == 2, busy.stderr
    assert f"tenant {tenant} is being updated by" in busy.stderr and "(pid" in busy.stderr
    assert postgres_backend.split("@")[0].split(":")[-1] not in busy.stderr  # the backend password never shows

    # a lock written by another host is never removed by spbe: refused, and left in place
    key = f"pulumi_state_test/.pulumi/locks/organization/spbe-tenant/{tenant}/feedface.json"  # as the CLI keys it
    lock = {"pid": 4242, "username": "budi", "hostname": "ops-c.pdn.go.id", "timestamp": "2026-12-01T00:00:00Z"}
    with conn, conn.cursor() as cur:
        blob = base64.b64encode(json.dumps(lock).encode()).decode()  # the CLI's own row format
        cur.execute("INSERT INTO pulumi_state (key, data) VALUES (%s, %s)", (key, json.dumps({"data": blob})))
    refused = b("tenant", "up", str(b.request(tenant, "medium")), "--skip-config")
    assert refused.returncode == 2 and "budi@ops-c.pdn.go.id (pid 4242" in refused.stderr
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pulumi_state WHERE key = %s", (key,))
        assert cur.fetchone()[0] == 1
        cur.execute("DELETE FROM pulumi_state WHERE key = %s", (key,))
        cur.execute("SELECT count(*) FROM pulumi_state WHERE key LIKE %s", (f"%/.pulumi/history/%{tenant}%",))
        assert cur.fetchone()[0] >= 3, "the update history is kept in the shared backend"
    conn.close()


def test_an_api_server_restart_during_up_then_up_converges(spbe, cluster, api_client, cleanup, tmp_path):
    """The API server dies part-way through an `up`; once it is back, the next `up` converges."""
    from spbe_kit.devenv.cluster import control_plane, processes
    from spbe_kit.devenv.cluster.layout import Layout

    tenant = "eng-apiserver-restart"
    cleanup(tenant)
    request = spbe.request(tenant)
    proc = spbe.start("tenant", "up", str(request), "--skip-config", log=tmp_path / "restart.log")
    _wait_for_line(tmp_path / "restart.log", "creating")
    record = processes.running(Layout.load().run, "kube-apiserver")
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    try:
        code = proc.wait(600)
    finally:
        control_plane.up(progress=lambda line: print(line, flush=True))  # brings back only what died
    print(f"the interrupted up exited {code}")
    wait_for("API server answers", lambda: (bool(client.CoreV1Api(api_client).list_namespace().items), ""), 120)
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    assert _pending(spbe, tenant) == []
    code, report = spbe.drift(tenant, request)
    assert code == 0, json.dumps(report)[:3000]


def test_placeholder_images_are_refused_on_a_cluster_with_real_nodes(cluster, api_client):
    """A node kwok does not simulate would really pull images: a placeholder digest (as 2026.11's mail and
    e-office were before the image pipeline published them) is refused; on simulated nodes only, a warning."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.errors import ChangeRefused
    from spbe_kit.provision import preflight
    from spbe_kit.request import parse_request

    real_catalog = load_catalog()
    images = {**real_catalog.images, "eoffice": real_catalog.images["eoffice"].model_copy(
        update={"placeholder": True, "digest": "sha256:" + "0" * 64, "recipe": None})}
    catalog = real_catalog.model_copy(update={"images": images})
    spec = parse_request(request_text("35.10", "eng-placeholders", tier="small"))
    state = desired_state(spec, catalog)
    warnings: list[str] = []
    preflight.check_images(state, catalog, cluster.kubeconfig, None, warnings.append)
    assert any("placeholder images (eoffice)" in w for w in warnings), warnings
    core = client.CoreV1Api(api_client)
    core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="real-node-stand-in", labels={"test": "x"}),
                                   spec=client.V1NodeSpec(taints=[client.V1Taint(key="test", effect="NoSchedule")])))
    try:
        with pytest.raises(ChangeRefused) as refused:
            preflight.check_images(state, catalog, cluster.kubeconfig, None, warnings.append)
        # the shipped catalog passes on the same real node: nothing in it is a placeholder any more
        preflight.check_images(desired_state(spec, real_catalog), real_catalog, cluster.kubeconfig, None,
                               warnings.append)
    finally:
        core.delete_node("real-node-stand-in")
    assert refused.value.reasons == [f"image eoffice is a placeholder in catalog {real_catalog.version}"]
    assert "real-node-stand-in" in refused.value.hint


def test_new_cluster_credentials_are_used_and_another_cluster_is_refused(spbe, cluster, api_client, cleanup, tmp_path):
    """The provider's credentials are never recorded: a run with other valid credentials for the same cluster
    refreshes and converges with them; a kubeconfig for another API server is refused before anything runs."""
    import yaml

    from spbe_kit.devenv.cluster.layout import Layout

    tenant = "eng-new-credentials"
    cleanup(tenant)
    request = spbe.request(tenant)
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    other = Spbe(cluster, spbe.backend, spbe.workdir)
    other.kubeconfig = str(Layout.load().kubeconfigs / "provisioner.kubeconfig")  # another client certificate
    again = json.loads(_ok(other("tenant", "up", str(request), "--skip-config", "--always-run-engine",
                                 "--output", "json")).stdout)
    assert again["changed"] is False and again["newCredentials"] == []
    moved = yaml.safe_load(Path(spbe.kubeconfig).read_text())
    for entry in moved["clusters"]:
        entry["cluster"]["server"] = "https://127.0.0.2:16443"
    (tmp_path / "elsewhere.kubeconfig").write_text(yaml.safe_dump(moved))
    elsewhere = Spbe(cluster, spbe.backend, spbe.workdir)
    elsewhere.kubeconfig = str(tmp_path / "elsewhere.kubeconfig")
    refused = elsewhere("tenant", "up", str(request), "--skip-config")
    assert refused.returncode == 1 and "the tenant lives on the cluster at https://127.0.0.1" in refused.stderr


def test_protection_holds_when_a_change_would_replace_a_data_volume(spbe, cluster, api_client, cleanup, monkeypatch):
    """With the preflight out of the way, a change that forces a replacement of a data volume (an immutable
    field) is stopped by the engine's protection: the volume keeps its UID and nothing is deleted."""
    from dataclasses import replace

    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.desired.model import Manifest
    from spbe_kit.errors import ProvisionError
    from spbe_kit.provision import preflight, runner
    from spbe_kit.provision.settings import EngineSettings
    from spbe_kit.request import load_request

    tenant = "eng-protected"
    cleanup(tenant)
    request = spbe.request(tenant)
    _ok(spbe("tenant", "up", str(request), "--skip-config"))
    core = client.CoreV1Api(api_client)
    uid = core.read_namespaced_persistent_volume_claim("database-data", tenant).metadata.uid

    def replacing(spec, catalog):
        state = desired_state(spec, catalog)
        manifests = []
        for m in state.manifests:
            if m.kind == "PersistentVolumeClaim" and m.name == "database-data":
                body = {**m.body, "spec": {**m.body["spec"], "accessModes": ["ReadWriteOncePod"]}}  # immutable
                m = Manifest(body, m.component, m.generated_keys, m.certificate_names, m.platform_keys)
            manifests.append(m)
        return replace(state, manifests=tuple(manifests))

    monkeypatch.setattr(runner, "desired_state", replacing)
    monkeypatch.setattr(preflight, "check_change", lambda *a, **k: True)
    settings = EngineSettings.resolve(Path(spbe.kubeconfig), backend_url=spbe.backend)
    with pytest.raises(ProvisionError) as refused:
        runner.up(load_request(request), load_catalog(), settings, always_run_engine=True)
    assert "protect" in refused.value.message.lower(), refused.value.message
    assert core.read_namespaced_persistent_volume_claim("database-data", tenant).metadata.uid == uid
    assert core.read_namespace(tenant).status.phase == "Active"
