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
    reason: str  # a key of the drift message catalogues

    def matches(self, kind: str, path: str) -> bool:
        return (self.kind in ("*", kind)) and fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class StrayExemption:
    """Objects in a tenant namespace that the cluster itself creates, so they are not strays."""

    kind: str
    name: str  # glob
    reason: str  # a key of the drift message catalogues

    def matches(self, kind: str, name: str) -> bool:
        return self.kind == kind and fnmatch.fnmatchcase(name, self.name)


IGNORE_RULES: tuple[IgnoreRule, ...] = (
    IgnoreRule("Secret", "metadata.annotations.spbe.go.id/generated-keys", "rule.generated-keys"),
    IgnoreRule("*", "metadata.annotations.pulumi.com/*", "rule.pulumi-annotations"),
)

#: Subtrees the baseline owns *entirely*: anything added live is drift too, not only changes
#: to what the baseline sets (an allow-all rule in a NetworkPolicy, a capability added to a
#: container, an extra RBAC rule). The API server adds nothing inside these.
EXACT_SUBTREES: tuple[tuple[str, str], ...] = (
    ("NetworkPolicy", "spec"),
    ("Role", "rules"),
    ("RoleBinding", "roleRef"),
    ("RoleBinding", "subjects"),
    ("ResourceQuota", "spec.hard"),
    ("*", "*spec.template.spec.securityContext"),
    ("*", "*.containers[[]name=*].securityContext"),  # [[] is a literal "[" in fnmatch
    ("*", "*.containers[[]name=*].volumeMounts"),
    ("*", "*spec.template.spec.volumes"),
)

#: Pod-spec fields the baseline never sets; their appearance live is drift (a sidecar or
#: debug container, host namespaces).
POD_SPEC_FORBIDDEN = ("initContainers", "ephemeralContainers", "hostNetwork", "hostPID", "hostIPC",
                      "shareProcessNamespace", "hostAliases")

#: Fields the API server leaves out when they are false/0/"" (non-pointer, omitempty): only
#: for these may a zero value the baseline sets be absent live. Everything else must be there.
OMITTED_WHEN_ZERO: tuple[tuple[str, str], ...] = (
    ("Service", "spec.publishNotReadyAddresses"),
)

STRAY_EXEMPTIONS: tuple[StrayExemption, ...] = (
    StrayExemption("ConfigMap", "kube-root-ca.crt", "rule.kube-root-ca"),
    StrayExemption("ServiceAccount", "default", "rule.default-sa"),
)

#: ReplicaSets, Jobs and Pods whose controller (by UID) exists in the namespace are that
#: controller's work. Any other object, owner reference or not, is checked.
CONTROLLER_MADE_KINDS = ("ReplicaSet", "Job", "Pod")


@lru_cache(maxsize=1 << 16)  # the same few thousand paths recur in every tenant
def ignored(kind: str, path: str) -> IgnoreRule | None:
    """The rule that exempts this field, if any."""
    return next((rule for rule in IGNORE_RULES if rule.matches(kind, path)), None)


@lru_cache(maxsize=1 << 14)
def exact(kind: str, path: str) -> bool:
    """Whether the subtree at `path` is owned entirely by the baseline."""
    return any(k in ("*", kind) and fnmatch.fnmatchcase(path, pattern) for k, pattern in EXACT_SUBTREES)


def omitted_when_zero(kind: str, path: str) -> bool:
    """Whether the API server omits this field when it is false/0/empty."""
    return (kind, path) in OMITTED_WHEN_ZERO


def exempt(kind: str, name: str) -> StrayExemption | None:
    """The exemption covering an object not in the baseline, if any."""
    return next((e for e in STRAY_EXEMPTIONS if e.matches(kind, name)), None)


def _rule(type_: str, kind: str, reason: str, params: dict[str, str] | None = None, **target: str) -> dict:
    """One rule for the report: English text for the evidence, keys for the other languages."""
    from spbe_kit.drift.words.en import WORDS

    rule = {"type": type_, "kind": kind, **target, "reason": WORDS[reason].format(**(params or {})),
            "reasonKey": reason}
    if params:
        rule["reasonParams"] = params
    return rule


def listed() -> list[dict[str, str]]:
    """Every rule, for the report."""
    from spbe_kit.drift.words.en import WORDS

    rules = [_rule("ignore-field", r.kind, r.reason, path=r.path) for r in IGNORE_RULES]
    rules += [_rule("not-a-stray", e.kind, e.reason, name=e.name) for e in STRAY_EXEMPTIONS]
    owned = _rule("not-a-stray", "ReplicaSet, Job, Pod", "rule.owned-objects",
                  name=WORDS["rule.target.controller-exists"])
    owned["targetKey"] = "rule.target.controller-exists"
    rules.append(owned)
    subtrees = ", ".join(f"{k} {p}" for k, p in EXACT_SUBTREES)
    not_owned = _rule("ignore-field", "*", "rule.not-owned", {"subtrees": subtrees}, path=WORDS["rule.target.not-set"])
    not_owned["targetKey"] = "rule.target.not-set"
    rules.append(not_owned)
    rules += [_rule("may-be-absent-when-zero", k, "rule.omitted-when-zero", path=p) for k, p in OMITTED_WHEN_ZERO]
    return rules
