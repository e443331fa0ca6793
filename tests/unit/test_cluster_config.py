"""The local cluster's configuration: what it binds to, which admission it enforces, where binaries come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from spbe_kit.devenv.cluster import binaries, components
from spbe_kit.devenv.cluster.layout import Layout
from spbe_kit.errors import ClusterError


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout.from_env(tmp_path)


def test_the_apiserver_enforces_the_guardrail_admission_plugins_on_loopback(layout):
    argv = components.kube_apiserver(layout, Path("/bin/kube-apiserver")).argv
    flags = dict(a.lstrip("-").split("=", 1) for a in argv[1:] if "=" in a)
    plugins = flags["enable-admission-plugins"].split(",")
    assert {"PodSecurity", "ResourceQuota", "LimitRanger", "ServiceAccount", "NamespaceLifecycle"} <= set(plugins)
    assert flags["authorization-mode"] == "Node,RBAC"
    assert flags["bind-address"] == "127.0.0.1" and flags["advertise-address"] == "127.0.0.1"
    assert flags["service-account-key-file"] and flags["service-account-signing-key-file"]


def test_every_process_listens_on_loopback_only(layout):
    bins = {name: Path(f"/bin/{name}") for name in binaries.TOOLS}
    argvs = [components.etcd(layout, bins["etcd"]).argv, components.kube_controller_manager(layout, bins["kube-controller-manager"]).argv,
             components.kube_scheduler(layout, bins["kube-scheduler"]).argv, components.kwok(layout, bins["kwok"]).argv]
    for argv in argvs:
        for arg in argv:
            if any(k in arg for k in ("listen-", "bind-address", "server-address", "advertise")):
                value = arg.split("=", 1)[1]
                assert value == "" or "127.0.0.1" in value, arg  # empty: the listener is switched off


def test_ports_come_from_the_environment_and_bad_values_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SPBE_CLUSTER_APISERVER_PORT", "17443")
    assert Layout.from_env(tmp_path).server == "https://127.0.0.1:17443"
    monkeypatch.setenv("SPBE_CLUSTER_APISERVER_PORT", "http")
    with pytest.raises(ClusterError, match="SPBE_CLUSTER_APISERVER_PORT"):
        Layout.from_env(tmp_path)


def test_kubebuilder_assets_win_over_the_cache(monkeypatch, tmp_path):
    fake = tmp_path / "kube-apiserver"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert binaries.find("kube-apiserver") == fake
    monkeypatch.setenv("SPBE_CACHE_DIR", str(tmp_path / "empty-cache"))
    assert binaries.find("etcd") is None  # not in the assets, not cached
    assert "etcd" in [t.name for t in binaries.missing()]


def test_kubernetes_version_is_stamped_into_the_build():
    flags = " ".join(binaries.TOOLS["kube-apiserver"].ldflags)
    assert f"k8s.io/component-base/version.gitVersion={binaries.KUBERNETES_VERSION}" in flags
    assert binaries.KUBERNETES_VERSION.startswith("v1.3")


def test_a_live_listener_makes_a_port_taken_and_closing_it_frees_it():
    import socket

    from spbe_kit.devenv.cluster.control_plane import _port_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not _port_free(port)
    assert _port_free(port)


def test_a_starting_process_counts_as_exited_only_once_it_is_gone(tmp_path):
    import time

    from spbe_kit.devenv.cluster import processes

    record = processes.start(tmp_path / "run", "sleeper", ["sleep", "30"], tmp_path / "sleeper.log")
    try:
        assert not processes.exited(record)  # at once, even before the exec has happened
        deadline = time.monotonic() + 5  # alive (its marker in the command line) once the exec is done
        while not processes.alive(record) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes.alive(record)
    finally:
        processes.stop(tmp_path / "run", "sleeper")
    deadline = time.monotonic() + 5
    while not processes.exited(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes.exited(record)
