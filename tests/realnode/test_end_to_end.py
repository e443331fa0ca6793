"""Kabupaten Banyuwangi end to end on the local cluster's real node (issue #15).

`spbe cluster up --real-node` -> `spbe tenant up examples/kab-banyuwangi.yaml` (Kubernetes objects,
every pod Running and Ready on the real node, the roles through port-forwards and exec, `spbe verify`)
-> then, for real: the backup job and the restore check, an OpenID Connect login to e-office through
the tenant's Keycloak, a mail e-office sends arriving in a Dovecot mailbox with a valid DKIM signature,
Prometheus scraping the tenant and loading its rules, and NetworkPolicies enforced on real connections.

The cluster is a second one of its own (own state directory and ports), so the kwok-only cluster the
other integration tests share is never touched; it is taken down at the end. Figures are printed
(`pytest -s`) and written to the state directory's figures.json.
"""

from __future__ import annotations

import base64
import email
import html
import imaplib
import json
import os
import re
import sys
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from spbe_kit.configure.reach import Kubectl
from spbe_kit.devenv.cluster import binaries, realnode
from spbe_kit.roles import role_vars
from tests.conftest import ROOT
from tests.images.test_images_run import _Browser

pytestmark = pytest.mark.integration

TENANT = "kab-banyuwangi"
DOMAIN = "banyuwangikab.go.id"
REQUEST = ROOT / "examples" / "kab-banyuwangi.yaml"
CATALOG = "2027.01"  # the newest: backups into the platform's store, from jobs in the platform's namespace
PORTS = {"APISERVER": 17443, "ETCD": 13379, "ETCD_PEER": 13380, "CONTROLLER_MANAGER": 21257,
         "SCHEDULER": 21259, "KWOK": 21247,
         "STORE_S3": 17333, "STORE_MASTER": 17933, "STORE_VOLUME": 17380, "STORE_FILER": 17888}
FIGURES: dict[str, object] = {}
SPBE = Path(sys.executable).parent / "spbe"  # the CLI of the virtualenv the tests run in


def _env(state: Path) -> dict[str, str]:
    env = {**os.environ, "SPBE_STATE_DIR": str(state), "SPBE_CLUSTER_NODES": "1"}
    env.update({f"SPBE_CLUSTER_{name}_PORT": str(port) for name, port in PORTS.items()})
    env.pop("SPBE_KUBECONFIG", None)
    return env


