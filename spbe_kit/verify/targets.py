"""What the verification suite checks, and where: one target per component.

A target is a testinfra host (``local://`` or ``kubectl://POD?namespace=NS&container=C``) plus the
facts to check there. In production the facts come from the desired state (ports, data paths) and
the roles' defaults (the files they write); for other layouts, such as the local services in CI, a
targets file says where things are.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spbe_kit.errors import SpbeError


# Facts have no production defaults here: `production_targets` derives them from the desired state
# and the roles' defaults, so each path and port is written down once.

@dataclass(frozen=True)
class DatabaseFacts:
    port: int
    hba_file: str
    hba_owner: str
    server_key: str
    listen_address: str = "0.0.0.0"
    backup_dir: str = ""  # where the backup job leaves its dumps (checked on the host) ...
    backup_last_success: str = ""  # ... or when the backup CronJob last succeeded (ISO time, read from the cluster)
    backup_max_age_hours: int = 26


@dataclass(frozen=True)
class IdentityFacts:
    realm: str
    http_port: int
    management_port: int
    listen_address: str = "0.0.0.0"


@dataclass(frozen=True)
class MailFacts:
    smtp_port: int
    submission_port: int
    imaps_port: int
    postfix_config_dir: str
    dovecot_config_dir: str
    dkim_key_file: str
    tls_key_file: str
    users_file: str
    listen_address: str = "0.0.0.0"


@dataclass(frozen=True)
class MonitoringFacts:
    tenant: str
    port: int
    config_file: str
    rules_file: str
    listen_address: str = "0.0.0.0"


@dataclass(frozen=True)
class EofficeFacts:
    python: str  # Mayan's interpreter in the container (reads Mayan's effective settings)
    oidc_backend: str
    oidc_issuer: str
    smtp_host: str
    smtp_port: int
    baseline: str  # JSON: the correspondence baseline the spbe_eoffice role gives (see `eoffice_baseline`)
    smtp_user: str = ""  # the submission login e-office must use; empty: none expected


def eoffice_baseline(model: dict) -> str:
    """What the spbe_eoffice role gives every e-office (its vars), in the shape the e-office checks compare with."""
    return json.dumps({
        "document_types": {d["label"]: {m["name"]: bool(m.get("required", False)) for m in d.get("metadata", [])}
                           for d in model["spbe_eoffice_baseline_document_types"]},
        "workflows": {w["internal_name"]: {
            "states": sorted(s["label"] for s in w["states"]),
            "initial": [s["label"] for s in w["states"] if s.get("initial")],
            "transitions": sorted(f"{t['origin']} -> {t['destination']}" for t in w["transitions"]),
            "document_types": sorted(w["document_types"])} for w in model["spbe_eoffice_baseline_workflows"]},
    }, sort_keys=True)


FACTS: dict[str, type] = {
    "database": DatabaseFacts, "identity": IdentityFacts, "mail": MailFacts,
    "monitoring": MonitoringFacts, "eoffice": EofficeFacts,
}


@dataclass(frozen=True)
class Target:
    component: str
    host: str  # a testinfra host spec
    facts: Any

    def to_dict(self) -> dict:
        return {"host": self.host, "facts": dataclasses.asdict(self.facts)}


@dataclass(frozen=True)
class Targets:
    tenant: str
    targets: dict[str, Target] = field(default_factory=dict)
    #: components deliberately without checks, and why (reported as unverified, never as passing)
    unchecked: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"tenant": self.tenant, "targets": {c: t.to_dict() for c, t in self.targets.items()}}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2))


def _facts(component: str, data: Any, where: str):
    if component not in FACTS:
        raise SpbeError(f"{where}: unknown component {component!r}", hint=f"one of {', '.join(FACTS)}")
    cls = FACTS[component]
    if not isinstance(data, dict):
        raise SpbeError(f"{where}.facts must be a mapping")
    known = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SpbeError(f"{where}.facts: unknown field(s) {', '.join(unknown)}", hint=f"known: {', '.join(known)}")
    missing = sorted(f.name for f in dataclasses.fields(cls)
                     if f.default is dataclasses.MISSING and f.name not in data)
    if missing:
        raise SpbeError(f"{where}.facts: missing {', '.join(missing)}")
    for name, value in data.items():
        expected = int if known[name] in (int, "int") else str
        if not isinstance(value, expected) or isinstance(value, bool):
            raise SpbeError(f"{where}.facts.{name}: expected {expected.__name__}, got {type(value).__name__}")
    return cls(**data)


def load_targets(path: Path) -> Targets:
    """A targets file (YAML or JSON): ``{tenant, targets: {component: {host, facts}}}``."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpbeError(f"cannot read the targets file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict) or not isinstance(data.get("tenant"), str):
        raise SpbeError(f"{path}: expected a mapping with `tenant` and `targets`",
                        hint="targets: {database: {host: 'local://', facts: {port: 5432}}}")
    targets = {}
    for component, entry in data["targets"].items():
        where = f"targets.{component}"
        if not isinstance(entry, dict) or not isinstance(entry.get("host"), str):
            raise SpbeError(f"{where}: needs `host` (e.g. local:// or kubectl://POD?namespace=NS)")
        targets[component] = Target(component, entry["host"], _facts(component, entry.get("facts", {}), where))
    return Targets(data["tenant"], targets)


