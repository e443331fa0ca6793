"""Kubeconfig files for the local cluster: the admin one users get, and one per component.

Certificates are embedded (base64 ``*-data`` fields) so a kubeconfig can be copied
elsewhere; files are written 0600 because they hold a private key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from spbe_kit.devenv.cluster import certs
from spbe_kit.devenv.cluster.layout import CLUSTER_NAME, Layout

CONTEXT = CLUSTER_NAME


def kubeconfig_path() -> Path:
    """Path of the admin kubeconfig of the local cluster (it exists once `up` has run)."""
    return Layout.load().kubeconfig


def component_kubeconfig(layout: Layout, name: str) -> Path:
    return layout.kubeconfigs / f"{name}.kubeconfig"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def render(server: str, ca_file: Path, cert_file: Path, key_file: Path, user: str) -> str:
    """A kubeconfig (YAML) with one cluster, one user and one current context."""
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {CLUSTER_NAME}\n"
        "  cluster:\n"
        f"    server: {server}\n"
        f"    certificate-authority-data: {_b64(ca_file)}\n"
        "users:\n"
        f"- name: {user}\n"
        "  user:\n"
        f"    client-certificate-data: {_b64(cert_file)}\n"
        f"    client-key-data: {_b64(key_file)}\n"
        "contexts:\n"
        f"- name: {CONTEXT}\n"
        "  context:\n"
        f"    cluster: {CLUSTER_NAME}\n"
        f"    user: {user}\n"
        "    namespace: default\n"
        f"current-context: {CONTEXT}\n"
    )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def write_all(layout: Layout) -> None:
    """Write the admin kubeconfig and one per client identity in certs.CLIENTS."""
    ca = certs.ca(layout.pki).cert
    for name in certs.CLIENTS:
        pair = certs.client(layout.pki, name)
        text = render(layout.server, ca, pair.cert, pair.key, user=name)
        _write_private(component_kubeconfig(layout, name), text)
        if name == "admin":
            _write_private(layout.kubeconfig, text)
