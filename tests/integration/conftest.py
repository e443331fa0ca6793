"""The local cluster for integration tests: started (and built) if needed, stopped if we started it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from spbe_kit.catalog import load_catalog
from spbe_kit.devenv.cluster import control_plane
from spbe_kit.desired import desired_state
from spbe_kit.desired.model import DesiredState
from spbe_kit.request import parse_request
from spbe_kit.scaffold import new_request

FIELD_MANAGER = "spbe-integration-tests"

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cluster() -> Iterator[control_plane.ClusterInfo]:
    was_running = control_plane.status().healthy
    info = control_plane.up(progress=lambda line: print(line, flush=True))
    yield info
    if not was_running:
        control_plane.down(wipe=True)


@pytest.fixture(scope="session")
def api_client(cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture(scope="session")
def dyn(api_client) -> DynamicClient:
    return DynamicClient(api_client)


def request_text(region: str, tenant_id: str | None = None, tier: str = "medium") -> str:
    """A scaffolded request for a region (optionally renamed)."""
    from spbe_kit.request import Tier

    text = new_request(region, load_catalog(), Tier(tier))
    if tenant_id:
        original = parse_request(text).tenant_id
        text = text.replace(f"name: {original}", f"name: {tenant_id}", 1)
    return text


def tenant_state(region: str, tenant_id: str | None = None, tier: str = "medium") -> DesiredState:
    """The desired state of a scaffolded request for a region (optionally renamed)."""
    return desired_state(parse_request(request_text(region, tenant_id, tier)), load_catalog())


def with_test_credentials(body: dict) -> dict:
    """A Secret body with throw-away values (in production the Pulumi stack generates them)."""
    keys = body["metadata"]["annotations"]["spbe.go.id/generated-keys"].split(",")
    return {**body, "stringData": {k: secrets.token_urlsafe(24) for k in keys}}


def apply_state(dyn: DynamicClient, state: DesiredState, dry_run: bool = False, skip: tuple[str, ...] = ()) -> None:
    """Server-side apply every object of the state, in order (the platform's backup namespace made first, as
    `spbe tenant up` prepares it)."""
    if any(m.namespace not in (None, state.tenant_id) for m in state.manifests):  # (made for a dry run too)
        from spbe_kit.backups.platform import namespace_objects
        from spbe_kit.backups.store import load_settings

        # the namespace, its fence and the auditors' Role, exactly as `tenant up` applies them
        for body in namespace_objects(load_catalog(state.catalog_version), load_settings()):
            resource = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
            dyn.server_side_apply(resource, body=body, name=body["metadata"]["name"],
                                  namespace=body["metadata"].get("namespace"), field_manager=FIELD_MANAGER,
                                  force_conflicts=True)
    for m in state.manifests:
        if m.kind in skip:
            continue
        body = with_test_credentials(m.body) if m.generated_keys else m.body
        resource = dyn.resources.get(api_version=m.api_version, kind=m.kind)
        kwargs = {"dry_run": "All"} if dry_run else {}
        dyn.server_side_apply(resource, body=body, name=m.name, namespace=m.namespace,
                              field_manager=FIELD_MANAGER, force_conflicts=True, **kwargs)


def delete_namespace(api_client: client.ApiClient, name: str, wait: float = 60.0) -> None:
    """The tenant's namespace, and its backup jobs in the platform's namespace (what `destroy` would delete)."""
    core = client.CoreV1Api(api_client)
    batch = client.BatchV1Api(api_client)
    selector = f"spbe.go.id/tenant={name}"
    for delete in (batch.delete_collection_namespaced_cron_job, batch.delete_collection_namespaced_job,
                   core.delete_collection_namespaced_secret, core.delete_collection_namespaced_service_account):
        try:
            delete("spbe-backups", label_selector=selector)
        except ApiException as exc:
            if exc.status != 404:
                raise
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.5)


@pytest.fixture
def tenant_namespaces(api_client) -> Iterator[Callable[[DesiredState], DesiredState]]:
    """Register tenants whose namespaces are deleted after the test."""
    created: list[str] = []

    def register(state: DesiredState) -> DesiredState:
        created.append(state.tenant_id)
        return state

    yield register
    for name in created:
        delete_namespace(api_client, name)


def wait_for(what: str, check: Callable[[], tuple[bool, str]], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    detail = ""
    while time.monotonic() < deadline:
        ok, detail = check()
        if ok:
            return
        time.sleep(1.0)
    raise AssertionError(f"{what} not reached in {timeout:.0f}s: {detail}")
