"""Every baseline image runs as its pod would: uid 10001, read-only root, the pod spec's env,
args and mounts (from the desired state), and answers on its port."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from spbe_kit.devenv import runc

from .pods import start_like_pod, tenant_state


@pytest.fixture(scope="module")
def state():
    return tenant_state()


def _http(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _hardened(container: runc.Container) -> None:
    ident = container.exec("id", "-u")
    assert ident.stdout.strip() == "10001", ident
    write = container.exec("sh", "-c", "touch /usr/spbe-test")
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write


def _psql(url: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def database(state, built, tmp_path_factory):
    run = start_like_pod(state, "database", built("postgres"), tmp_path_factory.mktemp("database"))
    password = run.secrets["database-superuser"]["password"]
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/postgres"

    def ready():
        return _psql(url + "?sslmode=require", "select 1").returncode == 0

    try:
        runc.wait_until(ready, 120, run.container, "PostgreSQL accepting logins")
        yield run, url
    finally:
        run.container.stop()


def test_postgres_accepts_tls_logins_only(database):
    run, url = database
    _hardened(run.container)
    tls = _psql(url + "?sslmode=require", "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()")
    assert tls.returncode == 0 and tls.stdout.startswith("t|TLSv1."), tls
    plain = _psql(url + "?sslmode=disable", "select 1")
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain
    wrong = _psql(url.replace(":5432", ":5432").replace("postgres:", "postgres:wrong", 1) + "?sslmode=require", "select 1")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    # the pod's probes run in the container: the tools must be on its PATH
    probe = run.container.exec("pg_isready", "--host=127.0.0.1", "--username=postgres")
    assert probe.returncode == 0, probe


def test_postgres_backup_tools_of_the_cronjobs_are_in_the_image(database):
    run, _ = database
    for tool in ("pg_dumpall", "initdb", "pg_ctl", "psql", "gzip", "find"):
        found = run.container.exec("sh", "-c", f"command -v {tool}")
        assert found.returncode == 0, f"{tool} missing: the backup/restore-check jobs run it"


def test_prometheus_is_ready_with_the_tenants_configuration(state, built, tmp_path):
    run = start_like_pod(state, "prometheus", built("prometheus"), tmp_path)
    try:
        runc.wait_until(lambda: _http("http://127.0.0.1:9090/-/ready")[0] == 200, 90, run.container,
                        "Prometheus /-/ready")
        _hardened(run.container)
        status, body = _http("http://127.0.0.1:9090/api/v1/status/config")
        loaded = json.loads(body)["data"]["yaml"]
        assert status == 200 and "/etc/prometheus-rules/*.yml" in loaded and "job_name: identity" in loaded, loaded
        # the rules the tenant's ConfigMap carries are loaded
        status, body = _http("http://127.0.0.1:9090/api/v1/rules")
        assert status == 200 and json.loads(body)["data"]["groups"], body[:500]
    finally:
        run.container.stop()


KEYCLOAK_HTTP = 18080  # e-office listens on 8080 too: on one host network, Keycloak moves aside


def _app_login(database, name: str) -> str:
    """The password of the app's login role, which the image created at start from the mounted Secret."""
    run, _ = database
    password = run.secrets[f"database-{name}"]["password"]
    url = f"postgresql://{name}:{password}@127.0.0.1:5432/{name}?sslmode=require"
    assert _psql(url, "select current_user").stdout.strip() == name
    return password


def test_the_database_pods_exporter_shows_pg_monitors_view_on_the_scraped_port(state, built, database, tmp_path):
    """The pod's metrics container (the exporter in the same image) logs in as spbe_monitor, whose role the
    server created at start from the same Secret, over TLS, and serves PostgreSQL's figures."""
    from spbe_kit.desired.database import MONITOR_ROLE, MONITOR_SECRET
    from spbe_kit.desired.monitoring import SCRAPE_TARGETS

    run, url = database
    password = run.secrets[MONITOR_SECRET]["password"]
    monitor = f"postgresql://{MONITOR_ROLE}:{password}@127.0.0.1:5432/postgres?sslmode=require"
    assert _psql(monitor, "select pg_has_role(current_user, 'pg_monitor', 'member')").stdout.strip() == "t"
    assert _psql(monitor.replace("/postgres?", "/identity?"), "select 1").returncode != 0  # its database only
    exporter = start_like_pod(state, "database", built("postgres"), tmp_path, container="metrics",
                              secret_values={MONITOR_SECRET: {"password": password}})
    port = next(p for name, p, _ in SCRAPE_TARGETS if name == "database")
    try:
        metrics = runc.wait_until(lambda: (m := _http(f"http://127.0.0.1:{port}/metrics")[1]) and
                                  _sample(m, "pg_up") == 1 and m, 60, exporter.container, "the exporter's pg_up 1")
        _hardened(exporter.container)
        assert _sample(metrics, "pg_stat_database_numbackends", datname="identity") >= 0
        assert 'pg_stat_database_xact_commit{datid=' in metrics
        # it got in: pg_hba admits spbe_monitor only over TLS from 127.0.0.1, so this was a TLS login
    finally:
        exporter.container.stop()


