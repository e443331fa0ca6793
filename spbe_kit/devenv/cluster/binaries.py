"""The local cluster's binaries: pinned versions, where to find them, how to build them.

Nothing here is committed or downloaded as a release archive: every binary is built from
Go modules (the Go module proxy) into ``cache_dir()/bin/<tool>-<version>/<tool>``, or taken
from ``$KUBEBUILDER_ASSETS`` (the envtest convention: one directory holding ``etcd``,
``kube-apiserver``, ...) when that is set and holds the binary.

Kubernetes' own module (``k8s.io/kubernetes``) cannot be required as-is: its go.mod
replaces the ``k8s.io/*`` staging modules with ``./staging/...`` paths. We generate a
small wrapper module under ``cache_dir()/src/`` that requires ``k8s.io/kubernetes`` and
pins every staging module to the matching published ``v0.X.Y`` tag.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.devenv import gotools
from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir

KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.4"  # the etcd release Kubernetes 1.34 is qualified with (its go.mod pins it)
KWOK_VERSION = "v0.7.0"
#: the platform's backup store (S3 API), run beside the local cluster: SeaweedFS (Apache-2.0) has no
#: release tag on the module proxy, so a pseudo-version of its main branch is pinned
SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"

#: Fixed so that builds are reproducible (the value ends up in /version's buildDate).
_BUILD_DATE = "2026-01-01T00:00:00Z"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Tool:
    """One binary: which Go package builds it, at which pinned version, from which wrapper module."""

    name: str
    version: str
    package: str
    module: str  # the Go module the wrapper requires
    wrapper: str  # name of the generated wrapper module (tools sharing one share a build cache)
    ldflags: tuple[str, ...] = ()
    extra_requires: tuple[str, ...] = field(default=())
    #: a patch (under patches/) applied to the module's source before the build
    patch: str | None = None
    #: the wrapper module's go line (at least the tool's own go.mod's)
    go: str = "1.24.0"

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}" + (f"-{_patch_hash(self.patch)}" if self.patch else "")


PATCHES = Path(__file__).with_name("patches")


def _patch_hash(name: str) -> str:
    import hashlib

    return hashlib.sha256((PATCHES / name).read_bytes()).hexdigest()[:8]


def _kube_ldflags(version: str) -> tuple[str, ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    flags: list[str] = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={_BUILD_DATE}",
        ]
    return tuple(flags)


def _kube(name: str) -> Tool:
    return Tool(
        name=name,
        version=KUBERNETES_VERSION,
        package=f"k8s.io/kubernetes/cmd/{name}",
        module="k8s.io/kubernetes",
        wrapper="kubernetes",
        ldflags=_kube_ldflags(KUBERNETES_VERSION),
    )


TOOLS: dict[str, Tool] = {
    "etcd": Tool(
        name="etcd",
        version=ETCD_VERSION,
        package="go.etcd.io/etcd/server/v3",
        module="go.etcd.io/etcd/server/v3",
        wrapper="etcd",
        ldflags=(f"-X go.etcd.io/etcd/api/v3/version.GitSHA={ETCD_VERSION}",),
        # etcd's server go.mod replaces its sibling modules with ../ paths; pin them instead.
        extra_requires=(
            "go.etcd.io/etcd/api/v3",
            "go.etcd.io/etcd/client/pkg/v3",
            "go.etcd.io/etcd/client/v3",
            "go.etcd.io/etcd/pkg/v3",
        ),
    ),
    "kube-apiserver": _kube("kube-apiserver"),
    "kube-controller-manager": _kube("kube-controller-manager"),
    "kube-scheduler": _kube("kube-scheduler"),
    # not a cluster process: the reference client, for baselines (kubectl diff/apply) and users
    "kubectl": _kube("kubectl"),
    "kwok": Tool(
        name="kwok",
        version=KWOK_VERSION,
        package="sigs.k8s.io/kwok/cmd/kwok",
        module="sigs.k8s.io/kwok",
        wrapper="kwok",
        ldflags=(f"-X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION.lstrip('v')}",),
    ),
    # not a cluster process either: the backup store beside it (spbe_kit.devenv.backupstore)
    "weed": Tool(
        name="weed",
        version=SEAWEEDFS_VERSION,
        package="github.com/seaweedfs/seaweedfs/weed",
        module="github.com/seaweedfs/seaweedfs",
        wrapper="seaweedfs",
        go="1.26.6",
    ),
}


COREDNS_VERSION = "v1.15.0"
KUBE_NETWORK_POLICIES_VERSION = "v0.8.0"
REGISTRY_VERSION = "v3.1.2"

#: the real node's binaries (`spbe cluster up --real-node`): built when a real node is asked for
NODE_TOOLS: dict[str, Tool] = {
    "kubelet": _kube("kubelet"),
    "kube-proxy": _kube("kube-proxy"),
    # runs as a pod (see dns.py), from an image holding just this binary
    "coredns": Tool(
        name="coredns",
        version=COREDNS_VERSION,
        package="github.com/coredns/coredns",
        module="github.com/coredns/coredns",
        wrapper="coredns",
        ldflags=(f"-X github.com/coredns/coredns/coremain.GitCommit={COREDNS_VERSION}",),
    ),
    "kube-network-policies": Tool(
        name="kube-network-policies",
        version=KUBE_NETWORK_POLICIES_VERSION,
        package="sigs.k8s.io/kube-network-policies/cmd",
        module="sigs.k8s.io/kube-network-policies",
        wrapper="kube-network-policies",
        patch="kube-network-policies-v0.8.0.patch",  # see the patch's header for why
    ),
    # the data center's registry mirror, for pods that pull Always (the baseline's policy)
    "registry": Tool(
        name="registry",
        version=REGISTRY_VERSION,
        package="github.com/distribution/distribution/v3/cmd/registry",
        module="github.com/distribution/distribution/v3",
        wrapper="registry",
        ldflags=(f"-X github.com/distribution/distribution/v3/version.version={REGISTRY_VERSION}",),
    ),
}

ALL_TOOLS: dict[str, Tool] = {**TOOLS, **NODE_TOOLS}


def installed_path(tool: Tool) -> Path:
    """Where the cached build of ``tool`` lives (whether or not it exists yet)."""
    return cache_dir() / "bin" / tool.key / tool.name


def find(name: str) -> Path | None:
    """The binary to use for ``name``: $KUBEBUILDER_ASSETS first, then our cache; None if neither."""
    tool = ALL_TOOLS[name]
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        candidate = Path(assets) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    cached = installed_path(tool)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    return None


def require(name: str) -> Path:
    """Like :func:`find` but raises when the binary is missing."""
    path = find(name)
    if path is None:
        raise ToolBuildError(
            f"{name} {ALL_TOOLS[name].version} is not built yet",
            hint="run `spbe cluster build` (or set KUBEBUILDER_ASSETS to a directory holding it)",
        )
    return path


def missing(tools: dict[str, Tool] | None = None) -> list[Tool]:
    """Tools (the cluster's by default) that are neither in $KUBEBUILDER_ASSETS nor in the cache."""
    return [tool for name, tool in (tools or TOOLS).items() if find(name) is None]


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Built:
    tool: Tool
    path: Path
    seconds: float


@dataclass
class BuildReport:
    built: list[Built]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "built": [
                {"tool": b.tool.name, "version": b.tool.version, "path": str(b.path), "seconds": round(b.seconds, 1)}
                for b in self.built
            ],
            "seconds": round(self.seconds, 1),
        }


