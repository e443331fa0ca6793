"""Building Go programs from the Go module proxy: the environment, the compile step, log helpers.

Shared by the local cluster's binaries (spbe_kit.devenv.cluster.binaries) and the Pulumi engine
(spbe_kit.engine). Always GOTOOLCHAIN=local: a build never downloads another Go toolchain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from spbe_kit.errors import ToolBuildError

Progress = Callable[[str], None]


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = "local"  # never download another toolchain
    env["CGO_ENABLED"] = "0"  # static binaries, no C compiler needed
    env.setdefault("GOFLAGS", "")
    return env


def go_executable() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolBuildError(
            "the Go toolchain (`go`) is not on PATH, so the cluster binaries cannot be built",
            hint="install Go >= 1.24, or point KUBEBUILDER_ASSETS at prebuilt etcd/kube-apiserver/...",
        )
    return go


def tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def fmt_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def compile_binary(package: str, ldflags: tuple[str, ...] | list[str], workdir: Path, target: Path, log: Path,
                   what: str, progress: Progress, tags: tuple[str, ...] = ()) -> None:
    """`go build` `package` (in `workdir`'s module) into `target` atomically, logging, with progress every 30 s."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    args = ["build", "-mod=mod", "-trimpath", "-ldflags", " ".join(("-s", "-w", *ldflags)), "-o", str(tmp)]
    if tags:
        args += ["-tags", ",".join(tags)]
    args.append(package)
    start = time.monotonic()
    with log.open("a") as fh:
        fh.write(f"\n$ go {' '.join(args)}   (in {workdir})\n")
        fh.flush()
        proc = subprocess.Popen([go_executable(), *args], cwd=workdir, env=go_env(), stdout=fh, stderr=subprocess.STDOUT)
        last = start
        while proc.poll() is None:
            time.sleep(0.5)
            now = time.monotonic()
            if now - last >= 30:
                progress(f"  ... still building {what.split()[0]} ({fmt_seconds(now - start)} so far)")
                last = now
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise ToolBuildError(f"building {what} failed (exit {proc.returncode}): {tail(log)}", hint=f"full log: {log}")
    tmp.chmod(0o755)
    tmp.replace(target)
