"""The request portal's pages, records and worker, without a browser or a cluster (Flask's test client).

Sign-in is the one thing stood in for here: the session is written as the OIDC callback writes it. The real
sign-in with Keycloak, the real `tenant up` and a real browser are tests/integration/test_portal_browser.py.
"""

from __future__ import annotations

import re
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from spbe_kit.portal.app import create_app
from spbe_kit.portal.auth import user_from_claims
from spbe_kit.portal.form import MAX_FIELD_CHARS, read_form, search_regions
from spbe_kit.portal.settings import OidcSettings, PortalSettings
from spbe_kit.portal.store import JobState, Status, Store, now
from spbe_kit.portal.worker import Provisioner

OIDC = OidcSettings("http://127.0.0.1:9/realms/spbe-platform", "spbe-portal", "client-secret-never-shown")
GOOD = {"spec.pemda.regionCode": "35.10", "spec.domain": "banyuwangikab.go.id", "spec.tier": "small",
        "spec.contacts[0].role": "technical", "spec.contacts[0].name": "Aptika",
        "spec.contacts[0].email": "aptika@banyuwangikab.go.id", "spec.backup.schedule": "0 1 * * *",
        "spec.backup.retentionDays": "30"}


@pytest.fixture
def portal(tmp_path):
    settings = PortalSettings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'portal.db'}", oidc=OIDC,
                              secret_key=b"s" * 48)
    store = Store(settings.database_url)
    app = create_app(settings, store)
    return app.test_client(), store, settings


def sign_in(client, name="aptika", regions=("35.10",), ops=False, auditor=False) -> None:
    """The session as the OIDC callback writes it (a cookie naming a session the portal opened)."""
    store = client.application.extensions["spbe_store"]
    with client.session_transaction() as session:
        session["user"] = {"name": name, "sub": name, "ops": ops, "auditor": auditor, "regions": list(regions)}
        session["sid"] = store.open_session(name, timedelta(hours=1))
        session["csrf"] = "token"


def post(client, path, data=None, **kw):
    return client.post(path, data={"csrf_token": "token", **(data or {})}, **kw)


def errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="([^"]+)">([^<]*)', page))


def submit(client, data=GOOD, components=("eoffice", "mail")) -> int:
    response = post(client, "/permohonan/ajukan", {**data, "component": list(components), "confirm": "1"})
    assert response.status_code == 302, response.text[-2000:]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_every_problem_lands_next_to_its_field_and_nothing_is_stored(portal):
    client, store, _ = portal
    sign_in(client)
    bad = {**GOOD, "spec.contacts[0].email": "aptika@banyuwangikab", "spec.backup.retentionDays": "3",
           "spec.domain": "Banyuwangi"}
    response = post(client, "/permohonan/ajukan", {**bad, "component": ["eoffice"]})
    assert response.status_code == 422
    found = errors(response.text)
    assert set(found) == {"spec.contacts[0].email", "spec.backup.retentionDays", "spec.domain",
                          "spec.components.eoffice.mailRelay"}, found
    assert found["spec.backup.retentionDays"] == ("cadangan harus disimpan paling sedikit 7 hari, bukan 3 — saran: "
                                                  "isi 7 hari atau lebih (kosongkan untuk bawaan katalog)")
    client.get("/bahasa/en")
    english = errors(post(client, "/permohonan/ajukan", {**bad, "component": ["eoffice"]}).text)
    assert english["spec.backup.retentionDays"].startswith("backups must be kept at least 7 days, not 3 — hint: ")
    assert store.requests() == []


def test_a_valid_form_previews_what_the_tenant_gets_and_the_exact_yaml(portal):
    client, store, _ = portal
    sign_in(client)
    response = post(client, "/permohonan/periksa", {**GOOD, "component": ["eoffice", "mail"]})
    assert response.status_code == 200
    assert "https://sso.banyuwangikab.go.id (identity)" in response.text
    assert "requests.cpu = 6" in response.text  # the small tier's quota
    assert "retentionDays: 30" in response.text and "name: kab-banyuwangi" in response.text
    assert store.requests() == []  # a preview stores nothing


def test_an_oversized_field_or_upload_is_refused_before_validation(portal):
    client, store, _ = portal
    sign_in(client)
    response = post(client, "/permohonan/periksa", {**GOOD, "spec.domain": "a" * (MAX_FIELD_CHARS + 1)})
    assert response.status_code == 422 and "terlalu panjang" in errors(response.text)["spec.domain"]
    assert "a" * (MAX_FIELD_CHARS + 1) not in response.text
    huge = post(client, "/permohonan/periksa", {"berkas": (__import__("io").BytesIO(b"x" * 70_000), "r.yaml")},
                content_type="multipart/form-data")
    assert huge.status_code == 413
    assert store.requests() == []