def test_postgres_creates_the_apps_login_roles_at_start_and_leaves_the_backup_role_to_the_platform(database):
    """identity and e-office can log in on the tenant's first start, each only to its own database: no
    configuration run has to come first. The backup job's role is not the pod's to make (catalog 2027.01 on):
    its password lives in the platform's backup namespace, and the spbe_database role creates it from there."""
    run, superuser_url = database
    for app in ("identity", "eoffice"):
        _app_login(database, app)
    query = ("select string_agg(datname || '=' || coalesce(datacl::text, ''), ' ' order by datname) from pg_database "
             "where datname in ('identity', 'eoffice')")
    acl = _psql(superuser_url + "?sslmode=require", query).stdout.strip()
    assert acl.count("=CTc/") == 2 and not re.search(r"[{,]=", acl), acl  # PUBLIC may not connect
    assert "database-backup" not in run.secrets and not any(name.endswith("-backup") for name in run.secrets)
    roles = _psql(superuser_url + "?sslmode=require", "select count(*) from pg_roles where rolname = 'spbe_backup'")
    assert roles.stdout.strip() == "0", roles


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A real backup store (SeaweedFS on free ports, as `spbe cluster up` runs the local one)."""
    from spbe_kit.devenv import backupstore
    from tests.backups.conftest import _free_store_ports

    layout = backupstore.StoreLayout(root=tmp_path_factory.mktemp("store"), ports=_free_store_ports())
    yield backupstore.up(lambda line: print(line, flush=True), build=True, layout=layout)
    backupstore.down(layout)


def _run_job(state, name: str, image, workdir, values) -> str:
    """Run the platform's CronJob `name` as its pod would, to its end; its log (the exit code asserted 0)."""
    # the host's network stands in for the cluster's: the tenant's Service name resolves to 127.0.0.1
    run = start_like_pod(state, name, image, workdir, secret_values=values, env_override={"PGHOST": "database"})
    try:
        code = run.container.process.wait(timeout=600)
        log = run.container.output()
        assert code == 0, log[-3000:]
        return log
    finally:
        run.container.stop()


def test_the_platforms_backup_job_writes_into_the_store_and_its_restore_check_reads_it_back(
        state, built, database, store, tmp_path):
    """The backup image runs the tenant's nightly job exactly as its CronJob in the platform's namespace says
    (script, env, Secret files), against the tenant's database image and a real store; then the weekly check
    restores that snapshot into its scratch server and finds every database with the rows it had."""
    from spbe_kit.backups import admission, operations
    from spbe_kit.backups.job import store_values

    run, superuser_url = database
    tenant = state.tenant_id
    password = secrets.token_urlsafe(24)
    # what the spbe_database role does from the platform's Secret (the pod does not make this role: test above)
    created = _psql(superuser_url + "?sslmode=require", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE "
                    f"rolname = 'spbe_backup') THEN CREATE ROLE spbe_backup LOGIN PASSWORD '{password}' IN ROLE "
                    "pg_read_all_data; END IF; END $$")
    assert created.returncode == 0, created.stderr
    for db in ("identity", "eoffice"):
        granted = _psql(superuser_url + "?sslmode=require", f"GRANT CONNECT ON DATABASE {db} TO spbe_backup")
        assert granted.returncode == 0, granted.stderr
    admission.admit(store, tenant)
    eoffice = superuser_url.rsplit("/", 1)[0] + "/eoffice?sslmode=require"
    letters = _psql(eoffice, "CREATE SCHEMA spbe_probe; CREATE TABLE spbe_probe.letters (id int); "
                             "INSERT INTO spbe_probe.letters SELECT generate_series(1, 250)")
    assert letters.returncode == 0, letters.stderr
    try:
        values = {f"{tenant}-backup": {"password": password, **store_values(store, tenant)}}
        log = _run_job(state, f"{tenant}-backup", built("backup"), tmp_path / "backup", values)
        stamp = re.search(rf"backup (spbe-\d{{8}}T\d{{6}}Z) of {tenant} written to the store: eoffice identity", log)
        assert stamp, log
        (snapshot,) = operations.list_backups(store, tenant)
        assert snapshot.host == tenant
        log = _run_job(state, f"{tenant}-restore-check", built("backup"), tmp_path / "check", values)
        assert f"restore check: eoffice restored from {stamp.group(1)}, 1 table(s) with the rows counted" in log, log
        assert f"restore check: identity restored from {stamp.group(1)}, " in log, log
    finally:
        _psql(eoffice, "DROP SCHEMA spbe_probe CASCADE")


