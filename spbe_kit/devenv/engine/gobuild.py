"""Build one Go binary from a published Go module, the two ways the Pulumi pieces need.

* **wrapper** (the CLI): a generated module under ``cache_dir()/src/``
  requires the target module. A dependency's own ``replace`` lines are ignored by Go, so
  the wrapper re-states them: a replacement by another module version is copied as-is, a
  replacement by a local path (``github.com/pulumi/pulumi/sdk/v3 => ../sdk``, which only
  works inside the upstream git checkout) is pinned to the matching published version.
* **source** (the provider): their ``main`` packages ``//go:embed`` files that a
  ``go generate`` step writes (``schema-embed.json``), which are not in the module zip, and
  the module cache is read-only. So the module is copied to a writable directory under
  ``cache_dir()/src/`` and built there as the main module (its own replaces then apply);
  local-path replaces pointing outside the copy are pinned like above.

Every ``go`` command appends to the tool's log in ``cache_dir()/logs``; a failure raises
:class:`~spbe_kit.errors.ToolBuildError` quoting the end of that log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.devenv import gotools
from spbe_kit.devenv.gotools import go_env as _go_env
from spbe_kit.devenv.gotools import go_executable as _go
from spbe_kit.devenv.gotools import tail as _tail
from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir

Progress = Callable[[str], None]

#: The variable the Pulumi CLI and language hosts report as their version.
PULUMI_VERSION_VAR = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"


@dataclass(frozen=True)
class GoBuild:
    """How to build one binary: module, version, package, and the fix-ups it needs."""

    name: str  # binary name
    version: str  # the pinned version, e.g. "v3.272.0" (also names the cache dirs)
    module: str  # Go module holding the main package
    package: str = "."  # main package, relative to the module root
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # Go build tags
    from_source: bool = False  # build in a writable copy of the module instead of a wrapper
    #: modules the go.mod replaces with a local path -> the published version to use instead
    pins: tuple[tuple[str, str], ...] = ()
    generate: tuple[str, ...] = ()  # packages (relative) to `go generate` in the copy
    generate_env: tuple[tuple[str, str], ...] = ()
    #: fix-up of the writable copy before `go generate` (gets the copy's dir and the log)
    prepare: Callable[[Path, Path], None] | None = field(default=None, compare=False)
    module_version: str | None = None  # module version to fetch when it differs from `version`

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def fetch_version(self) -> str:
        return self.module_version or self.version


@dataclass(frozen=True)
class Replace:
    """One ``replace`` directive of a go.mod."""

    old: str
    old_version: str | None
    new: str
    new_version: str | None

    @property
    def local(self) -> bool:
        return self.new.startswith(("./", "../", "/"))

    def line(self) -> str:
        left = f"{self.old} {self.old_version}" if self.old_version else self.old
        right = f"{self.new} {self.new_version}" if self.new_version else self.new
        return f"{left} => {right}"


def log_for(key: str) -> Path:
    logs = cache_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"build-{key}.log"


def _strip(line: str) -> str:
    return line.split("//", 1)[0].strip()


def replaces(gomod: str) -> list[Replace]:
    """The ``replace`` directives of a go.mod text (single-line and block forms)."""
    found: list[Replace] = []
    in_block = False
    for raw in gomod.splitlines():
        line = _strip(raw)
        if in_block:
            if line == ")":
                in_block = False
                continue
        elif line.startswith("replace"):
            line = line[len("replace") :].strip()
            if line == "(":
                in_block = True
                continue
        else:
            continue
        if "=>" not in line:
            continue
        left, right = (part.split() for part in line.split("=>", 1))
        old_version = left[1] if len(left) > 1 else None
        new_version = right[1] if len(right) > 1 else None
        found.append(Replace(left[0], old_version, right[0], new_version))
    return found


def required_version(gomod: str, module: str) -> str | None:
    """The version a go.mod text requires ``module`` at, if it does."""
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod, re.M)
    return match.group(1) if match else None


def go_directive(gomod: str) -> str:
    match = re.search(r"^go\s+(\S+)", gomod, re.M)
    return match.group(1) if match else "1.24.0"


def _neutral_dir() -> Path:
    """A directory without a go.mod, to run module-less go commands in."""
    path = cache_dir() / "src"
    path.mkdir(parents=True, exist_ok=True)
    return path


def download(module: str, version: str, log: Path) -> dict:
    """``go mod download -json module@version``: fetch the module zip; return its JSON info.

    Raises :class:`ToolBuildError` carrying the proxy's own error text when it cannot.
    """
    args = ["mod", "download", "-json", f"{module}@{version}"]
    with log.open("a") as fh:
        fh.write(f"\n$ go {' '.join(args)}\n")
        proc = subprocess.run(
            [_go(), *args], cwd=_neutral_dir(), env=_go_env(), stdout=subprocess.PIPE, stderr=fh, text=True
        )
        fh.write(proc.stdout)
    try:
        info = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        info = {}
    if proc.returncode != 0 or info.get("Error") or not info.get("Dir"):
        error = (info.get("Error") or _tail(log)).removeprefix(f"{module}@{version}: ")
        raise ToolBuildError(f"cannot fetch Go module {module}@{version}: {error}", hint=f"full log: {log}")
    return info


def run_go(args: list[str], cwd: Path, log: Path, extra_env: dict[str, str] | None = None) -> None:
    """Run one go command (output appended to ``log``); raise on failure."""
    env = _go_env()
    env.update(extra_env or {})
    with log.open("a") as fh:
        fh.write(f"\n$ go {' '.join(args)}   (in {cwd})\n")
        fh.flush()
        proc = subprocess.run([_go(), *args], cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ToolBuildError(
            f"`go {' '.join(args[:2])} ...` failed in {cwd} (exit {proc.returncode}): {_tail(log)}",
            hint=f"full log: {log}",
        )


def _pin_for(rep: Replace, gomod: str, pins: dict[str, str], log: Path) -> str:
    """The published version replacing a local-path ``replace``: an explicit pin, else the require line."""
    version = pins.get(rep.old) or required_version(gomod, rep.old)
    if version is None:
        raise ToolBuildError(
            f"{rep.line()} points at a local path and no published version is known for {rep.old}",
            hint=f"add it to the build's pins; full log: {log}",
        )
    return version


def write_wrapper(build: GoBuild, info: dict, log: Path) -> Path:
    """Create (once) the wrapper module requiring ``build.module``; return its directory."""
    wdir = cache_dir() / "src" / build.key
    gomod_path = wdir / "go.mod"
    if gomod_path.is_file():
        return wdir
    upstream = Path(info["GoMod"]).read_text()
    pins = dict(build.pins)
    replace_lines: list[str] = []
    for rep in replaces(upstream):
        if rep.local:
            pins[rep.old] = _pin_for(rep, upstream, pins, log)
        else:
            replace_lines.append(rep.line())
    # Pins are replaced (not only required) so that no other requirement can move them.
    replace_lines += [f"{mod} => {mod} {ver}" for mod, ver in sorted(pins.items())]
    requires = [f"{build.module} {info['Version']}"] + [f"{m} {v}" for m, v in sorted(pins.items())]
    text = "\n".join(
        [
            f"module spbe.local/build/{build.name}",
            "",
            f"go {go_directive(upstream)}",
            "",
            "require (",
            *(f"\t{r}" for r in requires),
            ")",
            "",
            "replace (",
            *(f"\t{r}" for r in replace_lines),
            ")",
            "",
        ]
    )
    wdir.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"\nwrapper module {gomod_path}:\n{text}")
    tmp = gomod_path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(gomod_path)
    return wdir


def _make_writable(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in files:
            path = os.path.join(dirpath, name)
            os.chmod(path, os.stat(path).st_mode | 0o200)


def prepare_source(build: GoBuild, info: dict, log: Path) -> Path:
    """Copy the module to a writable dir, fix it up and run its ``go generate`` steps (once)."""
    sdir = cache_dir() / "src" / build.key
    done = sdir / ".spbe-prepared"
    if done.is_file():
        return sdir
    if sdir.exists():
        shutil.rmtree(sdir)
    shutil.copytree(info["Dir"], sdir, copy_function=shutil.copyfile)
    _make_writable(sdir)
    if build.prepare is not None:
        build.prepare(sdir, log)
    gomod = (sdir / "go.mod").read_text()
    pins = dict(build.pins)
    for rep in replaces(gomod):
        target = (sdir / rep.new).resolve()
        if rep.local and not (target.is_relative_to(sdir.resolve()) and (target / "go.mod").is_file()):
            version = _pin_for(rep, gomod, pins, log)
            run_go(["mod", "edit", f"-replace={rep.old}={rep.old}@{version}"], sdir, log)
    generate_env = {"GOFLAGS": "-mod=mod", **dict(build.generate_env)}
    for pkg in build.generate:
        run_go(["generate", f"./{pkg}"], sdir, log, generate_env)
    done.write_text(f"{build.module}@{info['Version']}\n")
    return sdir


def compile_binary(build: GoBuild, workdir: Path, target: Path, log: Path, progress: Progress) -> None:
    """``go build`` the main package into ``target`` (atomically), reporting every 30 s."""
    if build.from_source:
        package = f"./{build.package}"
    else:
        package = build.module if build.package in ("", ".") else f"{build.module}/{build.package}"
    gotools.compile_binary(package, build.ldflags, workdir, target, log, f"{build.name} {build.version}", progress,
                           tags=build.tags)


def build_binary(build: GoBuild, target: Path, progress: Progress, info: dict | None = None) -> float:
    """Fetch, prepare and compile ``build`` into ``target``; return the seconds it took."""
    log = log_for(build.key)
    start = time.monotonic()
    with log.open("a") as fh:
        fh.write(f"\n=== building {build.name} {build.version} from {build.module}/{build.package}\n")
    if info is None:
        info = download(build.module, build.fetch_version, log)
    workdir = prepare_source(build, info, log) if build.from_source else write_wrapper(build, info, log)
    compile_binary(build, workdir, target, log, progress)
    return time.monotonic() - start
