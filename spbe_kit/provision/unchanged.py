"""Prove, without the engine, that `tenant up` has nothing to do, so the no-change case stays fast.

The engine is skipped only when all of these hold; otherwise it runs (refresh + up) as usual:

1. the stack already records this exact desired state: a digest of every object as sent to
   the engine, the catalog version, the credential names, the request text and the image
   mirror is a stack output that resolves only once every object of the update exists;
2. no operation of an interrupted run is pending in the state, and no object carries the
   errors of one that never became ready;
3. the drift checker finds the live objects clean: every field the baseline owns equal, every
   guardrail present, no stray object (the same check auditors run, field by field);
4. every live credential equals the value kept in the stack's state (drift only sees
   presence; a changed value would otherwise go unnoticed here, where the engine would put
   the recorded one back).
"""

from __future__ import annotations

import base64
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spbe_kit.desired.model import DesiredState
from spbe_kit.stacks.credentials import Credentials
from spbe_kit.stacks.program import DIGEST_OUTPUT, desired_digest

__all__ = ["DIGEST_OUTPUT", "check", "desired_digest", "recorded_digest"]



def recorded_digest(deployment: dict[str, Any]) -> str | None:
    """The digest the last successful update recorded (the root stack's output)."""
    for resource in deployment.get("resources") or []:
        if resource.get("type") == "pulumi:pulumi:Stack":
            value = (resource.get("outputs") or {}).get(DIGEST_OUTPUT)
            return value if isinstance(value, str) else None
    return None


@dataclass(frozen=True)
class Verdict:
    unchanged: bool
    reason: str  # why the engine must run, or what was checked
    objects_checked: int = 0


def check(state: DesiredState, spec, credentials: Credentials, deployment: dict[str, Any],
          kubeconfig: Path, context: str | None, registry: str | None = None) -> Verdict:
    """Whether the tenant provably needs no change (see the module docstring for the conditions)."""
    if deployment.get("pending_operations"):
        return Verdict(False, "an interrupted run left operations pending")
    if any(r.get("init_errors") for r in deployment.get("resources") or []):
        return Verdict(False, "an earlier run left objects that never became ready")
    if recorded_digest(deployment) != desired_digest(state, credentials, spec.request_text, registry):
        return Verdict(False, "the desired state differs from what the stack last applied")
    from spbe_kit.drift import live
    from spbe_kit.drift.check import check_tenant
    from spbe_kit.errors import DriftError
    from spbe_kit.kubeclient import api_client

    try:
        snapshot = live.read(api_client(kubeconfig, context), [state.tenant_id])
    except DriftError as exc:
        return Verdict(False, f"the live objects could not be read ({exc.message})")
    if snapshot.forbidden or snapshot.forbidden_in:
        return Verdict(False, "some kinds may not be read with these credentials")
    result = check_tenant(spec, snapshot, _secrets.token_bytes(32), None, registry)
    if result.status != "clean":
        return Verdict(False, f"the live objects differ from the desired state ({len(result.findings)} finding(s))")
    namespaces = {m.name: m.namespace or state.tenant_id for m in state.of_kind("Secret")}
    for name, keys in credentials.values.items():
        secret = snapshot.get("Secret", namespaces.get(name, state.tenant_id), name) or {}
        data = secret.get("data") or {}
        for key, value in keys.items():
            try:
                same = base64.b64decode(data.get(key) or "").decode() == value
            except (ValueError, UnicodeDecodeError):
                same = False
            if not same:
                return Verdict(False, f"credential {name}/{key} differs from the value kept in the stack")
    return Verdict(True, "the stack records this desired state and the live objects match it field by field",
                   result.objects_checked)
