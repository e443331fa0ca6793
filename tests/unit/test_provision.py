"""Provisioning pieces that need no engine: settings, the tenant lock, progress lines, pins."""

from __future__ import annotations

import os
import select
import signal
import stat
import subprocess
import sys
import time

import pytest
from pulumi.automation import events

from spbe_kit.engine import versions
from spbe_kit.errors import ProvisionError, TenantBusy, ToolBuildError
from spbe_kit.provision.progress import EventPrinter, describe
from spbe_kit.provision.locks import tenant_lock
from spbe_kit.provision.settings import EngineSettings


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("SPBE_STATE_DIR", str(tmp_path))
    for var in ("SPBE_KUBECONFIG", "SPBE_PULUMI_BACKEND", "SPBE_SECRETS_PROVIDER",
                "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        monkeypatch.delenv(var, raising=False)
    local = tmp_path / "cluster" / "kubeconfig"
    local.parent.mkdir(parents=True)
    local.write_text("apiVersion: v1\nkind: Config\n")
    return tmp_path


def test_defaults_are_a_local_backend_and_the_local_cluster_never_the_ambient_kubeconfig(state, monkeypatch, tmp_path):
    ambient = tmp_path / "someone-elses-kubeconfig"
    ambient.write_text("x")
    monkeypatch.setenv("KUBECONFIG", str(ambient))
    settings = EngineSettings.resolve()
    assert settings.kubeconfig == state / "cluster" / "kubeconfig"
    assert settings.backend_url == (state / "pulumi").as_uri() and settings.local_backend_dir == state / "pulumi"
    assert settings.secrets_provider == "passphrase"
    monkeypatch.setenv("SPBE_KUBECONFIG", str(ambient))
    assert EngineSettings.resolve().kubeconfig == ambient  # only when asked for explicitly


def test_production_backend_and_secrets_provider_from_the_environment(state, monkeypatch):
    monkeypatch.setenv("SPBE_PULUMI_BACKEND", "s3://pdn-spbe-state")
    monkeypatch.setenv("SPBE_SECRETS_PROVIDER", "hashivault://spbe-tenants")
    settings = EngineSettings.resolve()
    assert settings.local_backend_dir is None and settings.secrets_provider == "hashivault://spbe-tenants"
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in settings.engine_env()


def test_a_missing_kubeconfig_is_an_error_with_a_hint(state, tmp_path):
    with pytest.raises(ProvisionError, match="no kubeconfig") as info:
        EngineSettings.resolve(kubeconfig=tmp_path / "nope")
    assert "spbe cluster up" in info.value.hint


def test_the_local_passphrase_is_generated_once_and_private(state):
    env = EngineSettings.resolve().engine_env()
    path = env["PULUMI_CONFIG_PASSPHRASE_FILE"]
    first = open(path).read()
    assert len(first) >= 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert open(EngineSettings.resolve().engine_env()["PULUMI_CONFIG_PASSPHRASE_FILE"]).read() == first


def test_an_operator_passphrase_wins(state, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "from-the-vault")
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in EngineSettings.resolve().engine_env()


HOLD_LOCK = """
import sys, time
from spbe_kit.provision.locks import tenant_lock
with tenant_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_same_tenant_twice_is_refused_and_a_killed_run_leaves_no_lock(state):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, "kab-banyuwangi"], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "SPBE_STATE_DIR": str(state)})
    try:
        ready, _, _ = select.select([holder.stdout], [], [], 30)  # never hang the suite on a broken child
        assert ready and holder.stdout.readline().strip() == "held"
        with pytest.raises(TenantBusy, match="already being updated"):
            with tenant_lock("kab-banyuwangi"):
                pass
        with tenant_lock("kota-bandung"):  # another tenant runs concurrently
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with tenant_lock("kab-banyuwangi"):  # the OS released the dead run's lock
        pass


def _event(kind: str, op: str, urn: str, type_: str) -> events.EngineEvent:
    return events.EngineEvent.from_json({"sequence": 1, "timestamp": int(time.time()),
                                         kind: {"metadata": {"op": op, "urn": urn, "type": type_, "provider": ""}}})


def test_progress_names_kubernetes_objects_and_hides_internal_resources():
    lines: list[str] = []
    printer = EventPrinter(lines.append)
    urn = "urn:pulumi:kab-banyuwangi::spbe-tenant::spbe:tenant:Tenant$kubernetes:apps/v1:Deployment::deployment-identity"
    printer(_event("resourcePreEvent", "create", urn, "kubernetes:apps/v1:Deployment"))
    printer(_event("resOutputsEvent", "create", urn, "kubernetes:apps/v1:Deployment"))
    printer(_event("resourcePreEvent", "create", "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", "pulumi:pulumi:Stack"))
    printer(_event("resourcePreEvent", "same", urn, "kubernetes:apps/v1:Deployment"))
    assert lines[0] == "  creating Deployment/identity ..."
    assert lines[1].startswith("  created Deployment/identity (") and len(lines) == 2
    assert describe("urn:x::y::random:index/randomPassword:RandomPassword::identity-admin-password",
                    "random:index/randomPassword:RandomPassword") == "RandomPassword/identity-admin-password"


def test_a_bumped_python_pin_without_an_engine_pin_fails_loudly(monkeypatch):
    monkeypatch.setattr(versions, "installed_version", lambda dist: "9.9.9" if dist == "pulumi-kubernetes" else versions.PINS[dist])
    with pytest.raises(ToolBuildError, match="pulumi-kubernetes"):
        versions.check_pins()
    monkeypatch.undo()
    versions.check_pins()  # the project's own pins agree with what is installed