@pytest.fixture(scope="module")
def identity(state, built, database, tmp_path_factory):
    """The Keycloak image on the tenant's database, as the identity pod runs it."""
    password = _app_login(database, "identity")
    run = start_like_pod(state, "identity", built("keycloak"), tmp_path_factory.mktemp("identity"),
                         secret_values={"database-identity": {"password": password}},
                         env_override={"KC_CACHE": "local", "KC_HTTP_PORT": str(KEYCLOAK_HTTP)})
    try:
        runc.wait_until(lambda: _http("http://127.0.0.1:9000/health/ready")[0] == 200, 300, run.container,
                        "Keycloak /health/ready")
        yield run
    finally:
        run.container.stop()


def test_keycloak_starts_on_the_tenants_database_and_reports_healthy(identity, database):
    _, superuser_url = database
    _hardened(identity.container)
    status, body = _http("http://127.0.0.1:9000/health/ready")
    assert status == 200 and json.loads(body)["status"] == "UP"
    status, body = _http(f"http://127.0.0.1:{KEYCLOAK_HTTP}/realms/master/.well-known/openid-configuration")
    assert status == 200 and json.loads(body)["issuer"].endswith("/realms/master")
    tables = _psql(superuser_url.rsplit("/", 1)[0] + "/identity?sslmode=require",
                   "select count(*) from information_schema.tables where table_schema = 'public'")
    assert int(tables.stdout.strip()) > 50, "Keycloak did not create its schema in the tenant database"


