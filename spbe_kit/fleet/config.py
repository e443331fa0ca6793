"""fleet.yaml: how a folder of tenant requests is rolled -- waves, failure budgets, holds, extra gates.

Every field is optional; with no fleet.yaml the fleet is one wave of every tenant, four at a time,
with no failure allowed. A wave takes tenants by name, by selector (province, level, tier), or
(neither given) every tenant no earlier wave took.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from spbe_kit.errors import FieldProblem, SpbeError

FILE_NAME = "fleet.yaml"
_BUDGET = re.compile(r"^(\d+(?:\.\d+)?)%$")


class FleetInvalid(SpbeError):
    """fleet.yaml is not valid; carries every problem with its field path."""

    exit_code = 1

    def __init__(self, source: str, problems: list[FieldProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p.path}: {p.message}" + (f" (hint: {p.hint})" if p.hint else "") for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the fleet file\n{lines}")


@dataclass(frozen=True)
class Selector:
    """Tenants whose request matches every given field."""

    province: str | None = None
    level: str | None = None
    tier: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("province", self.province), ("level", self.level), ("tier", self.tier)) if v}


@dataclass(frozen=True)
class Wave:
    name: str
    tenants: tuple[str, ...] = ()
    selector: Selector | None = None
    max_parallel: int = 4
    #: failures the wave may have before the rollout halts: a count, or a share of the wave ("5%")
    failure_budget: str = "0"
    soak_seconds: float = 0.0

    def allowed_failures(self, size: int) -> int:
        found = _BUDGET.match(self.failure_budget)
        if found:
            return math.floor(size * float(found.group(1)) / 100)
        return int(self.failure_budget)

    def to_dict(self) -> dict:
        return {"name": self.name, "tenants": list(self.tenants), "selector": self.selector.to_dict() if self.selector else None,
                "maxParallel": self.max_parallel, "failureBudget": self.failure_budget, "soakSeconds": self.soak_seconds}


@dataclass(frozen=True)
class Hold:
    tenant: str
    reason: str


@dataclass(frozen=True)
class GateCommand:
    """An extra gate after each tenant's up: a command that must exit 0 (the tenant id in $SPBE_TENANT)."""

    name: str
    argv: tuple[str, ...]
    timeout_seconds: float = 300.0


@dataclass(frozen=True)
class FleetConfig:
    waves: tuple[Wave, ...] = (Wave(name="all"),)
    holds: tuple[Hold, ...] = ()
    gate_commands: tuple[GateCommand, ...] = ()
    ready_timeout_seconds: float = 600.0
    source: str = "(defaults: no fleet.yaml)"

    def hold_reason(self, tenant: str) -> str | None:
        return next((h.reason for h in self.holds if h.tenant == tenant), None)


_TOP = {"apiVersion", "kind", "waves", "holds", "gates", "readyTimeoutSeconds"}
_WAVE = {"name", "tenants", "selector", "maxParallel", "failureBudget", "soakSeconds"}
_SELECTOR = {"province", "level", "tier"}


def load(folder: Path) -> FleetConfig:
    """fleet.yaml of ``folder`` (the defaults when there is none); FleetInvalid with every problem."""
    path = folder / FILE_NAME
    if not path.exists():
        return FleetConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise FleetInvalid(str(path), [FieldProblem("(file)", f"not valid YAML: {exc}")]) from None
    problems: list[FieldProblem] = []
    config = parse(data, problems)
    if problems:
        raise FleetInvalid(str(path), problems)
    return FleetConfig(config.waves, config.holds, config.gate_commands, config.ready_timeout_seconds, str(path))


def _unknown(data: dict, allowed: set[str], at: str, problems: list[FieldProblem]) -> None:
    for key in sorted(set(data) - allowed):
        problems.append(FieldProblem(f"{at}{key}", "unknown field", hint=f"allowed here: {', '.join(sorted(allowed))}"))


def _number(value, path: str, problems: list[FieldProblem], minimum: float, integer: bool = False) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) or value < minimum:
        problems.append(FieldProblem(path, f"must be {'a whole number' if integer else 'a number'} >= {minimum:g}"))
        return None
    return value