def _run_go(args: list[str], cwd: Path, log: Path) -> str:
    """Run one go command, appending its output to ``log``; return stdout."""
    with log.open("a") as fh:
        fh.write(f"\n$ go {' '.join(args)}   (in {cwd})\n")
        fh.flush()
        proc = subprocess.run(
            [gotools.go_executable(), *args], cwd=cwd, env=gotools.go_env(), stdout=subprocess.PIPE, stderr=fh, text=True
        )
    if proc.returncode != 0:
        raise ToolBuildError(
            f"`go {args[0]} ...` failed in {cwd} (exit {proc.returncode}): {gotools.tail(log)}",
            hint=f"full log: {log}",
        )
    return proc.stdout


def _wrapper_dir(tool: Tool) -> Path:
    return cache_dir() / "src" / (f"{tool.wrapper}-{tool.version}" if not tool.patch else tool.key)


def _patched_source(tool: Tool, wdir: Path, log: Path) -> Path:
    """The module's source from the module cache, with the tool's patch applied, under ``wdir/src``."""
    import shutil

    out = _run_go(["mod", "download", "-json", f"{tool.module}@{tool.version}"], wdir, log)
    src = wdir / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(json.loads(out)["Dir"], src)
    for path in [src, *src.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the module cache is read-only
    with log.open("a") as fh:
        proc = subprocess.run(["patch", "-p1", "--forward", "--batch", "-i", str(PATCHES / str(tool.patch))],
                              cwd=src, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ToolBuildError(f"applying {tool.patch} to {tool.module}@{tool.version} failed: {gotools.tail(log)}",
                             hint=f"full log: {log}")
    (src / ".spbe-patched").touch()
    return src


def _staging_replaces(tool: Tool, log: Path, workdir: Path) -> list[str]:
    """For k8s.io/kubernetes: the staging modules its go.mod replaces with local paths."""
    out = _run_go(["list", "-m", "-json", f"{tool.module}@{tool.version}"], workdir, log)
    gomod = Path(json.loads(out)["GoMod"]).read_text()
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", gomod, re.M)
    if not staging:
        raise ToolBuildError(f"could not find the staging modules in {tool.module}@{tool.version}'s go.mod")
    minor_tag = "v0." + tool.version.lstrip("v").split(".", 1)[1]  # v1.34.4 -> v0.34.4
    return [f"\t{mod} => {mod} {minor_tag}" for mod in staging]


def ensure_wrapper_module(tool: Tool, log: Path) -> Path:
    """Create (once) the wrapper module that builds ``tool``; return its directory."""
    wdir = _wrapper_dir(tool)
    gomod = wdir / "go.mod"
    if gomod.is_file() and (not tool.patch or (wdir / "src" / ".spbe-patched").is_file()):
        return wdir
    wdir.mkdir(parents=True, exist_ok=True)
    requires = [f"\t{tool.module} {tool.version}"] + [f"\t{m} {tool.version}" for m in tool.extra_requires]
    lines = [f"module spbe.local/build/{tool.wrapper}", "", f"go {tool.go}", ""]
    if tool.module == "k8s.io/kubernetes":
        lines += ["godebug default=go1.24", ""]
    lines += ["require (", *requires, ")", ""]
    if tool.patch:
        (wdir / "go.mod").write_text("\n".join([f"module spbe.local/build/{tool.wrapper}", "", f"go {tool.go}", ""]))
        _patched_source(tool, wdir, log)
        lines += [f"replace {tool.module} => ./src", ""]
    if tool.module == "k8s.io/kubernetes":
        lines += ["replace (", *_staging_replaces(tool, log, wdir), ")", ""]
    tmp = gomod.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(gomod)
    return wdir


def build(tool: Tool, progress: Progress = _quiet) -> Built:
    """Build one tool into the cache (always builds; see :func:`build_missing`)."""
    logs = cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"build-{tool.key}.log"
    log.write_text(f"building {tool.name} {tool.version} from {tool.package}\n")
    start = time.monotonic()
    wdir = ensure_wrapper_module(tool, log)
    target = installed_path(tool)
    target.parent.mkdir(parents=True, exist_ok=True)
    gotools.compile_binary(tool.package, tool.ldflags, wdir, target, log, f"{tool.name} {tool.version}", progress)
    return Built(tool, target, time.monotonic() - start)


def build_missing(progress: Progress = _quiet, force: bool = False, real_node: bool = False) -> BuildReport:
    """Build every tool that is missing (or all of them with ``force``), reporting progress.

    ``real_node`` adds the real node's binaries (kubelet, kube-proxy, CoreDNS, kube-network-policies).
    """
    start = time.monotonic()
    tools = ALL_TOOLS if real_node else TOOLS
    todo = list(tools.values()) if force else missing(tools)
    if not todo:
        progress("all cluster binaries are present: " + ", ".join(f"{n} {t.version}" for n, t in tools.items()))
        return BuildReport([], 0.0)
    progress(
        f"building {len(todo)} binar{'y' if len(todo) == 1 else 'ies'} from Go modules "
        f"({', '.join(t.name for t in todo)}); the first build of Kubernetes takes a while"
    )
    built: list[Built] = []
    for i, tool in enumerate(todo, 1):
        progress(f"[{i}/{len(todo)}] building {tool.name} {tool.version} ({tool.package}) ...")
        result = build(tool, progress)
        built.append(result)
        progress(f"[{i}/{len(todo)}] built {tool.name} in {gotools.fmt_seconds(result.seconds)} -> {result.path}")
    total = time.monotonic() - start
    progress(f"built {len(built)} binar{'y' if len(built) == 1 else 'ies'} in {gotools.fmt_seconds(total)}")
    return BuildReport(built, total)


def resolve_all(progress: Progress = _quiet, build_if_missing: bool = True, real_node: bool = False) -> dict[str, Path]:
    """Paths of every binary (and the real node's with ``real_node``), building missing ones first when allowed."""
    tools = ALL_TOOLS if real_node else TOOLS
    if build_if_missing and missing(tools):
        build_missing(progress, real_node=real_node)
    return {name: require(name) for name in tools}
