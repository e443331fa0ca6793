"""One drift run end to end: find the requests, read the cluster once, check, report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.drift import live
from spbe_kit.drift.check import DriftReport, key_id, run_check
from spbe_kit.drift.model import TenantResult
from spbe_kit.errors import DriftError, RequestInvalid, RequestUnreadable
from spbe_kit.paths import private_secret_file, state_dir
from spbe_kit.kubeclient import api_client
from spbe_kit.request import load_request
from spbe_kit.request.spec import TenantSpec


@dataclass(frozen=True)
class DriftOptions:
    """What to check, against which cluster, with which key."""

    targets: tuple[str, ...]  # tenant ids or request files
    all_tenants: bool
    requests_dir: Path | None
    kubeconfig: Path
    context: str | None = None
    hash_key_file: Path | None = None
    previous_report: Path | None = None
    registry: str | None = None
    impersonate: tuple[str, str | None] | None = None  # (user, group): see what that identity sees


def hash_key(path: Path | None) -> bytes:
    """The auditor's key for secret hashes: the given file, or one generated once (0600)."""
    if path is not None:
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise DriftError(f"cannot read the hash key {path}: {exc.strerror}") from None
        if len(key) < 16:
            raise DriftError(f"the hash key in {path} is shorter than 16 bytes", hint="use 32 random bytes")
        return key
    try:
        return private_secret_file(state_dir() / "drift-hash-key")
    except ValueError as exc:
        raise DriftError(str(exc)) from None


def _request_files(folder: Path | None) -> list[Path]:
    if folder is None:
        raise DriftError("no folder of tenant requests given",
                         hint="pass --requests DIR or set SPBE_REQUESTS_DIR, or name request files instead of tenant ids")
    if not folder.is_dir():
        raise DriftError(
            f"no folder of tenant requests at {folder}",
            hint="pass --requests DIR (the folder holding every tenant's request, e.g. the platform's git checkout)",
        )
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


def load_targets(options: DriftOptions) -> tuple[list[TenantSpec], list[TenantResult]]:
    """The requests to check; unreadable ones become error results (the rest still get checked)."""
    specs: list[TenantSpec] = []
    errors: list[TenantResult] = []
    by_id: dict[str, Path] = {}
    invalid: list[str] = []
    files: list[Path] = []
    if options.all_tenants:
        files = _request_files(options.requests_dir)
    for target in options.targets:
        path = Path(target)
        if path.is_file():
            files.append(path)
            continue
        if not by_id:
            for candidate in _request_files(options.requests_dir):
                try:
                    by_id[load_request(candidate).tenant_id] = candidate
                except (RequestInvalid, RequestUnreadable):
                    invalid.append(candidate.name)
        if target not in by_id:
            hint = "give the request file itself, or the folder with --requests"
            if invalid:
                hint = f"{len(invalid)} request file(s) there are invalid ({', '.join(invalid[:5])}): " \
                       "check them with `spbe request validate`"
            raise DriftError(f"no valid request for tenant {target!r} in {options.requests_dir}", hint=hint)
        files.append(by_id[target])
    seen: set[str] = set()
    for path in files:
        try:
            spec = load_request(path)
        except RequestInvalid as exc:
            errors.append(TenantResult(path.stem, None, error=f"request {path} is invalid: "
                                       + "; ".join(f"{p.path}: {p.message}" for p in exc.problems)))
            continue
        except RequestUnreadable as exc:
            errors.append(TenantResult(path.stem, None, error=exc.message))
            continue
        if spec.tenant_id not in seen:
            seen.add(spec.tenant_id)
            specs.append(spec)
    if not specs and not errors:
        raise DriftError("nothing to check", hint="name tenants or request files, or use --all with --requests DIR")
    return specs, errors


def previous_hashes(path: Path | None, key: bytes) -> dict[str, dict[str, dict[str, str]]] | None:
    """Secret hashes per tenant from an earlier report made with the same key."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DriftError(f"cannot read the previous report {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "DriftReport":
        raise DriftError(f"{path} is not a drift report (JSON from `spbe drift --output json` or --evidence)")
    if data.get("secretHashKey") != key_id(key):
        raise DriftError(f"{path} was made with another hash key ({data.get('secretHashKey')})",
                         hint="compare reports made with the same --hash-key-file")
    return {t["tenant"]: t.get("secretHashes") or {} for t in data.get("tenants", [])}


def drift(options: DriftOptions, progress: Callable[[str], None] | None = None,
          tenant_progress: Callable[[int, int], None] | None = None) -> DriftReport:
    """Check the requested tenants (or all) against the live cluster; read-only."""
    started = time.monotonic()
    specs, errors = load_targets(options)
    key = hash_key(options.hash_key_file)
    previous = previous_hashes(options.previous_report, key)
    api = api_client(options.kubeconfig, options.context)
    if options.impersonate:
        user, group = options.impersonate
        api.set_default_header("Impersonate-User", user)
        if group:
            api.set_default_header("Impersonate-Group", group)
    namespaces = None if options.all_tenants else [s.tenant_id for s in specs]
    snapshot = live.read(api, namespaces, progress)
    report = run_check(specs, snapshot, key, api.configuration.host, previous, options.all_tenants,
                       options.registry, tenant_progress, started)
    report.tenants = errors + report.tenants
    report.seconds = time.monotonic() - started
    return report
