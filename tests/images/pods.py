"""Start a built image under runc the way the tenant's pod spec (from the desired state) runs it.

The pod's command/args, env, and volume mounts are taken from the desired state, so an image
that does not honour the pod spec fails here: ConfigMap volumes become read-only files from the
desired state's ConfigMaps, Secret volumes and secretKeyRef env values get fresh random values
(a generated certificate: a real one for its names),
emptyDir and claims become tmpfs (or a host directory). Service names resolve to 127.0.0.1.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spbe_kit.catalog import load_catalog
from spbe_kit.desired import desired_state
from spbe_kit.desired.model import DesiredState
from spbe_kit.devenv import runc
from spbe_kit.images.build import BuiltImage
from spbe_kit.request import parse_request
from spbe_kit.stacks.credentials import new_certificate
from spbe_kit.scaffold import new_request

SERVICES = ("database", "identity", "mail", "eoffice", "prometheus", "grafana", "dashboards")


def tenant_state(region: str = "35.10") -> DesiredState:
    catalog = load_catalog()
    return desired_state(parse_request(new_request(region, catalog)), catalog)


@dataclass
class PodRun:
    """The values the pod got (secrets) and the container started from them."""

    container: runc.Container
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)


def _workload(state: DesiredState, name: str) -> dict[str, Any]:
    for kind in ("Deployment", "StatefulSet"):
        for m in state.of_kind(kind):
            if m.body["metadata"]["name"] == name:
                return m.body["spec"]["template"]["spec"]
    for m in state.of_kind("CronJob"):  # a job's pod, as its CronJob would make it
        if m.body["metadata"]["name"] == name:
            return m.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    raise KeyError(name)


def start_like_pod(state: DesiredState, workload: str, image: BuiltImage, workdir: Path,
                   secret_values: dict[str, dict[str, str]] | None = None,
                   host_dirs: dict[str, Path] | None = None, env_override: dict[str, str] | None = None,
                   extra_mounts: list[runc.Mount] | None = None, container: str | None = None) -> PodRun:
    """Run ``image`` as the desired state's ``workload`` pod would run its first container (or the
    one named ``container``; the pod's containers share the host's network here, as in a pod)."""
    pod = _workload(state, workload)
    spec = next(c for c in pod["containers"] if c["name"] == container) if container else pod["containers"][0]
    values = {k: dict(v) for k, v in (secret_values or {}).items()}

    def secret(name: str, key: str) -> str:
        names = _certificate_names(state, name)
        if names and key not in values.get(name, {}):  # a certificate the stack generates: a real one
            values.setdefault(name, {}).update(new_certificate(names))
        return values.setdefault(name, {}).setdefault(key, secrets.token_urlsafe(18))

    env: dict[str, str] = {}
    for item in spec.get("env", []):
        if "value" in item:
            # Kubernetes substitutes $(VAR) of variables defined before this one
            env[item["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                       lambda m: env.get(m.group(1), m.group(0)), item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret(ref["name"], ref["key"])
    env.update(env_override or {})
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts: list[runc.Mount] = []
    files_root = workdir / f"{workload}-files"
    def files_of(volume: dict) -> dict[str, str] | None:
        """What kubelet would put in a ConfigMap, Secret or projected volume (honouring `items`); None otherwise."""
        sources = volume["projected"]["sources"] if "projected" in volume else [volume]
        if not all("configMap" in src or "secret" in src for src in sources):
            return None
        files: dict[str, str] = {}
        for src in sources:
            if "configMap" in src:
                ref = src["configMap"]
                data = state.get("ConfigMap", ref["name"]).body.get("data", {})
                value = data.__getitem__
            else:
                ref = src["secret"]
                name = ref.get("secretName") or ref["name"]
                data = dict.fromkeys(set(values.get(name, {})) | _generated_keys(state, name))
                value = lambda key, name=name: secret(name, key)  # noqa: E731
            for item in ref.get("items") or [{"key": k, "path": k} for k in sorted(data)]:
                files[item["path"]] = value(item["key"])
        return files

    for mount in spec.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        files = files_of(volume)
        if files is not None:
            folder = files_root / mount["name"]
            folder.mkdir(parents=True, exist_ok=True)
            for path, text in files.items():
                (folder / path).write_text(text)
                (folder / path).chmod(0o444)
            folder.chmod(0o755)
            source = folder / mount["subPath"] if mount.get("subPath") else folder
            mounts.append(runc.Mount(mount["mountPath"], source, read_only=True))
        elif host_dirs and mount["name"] in host_dirs:
            mounts.append(runc.Mount(mount["mountPath"], host_dirs[mount["name"]]))
        else:  # emptyDir or a claim: a fresh writable tmpfs owned by the pod's user
            mounts.append(runc.Mount(mount["mountPath"]))
    hosts = workdir / "hosts"
    hosts.write_text("127.0.0.1 localhost " + " ".join(SERVICES) + "\n::1 localhost\n")
    hosts.chmod(0o644)
    mounts.append(runc.Mount("/etc/hosts", hosts, read_only=True))
    mounts += extra_mounts or []
    args = [*(spec.get("command") or []), *(spec.get("args") or [])] if (spec.get("command") or spec.get("args")) else None
    container = runc.start(Path(image.archive), image.tag, mounts=mounts, env=env, workdir=workdir,
                           args=args, replace_entrypoint=bool(spec.get("command")))
    return PodRun(container, values)


def _certificate_names(state: DesiredState, secret_name: str) -> tuple[str, ...]:
    try:
        return state.get("Secret", secret_name).certificate_names
    except KeyError:
        return ()


def _generated_keys(state: DesiredState, secret_name: str) -> set[str]:
    from spbe_kit.desired.model import GENERATED_KEYS_ANNOTATION

    try:
        body = state.get("Secret", secret_name).body
    except KeyError:
        return set()
    keys = body["metadata"].get("annotations", {}).get(GENERATED_KEYS_ANNOTATION, "")
    return {k for k in keys.split(",") if k} | set(body.get("stringData", {})) | set(body.get("data", {}))
