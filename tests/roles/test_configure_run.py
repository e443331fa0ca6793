"""`run_plan` for real: the controller-side part of a tenant's plan (database, identity) against real
PostgreSQL and Keycloak, as `spbe tenant configure` runs it through port-forwards in production."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from spbe_kit.catalog import load_catalog
from spbe_kit.configure.plan import Credentials, Reach, configuration_plan
from spbe_kit.configure.run import run_plan
from spbe_kit.desired import desired_state
from spbe_kit.request import load_request

REQUEST = Path(__file__).resolve().parents[2] / "examples" / "kota-bandung.yaml"  # its own realm and databases


def _plan(postgres_server, keycloak_server, admin_password: str):
    spec = load_request(REQUEST)
    state = desired_state(spec, load_catalog())
    values = {m.name: {k: secrets.token_urlsafe(24) for k in m.generated_keys} for m in state.manifests if m.generated_keys}
    values["database-superuser"]["password"] = postgres_server.password
    values["identity-admin"]["password"] = admin_password
    reach = Reach(keycloak_server.url, postgres_server.host, postgres_server.port, {"mail": ("unused", "mail"), "eoffice": ("unused", "eoffice")},
                  "http://127.0.0.1:9")
    runs = configuration_plan(spec, Credentials(values), reach, "/unused")
    # e-office (Mayan through its port-forward) is run against the real image in tests/images
    return [r for r in runs if r.component in ("database", "identity")], values


@pytest.fixture(scope="module")
def first_and_second(postgres_server, keycloak_server):
    runs, values = _plan(postgres_server, keycloak_server, keycloak_server.admin_password)
    lines: list[str] = []
    return run_plan(runs, lines.append), run_plan(runs, lines.append), values, lines


def test_controller_roles_configure_then_converge(first_and_second):
    first, second, _, lines = first_and_second
    assert [(r.component, r.status) for r in first] == [("database", "configured"), ("identity", "configured")]
    assert all(r.changed > 0 for r in first), first
    assert [(r.status, r.changed) for r in second] == [("configured", 0), ("configured", 0)]
    assert "configure identity: done, 0 changed" in " ".join(lines)


def test_the_planned_database_login_works_with_tls(first_and_second, postgres_server):
    import psycopg2

    _, _, values, _ = first_and_second
    with psycopg2.connect(postgres_server.dsn(user="eoffice", password=values["database-eoffice"]["password"],
                                              dbname="eoffice")) as conn:
        assert conn.info.ssl_in_use


def test_a_failing_role_stops_the_plan_and_its_output_is_masked(postgres_server, keycloak_server):
    wrong = "Salah-" + secrets.token_urlsafe(20)
    runs, values = _plan(postgres_server, keycloak_server, wrong)
    results = run_plan(runs)
    assert [(r.component, r.status) for r in results] == [("database", "configured"), ("identity", "failed")]
    detail = results[1].detail
    assert detail and wrong not in detail
    assert all(v not in detail for secret in values.values() for v in secret.values())