def test_an_uploaded_request_is_put_in_the_form_and_validated(portal):
    import io

    client, _, _ = portal
    sign_in(client)
    from spbe_kit.catalog.load import load_catalog
    from spbe_kit.scaffold import new_request

    text = re.sub(r"retentionDays: \d+", "retentionDays: 3", new_request("35.10", load_catalog()))
    response = post(client, "/permohonan/periksa", {"berkas": (io.BytesIO(text.encode()), "kab-banyuwangi.yaml")},
                    content_type="multipart/form-data")
    assert response.status_code == 422
    assert "paling sedikit 7 hari" in errors(response.text)["spec.backup.retentionDays"]
    assert 'value="banyuwangikab.go.id"' in response.text


def test_every_post_needs_the_sessions_csrf_token(portal):
    client, store, _ = portal
    sign_in(client)
    assert client.post("/permohonan/ajukan", data={**GOOD, "confirm": "1"}).status_code == 400
    assert client.post("/permohonan/ajukan", data={**GOOD, "confirm": "1", "csrf_token": "other"}).status_code == 400
    assert store.requests() == []


def test_a_requester_is_limited_to_its_own_regions(portal):
    client, store, _ = portal
    sign_in(client, regions=("35.10",))
    assert client.get("/permohonan/baru?wilayah=32.73").status_code == 403
    assert post(client, "/permohonan/ajukan", {**GOOD, "spec.pemda.regionCode": "32.73",
                                               "spec.domain": "bandungkota.go.id", "confirm": "1"}).status_code == 403
    found = client.get("/permohonan/baru?q=bandung")
    assert "choose-32.73" not in found.text
    other = store.add_request("kota-bandung", "32.73", "Kota Bandung", "someone", "x: 1\n")
    assert client.get(f"/permohonan/{other.id}").status_code == 403
    assert [a.action for a in store.audit_trail()].count("access.denied") == 3


def test_region_search_by_name_or_code_leaves_out_jakartas_administrative_areas():
    assert [r.code for r in search_regions("3510")] == ["35.10"]
    assert [r.code for r in search_regions("banyuwangi")] == ["35.10"]
    assert search_regions("Jakarta Selatan") == []
    assert [r.code for r in search_regions("bandung", frozenset({"32.73"}))] == ["32.73"]


def test_submit_review_return_fix_resubmit_approve(portal):
    client, store, _ = portal
    sign_in(client)
    request_id = submit(client)
    assert store.request(request_id).status == Status.SUBMITTED
    assert store.request(request_id).number.startswith("SPBE-")
    sign_in(client, "ops", regions=(), ops=True)
    assert "SPBE-" in client.get("/antrean").text
    assert post(client, f"/permohonan/{request_id}/kembalikan", {"comment": ""}).status_code == 400
    assert post(client, f"/permohonan/{request_id}/kembalikan", {"comment": "pakai alamat surel dinas"}).status_code == 302
    assert store.request(request_id).status == Status.RETURNED
    sign_in(client)
    edit = client.get(f"/permohonan/{request_id}/ubah")
    assert "pakai alamat surel dinas" in edit.text and 'value="aptika@banyuwangikab.go.id"' in edit.text
    changed = {**GOOD, "spec.contacts[0].email": "tik@banyuwangikab.go.id", "component": ["eoffice", "mail"]}
    assert post(client, f"/permohonan/{request_id}/ajukan-ulang", changed).status_code == 200  # the preview first
    assert post(client, f"/permohonan/{request_id}/ajukan-ulang", {**changed, "confirm": "1"}).status_code == 302
    record = store.request(request_id)
    assert record.status == Status.SUBMITTED and "tik@banyuwangikab.go.id" in record.request_yaml
    sign_in(client, "auditor", regions=(), auditor=True)
    assert post(client, f"/permohonan/{request_id}/setujui").status_code == 403
    sign_in(client, "ops", regions=(), ops=True)
    assert post(client, f"/permohonan/{request_id}/setujui").status_code == 302
    assert store.request(request_id).status == Status.APPROVED
    assert post(client, f"/permohonan/{request_id}/setujui").status_code == 409  # its job is queued: busy
    actions = [(a.who, a.action) for a in reversed(store.audit_trail())]
    assert actions == [("aptika", "request.submit"), ("ops", "request.return"), ("aptika", "request.resubmit"),
                       ("auditor", "access.denied"), ("ops", "request.approve")]


