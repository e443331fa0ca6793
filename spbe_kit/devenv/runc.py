"""Run a built image without Kubernetes: unpack its OCI archive (umoci) and start it under runc.

As the tenant's pod would run it: the image's own user (uid 10001), a read-only root, no
capabilities, no privilege escalation, and only the writable paths the pod mounts (here
tmpfs or a host directory). The container shares the host's network namespace so a test can
reach its ports on 127.0.0.1. Dev and test tooling: the product never imports it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Mount:
    """A path inside the container: a host directory/file (bind) or, with no source, a tmpfs."""

    target: str
    source: Path | None = None
    read_only: bool = False


@dataclass
class Container:
    """A running runc container of one image."""

    id: str
    bundle: Path
    log: Path
    process: subprocess.Popen = field(repr=False)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def exec(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["runc", "exec", self.id, *args], capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        subprocess.run(["runc", "kill", self.id, "KILL"], capture_output=True)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        subprocess.run(["runc", "delete", "--force", self.id], capture_output=True)
        shutil.rmtree(self.bundle, ignore_errors=True)


def unpack(archive: Path, tag: str, bundle: Path) -> tuple[dict, int]:
    """Unpack an OCI archive into a runc bundle with umoci.

    Returns the generated runtime config and how many leading args are the image's entrypoint.
    """
    with tempfile.TemporaryDirectory(prefix="spbe-oci-") as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="tar")
        blobs = Path(tmp) / "blobs" / "sha256"
        index = json.loads((Path(tmp) / "index.json").read_text())
        manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
        image = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
        proc = subprocess.run(["umoci", "unpack", "--image", f"{tmp}:{tag}", str(bundle)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"umoci unpack failed: {proc.stderr.strip()}")
    return json.loads((bundle / "config.json").read_text()), len(image["config"].get("Entrypoint") or [])


def start(archive: Path, tag: str, *, mounts: list[Mount], args: list[str] | None = None,
          env: dict[str, str] | None = None, workdir: Path, replace_entrypoint: bool = False) -> Container:
    """Start the image under runc, hardened like the tenant's pods."""
    cid = f"spbe-{uuid.uuid4().hex[:12]}"
    bundle = workdir / cid
    config, entrypoint_len = unpack(archive, tag, bundle)
    process = config["process"]
    process["terminal"] = False
    process["noNewPrivileges"] = True
    process["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
    if args is not None:  # Kubernetes: `command` replaces the entrypoint, `args` only the image's CMD
        process["args"] = list(args) if replace_entrypoint else [*process["args"][:entrypoint_len], *args]
    if env:
        current = dict(e.split("=", 1) for e in process.get("env", []))
        process["env"] = [f"{k}={v}" for k, v in {**current, **env}.items()]
    config["root"]["readonly"] = True
    uid = process["user"]["uid"]
    for m in mounts:
        if m.source is None:
            config["mounts"].append({"destination": m.target, "type": "tmpfs", "source": "tmpfs",
                                     "options": ["nosuid", "nodev", "mode=1777" if m.target == "/tmp" else "mode=0770",
                                                 f"uid={uid}", f"gid={uid}", "size=512m"]})
        else:
            config["mounts"].append({"destination": m.target, "type": "bind", "source": str(m.source),
                                     "options": ["rbind", "ro" if m.read_only else "rw"]})
    linux = config.setdefault("linux", {})
    linux["namespaces"] = [ns for ns in linux.get("namespaces", []) if ns["type"] != "network"]
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    log = workdir / f"{cid}.log"
    fh = log.open("w")
    proc = subprocess.Popen(["runc", "run", "--bundle", str(bundle), cid], stdin=subprocess.DEVNULL,
                            stdout=fh, stderr=subprocess.STDOUT)
    return Container(cid, bundle, log, proc)


def wait_until(check, timeout: float, container: Container, what: str, interval: float = 0.5):
    """Poll ``check()`` until it returns a truthy value; fail with the container's output otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not container.running():
            raise AssertionError(f"{what}: the container exited ({container.process.returncode}):\n"
                                 f"{container.output()[-3000:]}")
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep polling; reported at the deadline
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last error: {last}):\n{container.output()[-3000:]}")
