"""`stacks/tenant` (the plain Pulumi project) and `spbe tenant up` run one program: same objects, same credentials.

The CLI can only start a Python *project* through the `pulumi-language-python` binary, which
the Go module proxy does not serve here; so the project's `__main__.py` runs as the inline
program the Python SDK serves in-process, against the stack `spbe tenant up` made, with the
stack config a person would set by hand.
"""

from __future__ import annotations

import base64
import runpy
from pathlib import Path

import pytest
from kubernetes import client
from pulumi import automation as auto

from .conftest import delete_namespace, request_text

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_plain_project_and_tenant_up_are_one_program(cluster, api_client, tmp_path, monkeypatch):
    from spbe_kit.catalog import load_catalog
    from spbe_kit.devenv.engine.build import ensure_engine
    from spbe_kit.engine.locate import pulumi_command
    from spbe_kit.provision import runner
    from spbe_kit.provision.settings import PROJECT, EngineSettings
    from spbe_kit.request import load_request

    tenant = "eng-project-entry"
    request = tmp_path / f"{tenant}.yaml"
    request.write_text(request_text("35.10", tenant, tier="small"))
    backend = (tmp_path / "backend").as_uri()
    settings = EngineSettings.resolve(cluster.kubeconfig, backend_url=backend)
    paths = ensure_engine()
    try:
        from spbe_kit.desired import desired_state

        # every object of the desired state, plus the stack, its Kubernetes provider and the tenant component
        resources = len(desired_state(load_request(request), load_catalog()).manifests) + 3
        made = runner.up(load_request(request), load_catalog(), settings)
        assert made.changes.get("create", 0) == resources
        core = client.CoreV1Api(api_client)
        before = {s.metadata.name: s.data for s in core.list_namespaced_secret(tenant).items}

        # as `pulumi -C stacks/tenant up -s TENANT` would: the project's Pulumi.yaml, stack config, the caller's env
        work = tmp_path / "project"
        work.mkdir()
        (work / "Pulumi.yaml").write_text((ROOT / "stacks" / "tenant" / "Pulumi.yaml").read_text())
        env = {**paths.env(), **settings.engine_env(), "PULUMI_BACKEND_URL": backend,
               "KUBECONFIG": str(cluster.kubeconfig)}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(work)
        stack = auto.create_or_select_stack(
            stack_name=tenant, project_name=PROJECT,
            program=lambda: runpy.run_path(str(ROOT / "stacks" / "tenant" / "__main__.py"), run_name="__main__"),
            opts=auto.LocalWorkspaceOptions(
                work_dir=str(work), pulumi_home=str(paths.pulumi_home), pulumi_command=pulumi_command(paths),
                env_vars=env, secrets_provider="passphrase",
                project_settings=auto.ProjectSettings(name=PROJECT, runtime="python",
                                                      backend=auto.ProjectBackend(url=backend))))
        stack.set_config("spbe:request", auto.ConfigValue(str(request)))
        preview = stack.preview(color="never", diff=True)
        changed = {str(k): v for k, v in preview.change_summary.items() if str(k) not in ("same", "OpType.SAME")}
        # the one difference: run by hand, the Python SDK records the KUBECONFIG *path* on the provider (an
        # update of its config, not a replacement); every object and the program's outputs stay the same
        assert set(changed.values()) <= {1} and len(changed) <= 1, preview.stdout[-3000:]
        updated = [line for line in preview.stdout.splitlines() if "(update)" in line or "(replace)" in line]
        assert all("pulumi:providers:kubernetes" in line for line in updated), preview.stdout[-3000:]
        result = stack.up(color="never")
        assert result.summary.resource_changes.get("same") == resources - 1 and set(result.summary.resource_changes) <= {"same", "update"}
        after = {s.metadata.name: s.data for s in core.list_namespaced_secret(tenant).items}
        assert after == before, "the project entry point changed a credential"
        assert base64.b64decode(after["identity-admin"]["password"])
    finally:
        delete_namespace(api_client, tenant, wait=120)
