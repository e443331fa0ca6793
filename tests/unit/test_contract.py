"""Pods, roles and verification agree, for the example tenant on every catalog version (no cluster needed).

The facts come from the desired state, the role task files and the verify targets as they are
(spbe_kit/contract.py); nothing here lists what a role should write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spbe_kit import contract
from spbe_kit.catalog import load_catalog
from spbe_kit.catalog.load import available_versions
from spbe_kit.configure.plan import Credentials, Reach, configuration_plan
from spbe_kit.desired import desired_state
from spbe_kit.request import load_request
from spbe_kit.verify.hosts import CONTAINER

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "kab-banyuwangi.yaml"
VERSIONS = available_versions()


def _plan(spec, state, catalog):
    """The plan `spbe tenant configure` would run, with a stand-in for every generated credential and pod."""
    values: dict[str, dict[str, str]] = {}
    for manifest in state.manifests:
        for key in manifest.generated_keys:
            values.setdefault(manifest.name, {})[key] = f"{manifest.name}/{key}/" + "x" * 32
    pods = {m.component: (f"{m.name}-0", CONTAINER[m.component]) for m in state.manifests
            if m.kind in ("Deployment", "StatefulSet") and m.component in CONTAINER
            and any(c["name"] == CONTAINER[m.component] for c in m.body["spec"]["template"]["spec"]["containers"])}
    reach = Reach("http://127.0.0.1:18080", "127.0.0.1", 15432, pods, "http://127.0.0.1:18081")
    return configuration_plan(spec, Credentials(values), reach, "/k/config", catalog=catalog)


def _violations(version: str) -> list[contract.Violation]:
    catalog = load_catalog(version)
    spec = load_request(EXAMPLE)
    state = desired_state(spec, catalog)
    return contract.check(spec, catalog, state, _plan(spec, state, catalog))


#: mismatches still open, per (catalog version or None for every version, component), with why. Each entry
#: must still be found: once it is fixed the test says so, and the entry goes.
OPEN = {
    ("2026.11", "database"): (
        "catalog 2026.11 (rolled out) runs the upstream postgres:17.6 with no TLS and its own pg_hba; tenants get "
        "TLS and the desired state's pg_hba by moving to 2026.12"),
}


def _open(version: str, component: str) -> bool:
    return (version, component) in OPEN or (None, component) in OPEN


@pytest.mark.parametrize("version", VERSIONS)
def test_pods_roles_and_verify_agree(version):
    problems = _violations(version)
    unexpected = [p for p in problems if not _open(version, p.component)]
    assert not unexpected, "\n".join(map(str, unexpected))
    fixed = sorted({c for (v, c) in OPEN if v in (None, version)} - {p.component for p in problems})
    assert not fixed, f"no mismatch left in {fixed} on {version}: remove them from OPEN"


# --- the reader itself: it must see what a role really writes ------------------------------------

def test_the_reader_follows_imports_blocks_loops_and_when():
    writes = contract.role_writes("spbe_monitoring", {"spbe_monitoring_tenant": "t", "spbe_monitoring_grafana_dir": "/g"})
    paths = {w.path for w in writes}
    assert "/etc/prometheus/rules/spbe-tenant.yml" in paths  # imported task file, defaults filled in
    assert {"/g/datasources", "/g/dashboards/spbe/tenant-overview.json"} <= paths  # loop items
    skipped = contract.role_writes("spbe_monitoring", {"spbe_monitoring_tenant": "t", "spbe_monitoring_grafana_dir": ""})
    assert not any(w.path.startswith("/g") or "grafana" in w.path for w in skipped)  # `when` on the import


def test_a_write_outside_a_writable_mount_is_a_violation(tmp_path):
    pod = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "x"}},
                       {"name": "conf", "configMap": {"name": "c"}}]}
    container = {"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/var/lib/x"},
                                               {"name": "conf", "mountPath": "/etc/x"}],
                 "securityContext": {"readOnlyRootFilesystem": True}}
    assert contract.mount_for("/var/lib/x/a/b", pod, container).writable
    assert not contract.mount_for("/etc/x/y.conf", pod, container).writable
    assert contract.mount_for("/etc/other", pod, container) is None


def test_the_mail_image_generates_what_verify_checks_on_its_writable_mounts():
    """No role runs in the mail pod: what verify reads there is what the image's entrypoint writes at
    start, and only writes that land on a writable mount count."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    catalog = load_catalog("2026.12")
    state = desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"), catalog)
    pod, container = contract.container_of(state, "mail", "mail")
    files, dirs = contract.image_writes(catalog, container)
    assert {"/run/spbe-mail/postfix/main.cf", "/run/spbe-mail/users", "/run/spbe-mail/dovecot/dovecot.conf"} <= files
    assert "/var/mail/.spbe/dkim" in dirs
    # the users file the image falls back to under /etc is on the read-only root: it would not count
    assert not contract.mount_for("/etc/spbe-mail/users", pod, container)
    # without the /run volume nothing the image generates there would land
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "run"]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "run"]
    assert contract.mount_for("/run/spbe-mail/users", pod, container) is None


