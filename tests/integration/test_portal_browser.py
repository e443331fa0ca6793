"""The request portal in a real browser, end to end, on the local cluster with the real Pulumi engine.

A pemda's IT team signs in with the platform's Keycloak, fills the form with two mistakes, sees each next to
its field, fixes them and submits; platform ops approve; the portal is killed mid-provisioning and started
again, and the request still reaches *siap* on the local cluster; an auditor opens the tenant's evidence page
and exports the audit trail. Screenshots of each page go to build/test-artifacts/portal/.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.services import free_port

from .portal_support import Portal, chrome, platform_realm

pytestmark = pytest.mark.integration

REGION = "63.01"  # Kabupaten Tanah Laut: no other test uses it
TENANT = "kab-tanah-laut"
DOMAIN = "tanahlautkab.go.id"
SECOND = ("63.02", "kab-kotabaru", "kotabaru")  # the same team also serves a second pemda: the clean run
USERS = {"aptika-tanahlaut": ["pemda-63.01", "pemda-63.02"], "ops-pusdatin": ["spbe-ops"], "auditor-bpkp": ["spbe-auditors"]}
ARTIFACTS = Path(os.environ.get("SPBE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "test-artifacts")) / "portal"


@pytest.fixture(scope="module")
def engine():
    from spbe_kit.devenv.engine.build import ensure_engine

    return ensure_engine(lambda line: print(line, flush=True))


@pytest.fixture(scope="module")
def setup(cluster, engine, keycloak_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("portal")
    port = free_port()
    realm = platform_realm(keycloak_server, f"http://127.0.0.1:{port}", USERS)
    backend = (root / "pulumi").as_uri()
    (root / "pulumi").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
    env.update({"SPBE_PORTAL_OIDC_CLIENT_SECRET": realm.client_secret, "SPBE_PORTAL_HOME": str(root / "home"),
                "SPBE_PULUMI_BACKEND": backend})
    portal = Portal(root, port, env, ["--oidc-issuer", realm.issuer, "--kubeconfig", str(cluster.kubeconfig)])
    portal.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    yield portal, realm, root, backend
    portal.stop()
    for tenant in (TENANT, SECOND[1], f"cli-{SECOND[1]}"):
        subprocess.run([sys.executable, "-m", "spbe_kit", "tenant", "destroy", tenant, "--yes", "--force",
                        "--kubeconfig", str(cluster.kubeconfig), "--backend", backend],
                       capture_output=True, text=True, timeout=600, env=env)


class Session:
    """One person at their own browser."""

    def __init__(self, portal: Portal, realm, username: str, downloads: Path, pages: list[str]) -> None:
        from selenium.webdriver.common.by import By

        self.by = By
        self.portal = portal
        self.username = username
        self.pages = pages
        self.driver = chrome(downloads)
        self.driver.get(portal.url + "/")
        self.driver.find_element(By.ID, "sign-in").click()
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(realm.passwords[username])
        self.click("kc-login")
        assert self.text("signed-in").endswith(")"), self.driver.page_source[:2000]

    def get(self, path: str) -> None:
        self.driver.get(self.portal.url + path)
        self.pages.append(self.driver.page_source)

    def click(self, element_id: str) -> None:
        """Click something that loads a page, and wait for that page."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.wait import WebDriverWait

        self.driver.execute_script("window.spbeOldPage = true")  # gone once the next page has replaced this one
        self.driver.find_element(self.by.ID, element_id).click()
        WebDriverWait(self.driver, 60, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return window.spbeOldPage === undefined && document.readyState === 'complete'"))
        self.pages.append(self.driver.page_source)

    def fill(self, name: str, value: str) -> None:
        field = self.driver.find_element(self.by.NAME, name)
        field.clear()
        field.send_keys(value)

    def text(self, element_id: str) -> str:
        return self.driver.find_element(self.by.ID, element_id).text

    def errors(self) -> dict[str, str]:
        return {e.get_attribute("data-field"): e.text for e in self.driver.find_elements(self.by.CSS_SELECTOR, "div.error[data-field]")}

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000  # a rendered page, not a blank one

    def quit(self) -> None:
        self.driver.quit()


def _requests_stored(root: Path) -> int:
    with sqlite3.connect(root / "home" / "portal.db") as db:
        return db.execute("select count(*) from requests").fetchone()[0]


def test_a_pemda_requests_ops_approve_the_tenant_becomes_ready_and_an_auditor_reads_the_evidence(
        setup, cluster, api_client, tmp_path):
    portal, realm, root, backend = setup
    pages: list[str] = []
    figures: dict[str, float] = {}

    # -- the pemda's IT team: find the pemda, make two mistakes, see them, fix them, submit -----------------
    pemda = Session(portal, realm, "aptika-tanahlaut", tmp_path / "pemda", pages)
    assert pemda.text("signed-in").endswith("(pemda)")
    pemda.click("nav-new")
    pemda.fill("q", "tanah laut")
    pemda.click("search")
    pemda.click(f"choose-{REGION}")
    assert "Kabupaten Tanah Laut" in pemda.text("pemda") and "Kalimantan Selatan" in pemda.text("pemda")
    assert pemda.driver.find_element(pemda.by.NAME, "spec.domain").get_attribute("value") == DOMAIN  # suggested
    pemda.shot("01-form")
    pemda.fill("spec.contacts[0].name", "Bidang Aptika Diskominfo")
    pemda.fill("spec.contacts[0].email", "aptika@tanahlautkab")          # mistake 1: no domain suffix
    pemda.fill("spec.backup.retentionDays", "3")                         # mistake 2: below the 7-day floor
    pemda.click("check")
    errors = pemda.errors()
    assert set(errors) == {"spec.contacts[0].email", "spec.backup.retentionDays"}, errors
    assert errors["spec.contacts[0].email"].startswith("'aptika@tanahlautkab' bukan alamat surel — saran: ")
    assert errors["spec.backup.retentionDays"].startswith("cadangan harus disimpan paling sedikit 7 hari, bukan 3")
    assert pemda.text("problems").startswith("2 ")
    assert _requests_stored(root) == 0  # nothing is stored while invalid
    pemda.shot("02-form-with-errors")
    pemda.fill("spec.contacts[0].email", f"aptika@{DOMAIN}")
    pemda.fill("spec.backup.retentionDays", "30")
    pemda.click("check")
    assert pemda.errors() == {}
    assert f"https://sso.{DOMAIN}" in pemda.text("endpoints")
    request_yaml = pemda.text("request-yaml")
    spec = yaml.safe_load(request_yaml)
    assert spec["metadata"]["name"] == TENANT and spec["spec"]["backup"]["retentionDays"] == 30
    pemda.shot("03-preview")
    pemda.click("submit")
    assert pemda.driver.find_element(pemda.by.ID, "status").get_attribute("data-status") == "diajukan"
    request_url = pemda.driver.current_url
    pemda.shot("04-submitted")
    # a requester sees only its own region
    pemda.get("/permohonan/baru?wilayah=35.10")
    assert "tidak berhak" in pemda.text("error-message")
    pemda.quit()

    # -- platform ops: the queue, approve; the portal crashes mid-way and is started again -----------------
    ops = Session(portal, realm, "ops-pusdatin", tmp_path / "ops", pages)
    ops.get("/antrean")
    assert TENANT in ops.text("requests")
    ops.shot("05-queue")
    ops.driver.get(request_url)
    approved_at = time.monotonic()
    ops.click("approve")

    def status() -> str:
        ops.driver.get(request_url)
        pages.append(ops.driver.page_source)
        return ops.driver.find_element(ops.by.ID, "status").get_attribute("data-status")

    deadline = time.monotonic() + 120
    while not (status() == "diproses" and "tenant up" in ops.text("progress") and len(ops.text("progress").splitlines()) > 3):
        assert time.monotonic() < deadline, ops.driver.page_source[-3000:]
        time.sleep(1)
    ops.shot("06-provisioning")
    portal.kill()
    portal.start()
    deadline = time.monotonic() + 900
    while status() not in ("siap", "gagal"):
        assert time.monotonic() < deadline, ops.driver.page_source[-3000:]
        time.sleep(3)
    figures["approval_to_siap_with_a_crash_and_restart_seconds"] = round(time.monotonic() - approved_at, 1)
    progress = ops.text("progress")
    assert status() == "siap", ops.driver.page_source[-4000:]
    assert "stopped (restart?); queued again" in progress and "(attempt 2)" in progress
    assert f"https://sso.{DOMAIN}" in ops.text("ready-endpoints")
    credentials = ops.text("credentials")
    assert f"Secret {TENANT}/identity-admin (password)" in credentials
    assert f"Secret spbe-backups/{TENANT}-backup (" in credentials  # the platform's, where it really is
    assert ops.text("configuration").startswith("TIDAK dikonfigurasi dan TIDAK diverifikasi")  # kwok: said plainly
    ops.shot("07-siap")
    ops.quit()

    # the tenant really is there
    apps = client.AppsV1Api(api_client)
    deployments = apps.list_namespaced_deployment(TENANT).items
    assert deployments and all((d.status.ready_replicas or 0) == d.spec.replicas for d in deployments)

    # -- the auditor: the tenant's page, its evidence and their SHA-256, the audit trail exported ----------
    auditor = Session(portal, realm, "auditor-bpkp", tmp_path / "auditor", pages)
    assert auditor.text("signed-in").endswith("(auditor)")
    auditor.click("nav-audit")
    auditor.click(f"audit-{TENANT}")
    from spbe_kit.catalog.load import latest_version

    assert auditor.text("catalog-version") == latest_version()
    assert auditor.text("last-up").startswith("berhasil, ")
    assert "objek diperiksa" in auditor.text("last-drift")
    rows = [r.text.split() for r in auditor.driver.find_elements(auditor.by.CSS_SELECTOR, "#evidence tr")][1:]
    shown = {name: digest for name, digest in rows}
    evidence_dirs = sorted((root / "home" / "evidence" / TENANT).iterdir())
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in evidence_dirs[-1].iterdir()}
    assert shown == on_disk and any(name.endswith(".json") for name in shown)
    auditor.shot("08-audit-tenant")
    auditor.click("audit-trail")
    auditor.shot("09-audit-trail")
    auditor.driver.find_element(auditor.by.ID, "export").click()  # a download: the page stays
    export = tmp_path / "auditor" / "spbe-portal-audit.csv"
    deadline = time.monotonic() + 20
    while not export.exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    trail = list(csv.DictReader(export.open()))
    actions = [(r["who"], r["action"]) for r in trail]
    for expected in [("aptika-tanahlaut", "request.submit"), ("ops-pusdatin", "request.approve"),
                     ("portal", "provision.start"), ("portal", "provision.ready"), ("auditor-bpkp", "audit.view"),
                     ("aptika-tanahlaut", "access.denied")]:
        assert expected in actions, actions
    auditor.quit()

    # -- no secret anywhere: pages, the portal's log, its database -----------------------------------------
    core = client.CoreV1Api(api_client)
    values = [base64.b64decode(v).decode(errors="replace") for s in core.list_namespaced_secret(TENANT).items
              for v in (s.data or {}).values()]
    values = [v for v in values if len(v) >= 12]
    secrets_known = [realm.client_secret, *realm.passwords.values(), *values]
    assert len(values) > 5
    log = portal.log.read_text()
    database = (root / "home" / "portal.db").read_bytes()
    for secret in secrets_known:
        assert secret not in log and secret.encode() not in database
        assert not any(secret in page for page in pages)
    assert "code=" not in log  # the sign-in's authorization code is never logged

    # -- the figure: a clean approval -> siap, and `spbe tenant up` from the CLI for the same request --------
    code, tenant, search = SECOND
    pemda = Session(portal, realm, "aptika-tanahlaut", tmp_path / "pemda2", pages)
    pemda.get(f"/permohonan/baru?q={search}")
    pemda.click(f"choose-{code}")
    pemda.fill("spec.contacts[0].name", "Bidang Aptika")
    pemda.fill("spec.contacts[0].email", "aptika@kotabarukab.go.id")
    pemda.click("check")
    second_yaml = pemda.text("request-yaml")
    pemda.click("submit")
    second_url = pemda.driver.current_url
    pemda.quit()
    ops = Session(portal, realm, "ops-pusdatin", tmp_path / "ops2", pages)
    ops.driver.get(second_url)
    approved_at = time.monotonic()
    ops.click("approve")
    deadline = time.monotonic() + 900
    while status_of(ops, second_url) not in ("siap", "gagal"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    figures["approval_to_siap_seconds"] = round(time.monotonic() - approved_at, 1)
    assert status_of(ops, second_url) == "siap", ops.driver.page_source[-4000:]
    figures["portal_tenant_up_seconds"] = float(ops.text("seconds"))
    ops.quit()
    cli_request = tmp_path / "cli.yaml"
    document = yaml.safe_load(second_yaml)
    document["metadata"]["name"] = f"cli-{tenant}"  # the same request as a tenant of its own
    cli_request.write_text(yaml.safe_dump(document, sort_keys=False))
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
    up = subprocess.run([sys.executable, "-m", "spbe_kit", "tenant", "up", str(cli_request), "--kubeconfig",
                         str(cluster.kubeconfig), "--backend", backend], capture_output=True, text=True, timeout=900,
                        env=env)
    figures["cli_tenant_up_seconds"] = round(time.monotonic() - started, 1)
    assert up.returncode == 0, up.stderr[-3000:]
    figures["ratio_portal_to_cli"] = round(figures["approval_to_siap_seconds"] / figures["cli_tenant_up_seconds"], 2)
    (ARTIFACTS / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nportal figures: {figures}")


def status_of(session: Session, url: str) -> str:
    session.driver.get(url)
    return session.driver.find_element(session.by.ID, "status").get_attribute("data-status")
