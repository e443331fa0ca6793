"""Benchmark: the request portal's server-side validation latency, p50/p95 over 100 submissions.

The portal runs for real (its WSGI app on a local HTTP server, SQLite, its templates); 100 forms for 100
different regions are POSTed to /permohonan/periksa over one keep-alive connection, every other one with two
mistakes (so both the error page and the preview page are measured). Sign-in is the one step stood in for:
the session cookie is signed with the portal's own key, as the OIDC callback would have written it.

Baselines in the same run, on the same requests as YAML files:
  * `spbe request validate FILE` (what a pemda runs today without the portal), one process per file, on 20;
  * the validator alone, in process (`parse_request`): the floor under both.

    python bench/portal_validation.py [--submissions 100] [--cli-runs 20] [--output json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

from spbe_kit.catalog import load_catalog
from spbe_kit.errors import RequestInvalid
from spbe_kit.portal.app import create_app
from spbe_kit.portal.form import defaults_for, read_form
from spbe_kit.portal.settings import OidcSettings, PortalSettings
from spbe_kit.portal.store import Store
from spbe_kit.regions import all_regions
from spbe_kit.request import parse_request


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def forms(count: int) -> list[dict[str, str]]:
    catalog = load_catalog()
    regions = [r for r in all_regions().values() if not r.is_administrative][:count]
    out = []
    for i, region in enumerate(regions):
        values = defaults_for(region, catalog)
        values["spec.contacts[0].name"] = "Bidang Aptika"
        values["spec.contacts[0].email"] = f"aptika@{region.conventional_domain}"
        if i % 2:
            values["spec.contacts[0].email"] = "aptika@"  # mistake 1
            values["spec.backup.retentionDays"] = "3"      # mistake 2
        out.append(values)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--cli-runs", type=int, default=20)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *_args) -> None:  # the bench's output is its report
            pass

    work = Path(tempfile.mkdtemp(prefix="spbe-bench-portal-"))
    settings = PortalSettings(home=work, database_url=f"sqlite:///{work / 'portal.db'}",
                              oidc=OidcSettings("http://127.0.0.1:9/realms/spbe-platform", "spbe-portal", "unused"),
                              secret_key=b"b" * 48)
    store = Store(settings.database_url)
    app = create_app(settings, store)
    samples = forms(args.submissions)
    session = {"user": {"name": "bench", "sub": "bench", "ops": False, "auditor": False,
                        "regions": sorted(f["spec.pemda.regionCode"] for f in samples)}, "csrf": "bench-token",
               "sid": store.open_session("bench", timedelta(hours=1))}
    cookie = app.session_interface.get_signing_serializer(app).dumps(session)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    latencies, statuses = [], []
    for values in samples:
        body = urllib.parse.urlencode({**values, "csrf_token": "bench-token", "component": ["eoffice", "mail"]},
                                      doseq=True)
        started = time.perf_counter()
        connection.request("POST", "/permohonan/periksa", body=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Cookie": f"spbe_portal={cookie}"})
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        statuses.append(response.status)
    server.shutdown()
    expected = [200 if i % 2 == 0 else 422 for i in range(len(samples))]
    if statuses != expected:
        print(f"unexpected answers: {statuses}", file=sys.stderr)
        return 1

    catalog = load_catalog()
    texts = [read_form(v, ["eoffice", "mail"], catalog).request_yaml for v in samples]
    in_process = []
    for text in texts:
        started = time.perf_counter()
        try:
            parse_request(text)
        except RequestInvalid:
            pass
        in_process.append(time.perf_counter() - started)

    cli = []
    for i, text in enumerate(texts[: args.cli_runs]):
        path = work / f"request-{i}.yaml"
        path.write_text(text)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "spbe_kit", "request", "validate", str(path)],
                                capture_output=True, text=True)
        cli.append(time.perf_counter() - started)
        if result.returncode != (0 if i % 2 == 0 else 1):
            print(f"spbe request validate exited {result.returncode}: {result.stderr}", file=sys.stderr)
            return 1

    report = {
        "submissions": len(latencies),
        "portal_ms": {"p50": round(percentile(latencies, 50) * 1000, 2),
                      "p95": round(percentile(latencies, 95) * 1000, 2),
                      "mean": round(statistics.mean(latencies) * 1000, 2)},
        "cli_validate_ms": {"runs": len(cli), "p50": round(percentile(cli, 50) * 1000, 1),
                            "p95": round(percentile(cli, 95) * 1000, 1)},
        "validator_in_process_ms": {"p50": round(percentile(in_process, 50) * 1000, 3),
                                    "p95": round(percentile(in_process, 95) * 1000, 3)},
    }
    report["ratio_portal_p50_to_cli_p50"] = round(report["portal_ms"]["p50"] / report["cli_validate_ms"]["p50"], 3)
    report["ratio_portal_p50_to_validator_p50"] = round(
        report["portal_ms"]["p50"] / report["validator_in_process_ms"]["p50"], 1)
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"portal validation over HTTP, {report['submissions']} submissions (half with 2 mistakes): "
              f"p50 {report['portal_ms']['p50']} ms, p95 {report['portal_ms']['p95']} ms")
        print(f"`spbe request validate` per file, {len(cli)} runs: p50 {report['cli_validate_ms']['p50']} ms, "
              f"p95 {report['cli_validate_ms']['p95']} ms  (portal/CLI = {report['ratio_portal_p50_to_cli_p50']})")
        print(f"validator alone, in process: p50 {report['validator_in_process_ms']['p50']} ms, "
              f"p95 {report['validator_in_process_ms']['p95']} ms  (portal/validator = "
              f"{report['ratio_portal_p50_to_validator_p50']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