class Real:
    """The second cluster: how to run spbe and kubectl against it."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = _env(state)
        self.kubeconfig = state / "cluster" / "kubeconfig"
        self.kubectl_bin = binaries.require("kubectl")

    def spbe(self, *args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(SPBE), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check:
            assert proc.returncode == 0, f"spbe {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
        return proc

    def kubectl(self, *args: str, timeout: float = 300, check: bool = True, stdin: str | None = None) -> str:
        proc = subprocess.run([str(self.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args], input=stdin,
                              capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout

    def secret(self, name: str, key: str) -> str:
        data = json.loads(self.kubectl("-n", TENANT, "get", "secret", name, "-o", "json"))["data"]
        return base64.b64decode(data[key]).decode()

    def forward(self, service: str, port: int):
        return Kubectl(self.kubectl_bin, self.kubeconfig, None, TENANT).port_forward(service, port)


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Real:
    problems = realnode.host_problems()
    if problems and os.environ.get("CI") != "true":
        pytest.skip("this host cannot run the real node: " + "; ".join(problems))
    state = tmp_path_factory.mktemp("realnode")
    r = Real(state)
    try:
        started = time.monotonic()
        r.spbe("cluster", "up", "--real-node", timeout=2400)
        FIGURES["cluster_up_seconds"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        up = r.spbe("tenant", "up", str(REQUEST), "-o", "json", timeout=2400, check=False)
        FIGURES["tenant_up_configure_verify_seconds"] = round(time.monotonic() - started, 1)
        r.up = up  # type: ignore[attr-defined]
        yield r
    finally:
        (state / "figures.json").write_text(json.dumps(FIGURES, indent=2))
        print("\nreal node figures:", json.dumps(FIGURES, indent=2), flush=True)
        subprocess.run([str(SPBE), "cluster", "down"], env=r.env, capture_output=True, timeout=600)


def test_every_pod_of_the_tenant_runs_ready_on_the_real_node(real):
    # a new tenant has every check passing but one: its first nightly backup has not run yet, so `up`
    # exits 1 (not verified) and says exactly that
    report = json.loads(real.up.stdout or "{}")
    assert report, real.up.stderr[-4000:]
    # on failure, each role's status and the end of Ansible's output (credentials masked), whole
    assert report["configuration"]["status"] == "configured", json.dumps(report["configuration"].get("roles"), indent=1)
    verification = report["configuration"]["verification"]
    pending = [(r["component"], r["check"]) for r in verification["results"] if r["status"] != "pass"]
    assert pending == [("database", "backup present and recent")], pending
    assert verification["counts"]["unverified"] == 1 and real.up.returncode == 1
    status = json.loads(real.spbe("cluster", "status", "-o", "json").stdout)
    node = status["real_node"]
    assert node["ready"] and all(p["healthy"] for p in node["processes"].values()), node
    pods = json.loads(real.kubectl("-n", TENANT, "get", "pods", "-o", "json"))["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    assert {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in running} == \
        {"database", "identity", "mail", "eoffice", "prometheus", "dashboards"}
    for pod in running:
        assert pod["spec"]["nodeName"] == realnode.NODE_NAME, pod["metadata"]["name"]
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True", pod["metadata"]["name"]
        created = pod["metadata"]["creationTimestamp"]
        became = next(c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready")
        FIGURES.setdefault("pod_created_to_ready_seconds", {})[pod["metadata"]["name"]] = (  # type: ignore[union-attr]
            _seconds(became) - _seconds(created))
    # memory of each running container, from its own cgroup (v1 memory controller on this host)
    for pod in running:
        name, container = pod["metadata"]["name"], pod["spec"]["containers"][0]["name"]
        usage = real.kubectl("-n", TENANT, "exec", name, "-c", container, "--", "cat",
                             "/sys/fs/cgroup/memory/memory.usage_in_bytes", check=False).strip()
        if usage.isdigit():
            FIGURES.setdefault("memory_mib", {})[name] = round(int(usage) / 2**20)  # type: ignore[union-attr]


def _seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_the_platforms_backup_job_writes_every_database_into_the_store_and_the_restore_check_reads_it_back(real):
    """Catalog 2027.01: the nightly job runs in the platform's namespace (not the tenant's), dumps every database
    as the read-only role over TLS through the tenant's NetworkPolicy, and writes an encrypted restic snapshot
    into the store beside the cluster, with the tenant's append-only identity. The weekly check restores the
    newest snapshot out of the store into a scratch server, checks SHA256SUMS and the row counts."""
    platform = "spbe-backups"
    before = {b["id"] for b in json.loads(real.spbe("backup", "list", TENANT, "-o", "json").stdout)["backups"]}
    real.kubectl("-n", platform, "create", "job", f"--from=cronjob/{TENANT}-backup", "backup-e2e")
    started = time.monotonic()
    done = real.kubectl("-n", platform, "wait", "--for=condition=complete", "job/backup-e2e", "--timeout=300s",
                        timeout=320, check=False)
    log = real.kubectl("-n", platform, "logs", "job/backup-e2e", check=False)
    assert "condition met" in done, log
    FIGURES["backup_job_into_store_seconds"] = round(time.monotonic() - started, 1)
    assert re.search(rf"backup spbe-\d{{8}}T\d{{6}}Z of {TENANT} written to the store: eoffice identity", log), log
    after = json.loads(real.spbe("backup", "list", TENANT, "-o", "json").stdout)["backups"]
    new = [b for b in after if b["id"] not in before]
    assert len(new) == 1 and new[0]["host"] == TENANT, after
    # the tenant's namespace holds no backup job, volume or store credential; its admins cannot read the platform's
    assert "database-backup" not in real.kubectl("-n", TENANT, "get", "cronjobs,pvc,secrets", "-o", "name")
    admin = f"spbe:{TENANT}:admins"
    assert real.kubectl("auth", "can-i", "get", "secrets", "-n", platform, "--as", "someone",
                        "--as-group", admin, check=False).strip() == "no"
    assert real.kubectl("auth", "can-i", "get", "secrets", "-n", TENANT, "--as", "someone",
                        "--as-group", admin, check=False).strip() == "yes"  # (the check can say yes)
    real.kubectl("-n", platform, "create", "job", f"--from=cronjob/{TENANT}-restore-check", "restore-e2e")
    started = time.monotonic()
    done = real.kubectl("-n", platform, "wait", "--for=condition=complete", "job/restore-e2e", "--timeout=600s",
                        timeout=620, check=False)
    log = real.kubectl("-n", platform, "logs", "job/restore-e2e", check=False)
    assert "condition met" in done, log
    FIGURES["restore_check_from_store_seconds"] = round(time.monotonic() - started, 1)
    for db in ("eoffice", "identity"):
        assert re.search(rf"restore check: {db} restored from spbe-\S+, \d+ table\(s\) with the rows counted", log), log
    # a Job made from the platform's CronJob counts as the tenant's last backup (verify's backup check reads it)
    assert json.loads(real.spbe("tenant", "status", TENANT, "-o", "json").stdout)["lastBackup"]


def test_spbe_verify_passes_every_check_with_nothing_unverified(real):
    proc = real.spbe("verify", str(REQUEST), "-o", "json", check=False)
    report = json.loads(proc.stdout)
    results = [(c["component"], c["check"], c["status"], c.get("detail", "")) for c in report["results"]]
    bad = [r for r in results if r[2] != "pass"]
    assert proc.returncode == 0 and report["verified"] and not bad, bad
    assert report["counts"]["unverified"] == 0 and report["counts"]["pass"] == len(results)
    assert {r[0] for r in results} == {"database", "identity", "mail", "monitoring", "eoffice"}
    FIGURES["verify_checks_passed"] = len(results)


class _TenantBrowser(_Browser):
    """The tenant's public hosts served through port-forwards (TLS ends at the ingress, which this stands in for)."""

    def __init__(self, ports: dict[str, int]) -> None:
        super().__init__()
        self.ports = ports

    def local(self, url: str) -> str:  # type: ignore[override]
        parts = urllib.parse.urlsplit(url)
        port = self.ports[parts.hostname.split(".", 1)[0]]
        return urllib.parse.urlunsplit(("http", f"127.0.0.1:{port}", parts.path, parts.query, ""))


