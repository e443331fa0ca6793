"""A suspended tenant, as its namespace records it (`spbe tenant suspend` writes it, `resume` removes it).

The record lives in one annotation of the tenant's Namespace, which only the platform may change
(tenant admins hold namespaced roles). It names who suspended the tenant and when, the backup taken
just before, and exactly what was stopped -- each workload's replicas and each CronJob that was
running -- so that `resume` brings back what was there, and `spbe drift` can tell a suspension the
platform made from a workload someone scaled down or a backup job someone paused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

ANNOTATION = "spbe.go.id/suspended"


@dataclass(frozen=True)
class Suspension:
    at: str
    by: str
    backup: str | None = None  # the snapshot taken into the store just before (None without a store)
    replicas: dict[str, int] = field(default_factory=dict)  # "Deployment/eoffice" -> replicas before
    cronjobs: list[str] = field(default_factory=list)  # CronJobs that ran before and were suspended

    def to_annotation(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def stopped(self, kind: str, name: str) -> bool:
        """Whether the suspension stopped this object (so its replicas 0 or suspend true are expected)."""
        return f"{kind}/{name}" in self.replicas if kind != "CronJob" else name in self.cronjobs


def suspension_of(namespace: dict[str, Any] | None) -> Suspension | None:
    """The suspension a Namespace object records, or None (also for an unreadable record)."""
    text = ((namespace or {}).get("metadata", {}).get("annotations") or {}).get(ANNOTATION)
    if not text:
        return None
    try:
        data = json.loads(text)
        return Suspension(at=str(data["at"]), by=str(data["by"]), backup=data.get("backup"),
                          replicas={str(k): int(v) for k, v in (data.get("replicas") or {}).items()},
                          cronjobs=[str(c) for c in data.get("cronjobs") or []])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
