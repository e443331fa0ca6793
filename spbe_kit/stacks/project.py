"""The tenant stack as a plain Pulumi project (``stacks/tenant``), for people who run ``pulumi`` by hand.

Same program function as ``spbe tenant up`` (:func:`spbe_kit.stacks.program.declare_tenant`);
what the Automation API passes in, this entry point reads from stack config::

    pulumi -C stacks/tenant stack init kab-banyuwangi
    pulumi -C stacks/tenant config set spbe:request ../../examples/kab-banyuwangi.yaml
    pulumi -C stacks/tenant up -s kab-banyuwangi

Config (namespace ``spbe``): ``request`` (path, relative to the project), optional
``catalogVersion``, ``registry`` and ``context``. Stack config carries nothing the request and
catalog already say. The cluster's credentials come from ``KUBECONFIG``, which must be set
explicitly (the provider reads it; an unset one is refused rather than defaulting to
``~/.kube/config``).

Credentials come from the stack's own encrypted state, read with ``pulumi stack export
--show-secrets`` (the CLI running this program, with the caller's passphrase or secrets
provider), exactly as ``spbe tenant up`` reads them; a stack whose state cannot be read is an
error, never a reason to generate new values.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi

from spbe_kit.errors import ProvisionError


def previous_deployment(stack: str, project: str, cwd: Path) -> dict[str, Any]:
    """The stack's last checkpoint, secrets decrypted (empty for a new stack)."""
    cli = shutil.which("pulumi")
    if cli is None:
        raise ProvisionError("the `pulumi` CLI running this program is not on PATH")
    proc = subprocess.run([cli, "stack", "export", "--show-secrets", "--stack", f"organization/{project}/{stack}"],
                          cwd=cwd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    if proc.returncode != 0:
        raise ProvisionError(f"cannot read the state of stack {stack}: {proc.stderr.strip()[-500:]}",
                             hint="credentials are kept only in the stack's state; fix access to it first")
    return json.loads(proc.stdout).get("deployment") or {}


def main() -> None:
    """Declare the tenant of stack config ``spbe:request`` (see the module docstring)."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.kubeclient import cluster_server, resolve_kubeconfig
    from spbe_kit.request import load_request
    from spbe_kit.stacks import credentials as creds
    from spbe_kit.stacks.program import declare_tenant, desired_digest

    config = pulumi.Config("spbe")
    here = Path.cwd()
    spec = load_request(here / config.require("request"))
    if spec.tenant_id != pulumi.get_stack():
        raise ProvisionError(f"the request is for tenant {spec.tenant_id}, but this stack is {pulumi.get_stack()}",
                             hint="one stack per tenant: name the stack after the request's metadata.name")
    catalog = load_catalog(config.get("catalogVersion"), config.get("registry"))
    state = desired_state(spec, catalog)
    if not os.environ.get("KUBECONFIG"):
        raise ProvisionError("KUBECONFIG is not set", hint="point it at the tenant's cluster, e.g. "
                             "KUBECONFIG=~/.local/state/spbe-kit/cluster/kubeconfig pulumi -C stacks/tenant up")
    kubeconfig = resolve_kubeconfig(Path(os.environ["KUBECONFIG"]))
    recorded = creds.from_deployment(previous_deployment(pulumi.get_stack(), pulumi.get_project(), here))
    from spbe_kit.backups import platform as backup_platform

    # backups into the platform's store: the same admission and namespace `spbe tenant up` prepares
    backup_platform.prepare(state, catalog, kubeconfig, config.get("context"), lambda line: pulumi.log.info(line))
    credentials, _new = creds.resolve(state, recorded, None, backup_platform.platform_values(state))
    registry = config.get("registry")
    declare_tenant(state, credentials, cluster_server(kubeconfig, config.get("context")), config.get("context"),
                   spec.request_text,
                   digest=desired_digest(state, credentials, spec.request_text, registry), registry=registry)
