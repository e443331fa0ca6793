"""The HTML drift report in a real browser: headless Chromium parses and renders it, offline.

Drives the Debian `chromium` binary directly (--dump-dom, --screenshot, --log-net-log), so no
Python browser bindings are needed. The network log proves the page asks for nothing: every
request made on behalf of the file:// page is recorded, and names resolve nowhere anyway.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from spbe_kit.drift.html import render_html
from tests.unit.test_drift_html import HOSTILE_NAME, evidence_digest, external_references, parse, sample_report

pytestmark = pytest.mark.integration

INSTALL_HINT = ("install the Debian packages: apt-get update && apt-get install -y chromium "
                "(.ci/run installs it; set SPBE_CHROMIUM to use another Chromium binary)")
BLANK_PAGE_PNG_BYTES = 12_000  # a 1280x2000 screenshot of an empty page is about this size

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing can leave the machine, even if the page asked
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000",
]


@dataclass
class BrowserRun:
    stdout: str
    stderr: str
    net_log: Path

    def page_requests(self) -> list[str]:
        """URLs the browser requested on behalf of the page (not its own background traffic)."""
        log = json.loads(self.net_log.read_text())
        start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        return [e["params"]["url"] for e in log["events"]
                if e["type"] == start_job and "url" in e.get("params", {})
                and "file://" in e["params"].get("network_isolation_key", "")]


def chromium() -> str:
    path = os.environ.get("SPBE_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(f"the chromium executable is not on PATH: {INSTALL_HINT}", pytrace=False)
    return path


def run_chromium(page: Path, work: Path, *action: str) -> BrowserRun:
    """One headless run over a local page, with a fresh profile and a network log."""
    profile = work / "profile"
    profile.mkdir()
    net_log = work / "net-log.json"
    argv = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={net_log}", *action, page.as_uri()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert net_log.is_file(), f"chromium wrote no network log:\n{done.stderr[-3000:]}"
    return BrowserRun(done.stdout, done.stderr, net_log)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> tuple[dict, str, Path]:
    report = sample_report()
    digest = evidence_digest(report)
    path = tmp_path_factory.mktemp("report") / "drift-report.html"
    path.write_text(render_html(report, digest), encoding="utf-8")
    return report, digest, path


@pytest.fixture(scope="module")
def dumped(report_page, tmp_path_factory) -> BrowserRun:
    return run_chromium(report_page[2], tmp_path_factory.mktemp("dump"), "--dump-dom")


def test_chromium_renders_the_verdict_and_the_json_digest(dumped, report_page):
    _, digest, _ = report_page
    dom = parse(dumped.stdout)
    assert dom.one(id="verdict").text == "drift"
    assert dom.one(id="json-sha256").text == digest
    assert dom.one("html").attrs["lang"] == "en"


def test_chromium_sees_each_tenant_status_and_the_finding_rows(dumped, report_page):
    report, _, _ = report_page
    dom = parse(dumped.stdout)
    assert {s.attrs["data-tenant"]: s.attrs["data-status"] for s in dom.find_all("section", cls="tenant")} == {
        t["tenant"]: t["status"] for t in report["tenants"]}
    row = dom.one(data_tenant="kab-banyuwangi").find_all("tr", cls="finding", data_kind="changed")[0]
    assert row.one(cls="path").text == "spec.template.spec.containers[name=keycloak].image"
    assert row.one(cls="expected").text == "mirror/keycloak@sha256:1"
    assert row.one(cls="actual").text == "evil@sha256:2"


def test_a_script_in_an_object_name_stays_text_in_the_browser(dumped):
    dom = parse(dumped.stdout)
    assert dom.find_all("script") == []
    stray = dom.one("tr", cls="finding", data_kind="stray")
    assert stray.one(cls="object").one("code").text == f"Pod kab-banyuwangi/{HOSTILE_NAME}"


def test_the_page_makes_no_network_request(dumped):
    assert dumped.page_requests() == []
    assert external_references(dumped.stdout) == []


def test_the_network_log_does_catch_a_page_that_fetches_something(tmp_path):
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><html><body><img src="https://assets.example.invalid/logo.png"></body></html>')
    run = run_chromium(page, tmp_path, "--dump-dom")
    assert run.page_requests() == ["https://assets.example.invalid/logo.png"]


def test_a_screenshot_of_the_report_is_a_full_non_blank_png(report_page, tmp_path):
    png = tmp_path / "report.png"
    run_chromium(report_page[2], tmp_path, f"--screenshot={png}", "--window-size=1280,2000", "--hide-scrollbars")
    assert png.is_file(), "chromium wrote no screenshot"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 4 * BLANK_PAGE_PNG_BYTES, f"screenshot is only {len(data)} bytes: the page looks blank"