def parse(data: object, problems: list[FieldProblem]) -> FleetConfig:
    """The fleet file's content, checked field by field (problems collected, never the first only)."""
    if not isinstance(data, dict):
        problems.append(FieldProblem("(file)", "must be a mapping with waves, holds, gates"))
        return FleetConfig()
    _unknown(data, _TOP, "", problems)
    if data.get("kind", "Fleet") != "Fleet":
        problems.append(FieldProblem("kind", "must be Fleet"))
    waves: list[Wave] = []
    names: set[str] = set()
    raw_waves = data.get("waves", [{"name": "all"}])
    if not isinstance(raw_waves, list) or not raw_waves:
        problems.append(FieldProblem("waves", "must be a non-empty list of waves", hint="e.g. - name: pilot"))
        raw_waves = []
    for i, raw in enumerate(raw_waves):
        at = f"waves[{i}]"
        if not isinstance(raw, dict):
            problems.append(FieldProblem(at, "must be a mapping (name, tenants or selector, maxParallel, failureBudget)"))
            continue
        _unknown(raw, _WAVE, f"{at}.", problems)
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            problems.append(FieldProblem(f"{at}.name", "every wave needs a name"))
            name = f"wave-{i + 1}"
        elif name in names:
            problems.append(FieldProblem(f"{at}.name", f"wave {name!r} is named twice"))
        names.add(name)
        tenants = raw.get("tenants", [])
        if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
            problems.append(FieldProblem(f"{at}.tenants", "must be a list of tenant ids", hint="e.g. [kab-banyuwangi]"))
            tenants = []
        selector = None
        if "selector" in raw:
            sel = raw["selector"]
            if not isinstance(sel, dict) or not sel:
                problems.append(FieldProblem(f"{at}.selector", "must name province, level and/or tier"))
            else:
                _unknown(sel, _SELECTOR, f"{at}.selector.", problems)
                selector = Selector(**{k: str(v) for k, v in sel.items() if k in _SELECTOR})
        if tenants and selector:
            problems.append(FieldProblem(at, "give tenants or a selector, not both"))
        parallel = _number(raw.get("maxParallel", 4), f"{at}.maxParallel", problems, 1, integer=True)
        budget = str(raw.get("failureBudget", 0))
        if not (budget.isdigit() or _BUDGET.match(budget)):
            problems.append(FieldProblem(f"{at}.failureBudget", f"{budget!r} is neither a count nor a percentage",
                                         hint="e.g. 0, 2 or 5%"))
            budget = "0"
        soak = _number(raw.get("soakSeconds", 0), f"{at}.soakSeconds", problems, 0)
        waves.append(Wave(name, tuple(tenants), selector, int(parallel or 1), budget, float(soak or 0)))
    holds: list[Hold] = []
    for i, raw in enumerate(data.get("holds") or []):
        if not isinstance(raw, dict) or not isinstance(raw.get("tenant"), str):
            problems.append(FieldProblem(f"holds[{i}]", "must be a mapping with tenant (and reason)",
                                         hint="e.g. - {tenant: kota-bandung, reason: audit in progress}"))
            continue
        _unknown(raw, {"tenant", "reason"}, f"holds[{i}].", problems)
        holds.append(Hold(raw["tenant"], str(raw.get("reason") or "held in fleet.yaml")))
    gates: list[GateCommand] = []
    for i, raw in enumerate(data.get("gates") or []):
        at = f"gates[{i}]"
        command = raw.get("command") if isinstance(raw, dict) else None
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            problems.append(FieldProblem(f"{at}.command", "must be a command as a list of strings",
                                         hint='e.g. command: ["./smoke-test.sh"] ($SPBE_TENANT names the tenant)'))
            continue
        _unknown(raw, {"name", "command", "timeoutSeconds"}, f"{at}.", problems)
        timeout = _number(raw.get("timeoutSeconds", 300), f"{at}.timeoutSeconds", problems, 1)
        gates.append(GateCommand(str(raw.get("name") or command[0]), tuple(command), float(timeout or 300)))
    ready = _number(data.get("readyTimeoutSeconds", 600), "readyTimeoutSeconds", problems, 10)
    return FleetConfig(tuple(waves) or (Wave("all"),), tuple(holds), tuple(gates), float(ready or 600))
