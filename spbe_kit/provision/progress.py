"""Engine events as progress lines a platform operator can follow, and the errors worth showing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pulumi.automation import events

Progress = Callable[[str], None]

_VERB = {"create": "creating", "update": "updating", "delete": "deleting", "replace": "replacing",
         "create-replacement": "replacing", "delete-replaced": "removing old", "refresh": "reading",
         "read": "reading", "import": "importing"}
_DONE = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced",
         "create-replacement": "replaced", "delete-replaced": "removed old", "refresh": "read", "read": "read",
         "import": "imported"}


def describe(urn: str, type_: str) -> str:
    """`Deployment/identity` from a pulumi-kubernetes URN; the bare name for other resources."""
    name = urn.rsplit("::", 1)[-1]
    kind = type_.rsplit(":", 1)[-1]
    if type_.startswith("kubernetes:"):
        return f"{kind}/{name.split('-', 1)[1] if '-' in name else name}"
    return f"{kind}/{name}"


@dataclass
class EventPrinter:
    """Turns engine events into one line per resource step; collects error diagnostics."""

    progress: Progress
    errors: list[str] = field(default_factory=list)
    _started: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: events.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            if meta.op in _VERB and not _internal(meta.type):
                self._started[meta.urn] = time.monotonic()
                self.progress(f"  {_VERB[meta.op]} {describe(meta.urn, meta.type)} ...")
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            if meta.op in _DONE and not _internal(meta.type):
                took = time.monotonic() - self._started.pop(meta.urn, time.monotonic())
                self.progress(f"  {_DONE[meta.op]} {describe(meta.urn, meta.type)} ({took:.1f}s)")
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.progress(f"  FAILED {meta.op} {describe(meta.urn, meta.type)}")
        elif event.diagnostic_event is not None:
            diag = event.diagnostic_event
            if diag.severity == "error":
                message = diag.message.strip()
                if message and message not in self.errors:
                    self.errors.append(message)


def _internal(type_: str) -> bool:
    return type_.startswith("pulumi:") or type_ == "spbe:tenant:Tenant"