def test_a_second_request_for_a_tenant_being_built_waits(portal):
    client, store, _ = portal
    sign_in(client)
    first, second = submit(client), submit(client)
    sign_in(client, "ops", regions=(), ops=True)
    assert post(client, f"/permohonan/{first}/setujui").status_code == 302
    assert post(client, f"/permohonan/{second}/setujui").status_code == 409
    assert store.request(second).status == Status.SUBMITTED


def test_the_audit_trail_exports_as_csv_for_auditors_only(portal):
    client, store, _ = portal
    sign_in(client)
    submit(client)
    assert client.get("/audit/jejak.csv").status_code == 403
    sign_in(client, "auditor", regions=(), auditor=True)
    export = client.get("/audit/jejak.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    lines = export.text.splitlines()
    assert lines[0] == "id,at,who,action,subject,detail"
    assert ",aptika,request.submit,SPBE-" in lines[1]
    assert store.audit_trail()[0].action == "audit.export"


def test_pages_switch_to_english_and_never_redirect_off_site(portal):
    client, _, _ = portal
    assert "Masuk" in client.get("/").text
    assert client.get("/bahasa/en?next=//evil.example/x").headers["Location"] == "/"
    assert "Sign in" in client.get("/").text
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY" and "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_signing_in_is_needed_and_an_account_without_a_role_is_told_so(portal):
    client, _, _ = portal
    assert client.get("/antrean").headers["Location"].endswith("/masuk")
    sign_in(client, "nobody", regions=())
    assert client.get("/").status_code == 403


def test_roles_come_from_top_level_groups_only():
    user = user_from_claims({"sub": "1", "preferred_username": "a",
                             "groups": ["/pemda-35.10", "/pemda-32.73", "/pemda-nonsense", "/spbe-auditors"]}, OIDC)
    assert user.regions == {"35.10", "32.73"} and user.auditor and not user.ops
    assert user_from_claims({"sub": "2", "groups": ["/spbe-ops"]}, OIDC).roles == ["ops"]
    # a subgroup a pemda admin could create, or a bare name (what Keycloak sends for a subgroup without full
    # paths), grants nothing
    assert not user_from_claims({"sub": "3", "groups": ["/pemda-35.10/spbe-ops", "spbe-ops"]}, OIDC).ops
    assert not user_from_claims({"sub": "4"}, OIDC).has_role


def test_one_job_at_a_time_per_tenant_and_a_stopped_worker_is_requeued(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    a = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "a: 1\n")
    b = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "a: 2\n")
    c = store.add_request("kota-bandung", "32.73", "Kota Bandung", "y", "a: 3\n")
    for r in (a, b, c):
        store.approve(r.id)
    first = store.claim_job("w1")
    assert first.request_id == a.id and store.request(a.id).status == Status.PROVISIONING
    assert store.claim_job("w2").request_id == c.id  # b waits: its tenant is being built
    assert store.claim_job("w3") is None
    assert store.requeue_stale(now() - timedelta(seconds=60), "") == []  # beating recently
    requeued = store.requeue_stale(now() + timedelta(seconds=1), "\nrequeued\n")
    assert {j.id for j in requeued} == {first.id, first.id + 2}
    assert store.request(a.id).status == Status.APPROVED
    again = store.claim_job("w4")
    assert again.id == first.id and again.attempts == 2 and again.progress.endswith("requeued\n")


def _fake_spbe(tmp_path: Path, body: str) -> tuple[str, ...]:
    script = tmp_path / "fake_spbe.py"
    script.write_text(textwrap.dedent(body))
    return (sys.executable, str(script))


def _worker(tmp_path, store, command) -> Provisioner:
    settings = PortalSettings(home=tmp_path, database_url=store.url, oidc=OIDC, secret_key=b"s" * 48,
                              spbe_command=command)
    return Provisioner(store, settings)


