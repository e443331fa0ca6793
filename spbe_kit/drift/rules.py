"""Declarative rules: what is never drift, and which objects in a tenant namespace are not strays.

Comparison is by *owned fields*: only the fields the baseline sets are compared, so
defaults, status and anything controllers add are never drift by construction. The rules
below cover what remains, each with its reason; every report lists them.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class IgnoreRule:
    """A field (glob over the dotted path) of a kind ('*' = every kind) that is never compared."""

    kind: str
    path: str
    reason: str

    def matches(self, kind: str, path: str) -> bool:
        return (self.kind in ("*", kind)) and fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class StrayExemption:
    """Objects in a tenant namespace that the cluster itself creates, so they are not strays."""

    kind: str
    name: str  # glob
    reason: str

    def matches(self, kind: str, name: str) -> bool:
        return self.kind == kind and fnmatch.fnmatchcase(name, self.name)


IGNORE_RULES: tuple[IgnoreRule, ...] = (
    IgnoreRule("Secret", "metadata.annotations.spbe.go.id/generated-keys",
               "compared through the Secret's keys instead (values are never compared)"),
    IgnoreRule("*", "metadata.annotations.pulumi.com/*", "written by the Pulumi provider for its own bookkeeping"),
)

STRAY_EXEMPTIONS: tuple[StrayExemption, ...] = (
    StrayExemption("ConfigMap", "kube-root-ca.crt", "published into every namespace by kube-controller-manager"),
    StrayExemption("ServiceAccount", "default", "created in every namespace by kube-controller-manager"),
)

#: Objects owned by another object (a ReplicaSet of a Deployment, a Job of a CronJob, their
#: Pods) are the controllers' work, not strays; only unowned ones are reported.
OWNED_OBJECTS_REASON = "objects with an ownerReference are created by controllers from baseline objects"


@lru_cache(maxsize=1 << 16)  # the same few thousand paths recur in every tenant
def ignored(kind: str, path: str) -> IgnoreRule | None:
    """The rule that exempts this field, if any."""
    return next((rule for rule in IGNORE_RULES if rule.matches(kind, path)), None)


def exempt(kind: str, name: str) -> StrayExemption | None:
    """The exemption covering an object not in the baseline, if any."""
    return next((e for e in STRAY_EXEMPTIONS if e.matches(kind, name)), None)


def listed() -> list[dict[str, str]]:
    """Every rule, for the report."""
    rules = [{"type": "ignore-field", "kind": r.kind, "path": r.path, "reason": r.reason} for r in IGNORE_RULES]
    rules += [{"type": "not-a-stray", "kind": e.kind, "name": e.name, "reason": e.reason} for e in STRAY_EXEMPTIONS]
    rules.append({"type": "not-a-stray", "kind": "*", "name": "(has ownerReferences)", "reason": OWNED_OBJECTS_REASON})
    rules.append({"type": "ignore-field", "kind": "*", "path": "(any field the baseline does not set)",
                  "reason": "defaults, status and controller-added fields are not owned by the baseline"})
    return rules
