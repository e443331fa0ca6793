"""`spbe fleet plan`: per tenant, where it is, where it would go, what would change, in which wave.

Fast by construction: one snapshot of every tenant namespace (a few list calls for the whole
fleet, as `spbe drift` reads it), then each tenant's desired state on the target catalog compared
with what is live -- no engine run. ``precise`` runs the engine's own previews instead, in parallel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spbe_kit.catalog.load import available_versions, catalog_for, load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.desired.context import LABEL_CATALOG, LABEL_TENANT
from spbe_kit.drift.check import check_tenant
from spbe_kit.drift.live import Snapshot
from spbe_kit.drift.model import FindingKind
from spbe_kit.errors import CatalogError, FieldProblem, RequestInvalid, SpbeError
from spbe_kit.fleet.config import FILE_NAME, FleetConfig, FleetInvalid, Selector, Wave
from spbe_kit.regions import normalise_name
from spbe_kit.request import load_request
from spbe_kit.request.spec import TenantSpec
from spbe_kit.suspension import suspension_of

Progress = Callable[[str], None]

#: fields whose change makes the engine replace the object (the API server refuses to update them)
IMMUTABLE = {
    "StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "Deployment": ("spec.selector",),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeMode"),
    "Service": ("spec.clusterIP", "spec.ipFamilies"),
    "Job": ("spec.template", "spec.selector"),
}


class FleetRequestsInvalid(SpbeError):
    """Some requests of the fleet folder are invalid: nothing is planned or rolled until they are fixed."""

    exit_code = 1

    def __init__(self, errors: list[RequestInvalid]) -> None:
        self.errors = errors
        lines = []
        for err in errors:
            lines.append(f"  {err.source}:")
            lines += [f"    {p.path}: {p.message}" + (f" (hint: {p.hint})" if p.hint else "") for p in err.problems]
        super().__init__(f"{len(errors)} request(s) of the fleet are invalid; nothing was planned\n" + "\n".join(lines),
                         hint="fix them (spbe request validate FILE shows each problem with its line)")


@dataclass
class Changes:
    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0

    @property
    def any(self) -> bool:
        return bool(self.create or self.update or self.replace or self.delete)

    def __str__(self) -> str:
        parts = [f"{n} {k}" for k, n in asdict(self).items() if n]
        return ", ".join(parts) or "nothing"


@dataclass
class TenantPlan:
    tenant: str
    pemda: str
    province: str
    level: str
    tier: str
    source: str  # the request file
    current: str | None  # catalog version on the tenant's namespace; None: not provisioned
    target: str
    pinned: str | None = None
    held: str | None = None  # the hold's reason
    wave: str | None = None
    action: str = ""  # create | upgrade | downgrade | converge | unchanged | hold | suspended | no-wave
    suspended: str | None = None  # since when the platform has the tenant suspended
    changes: Changes = field(default_factory=Changes)
    preview_error: str | None = None  # --precise: the engine's preview of this tenant failed (changes stay rendered)

    @property
    def rolls(self) -> bool:
        """Whether a rollout runs `up` for this tenant."""
        return self.action in ("create", "upgrade", "downgrade", "converge")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["changes"] = asdict(self.changes)
        data["rolls"] = self.rolls
        return data


@dataclass
class FleetPlan:
    folder: str
    target: str
    config: FleetConfig
    tenants: list[TenantPlan]
    seconds: float = 0.0
    precise: bool = False

    def waves(self) -> list[tuple[Wave, list[TenantPlan]]]:
        return [(w, [t for t in self.tenants if t.wave == w.name]) for w in self.config.waves]

    def to_dict(self) -> dict:
        return {
            "folder": self.folder, "target": self.target, "precise": self.precise, "seconds": round(self.seconds, 2),
            "fleetFile": self.config.source,
            "waves": [{**w.to_dict(), "tenants": [t.tenant for t in members],
                       "allowedFailures": w.allowed_failures(sum(t.rolls for t in members))}
                      for w, members in self.waves()],
            "tenants": [t.to_dict() for t in self.tenants],
            "summary": summary(self.tenants),
        }


def summary(tenants: list[TenantPlan]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tenants:
        out[t.action] = out.get(t.action, 0) + 1
    return dict(sorted(out.items()))


def request_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SpbeError(f"{folder} is not a folder of tenant requests", hint="spbe fleet plan DIR: a folder of *.yaml requests")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.name != FILE_NAME)
    if not files:
        raise SpbeError(f"{folder} holds no tenant request (*.yaml)", hint="spbe request new --region CODE --out-file DIR/NAME.yaml")
    return files


def load_fleet(folder: Path) -> list[tuple[Path, TenantSpec]]:
    """Every request of the folder, all valid, one per tenant id; else every problem at once."""
    loaded, errors = [], []
    for path in request_files(folder):
        try:
            loaded.append((path, load_request(path)))
        except RequestInvalid as exc:
            errors.append(exc)
    if errors:
        raise FleetRequestsInvalid(errors)
    seen: dict[str, Path] = {}
    dupes = []
    for path, spec in loaded:
        if spec.tenant_id in seen:
            dupes.append(RequestInvalid(str(path), [FieldProblem(
                "metadata.name", f"tenant {spec.tenant_id} is already requested by {seen[spec.tenant_id].name}",
                "one request per tenant in a fleet folder")]))
        seen.setdefault(spec.tenant_id, path)
    if dupes:
        raise FleetRequestsInvalid(dupes)
    return loaded


def _matches(selector: Selector, spec: TenantSpec) -> bool:
    if selector.province and normalise_name(selector.province) != normalise_name(spec.pemda.province):
        return False
    if selector.level and selector.level.lower() != spec.pemda.level.value:
        return False
    return not (selector.tier and selector.tier.lower() != spec.tier.value)


def assign_waves(config: FleetConfig, specs: list[TenantSpec]) -> dict[str, str]:
    """tenant -> wave name, in wave order: by name, by selector, then (a wave with neither) the rest."""
    known = {s.tenant_id for s in specs}
    problems = [FieldProblem(f"waves[{i}].tenants", f"no request in the fleet folder for tenant {name!r}",
                             "a tenant id as in the request's metadata.name")
                for i, w in enumerate(config.waves) for name in w.tenants if name not in known]
    problems += [FieldProblem(f"holds[{i}].tenant", f"no request in the fleet folder for tenant {h.tenant!r}")
                 for i, h in enumerate(config.holds) if h.tenant not in known]
    if problems:
        raise FleetInvalid(config.source, problems)
    out: dict[str, str] = {}
    for wave in config.waves:
        for spec in sorted(specs, key=lambda s: s.tenant_id):
            if spec.tenant_id in out:
                continue
            if wave.tenants:
                taken = spec.tenant_id in wave.tenants
            elif wave.selector:
                taken = _matches(wave.selector, spec)
            else:
                taken = True
            if taken:
                out[spec.tenant_id] = wave.name
    return out


def _action(current: str | None, target: str, changes: Changes) -> str:
    if current is None:
        return "create"
    if current == target:
        return "converge" if changes.any else "unchanged"
    return "upgrade" if available_versions().index(target) > available_versions().index(current) else "downgrade"


def _changes_from_live(spec: TenantSpec, snapshot: Snapshot, target: str) -> Changes:
    catalog = catalog_for(spec, target)
    result = check_tenant(spec, snapshot, b"fleet-plan", None, catalog=catalog)
    if result.not_provisioned:
        return Changes(create=len(desired_state(spec, catalog).manifests))
    changes = Changes()
    changed: dict[tuple[str, str], list[str]] = {}
    for f in result.findings:
        if f.kind is FindingKind.MISSING:
            changes.create += 1
        elif f.kind is FindingKind.CHANGED:
            changed.setdefault((f.object.kind, f.object.name), []).append(f.path)
        elif f.kind is FindingKind.STRAY:
            live = snapshot.get(f.object.kind, spec.tenant_id, f.object.name) or {}
            if LABEL_TENANT in (live.get("metadata", {}).get("labels") or {}):  # made by the kit: the engine deletes it
                changes.delete += 1
    for (kind, _), paths in changed.items():
        if any(p == field_ or p.startswith(field_ + ".") or p.startswith(field_ + "[") for p in paths for field_ in IMMUTABLE.get(kind, ())):
            changes.replace += 1
        else:
            changes.update += 1
    return changes


def plan(folder: Path, target: str, snapshot: Snapshot, config: FleetConfig, progress: Progress | None = None,
         loaded: list[tuple[Path, TenantSpec]] | None = None) -> FleetPlan:
    """The rollout of ``folder`` onto catalog ``target``, by rendering and comparing with the snapshot (pure);
    ``loaded``: the folder's requests when the caller has validated them already."""
    started = time.monotonic()
    load_catalog(target)  # an unknown target is refused before anything else
    loaded = loaded if loaded is not None else load_fleet(folder)
    waves = assign_waves(config, [s for _, s in loaded])
    tenants: list[TenantPlan] = []
    for index, (path, spec) in enumerate(loaded, 1):
        ns = snapshot.namespaces.get(spec.tenant_id)
        current = ((ns or {}).get("metadata", {}).get("labels") or {}).get(LABEL_CATALOG)
        goal = spec.catalog_version or target
        entry = TenantPlan(spec.tenant_id, spec.pemda.name, spec.pemda.province, spec.pemda.level.value, spec.tier.value,
                           path.name, current, goal, pinned=spec.catalog_version, held=config.hold_reason(spec.tenant_id),
                           wave=waves.get(spec.tenant_id))
        try:
            entry.changes = _changes_from_live(spec, snapshot, goal)
        except CatalogError as exc:
            raise SpbeError(f"{path.name}: {exc.message}", exc.hint) from None
        entry.action = _action(current, goal, entry.changes)
        suspended = suspension_of(ns)
        if suspended and entry.rolls:  # `up` would start what the platform stopped; it is refused there too
            entry.action, entry.suspended = "suspended", suspended.at
        elif entry.held and entry.rolls:
            entry.action = "hold"
        elif entry.wave is None and entry.rolls:
            entry.action = "no-wave"
        tenants.append(entry)
        if progress and index % 50 == 0:
            progress(f"planned {index}/{len(loaded)} tenants")
    return FleetPlan(str(folder), target, config, tenants, time.monotonic() - started)


def precise(fleet_plan: FleetPlan, folder: Path, settings, workers: int = 4, progress: Progress | None = None) -> FleetPlan:
    """The same plan with each rolling tenant's changes from a real engine preview (in parallel)."""
    from spbe_kit.provision import runner

    from spbe_kit.stacks.kinds import preload

    specs = {s.tenant_id: s for _, s in load_fleet(folder)}
    rolling = [t for t in fleet_plan.tenants if t.rolls and t.current is not None]
    preload()  # previews run in parallel threads of this process (see preload)

    def one(entry: TenantPlan) -> None:
        try:
            result = runner.preview(specs[entry.tenant], catalog_for(specs[entry.tenant], entry.target), settings)
        except SpbeError as exc:  # one tenant's failure is shown with it; the others are still previewed
            entry.preview_error = exc.message
            if progress:
                progress(f"preview of {entry.tenant} failed: {exc.message.splitlines()[0][:300]}")
            return
        c = result.changes
        entry.changes = Changes(c.get("create", 0), c.get("update", 0), c.get("replace", 0), c.get("delete", 0))
        if progress:
            progress(f"previewed {entry.tenant}: {entry.changes}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, rolling))
    fleet_plan.precise = True
    return fleet_plan