def test_the_worker_records_progress_the_result_and_the_drift_evidence(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "kind: TenantRequest\n")
    store.approve(record.id)
    worker = _worker(tmp_path, store, _fake_spbe(tmp_path, """
        import json, sys, pathlib
        args = sys.argv[1:]
        if args[0] == "tenant":
            print("creating Namespace/kab-banyuwangi ...", file=sys.stderr)
            print(json.dumps({"outputs": {"namespace": "kab-banyuwangi", "catalogVersion": "2027.01"}}))
        else:
            out = pathlib.Path(args[args.index("--evidence") + 1])
            (out / "drift.json").write_text("{}")
            print(json.dumps({"clean": True, "tenants": [{"status": "clean", "objectsChecked": 60, "findings": []}]}))
    """))
    worker.run(store.claim_job(worker.owner))
    job = store.jobs_of(record.id)[0]
    assert (store.request(record.id).status, job.state) == (Status.READY, JobState.DONE), (job.error, job.progress)
    assert "creating Namespace/kab-banyuwangi" in job.progress and job.result["outputs"]["catalogVersion"] == "2027.01"
    drift = store.last_drift("kab-banyuwangi")
    assert drift.clean and drift.summary == "clean: 60 objects checked, 0 finding(s)"
    import hashlib

    assert drift.files == {"drift.json": hashlib.sha256(b"{}").hexdigest()}
    assert (tmp_path / "requests" / f"{record.number}.yaml").read_text() == "kind: TenantRequest\n"


def test_a_failed_tenant_up_is_gagal_with_the_clis_error(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "kind: TenantRequest\n")
    store.approve(record.id)
    worker = _worker(tmp_path, store, _fake_spbe(tmp_path, """
        import sys
        print("error: the cluster refused the quota", file=sys.stderr)
        print("  hint: ask the platform team", file=sys.stderr)
        sys.exit(2)
    """))
    worker.run(store.claim_job(worker.owner))
    job = store.jobs_of(record.id)[0]
    assert store.request(record.id).status == Status.FAILED and job.state == JobState.FAILED
    assert job.error == "error: the cluster refused the quota\n  hint: ask the platform team"
    assert store.last_drift("kab-banyuwangi") is None  # nothing to check when nothing was built


def test_a_tenant_up_stopped_by_a_signal_says_so_rather_than_its_last_progress_line(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "kind: TenantRequest\n")
    store.approve(record.id)
    worker = _worker(tmp_path, store, _fake_spbe(tmp_path, """
        import os, signal, sys
        print("creating Namespace/kab-banyuwangi ...", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """))
    worker.run(store.claim_job(worker.owner))
    job = store.jobs_of(record.id)[0]
    assert store.request(record.id).status == Status.FAILED and job.state == JobState.FAILED
    assert job.error.startswith("spbe was stopped by SIGKILL before it finished")
    assert "creating Namespace/kab-banyuwangi" in job.progress


def test_the_form_maps_a_later_contact_row_to_its_own_fields(tmp_path):
    from spbe_kit.catalog.load import load_catalog

    values = {**GOOD, "spec.contacts[2].role": "security", "spec.contacts[2].name": "CSIRT",
              "spec.contacts[2].email": "csirt@"}
    result = read_form(values, ["eoffice", "mail"], load_catalog())
    assert list(result.problems) == ["spec.contacts[2].email"]


BAD_FORMS = [
    {"spec.contacts[0].email": "aptika@banyuwangikab"},
    {"spec.contacts[0].email": ""},
    {"spec.contacts[0].role": "security"},
    {"spec.domain": "Banyuwangikab.go.id"},
    {"spec.domain": "banyuwangi.com"},
    {"spec.domain": "-banyuwangi.go.id"},
    {"spec.domain": ""},
    {"spec.backup.retentionDays": "3"},
    {"spec.backup.retentionDays": "4000"},
    {"spec.backup.retentionDays": "tiga puluh"},
    {"spec.backup.schedule": "setiap malam"},
    {"spec.tier": "huge"},
    {"spec.pemda.regionCode": "99.99"},
    {"spec.pemda.regionCode": "31.71"},
    {"spec.components.eoffice.mailRelay": "smtp.banyuwangikab.go.id:587"},
    {"spec.components.eoffice.mailRelay": "smtp.banyuwangikab.go.id", "_components": ["eoffice"]},
    {"_components": ["eoffice"]},
    {"spec.domain": "x" * (MAX_FIELD_CHARS + 1)},
]