def _keycloak(port: int, token: str | None, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", "X-Forwarded-Proto": "https",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_an_oidc_login_through_the_tenants_keycloak_lands_on_the_eoffice_start_page(real):
    import urllib.request

    password = "Staf-Banyuwangi-2026!"
    with real.forward("identity", 8080) as sso, real.forward("eoffice", 8080) as eoffice:
        form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "spbe-admin",
                                       "password": real.secret("identity-admin", "password")}).encode()
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{sso}/realms/master/protocol/openid-connect/token", data=form), timeout=30) as resp:
            token = json.loads(resp.read())["access_token"]
        status, _ = _keycloak(sso, token, "POST", f"/admin/realms/{TENANT}/users", {
            "username": "staf.tu", "enabled": True, "email": f"staf.tu@{DOMAIN}", "emailVerified": True,
            "firstName": "Staf", "lastName": "Tata Usaha",
            "credentials": [{"type": "password", "value": password, "temporary": False}]})
        assert status in (201, 409)
        browser = _TenantBrowser({"sso": sso, "eoffice": eoffice})
        started = time.monotonic()
        status, headers, body = browser.request(f"https://eoffice.{DOMAIN}/oidc/authenticate/")
        assert status == 302, (status, body[:500])
        login = headers["Location"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(login).query)
        assert login.startswith(f"https://sso.{DOMAIN}/realms/{TENANT}/protocol/openid-connect/auth"), login
        assert query["client_id"] == ["eoffice"]
        status, _, page = browser.request(login)
        assert status == 200, page[:500]
        action = html.unescape(re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page).group(1))
        status, headers, page = browser.request(action, {"username": "staf.tu", "password": password})
        assert status == 302, page[:800]
        callback = headers["Location"]
        assert callback.startswith(f"https://eoffice.{DOMAIN}/oidc/callback/?"), callback
        status, headers, body = browser.request(callback)  # Mayan redeems the code over the back channel
        assert status == 302, (status, body[:800])
        landing = urllib.parse.urljoin(callback, headers["Location"])
        for _ in range(3):  # the start page, after Mayan's own redirects
            status, headers, page = browser.request(landing)
            if status != 302:
                break
            landing = urllib.parse.urljoin(landing, headers["Location"])
        FIGURES["oidc_login_seconds"] = round(time.monotonic() - started, 1)
        assert status == 200 and "/authentication/login/" not in landing and "/oidc/" not in landing, \
            (status, landing, page[:800])
        assert "partialNavigation" in page  # Mayan's start page (it loads its views into itself)
        # the session is the signed-in user's: Mayan's API answers who that is
        browser.accept = "application/json"
        status, _, body = browser.request(f"https://eoffice.{DOMAIN}/api/v4/users/current/")
        user = json.loads(body) if status == 200 else {}
        # Mayan names OIDC users by their e-mail address
        assert (user.get("username"), user.get("first_name")) == (f"staf.tu@{DOMAIN}", "Staf"), (status, body[:500])