@pytest.mark.parametrize("version", VERSIONS)
def test_every_scrape_target_carries_the_tenant_label_as_the_role_writes_it(version):
    """External labels only reach series that leave Prometheus; the tenant's own queries, alerts and
    `spbe verify` read the label on each target, which the spbe_monitoring role writes too."""
    import yaml

    spec = load_request(EXAMPLE)
    state = desired_state(spec, load_catalog(version))
    config = next(m for m in state.manifests if m.kind == "ConfigMap" and m.name == "prometheus-config")
    jobs = yaml.safe_load(config.body["data"]["prometheus.yml"])["scrape_configs"]
    assert jobs
    assert all(sc["labels"] == {"tenant": spec.tenant_id} for job in jobs for sc in job["static_configs"]), jobs
    role = (ROOT / "roles" / "spbe_monitoring" / "templates" / "etc" / "prometheus" / "prometheus.yml.j2").read_text()
    assert "labels:\n          tenant: {{ spbe_monitoring_tenant }}" in role


@pytest.mark.parametrize("version", VERSIONS)
def test_e_office_trusts_the_certificate_the_mail_server_serves(version):
    """E-office's STARTTLS to `mail` verifies the server: it trusts the very certificate of the Secret
    the mail container serves from, under a name the certificate is for."""
    from spbe_kit.desired import mail

    spec = load_request(EXAMPLE)
    state = desired_state(spec, load_catalog(version))
    pod, container = contract.container_of(state, "eoffice", "eoffice")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["MAYAN_EMAIL_HOST"], env["MAYAN_EMAIL_USE_TLS"]) == ("mail", "true")
    trusted = contract.mount_for(env["SSL_CERT_FILE"], pod, container)
    assert trusted.volume["secret"]["secretName"] == mail.TLS_SECRET
    assert trusted.volume["secret"]["items"] == [{"key": "tls.crt", "path": "mail.crt"}]
    assert env["MAYAN_EMAIL_HOST"] in state.get("Secret", mail.TLS_SECRET).certificate_names
    mail_pod, mail_container = contract.container_of(state, "mail", "mail")
    served = contract.mount_for(f"{mail.TLS_DIR}/tls.crt", mail_pod, mail_container)
    assert served.volume["secret"]["secretName"] == mail.TLS_SECRET and not served.writable
    # the check that catches a client trusting a file nothing mounts
    container["env"] = [e if e["name"] != "SSL_CERT_FILE" else {**e, "value": "/etc/ssl/nowhere.crt"} for e in container["env"]]
    assert any(v.rule == "tls" and "/etc/ssl/nowhere.crt" in v.detail for v in contract._trusted_certificates(state))


@pytest.mark.parametrize("version", VERSIONS)
def test_the_database_exporter_logs_in_as_a_role_the_server_creates_and_admits(version):
    """The exporter's role is among those the image creates at start, pg_hba admits it over TLS from the pod
    only, and the scrape target exists exactly when the image carries the exporter."""
    import yaml

    from spbe_kit.desired import database

    spec = load_request(EXAMPLE)
    catalog = load_catalog(version)
    state = desired_state(spec, catalog)
    pod = state.get("StatefulSet", "database").body["spec"]["template"]["spec"]
    jobs = {j["job_name"] for j in yaml.safe_load(
        state.get("ConfigMap", "prometheus-config").body["data"]["prometheus.yml"])["scrape_configs"]}
    if catalog.images["postgres"].recipe is None:  # the upstream image: no exporter in it
        assert [c["name"] for c in pod["containers"]] == ["postgres"] and "database" not in jobs
        return
    exporter = next(c for c in pod["containers"] if c["name"] == "metrics")
    env = {e["name"]: e["value"] for e in exporter["env"]}
    assert env["DATA_SOURCE_USER"] == database.MONITOR_ROLE and "sslmode=require" in env["DATA_SOURCE_URI"]
    assert contract.mount_for(env["DATA_SOURCE_PASS_FILE"], pod, exporter).volume["secret"]["secretName"] == database.MONITOR_SECRET
    roles = next(v for v in pod["volumes"] if v["name"] == "roles")["projected"]["sources"]
    assert {"name": database.MONITOR_SECRET, "items": [{"key": "password", "path": database.MONITOR_ROLE}]} in [s["secret"] for s in roles]
    hba = state.get("ConfigMap", database.HBA_CONFIG_MAP).body["data"]["pg_hba.conf"]
    assert [line.split() for line in hba.splitlines() if database.MONITOR_ROLE in line] == \
        [["hostssl", "postgres", database.MONITOR_ROLE, "127.0.0.1/32", "scram-sha-256"]]
    assert "database" in jobs and exporter["resources"]["requests"] == {"cpu": "20m", "memory": "32Mi"}