@pytest.mark.parametrize("change", BAD_FORMS, ids=[str(i) for i in range(len(BAD_FORMS))])
def test_every_problem_the_form_can_show_is_in_bahasa_indonesia(change):
    from spbe_kit.catalog.load import load_catalog
    from spbe_kit.portal.problem_words import in_language, is_translated

    values = {**GOOD, **{k: v for k, v in change.items() if not k.startswith("_")}}
    result = read_form(values, change.get("_components", ["eoffice", "mail"]), load_catalog())
    problems = [p for ps in result.problems.values() for p in ps]
    assert problems, change
    untranslated = [(p.message, p.hint) for p in problems if not is_translated(p)]
    assert not untranslated
    for p in problems:
        assert in_language(p, "en") == p  # English is the validator's own words


def test_a_ready_request_names_each_credential_in_the_namespace_it_is_in(portal):
    from spbe_kit.catalog.load import load_catalog
    from spbe_kit.scaffold import new_request

    client, store, _ = portal
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "aptika",
                               new_request("35.10", load_catalog("2027.01")))
    store.approve(record.id)
    job = store.claim_job("w")
    outputs = {"namespace": "kab-banyuwangi", "catalogVersion": "2027.01", "endpoints": {},
               "credentials": {"identity-admin": ["password"], "kab-banyuwangi-backup": ["password", "repository"]}}
    configuration = {"status": "configured", "verification": {"counts": {"pass": 24, "fail": 0}}}
    store.finish_job(job.id, "w", True, 12.0, "", {"outputs": outputs, "configuration": configuration}, None)
    sign_in(client)
    page = client.get(f"/permohonan/{record.id}").text
    assert re.search(r'id="configuration">dikonfigurasi dan diverifikasi \(24 pemeriksaan lulus\)<', page)
    assert "Secret kab-banyuwangi/identity-admin (password)" in page
    assert "Secret spbe-backups/kab-banyuwangi-backup (password, repository)" in page
    machine = client.get(f"/api/permohonan/{record.id}").get_json()
    assert machine["status"] == "siap" and machine["job"]["state"] == "done" and machine["catalogVersion"] == "2027.01"
    assert {"namespace": "spbe-backups", "secret": "kab-banyuwangi-backup", "keys": ["password", "repository"]} \
        in machine["credentials"]
    sign_in(client, "other-pemda", regions=("32.73",))
    assert client.get(f"/api/permohonan/{record.id}").status_code == 403


def test_only_the_requests_own_pemda_may_change_it_even_when_it_may_see_it(portal):
    client, store, _ = portal
    other = store.add_request("kota-bandung", "32.73", "Kota Bandung", "someone", "x: 1\n")
    store.set_status(other.id, Status.RETURNED, "fix it")
    sign_in(client, "auditor-and-pemda", regions=("35.10",), auditor=True)  # may see every request
    assert client.get(f"/permohonan/{other.id}").status_code == 200
    assert client.get(f"/permohonan/{other.id}/ubah").status_code == 403
    data = {**GOOD, "spec.pemda.regionCode": "32.73", "spec.domain": "bandungkota.go.id", "confirm": "1"}
    assert post(client, f"/permohonan/{other.id}/ajukan-ulang", data).status_code == 403
    assert store.request(other.id).status == Status.RETURNED and store.request(other.id).request_yaml == "x: 1\n"


@pytest.mark.parametrize("target", ["//evil.example/x", "/%09/evil.example", "/\\evil.example", "https://evil.example",
                                    "/%0d/x"])