def _container(state, component: str, name: str | None = None) -> dict:
    for manifest in state.manifests:
        if manifest.component == component and manifest.kind in ("Deployment", "StatefulSet"):
            for container in manifest.body["spec"]["template"]["spec"]["containers"]:
                if name is None or container["name"] == name:
                    return container
    raise KeyError(f"{component}/{name}")


def _ports(container: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _rules_file(state, prometheus: dict) -> str:
    """The tenant's alert rules as the Prometheus container sees them: the rules ConfigMap's file at its mount.

    In a tenant the rules are the desired state's (a read-only ConfigMap volume); the spbe_monitoring role
    writes them only where Prometheus runs outside Kubernetes (its images have no Python and a read-only root)."""
    from spbe_kit.desired.monitoring import RULES_CONFIG_MAP, RULES_FILE

    mount = next(m["mountPath"] for m in prometheus["volumeMounts"]
                 if any(v["name"] == m["name"] and v.get("configMap", {}).get("name") == RULES_CONFIG_MAP
                        for v in _pod(state, "monitoring", "prometheus").get("volumes", [])))
    return f"{mount}/{RULES_FILE}"


def _pod(state, component: str, name: str) -> dict:
    for manifest in state.manifests:
        if manifest.component == component and manifest.kind in ("Deployment", "StatefulSet"):
            pod = manifest.body["spec"]["template"]["spec"]
            if any(c["name"] == name for c in pod["containers"]):
                return pod
    raise KeyError(f"{component}/{name}")


def production_targets(state, hosts: dict[str, str], last_backup: str | None = None) -> Targets:
    """Targets for a provisioned tenant: facts from the desired state and the roles' defaults.

    `hosts` maps each component to its testinfra host (a kubectl:// spec of one of its pods);
    components without a host are not verified (and the report says so)."""
    from spbe_kit.roles import role_defaults, role_vars

    components = {m.component for m in state.manifests}
    targets: dict[str, Target] = {}

    def add(component: str, facts) -> None:
        if component in hosts:
            targets[component] = Target(component, hosts[component], facts)

    if "database" in components:
        pg = _container(state, "database")
        pgdata = _env(pg)["PGDATA"]
        hba = next((a.split("=", 1)[1] for a in pg.get("args", []) if a.startswith("hba_file=")), None)
        add("database", DatabaseFacts(port=_ports(pg)["postgres"], hba_file=hba or f"{pgdata}/pg_hba.conf",
                                      # the desired state's pg_hba is a ConfigMap file, which belongs to root
                                      hba_owner="root" if hba else role_defaults("spbe_database")["spbe_database_hba_owner"],
                                      server_key=f"{pgdata}/server.key", backup_last_success=last_backup or ""))
    if "identity" in components:
        ports = _ports(_container(state, "identity"))
        add("identity", IdentityFacts(realm=state.tenant_id, http_port=ports["http"], management_port=ports["management"]))
    if "mail" in components:
        from spbe_kit.desired.mail import IMAGE_FILES

        # the baseline image generates its configuration at start (no role runs in the pod)
        ports = _ports(_container(state, "mail"))
        add("mail", MailFacts(smtp_port=ports["smtp"], submission_port=ports["submission"], imaps_port=ports["imaps"],
                              **IMAGE_FILES))
    if "monitoring" in components:
        prometheus = _container(state, "monitoring", "prometheus")
        config = next(a.split("=", 1)[1] for a in prometheus.get("args", []) if a.startswith("--config.file="))
        add("monitoring", MonitoringFacts(tenant=state.tenant_id, port=_ports(prometheus)["http"], config_file=config,
                                          rules_file=_rules_file(state, prometheus)))
    if "eoffice" in components:
        from spbe_kit.desired.eoffice import OIDC_BACKEND
        from spbe_kit.images.recipes import MAYAN_VENV

        env, sso = _env(_container(state, "eoffice")), _env(_container(state, "identity"))["KC_HOSTNAME"]
        add("eoffice", EofficeFacts(python=f"{MAYAN_VENV}/bin/python", oidc_backend=OIDC_BACKEND,
                                    oidc_issuer=f"{sso}/realms/{state.tenant_id}",
                                    smtp_host=env["MAYAN_EMAIL_HOST"], smtp_port=int(env["MAYAN_EMAIL_PORT"]),
                                    smtp_user=env.get("MAYAN_EMAIL_HOST_USER", ""),
                                    baseline=eoffice_baseline(role_vars("spbe_eoffice"))))
    return Targets(state.tenant_id, targets)