def _fetch(real: Real, subject: str) -> bytes | None:
    """The newest message with ``subject`` in postmaster@'s mailbox, read over IMAPS (waits up to 2 minutes)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the mail pod's own certificate
    password = real.secret("mail-accounts", "postmaster-password")
    with real.forward("mail", 993) as imaps:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            imap = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=context, timeout=20)
            imap.login(f"postmaster@{DOMAIN}", password)
            imap.select("INBOX")
            _, ids = imap.search(None, "SUBJECT", f'"{subject}"')
            raw = imap.fetch(ids[0].split()[-1], "(RFC822)")[1][0][1] if ids[0] else None
            imap.logout()
            if raw:
                return raw
            time.sleep(3)
    return None


def _dkim_verifies(real: Real, raw: bytes) -> None:
    import dkim

    message = email.message_from_bytes(raw)
    assert message["From"] == f"noreply@{DOMAIN}"
    signature = message["DKIM-Signature"].replace(" ", "").replace("\n", "")
    assert f"d={DOMAIN}" in signature and "s=spbe2026" in signature
    record = real.kubectl("-n", TENANT, "exec", "mail-0", "--", "cat", "/var/mail/.spbe/dkim/spbe2026.txt")
    published = "".join(record.split('"')[1::2]).encode()

    def dns(name, timeout=5):
        assert name.decode().startswith(f"spbe2026._domainkey.{DOMAIN}")
        return published
    assert dkim.verify(raw, dnsfunc=dns), "the DKIM signature does not verify against the published key"


def test_mail_submitted_as_noreply_reaches_postmaster_with_a_valid_dkim_signature(real):
    """The login e-office and identity use, over the tenant's submission port (STARTTLS), delivered by LMTP
    into Dovecot, signed by OpenDKIM, read back over IMAPS."""
    import smtplib

    subject = f"Surat Dinas e2e {int(time.time())}"
    # the server proves itself with the certificate the stack generated, for the name senders use
    context = ssl.create_default_context(cadata=real.secret("mail-tls", "tls.crt"))
    with real.forward("mail", 587) as submission:
        with smtplib.SMTP("127.0.0.1", submission, timeout=30) as smtp:
            smtp._host = "mail"  # the name STARTTLS checks (the port-forward is 127.0.0.1)
            smtp.starttls(context=context)
            smtp.login(f"noreply@{DOMAIN}", real.secret("mail-accounts", "noreply-password"))
            smtp.sendmail(f"noreply@{DOMAIN}", [f"postmaster@{DOMAIN}"],
                          f"From: noreply@{DOMAIN}\r\nTo: postmaster@{DOMAIN}\r\nSubject: {subject}\r\n\r\n"
                          "Mohon segera ditindaklanjuti.\r\n")
    raw = _fetch(real, subject)
    assert raw, f"{subject!r} never reached postmaster@{DOMAIN}'s mailbox"
    _dkim_verifies(real, raw)


def test_a_mail_eoffice_sends_reaches_a_dovecot_mailbox_with_a_valid_dkim_signature(real):
    subject = f"Nota Dinas e2e {int(time.time())}"
    command = [c for c in role_vars("spbe_eoffice")["spbe_eoffice_token_command"] if c != "drf_create_token"][:-1]
    code = ("from django.core.mail import send_mail; from django.conf import settings; "
            f"send_mail({subject!r}, 'Mohon segera ditindaklanjuti.', settings.DEFAULT_FROM_EMAIL, "
            f"['postmaster@{DOMAIN}'])")
    real.kubectl("-n", TENANT, "exec", "deploy/eoffice", "--", *command, "shell", "-c", code, timeout=180)
    raw = _fetch(real, subject)
    assert raw, f"{subject!r} never reached postmaster@{DOMAIN}'s mailbox"
    _dkim_verifies(real, raw)


def _prometheus(real: Real, path: str) -> dict:
    import urllib.request

    with real.forward("prometheus", 9090) as prom:
        with urllib.request.urlopen(f"http://127.0.0.1:{prom}{path}", timeout=30) as resp:
            return json.loads(resp.read())["data"]


def test_prometheus_scrapes_identity_and_loads_the_baseline_alert_rules(real):
    deadline = time.monotonic() + 120
    while True:
        targets = _prometheus(real, "/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if health.get("identity") == "up" or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert health.get("identity") == "up", targets
    assert all(t["labels"].get("tenant") == TENANT for t in targets)
    rules = [r for g in _prometheus(real, "/api/v1/rules")["groups"] for r in g["rules"] if r["type"] == "alerting"]
    assert rules and all(r["health"] == "ok" for r in rules), rules
    FIGURES["prometheus"] = {"targets": health, "alert_rules": len(rules)}


def test_prometheus_scrapes_every_component_of_the_tenant(real):
    """Every component has a scrape target and every target is up: Keycloak's management port, e-office's
    request counts (its gunicorn), Dovecot's statistics, the PostgreSQL exporter beside the server, and
    Prometheus itself."""
    deadline = time.monotonic() + 150
    while True:
        targets = _prometheus(real, "/api/v1/targets")["activeTargets"]
        down = [(t["labels"].get("job"), t.get("lastError")) for t in targets if t["health"] != "up"]
        if not down or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert targets and not down, down
    assert {t["labels"]["job"] for t in targets} == {"identity", "eoffice", "mail", "database", "prometheus"}
    for job, series in (("eoffice", "eoffice_http_requests_total"), ("mail", "dovecot_auth_success_total"),
                        ("database", "pg_up"), ("identity", "jvm_memory_used_bytes")):
        found = _prometheus(real, f"/api/v1/query?query={series}%7Bjob%3D%22{job}%22%7D")["result"]
        assert found, f"no {series} from {job}"
    FIGURES["prometheus_targets_up"] = len(targets)


def _probe_pod(real: Real, namespace: str, name: str) -> None:
    image = json.loads(real.kubectl("-n", TENANT, "get", "pod", "database-0", "-o", "json"))["spec"]["containers"][0]["image"]
    real.kubectl("create", "namespace", namespace, check=False)
    exists = real.kubectl("-n", namespace, "get", "pod", name, "-o", "name", check=False).strip()
    if not exists:
        real.kubectl("-n", namespace, "run", name, f"--image={image}", "--restart=Never", "--command", "--", "sleep", "3600")
    real.kubectl("-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s", timeout=140)


def _connects(real: Real, namespace: str, pod: str, host: str, port: int, container: list[str] | None = None) -> bool:
    script = f'timeout 5 bash -c "exec 3<>/dev/tcp/{host}/{port}" && echo CONNECTED || echo BLOCKED'
    out = real.kubectl("-n", namespace, "exec", pod, *(container or []), "--", "bash", "-c", script, timeout=60)
    return out.strip().endswith("CONNECTED")


def test_network_policies_are_enforced_on_real_connections(real):
    svc = f"{TENANT}.svc.cluster.local"
    _probe_pod(real, "e2e-other-tenant", "probe")
    _probe_pod(real, "ingress-nginx", "controller")
    # another tenant's pod reaches neither this tenant's database nor its identity
    assert not _connects(real, "e2e-other-tenant", "probe", f"database.{svc}", 5432)
    assert not _connects(real, "e2e-other-tenant", "probe", f"identity.{svc}", 8080)
    # ... while the probe itself is not cut off: the API server's Service answers it
    assert _connects(real, "e2e-other-tenant", "probe", "kubernetes.default.svc.cluster.local", 443)
    # only the ingress controller's namespace reaches the web components
    assert _connects(real, "ingress-nginx", "controller", f"identity.{svc}", 8080)
    assert _connects(real, "ingress-nginx", "controller", f"eoffice.{svc}", 8080)
    assert not _connects(real, "ingress-nginx", "controller", f"database.{svc}", 5432)
    # egress as the baseline says: e-office reaches its database and identity, nothing else
    eoffice = ["-c", "eoffice"]
    pod = real.kubectl("-n", TENANT, "get", "pods", "-l", "app.kubernetes.io/name=eoffice", "-o",
                       "jsonpath={.items[0].metadata.name}")
    assert _connects(real, TENANT, pod, "database", 5432, eoffice)
    assert _connects(real, TENANT, pod, "identity", 8080, eoffice)
    assert not _connects(real, TENANT, pod, "prometheus", 9090, eoffice)


def test_egress_to_the_node_itself_is_denied_as_the_baseline_says(real):
    """Default-deny egress holds for the node's own addresses too (the API server, kubelet): those
    connections go through INPUT, which upstream kube-network-policies does not police; the kit's patch
    adds an INPUT chain for pods that a policy selects."""
    pod = real.kubectl("-n", TENANT, "get", "pods", "-l", "app.kubernetes.io/name=eoffice", "-o",
                       "jsonpath={.items[0].metadata.name}")
    node_ip = json.loads(real.spbe("cluster", "status", "-o", "json").stdout)["real_node"]["ip"]
    assert not _connects(real, TENANT, pod, node_ip, realnode.KUBELET_PORT, ["-c", "eoffice"])
    assert not _connects(real, TENANT, pod, "kubernetes.default.svc.cluster.local", 443, ["-c", "eoffice"])
    # what no policy selects still reaches the node (the patch's INPUT chain queues only policed pods)
    _probe_pod(real, "e2e-other-tenant", "probe")
    assert _connects(real, "e2e-other-tenant", "probe", node_ip, realnode.KUBELET_PORT)


def test_a_backup_into_the_store_survives_a_dropped_database_and_its_drill_is_signed_evidence(real):
    """Near the end of this file, since it drops e-office's database: `spbe backup run` (the job's script from outside, as the backup role, through a port-forward) puts the
    tenant's databases into the store beside the cluster; after the e-office database is dropped, `spbe backup
    restore --into` brings back the same rows, and `spbe backup verify` files a signed, passing drill. E-office
    is stopped first, as ops would before a restore, so nothing writes between the backup and the checks."""
    real.kubectl("-n", TENANT, "scale", "deployment/eoffice", "--replicas=0")
    real.kubectl("-n", TENANT, "wait", "--for=delete", "pod", "-l", "app.kubernetes.io/name=eoffice", "--timeout=180s",
                 timeout=200)
    started = time.monotonic()
    taken = json.loads(real.spbe("backup", "run", TENANT, "-o", "json", "--kubeconfig", str(real.kubeconfig)).stdout)
    FIGURES["store_backup_seconds"] = round(time.monotonic() - started, 1)
    assert taken["backup"]["host"] == TENANT
    listed = json.loads(real.spbe("backup", "list", TENANT, "-o", "json").stdout)["backups"]
    assert [b["id"] for b in listed][-1] == taken["backup"]["id"]

    def psql(database: str, sql: str) -> str:
        return real.kubectl("exec", "-n", TENANT, "database-0", "-c", "postgres", "--", "env",
                            f"PGPASSWORD={real.secret('database-superuser', 'password')}", "psql", "-h", "127.0.0.1",
                            "-U", "postgres", "-d", database, "-Atc", sql).strip()

    rows = ("SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', "
            "table_schema, table_name), false, true, '')))[1]::text::bigint) FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema = 'public'")
    tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    before = (psql("eoffice", tables), psql("eoffice", rows))
    assert int(before[0]) > 10 and int(before[1]) > 0  # Mayan's schema and its rows
    psql("postgres", "DROP DATABASE eoffice WITH (FORCE)")
    started = time.monotonic()
    restored = json.loads(real.spbe("backup", "restore", TENANT, "--into", TENANT, "--database", "eoffice", "--yes",
                                    "-o", "json", "--kubeconfig", str(real.kubeconfig)).stdout)
    FIGURES["store_restore_seconds"] = round(time.monotonic() - started, 1)
    assert restored["snapshot"] == taken["backup"]["id"]
    assert restored["databases"]["eoffice"] == {"tables": int(before[0]), "rows": int(before[1])}
    assert (psql("eoffice", tables), psql("eoffice", rows)) == before
    started = time.monotonic()
    drill = real.spbe("backup", "verify", TENANT, "-o", "json")
    FIGURES["store_drill_seconds"] = round(time.monotonic() - started, 1)
    assert json.loads(drill.stdout)["result"]["passed"]
    history = json.loads(real.spbe("backup", "drills", TENANT, "-o", "json").stdout)["drills"]
    assert history and all(h["signatureValid"] for h in history)


def test_suspend_stops_the_real_tenant_after_a_backup_and_resume_brings_it_back_with_its_data(real):
    """`spbe tenant suspend` takes a backup into the store, then stops every running workload (e-office is
    already at zero from the test before, so it is not in the record and stays so); no pod of the tenant runs
    on the node, the volumes stay. `spbe tenant resume` brings back what was recorded, Ready, with the same
    data; drift says 'suspended' in between."""
    def identity_tables() -> str:
        return real.kubectl("exec", "-n", TENANT, "database-0", "-c", "postgres", "--", "env",
                            f"PGPASSWORD={real.secret('database-superuser', 'password')}", "psql", "-h", "127.0.0.1",
                            "-U", "postgres", "-d", "identity", "-Atc",
                            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").strip()

    tables = identity_tables()
    assert int(tables) > 50  # Keycloak's schema
    started = time.monotonic()
    suspended = json.loads(real.spbe("tenant", "suspend", TENANT, "--yes", "-o", "json", timeout=900).stdout)
    FIGURES["suspend_seconds"] = round(time.monotonic() - started, 1)
    record = suspended["suspension"]
    assert suspended["action"] == "suspended" and record["backup"]  # a backup into the store came first
    assert "Deployment/eoffice" not in record["replicas"] and record["replicas"]["StatefulSet/database"] == 1
    pods = json.loads(real.kubectl("-n", TENANT, "get", "pods", "-o", "json"))["items"]
    assert [p["metadata"]["name"] for p in pods if p["status"].get("phase") in ("Running", "Pending")] == []
    backups = json.loads(real.spbe("backup", "list", TENANT, "-o", "json").stdout)["backups"]
    assert record["backup"].startswith(backups[-1]["id"])
    drift = json.loads(real.spbe("drift", str(REQUEST), "-o", "json", check=False).stdout)["tenants"][0]
    assert drift["status"] in ("suspended", "drift"), drift  # e-office at zero outside the record is drift
    assert all(f["object"]["name"] == "eoffice" for f in drift["findings"]), drift["findings"]
    started = time.monotonic()
    resumed = json.loads(real.spbe("tenant", "resume", TENANT, "-o", "json", timeout=1800).stdout)
    FIGURES["resume_to_ready_seconds"] = round(time.monotonic() - started, 1)
    assert resumed["action"] == "resumed"
    for ref, replicas in record["replicas"].items():
        kind, name = ref.split("/")
        obj = json.loads(real.kubectl("-n", TENANT, "get", kind.lower(), name, "-o", "json"))
        assert obj["spec"]["replicas"] == replicas and obj["status"].get("readyReplicas") == replicas, ref
    assert identity_tables() == tables  # the volume kept the data
    # and what the roles configured holds after the restart: every check of every running component passes
    report = json.loads(real.spbe("verify", str(REQUEST), "-o", "json", check=False).stdout)
    bad = [(r["component"], r["check"], r["status"]) for r in report["results"]
           if r["component"] != "eoffice" and r["status"] != "pass"]
    assert not bad and {r["component"] for r in report["results"]} >= {"database", "identity", "mail", "monitoring"}, bad


FLEET_YAML = f"""
waves:
  - name: pilot
    tenants: [{TENANT}]
    maxParallel: 1
    failureBudget: 0
"""


def test_a_fleet_rollout_on_the_real_node_gates_on_spbe_verify(real, tmp_path):
    """#16's third gate where it matters: the tenant the previous test left with e-office scaled to zero is
    brought back by `spbe fleet apply`, which runs the roles and passes every gate: Ready, drift, and `spbe
    verify`'s whole suite (not skipped: a real node runs the tenant). Then a server key made readable by
    others, which neither `up` nor the roles touch and only verify sees, fails the verify gate: the pilot's
    budget of 0 halts the run, and --no-rollback leaves the tenant for inspection."""
    folder = tmp_path / "fleet"
    folder.mkdir()
    (folder / REQUEST.name).write_text(REQUEST.read_text())
    (folder / "fleet.yaml").write_text(FLEET_YAML)
    plan = json.loads(real.spbe("fleet", "plan", str(folder), "--to", CATALOG, "-o", "json").stdout)
    (entry,) = plan["tenants"]
    assert (entry["current"], entry["action"], entry["wave"]) == (CATALOG, "converge", "pilot"), entry
    assert entry["changes"]["update"] >= 1, entry  # the e-office Deployment's replicas
    started = time.monotonic()
    applied = real.spbe("fleet", "apply", str(folder), "--to", CATALOG, "-o", "json", timeout=2400, check=False)
    FIGURES["fleet_converge_with_gates_seconds"] = round(time.monotonic() - started, 1)
    status = json.loads(applied.stdout or "{}")
    assert applied.returncode == 0 and status.get("status") == "finished", applied.stdout[-4000:] + applied.stderr[-3000:]
    (tenant,) = status["tenants"]
    assert tenant["outcome"] == "passed", tenant
    gates = {g["gate"]: g for g in tenant["gates"]}
    assert [(g["gate"], g["status"]) for g in tenant["gates"]] == [("ready", "pass"), ("drift", "pass"), ("verify", "pass")]
    assert re.fullmatch(r"\d+ checks passed", gates["verify"]["detail"]) and int(gates["verify"]["detail"].split()[0]) >= 20
    deployment = json.loads(real.kubectl("-n", TENANT, "get", "deployment", "eoffice", "-o", "json"))
    assert deployment["spec"]["replicas"] == 1 and deployment["status"].get("readyReplicas") == 1

    key = "/var/lib/postgresql/data/pgdata/server.key"

    def database(*argv: str) -> str:
        return real.kubectl("exec", "-n", TENANT, "database-0", "-c", "postgres", "--", *argv).strip()

    assert database("stat", "-c", "%a", key) == "600"
    database("chmod", "0644", key)
    try:
        # something to roll (a tenant admin lowered the default CPU request): the plan says converge again
        real.kubectl("-n", TENANT, "patch", "limitrange", "spbe-limits", "--type=json",
                     "-p", '[{"op": "replace", "path": "/spec/limits/0/defaultRequest/cpu", "value": "1m"}]')
        failed = real.spbe("fleet", "apply", str(folder), "--to", CATALOG, "--no-rollback", "-o", "json",
                           timeout=2400, check=False)
        status = json.loads(failed.stdout or "{}")
        assert failed.returncode == 1 and status.get("status") == "halted", failed.stdout[-4000:] + failed.stderr[-3000:]
        (tenant,) = status["tenants"]
        assert tenant["outcome"] == "failed" and not tenant["reverted"], tenant
        gates = {g["gate"]: g for g in tenant["gates"]}
        assert (gates["ready"]["status"], gates["drift"]["status"], gates["verify"]["status"]) == ("pass", "pass", "fail")
        assert "database: server key is private fail" in gates["verify"]["detail"], gates["verify"]
        assert "1 of " in gates["verify"]["detail"], gates["verify"]  # that check, and no other
    finally:
        database("chmod", "0600", key)


def test_decommission_hands_the_pemda_its_data_and_keeps_a_restorable_final_backup(real, tmp_path):
    """Last of this file, since the tenant is gone after it: `spbe tenant decommission` takes the final backup,
    writes the export archive of it (checksums that `sha256sum -c` accepts, a dump per database), drills it,
    destroys the tenant and files signed evidence. The store still holds the final backup, and a drill of it
    after the namespace is gone passes."""
    out = tmp_path / "handover"
    started = time.monotonic()
    done = json.loads(real.spbe("tenant", "decommission", TENANT, "--out-dir", str(out), "--yes", "-o", "json",
                                timeout=2400).stdout)
    FIGURES["decommission_seconds"] = round(time.monotonic() - started, 1)
    archive = Path(done["archive"]["path"])
    assert archive.parent == out and archive.is_file()
    assert subprocess.run(["sha256sum", "-c", f"{archive.name}.sha256"], cwd=out, capture_output=True).returncode == 0
    assert {"eoffice", "identity"} <= set(done["archive"]["databases"])
    FIGURES["export_archive_mib"] = round(archive.stat().st_size / 2**20, 1)
    assert "NotFound" in subprocess.run([str(real.kubectl_bin), "--kubeconfig", str(real.kubeconfig), "get", "namespace",
                                         TENANT], capture_output=True, text=True).stderr
    # its backup jobs and their Secret in the platform's namespace went with it; its backups did not (below)
    assert real.kubectl("-n", "spbe-backups", "get", "cronjobs,secrets,serviceaccounts", "-l",
                        f"spbe.go.id/tenant={TENANT}", "-o", "name").strip() == ""
    result = done["evidence"]["result"]
    assert result["kind"] == "spbe.go.id/Decommission" and result["drill"]["passed"] and done["filedInStore"]
    assert result["export"]["sha256"] == done["archive"]["sha256"] and result["destroyed"]["objectsDeleted"] > 20
    assert json.loads(Path(done["evidenceFile"]).read_text()) == done["evidence"]
    # what auditors see in the store: the decommission among the tenant's records, signed by the platform
    records = json.loads(real.spbe("backup", "evidence", TENANT, "-o", "json").stdout)["evidence"]
    filed = [r for r in records if r["result"]["kind"] == "spbe.go.id/Decommission"]
    assert [r["signature"] for r in filed] == [done["evidence"]["signature"]] and filed[0]["signatureValid"]
    # the final backup outlives the tenant, and restores
    newest = json.loads(real.spbe("backup", "list", TENANT, "-o", "json").stdout)["backups"][-1]
    assert result["finalBackup"]["snapshot"].startswith(newest["id"])  # the list shows restic's short id
    drill = json.loads(real.spbe("backup", "verify", TENANT, "-o", "json").stdout)
    assert drill["result"]["passed"] and drill["result"]["snapshot"] == result["finalBackup"]["snapshot"]