def test_the_language_switch_goes_back_only_to_this_site(portal, target):
    client, _, _ = portal
    response = client.get(f"/bahasa/en?next={target}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(portal):
    client, store, _ = portal
    sign_in(client, "ops", regions=(), ops=True)
    copied = client.get_cookie("spbe_portal").value
    assert client.get("/antrean").status_code == 200
    assert post(client, "/keluar").status_code == 302
    client.set_cookie("spbe_portal", copied)
    assert client.get("/antrean").headers["Location"].endswith("/masuk")


def test_an_upload_with_aliases_or_deep_nesting_is_a_problem_not_a_hang(portal):
    import io

    client, _, _ = portal
    sign_in(client)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    bomb += "spec: {domain: *i}\n"
    for body in (bomb.encode(), b"[" * 30000):
        response = post(client, "/permohonan/periksa", {"berkas": (io.BytesIO(body), "r.yaml")},
                        content_type="multipart/form-data")
        assert response.status_code == 422, response.text[-500:]
        assert 'class="problems"' in response.text


def test_a_long_refused_path_is_recorded_not_a_server_error(portal):
    client, store, _ = portal
    sign_in(client)
    response = client.get("/audit/tenant/" + "x" * 400)
    assert response.status_code == 403
    assert store.audit_trail()[0].subject == ("/audit/tenant/" + "x" * 400)[:200]


def test_the_csv_export_never_hands_a_spreadsheet_a_formula(portal):
    client, store, _ = portal
    store.audit("=HYPERLINK(\"http://x\")", "sign-in", "@SUM(1)", "-2+3")
    sign_in(client, "auditor", regions=(), auditor=True)
    row = client.get("/audit/jejak.csv").text.splitlines()[1]
    assert "'=HYPERLINK" in row and ",'@SUM(1)," in row and row.endswith(",'-2+3")


def test_a_requeued_job_is_no_longer_its_old_workers_to_finish(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "a: 1\n")
    store.approve(record.id)
    job = store.claim_job("old")
    assert store.requeue_stale(now() + timedelta(seconds=1), "")
    assert store.claim_job("new").id == job.id
    assert not store.heartbeat(job.id, "old") and not store.finish_job(job.id, "old", True, 1, "", None, None)
    assert store.request(record.id).status == Status.PROVISIONING  # the new worker's run decides
    assert store.finish_job(job.id, "new", True, 1, "", None, None)
    assert store.request(record.id).status == Status.READY
    assert store.requeue_stale(now() + timedelta(seconds=1), "") == []  # a finished job stays finished


def test_the_worker_beats_while_tenant_up_is_silent_and_keeps_its_secrets_from_it(tmp_path, monkeypatch):
    import spbe_kit.portal.worker as worker_module

    monkeypatch.setattr(worker_module, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setenv("SPBE_PORTAL_OIDC_CLIENT_SECRET", "client-secret-never-shown")
    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "x", "kind: TenantRequest\n")
    store.approve(record.id)
    worker = _worker(tmp_path, store, _fake_spbe(tmp_path, """
        import json, os, sys, time
        print("secret seen" if "SPBE_PORTAL_OIDC_CLIENT_SECRET" in os.environ else "no secret", file=sys.stderr)
        print("parent named" if os.environ.get("SPBE_PARENT_PID") == str(os.getppid()) else "no parent",
              file=sys.stderr)  # so spbe ends with the portal
        sys.stderr.flush()
        time.sleep(1.5)  # a long silent wait, as for pods to become Ready
        if sys.argv[1] == "tenant":
            print(json.dumps({"outputs": {}}))
        else:
            print(json.dumps({"tenants": []}))
    """))
    import time

    beats, beat = [], store.heartbeat
    monkeypatch.setattr(store, "heartbeat", lambda *a, **kw: beats.append(time.monotonic()) or beat(*a, **kw))
    claimed = store.claim_job(worker.owner)
    started = time.monotonic()
    worker.run(claimed)
    job = store.jobs_of(record.id)[0]
    assert "no secret" in job.progress and "secret seen" not in job.progress
    assert "parent named" in job.progress
    # beats kept coming during tenant up's silence (its one line came at once, its end 1.5 s later)
    assert len([t for t in beats if 0.3 < t - started < 1.4]) >= 3, [round(t - started, 2) for t in beats]


def test_the_auditors_page_says_the_last_up_and_the_drift_in_their_language(portal):
    client, store, _ = portal
    record = store.add_request("kab-banyuwangi", "35.10", "Kabupaten Banyuwangi", "aptika", "x: 1\n")
    store.approve(record.id)
    job = store.claim_job("w")
    store.finish_job(job.id, "w", True, 12.0, "", {"outputs": {"catalogVersion": "2027.01"}}, None)
    store.add_drift("kab-banyuwangi", True, "clean: 60 objects checked, 0 finding(s)", "/nowhere", {"drift.json": "a" * 64})
    sign_in(client, "auditor", regions=(), auditor=True)
    page = client.get("/audit/tenant/kab-banyuwangi").text
    assert re.search(r'id="catalog-version">2027.01<', page)
    assert re.search(r'id="last-up">berhasil, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, 12 detik<', page)
    assert "sesuai: 60 objek diperiksa, 0 temuan" in page  # the drift report's word and "a" * 64 in page
    assert client.get("/audit/tenant/kab-banyuwangi/bukti/drift.json").status_code == 404  # the file is gone
    assert client.get("/audit/tenant/kab-banyuwangi/bukti/other.json").status_code == 404  # not in the record
    client.get("/bahasa/en")
    english = client.get("/audit/tenant/kab-banyuwangi").text
    assert 'id="last-up">succeeded, ' in english and "clean: 60 objects checked, 0 finding(s)" in english
