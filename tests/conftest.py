"""Shared fixtures: the example requests, the catalog, and their desired states."""

from __future__ import annotations

from pathlib import Path

import pytest

from spbe_kit.catalog import load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.request import load_request

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session", params=EXAMPLES, ids=[p.stem for p in EXAMPLES])
def example_state(request, catalog):
    """The desired state of each example tenant."""
    return desired_state(load_request(request.param), catalog)


@pytest.fixture(scope="session")
def banyuwangi(catalog):
    return desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"), catalog)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL (Debian's) on 127.0.0.1 with TLS, for the role and verification tests."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.services import start_postgres, stop_postgres

    # not under pytest's temp tree: the `postgres` user must be able to reach its data directory
    root = Path(tempfile.mkdtemp(prefix="spbe-test-postgres-"))
    server = start_postgres(root)
    yield server
    stop_postgres(server)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory):
    """A real Prometheus (Debian's) on 127.0.0.1, for the monitoring role and verification tests."""
    from tests.services import start_prometheus

    server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.process.terminate()
    server.process.wait(timeout=30)


@pytest.fixture(scope="session")
def mail_host():
    """Postfix + Dovecot (Debian's) on 127.0.0.1, configured and started by the spbe_mail role.

    Yields the host and the role's three runs (check mode on the empty host, then twice)."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.roles.ansible_run import run_playbook
    from tests.services import mail_variables, stop_mail

    root = Path(tempfile.mkdtemp(prefix="spbe-test-mail-"))
    host = mail_variables(root)
    ansible_tmp = root / "ansible"
    ansible_tmp.mkdir()
    try:
        check = run_playbook("mail.yml", host.variables, ansible_tmp, check=True)
        untouched = not (root / "postfix").exists()
        runs = [check, run_playbook("mail.yml", host.variables, ansible_tmp),
                run_playbook("mail.yml", host.variables, ansible_tmp)]
        yield host, runs, untouched
    finally:
        stop_mail(host)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def keycloak_server(tmp_path_factory):
    """Keycloak from its Maven Central distribution (the catalog's version) on 127.0.0.1, for the identity role."""
    from tests.services import start_keycloak, stop_keycloak_process

    server = start_keycloak(tmp_path_factory.mktemp("keycloak"))
    yield server
    stop_keycloak_process(server.process)