def _keycloak_admin(identity, method: str, path: str, body: dict | None = None) -> int:
    """One call of Keycloak's admin API with the bootstrap admin the pod was given."""
    base = f"http://127.0.0.1:{KEYCLOAK_HTTP}"
    form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "spbe-admin",
                                   "password": identity.secrets["identity-admin"]["password"]}).encode()
    with urllib.request.urlopen(f"{base}/realms/master/protocol/openid-connect/token", form, timeout=30) as resp:
        token = json.load(resp)["access_token"]
    request = urllib.request.Request(f"{base}/admin{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:  # e.g. 409: the realm is there already (another test made it)
        return exc.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_keycloak_replicas_form_one_cluster_through_the_tenant_database(state, built, identity, tmp_path):
    """Medium and large tiers run 2-3 identity replicas: as the pod spec starts them (JDBC_PING on the
    tenant database), two of them must see each other, or sessions are lost between replicas."""
    import time

    password = identity.secrets["database-identity"]["password"]
    nodes = []
    try:
        for n in (1, 2):
            workdir = tmp_path / f"kc{n}"
            workdir.mkdir()
            nodes.append(start_like_pod(
                state, "identity", built("keycloak"), workdir,
                secret_values={"database-identity": {"password": password}},
                # one host network here: each replica moves its ports aside (in a pod each has its own IP)
                env_override={"KC_HTTP_PORT": str(KEYCLOAK_HTTP + n), "KC_HTTP_MANAGEMENT_PORT": str(9000 + n),
                              "KC_CACHE_EMBEDDED_NETWORK_BIND_ADDRESS": "127.0.0.1",
                              "KC_CACHE_EMBEDDED_NETWORK_BIND_PORT": str(7800 + n)}))
        for n, node in enumerate(nodes, start=1):
            runc.wait_until(lambda: _http(f"http://127.0.0.1:{9000 + n}/health/ready")[0] == 200, 420,
                            node.container, f"Keycloak replica {n} ready")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all("(2) [" in node.container.output() for node in nodes):
            time.sleep(2)
        for node in nodes:
            views = [line for line in node.container.output().splitlines() if "ISPN000094" in line]
            assert views and "(2) [" in views[-1], views or node.container.output()[-3000:]
    finally:
        for node in nodes:
            node.container.stop()


@dataclass
class Mayan:
    run: object  # PodRun
    host: str  # the public host name Mayan answers for (its ALLOWED_HOSTS)
    database_url: str  # the e-office database, as its superuser
    workdir: Path

    def get(self, path: str, host: str | None = None):
        """As the ingress forwards it: TLS ended there."""
        request = urllib.request.Request(f"http://127.0.0.1:8080{path}",
                                         headers={"Host": host or self.host, "X-Forwarded-Proto": "https"})
        try:
            with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode(errors="replace")

    def api_token(self) -> str:
        """The administrator's API token, made in the container by the command the spbe_eoffice role runs
        in the pod (through kubernetes.core.k8s_exec in production)."""
        import re

        from spbe_kit.roles import role_vars

        model = role_vars("spbe_eoffice")
        made = self.run.container.exec(*model["spbe_eoffice_token_command"], timeout=120)
        found = re.search(model["spbe_eoffice_token_pattern"], made.stdout)
        assert made.returncode == 0 and found, made.stdout[-500:] + made.stderr[-1500:]
        return found.group(1)

    def api(self, path: str):
        """Mayan's REST API as its administrator (as the spbe_eoffice role calls it)."""
        request = urllib.request.Request(f"http://127.0.0.1:8080/api/v4/{path}",
                                         headers={"Host": "eoffice", "Authorization": f"Token {self.api_token()}"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.load(resp)


@pytest.fixture(scope="module")
def mayan(state, built, database, identity, tmp_path_factory):
    """The e-office image (Mayan EDMS) on the tenant's database, logging in through the tenant's Keycloak."""
    tmp_path = tmp_path_factory.mktemp("eoffice")
    _, superuser_url = database
    tenant = state.tenant_id
    eoffice_password = _app_login(database, "eoffice")
    client_secret = "client-" + tmp_path.name[-6:]
    pod = state.get("Deployment", "eoffice").body["spec"]["template"]["spec"]["containers"][0]
    host = next(h["value"] for h in pod["readinessProbe"]["httpGet"]["httpHeaders"] if h["name"] == "Host")
    # what the spbe_identity role sets up: the tenant's realm and the e-office client
    assert _keycloak_admin(identity, "POST", "/realms", {"realm": tenant, "enabled": True}) in (201, 409)
    assert _keycloak_admin(identity, "POST", f"/realms/{tenant}/clients", {
        "clientId": "eoffice", "secret": client_secret, "publicClient": False, "standardFlowEnabled": True,
        "redirectUris": [f"https://{host}/*"]}) == 201
    data = tmp_path / "eoffice-data"
    data.mkdir()
    os.chown(data, 10001, 10001)
    arguments = next(e["value"] for e in pod["env"] if e["name"] == "MAYAN_AUTHENTICATION_BACKEND_ARGUMENTS")
    run = start_like_pod(
        state, "eoffice", built("eoffice"), tmp_path, host_dirs={"data": data},
        secret_values={"database-eoffice": {"password": eoffice_password},
                       "eoffice-oidc": {"client-secret": client_secret}},
        env_override={"MAYAN_AUTHENTICATION_BACKEND_ARGUMENTS": arguments.replace(
            "identity:8080", f"identity:{KEYCLOAK_HTTP}").replace("$(SPBE_OIDC_CLIENT_SECRET)", client_secret)})
    m = Mayan(run, host, superuser_url.rsplit("/", 1)[0] + "/eoffice?sslmode=require", tmp_path)
    try:
        runc.wait_until(lambda: m.get("/authentication/login/")[0] in (200, 302), 600, run.container,
                        "Mayan's login page")
        yield m
    finally:
        run.container.stop()


def test_eoffice_is_mayan_on_the_tenants_database_and_logs_in_through_keycloak(state, mayan):
    tenant = state.tenant_id
    _hardened(mayan.run.container)
    status, headers, body = mayan.get("/authentication/login/")
    discovery = json.loads(_http(f"http://127.0.0.1:{KEYCLOAK_HTTP}/realms/{tenant}/.well-known/openid-configuration")[1])
    if status == 200:  # a page with the OIDC sign-in; its action starts the redirect
        status, headers, body = mayan.get("/oidc/authenticate/")
    assert status == 302, (status, body[:800])
    location = headers["Location"]
    assert location.startswith(discovery["authorization_endpoint"]), location
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query["client_id"] == ["eoffice"] and query["response_type"] == ["code"], location
    # the callback the identity role registers for the e-office client is the one Mayan sends
    from spbe_kit.configure.plan import MAYAN_OIDC_CALLBACK

    assert query["redirect_uri"] == [f"https://{mayan.host}{MAYAN_OIDC_CALLBACK}"], location
    tables = _psql(mayan.database_url, "select count(*) from information_schema.tables where table_schema = 'public'")
    assert int(tables.stdout.strip()) > 100, "Mayan did not create its schema in the tenant database"
    processes = mayan.run.container.exec("sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert "celery" in processes and "gunicorn" in processes and "redis-server" in processes


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    import re

    for line in metrics.splitlines():
        found = re.match(rf"{name}(?:\{{(.*)\}})? ([0-9.eE+-]+)$", line)
        if found and all(f'{k}="{v}"' in (found.group(1) or "") for k, v in labels.items()):
            return float(found.group(2))
    return 0.0


def test_eoffice_counts_its_requests_for_prometheus_on_its_own_port(state, mayan):
    """Mayan has no metrics: the image's gunicorn counts them, on the port the baseline scrapes (not 8080,
    which the ingress publishes)."""
    from spbe_kit.desired.monitoring import SCRAPE_TARGETS

    port = next(p for name, p, _ in SCRAPE_TARGETS if name == "eoffice")
    before = _sample(_http(f"http://127.0.0.1:{port}/metrics")[1], "eoffice_http_requests_total", method="GET", code="404")
    for _ in range(3):
        assert mayan.get("/no-such-page-e2e/")[0] == 404
    # gunicorn's post_request hook counts a request after its response went out: poll briefly
    deadline = time.monotonic() + 15
    while True:
        status, metrics = _http(f"http://127.0.0.1:{port}/metrics")
        after = _sample(metrics, "eoffice_http_requests_total", method="GET", code="404")
        if status != 200 or after - before >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
    assert after - before == 3, metrics[-1500:]
    assert _sample(metrics, "eoffice_http_request_duration_seconds_count", method="GET") >= 3
    assert mayan.get("/metrics")[0] == 404  # nothing of it on the published port


def _eoffice_role(mayan: Mayan, check: bool = False):
    from tests.roles.ansible_run import run_playbook

    return run_playbook("eoffice.yml", {"spbe_eoffice_url": "http://127.0.0.1:8080",
                                        "spbe_eoffice_api_token": mayan.api_token()}, mayan.workdir, check=check)


@pytest.fixture(scope="module")
def configured_mayan(mayan):
    """Mayan after the spbe_eoffice role's first run (and the run's result)."""
    return mayan, _eoffice_role(mayan)


def test_the_eoffice_role_gives_mayan_the_correspondence_baseline_idempotently(configured_mayan):
    from spbe_kit.roles import role_vars

    mayan, first = configured_mayan
    assert first.rc == 0 and first.changed >= 1, first.output[-3000:]
    model = role_vars("spbe_eoffice")
    document_types = {d["label"]: d["id"] for d in mayan.api("document_types/?page_size=100")["results"]}
    assert {d["label"] for d in model["spbe_eoffice_baseline_document_types"]} <= set(document_types)
    links = mayan.api(f"document_types/{document_types['Surat Masuk']}/metadata_types/?page_size=100")["results"]
    assert {(link["metadata_type"]["name"], link["required"]) for link in links} >= {("pengirim", True), ("sifat", False)}
    workflows = {w["internal_name"]: w for w in mayan.api("workflow_templates/?page_size=100")["results"]}
    disposisi = workflows["disposisi_surat_masuk"]
    states = mayan.api(f"workflow_templates/{disposisi['id']}/states/?page_size=100")["results"]
    assert [s["label"] for s in states if s["initial"]] == ["Diterima"]
    transitions = mayan.api(f"workflow_templates/{disposisi['id']}/transitions/?page_size=100")["results"]
    assert ("Didisposisikan", "Ditindaklanjuti") in {(t["origin_state"]["label"], t["destination_state"]["label"])
                                                      for t in transitions}
    # the image forgets the installer's plain-text administrator password (Mayan shows it on its login page)
    kept = _psql(mayan.database_url, "select count(*) from autoadmin_autoadminsingleton where password is not null")
    assert kept.returncode == 0 and kept.stdout.strip() == "0", kept
    assert "Automatic credentials" not in mayan.get("/authentication/login/")[2]
    again = _eoffice_role(mayan)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    # check mode sees a broken baseline and changes nothing
    assert _psql(mayan.database_url, "update documents_documenttype set label = 'Surat Masuk (lama)' "
                                     "where label = 'Surat Masuk'").returncode == 0
    try:
        checked = _eoffice_role(mayan, check=True)
        assert checked.rc == 0 and checked.changed == 1 and "document type Surat Masuk: created" in checked.output
        assert "Surat Masuk" not in {d["label"] for d in mayan.api("document_types/?page_size=100")["results"]}
    finally:
        _psql(mayan.database_url, "update documents_documenttype set label = 'Surat Masuk' "
                                  "where label = 'Surat Masuk (lama)'")


def _verify_eoffice(state, mayan: Mayan) -> subprocess.CompletedProcess:
    """`spbe verify` on the e-office container, with the facts production derives from the desired state.

    testinfra's docker:// backend runs `docker exec`; tests/images/bin/docker turns that into `runc exec`."""
    from spbe_kit.verify.targets import production_targets

    facts = production_targets(state, {"eoffice": "docker://x"}).targets["eoffice"].facts
    facts_dict = dataclasses.asdict(facts)
    targets = mayan.workdir / "targets.json"
    targets.write_text(json.dumps({"tenant": state.tenant_id, "targets": {
        "eoffice": {"host": f"docker://{mayan.run.container.id}", "facts": facts_dict}}}))
    env = {**os.environ, "PATH": f"{Path(__file__).with_name('bin')}:{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "spbe_kit", "verify", state.tenant_id, "--targets", str(targets),
                           "-o", "json"], capture_output=True, text=True, env=env, timeout=600)


def test_spbe_verify_passes_every_eoffice_check_and_a_broken_baseline_fails_exactly_its_own(state, configured_mayan):
    from spbe_kit.verify.run import suite_checks

    mayan, _ = configured_mayan
    proc = _verify_eoffice(state, mayan)
    report = json.loads(proc.stdout or "{}")
    assert proc.returncode == 0 and report["verified"], proc.stdout[-3000:] + proc.stderr[-2000:]
    assert report["counts"]["pass"] == len(suite_checks()["eoffice"])
    assert mayan.api_token() not in proc.stdout + proc.stderr
    assert _psql(mayan.database_url, "update document_states_workflowstate set initial = false "
                                     "where label = 'Diterima'").returncode == 0
    try:
        broken = _verify_eoffice(state, mayan)
        statuses = {r["check"]: r["status"] for r in json.loads(broken.stdout)["results"]}
        assert broken.returncode == 1 and statuses.pop("correspondence baseline is in place") == "fail", broken.stdout
        assert set(statuses.values()) == {"pass"}, statuses
    finally:
        _psql(mayan.database_url, "update document_states_workflowstate set initial = true where label = 'Diterima'")


class _Browser:
    """Just enough of a browser for an authorization-code login: cookies per host (Secure ones too:
    TLS ends at the ingress, which this test stands in for) and no automatic redirects."""

    def __init__(self, accept: str = "text/html,application/xhtml+xml") -> None:
        self.cookies: dict[str, dict[str, str]] = {}
        self.accept = accept

    def request(self, url: str, data: dict | None = None):
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc
        headers = {"X-Forwarded-Proto": "https", "Accept": self.accept}
        jar = self.cookies.setdefault(host, {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.local(url), data=body, headers={**headers, "Host": host})
        try:
            response = urllib.request.build_opener(_NoRedirect).open(request, timeout=30)
        except urllib.error.HTTPError as exc:
            response = exc
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]
        return response.status if hasattr(response, "status") else response.code, response.headers, \
            response.read().decode(errors="replace")

    @staticmethod
    def local(url: str) -> str:
        """Public hosts (sso.*, monitoring.*) are served here: Keycloak on KEYCLOAK_HTTP, dashboards on 8000."""
        parts = urllib.parse.urlsplit(url)
        port = KEYCLOAK_HTTP if parts.hostname.startswith(("sso.", "identity")) else 8000
        return urllib.parse.urlunsplit(("http", f"127.0.0.1:{port}", parts.path, parts.query, ""))


def test_dashboards_show_the_tenants_consoles_only_after_an_oidc_login(state, built, identity, tmp_path):
    import html
    import re
    import time

    tenant = state.tenant_id
    pod = state.get("Deployment", "dashboards").body["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in pod["env"]}
    public = env["SPBE_PUBLIC_HOST"]
    client_secret, password = "dash-" + tmp_path.name[-6:], "Operator-" + tmp_path.name[-6:] + "-Rahasia1"
    # what the spbe_identity role sets up: the realm, the dashboards client; and an operator
    assert _keycloak_admin(identity, "POST", "/realms", {"realm": tenant, "enabled": True}) in (201, 409)
    assert _keycloak_admin(identity, "POST", f"/realms/{tenant}/clients", {
        "clientId": "dashboards", "secret": client_secret, "publicClient": False, "standardFlowEnabled": True,
        "redirectUris": [env["SPBE_OIDC_REDIRECT_URI"]]}) == 201
    assert _keycloak_admin(identity, "POST", f"/realms/{tenant}/users", {
        "username": "operator", "enabled": True, "email": "operator@example.go.id", "emailVerified": True,
        "firstName": "Opera", "lastName": "Tor",
        "credentials": [{"type": "password", "value": password, "temporary": False}]}) == 201
    (tmp_path / "p").mkdir()
    (tmp_path / "d").mkdir()
    prometheus = start_like_pod(state, "prometheus", built("prometheus"), tmp_path / "p")
    dashboards = None
    try:
        dashboards = start_like_pod(
            state, "dashboards", built("dashboards"), tmp_path / "d",
            secret_values={"dashboards-oidc": {"client-secret": client_secret}},
            env_override={"SPBE_OIDC_DISCOVERY_URL": env["SPBE_OIDC_DISCOVERY_URL"].replace(
                "identity:8080", f"identity:{KEYCLOAK_HTTP}")})
        runc.wait_until(lambda: _http("http://127.0.0.1:8000/healthz")[0] == 200, 60, dashboards.container,
                        "the dashboards' /healthz")
        _hardened(dashboards.container)
        browser = _Browser()
        console = f"https://{public}/prometheus/consoles/spbe-tenant.html"
        status, headers, _ = browser.request(f"https://{public}/")
        assert status == 302 and headers["Location"].endswith("/prometheus/consoles/spbe-tenant.html")
        # not signed in: off to the tenant's realm with the dashboards client
        status, headers, body = browser.request(console)
        assert status == 302, (status, body[:500])
        login = headers["Location"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(login).query)
        assert login.startswith(f"https://sso.") and f"/realms/{tenant}/protocol/openid-connect/auth" in login, login
        assert query["client_id"] == ["dashboards"] and query["redirect_uri"] == [env["SPBE_OIDC_REDIRECT_URI"]]
        # the operator signs in on Keycloak's form
        status, _, page = browser.request(login)
        assert status == 200, page[:500]
        form = re.search(r'<form[^>]*id="kc-form-login"[^>]*>', page)
        assert form, page[:800]
        action = html.unescape(re.search(r'action="([^"]+)"', form.group(0)).group(1))
        status, headers, page = browser.request(action, {"username": "operator", "password": password})
        assert status == 302, page[:800]
        callback = headers["Location"]
        assert callback.startswith(env["SPBE_OIDC_REDIRECT_URI"] + "?"), callback
        # mod_auth_openidc redeems the code over the back channel and opens a session
        status, headers, body = browser.request(callback)
        assert status == 302 and headers["Location"].endswith("/prometheus/consoles/spbe-tenant.html"), (status, body[:500])
        deadline = time.monotonic() + 90
        while True:  # the first scrape of Prometheus itself
            status, _, page = browser.request(console)
            if "<td>prometheus</td><td>berjalan</td>" in page or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert status == 200 and f"Pemantauan tenant {tenant}" in page, page[:800]
        assert re.search(r"<td>prometheus</td><td>berjalan</td>", page), page[:2000]
        # Prometheus' own API answers through the same session; a stranger without one is sent to log in
        status, _, api = browser.request(f"https://{public}/prometheus/api/v1/query?query=up")
        assert status == 200 and json.loads(api)["status"] == "success"
        status, headers, _ = _Browser().request(f"https://{public}/prometheus/api/v1/query?query=up")
        assert status == 302 and "/protocol/openid-connect/auth" in headers["Location"]
        assert _Browser(accept="application/json").request(f"https://{public}/prometheus/api/v1/query?query=up")[0] == 401
    finally:
        if dashboards:
            dashboards.container.stop()
        prometheus.container.stop()


def _mail_user(folder, domain: str, user: str, password: str):
    """A Dovecot passwd-file with one mailbox, as the spbe_mail role writes it (SHA512-CRYPT)."""
    from passlib.hash import sha512_crypt

    folder.mkdir(parents=True, exist_ok=True)
    users = folder / "users"
    users.write_text(f"{user}@{domain}:{{SHA512-CRYPT}}{sha512_crypt.hash(password)}\n")
    users.chmod(0o444)
    folder.chmod(0o755)
    return folder


def test_mail_submits_over_tls_only_signs_with_dkim_and_delivers_to_imaps(state, built, tmp_path):
    import email
    import imaplib
    import smtplib

    import dkim

    pod = state.get("StatefulSet", "mail").body["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in pod["env"]}
    domain = env["MAIL_DOMAIN"]
    data = tmp_path / "mail-data"
    data.mkdir()
    os.chown(data, 10001, 10001)
    managed = _mail_user(tmp_path / "managed", domain, "aptika", "rahasia-aptika-2026")
    # the role's files, where the image reads them (read-only, beside the pod's own volumes)
    run = start_like_pod(state, "mail", built("mail"), tmp_path, host_dirs={"data": data},
                         extra_mounts=[runc.Mount("/etc/spbe-mail", managed, read_only=True)])
    container = run.container
    try:
        def answers():
            with smtplib.SMTP("127.0.0.1", 8587, timeout=5) as s:
                return s.ehlo()[0] == 250
        runc.wait_until(answers, 90, container, "submission port")
        _hardened(container)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", 8587, timeout=10) as s:
            s.ehlo()
            assert "auth" not in s.esmtp_features, "login offered before TLS"
            assert s.has_extn("starttls")
            code, _ = s.mail(f"aptika@{domain}")
            assert code >= 500, "submission accepted mail without TLS and login"
        with smtplib.SMTP("127.0.0.1", 8587, timeout=10) as s:
            s.starttls(context=context)
            s.ehlo()
            with pytest.raises(smtplib.SMTPAuthenticationError):
                s.login(f"aptika@{domain}", "wrong")
        message = (f"From: aptika@{domain}\r\nTo: aptika@{domain}\r\nSubject: Surat Dinas 001\r\n"
                   f"Message-ID: <001@{domain}>\r\nDate: Tue, 01 Dec 2026 09:00:00 +0700\r\n\r\nIsi surat.\r\n")
        with smtplib.SMTP("127.0.0.1", 8587, timeout=10) as s:
            s.starttls(context=context)
            s.login(f"aptika@{domain}", "rahasia-aptika-2026")
            s.sendmail(f"aptika@{domain}", [f"aptika@{domain}"], message)
        with smtplib.SMTP("127.0.0.1", 8025, timeout=10) as s:
            s.ehlo()
            assert s.has_extn("starttls"), "incoming SMTP offers no STARTTLS"

        def delivered():
            imap = imaplib.IMAP4_SSL("127.0.0.1", 8993, ssl_context=context, timeout=10)
            imap.login(f"aptika@{domain}", "rahasia-aptika-2026")
            imap.select("INBOX")
            _, ids = imap.search(None, "ALL")
            raw = None
            if ids[0]:
                _, fetched = imap.fetch(ids[0].split()[-1], "(RFC822)")
                raw = fetched[0][1]
            imap.logout()
            return raw
        raw = runc.wait_until(delivered, 60, container, "delivery to the IMAPS mailbox")
        signed = email.message_from_bytes(raw)
        assert signed["Subject"] == "Surat Dinas 001"
        signature = signed["DKIM-Signature"]
        assert signature and f"d={domain}" in signature.replace(" ", "") and "s=spbe2026" in signature
        # Dovecot's own statistics, on the port the baseline scrapes: the logins and the delivery above
        from spbe_kit.desired.monitoring import SCRAPE_TARGETS

        port = next(p for name, p, _ in SCRAPE_TARGETS if name == "mail")
        status, metrics = _http(f"http://127.0.0.1:{port}/metrics")
        assert status == 200, metrics[:500]
        assert _sample(metrics, "dovecot_auth_success_total") >= 2, metrics[-2000:]
        assert _sample(metrics, "dovecot_auth_failure_total") >= 1, metrics[-2000:]
        assert _sample(metrics, "dovecot_mail_delivery_total") >= 1, metrics[-2000:]
        record = (data / ".spbe" / "dkim" / "spbe2026.txt").read_text()
        public = "".join(part for part in record.split('"')[1::2])

        def dns(name, timeout=5):
            assert name.decode().startswith(f"spbe2026._domainkey.{domain}")
            return public.encode()
        # the signature verifies against the key the DNS record publishes (the received copy,
        # with Dovecot's Return-Path/Delivered-To added above the signed headers)
        assert dkim.verify(raw, dnsfunc=dns), "DKIM signature does not verify"
    finally:
        container.stop()
