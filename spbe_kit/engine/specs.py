"""What each Pulumi engine binary is built from: module, version, package, ldflags, fix-ups.

Versions come from :mod:`spbe_kit.engine.versions`. ldflags set the version each binary
reports: the CLI and language host through the pulumi sdk's ``version.Version`` (printed by
``pulumi version``), the providers through their own ``provider/v4/pkg/version.Version``
(exactly what their Makefiles pass: the plain ``X.Y.Z``, also given to ``go generate`` as
``VERSION``, which stamps it into the embedded schema).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from spbe_kit.engine import gobuild
from spbe_kit.engine.gobuild import PULUMI_VERSION_VAR, GoBuild
from spbe_kit.engine.versions import KUBERNETES_PROVIDER_VERSION, PULUMI_VERSION, RANDOM_PROVIDER_VERSION
from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir

PKG_MODULE = "github.com/pulumi/pulumi/pkg/v3"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
EXEC_SHIM = "pulumi-language-python-exec"
EXEC_SHIM_IN_SDK = "python/cmd/pulumi-language-python-exec"
_RANDOM_UPSTREAM = "github.com/terraform-providers/terraform-provider-random"


def _v(version: str) -> str:
    return "v" + version.lstrip("v")


CLI = GoBuild(
    name="pulumi",
    version=_v(PULUMI_VERSION),
    module=PKG_MODULE,
    package="cmd/pulumi",
    ldflags=(f"-X {PULUMI_VERSION_VAR}={_v(PULUMI_VERSION)}",),
    pins=((SDK_MODULE, _v(PULUMI_VERSION)),),  # pkg/go.mod: sdk/v3 => ../sdk
)

LANGUAGE_HOST = GoBuild(
    name="pulumi-language-python",
    version=_v(PULUMI_VERSION),
    module="github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3",
    ldflags=(f"-X {PULUMI_VERSION_VAR}={_v(PULUMI_VERSION)}",),
    # its go.mod replaces both with ../../../../pkg and ../../.. and requires stale versions
    pins=((PKG_MODULE, _v(PULUMI_VERSION)), (SDK_MODULE, _v(PULUMI_VERSION))),
)


def _random_shim(src: Path, log: Path) -> None:
    """Recreate pulumi-random's ``shim`` module (a nested module, so not in the module zip).

    provider/go.mod replaces ``.../terraform-provider-random/shim => ./shim``; the shim only
    exposes the upstream Terraform provider (whose ``internal`` package only code under the
    upstream's import path may import) as a Plugin Framework provider.
    """
    shim = src / "shim"
    if (shim / "go.mod").is_file():
        return
    gomod = (src / "go.mod").read_text()
    upstream = gobuild.required_version(gomod, _RANDOM_UPSTREAM)
    if upstream is None:
        raise ToolBuildError(f"pulumi-random's go.mod does not require {_RANDOM_UPSTREAM}", hint=f"see {log}")
    shim.mkdir(exist_ok=True)
    (shim / "go.mod").write_text(
        f"module {_RANDOM_UPSTREAM}/shim\n\ngo {gobuild.go_directive(gomod)}\n\nrequire {_RANDOM_UPSTREAM} {upstream}\n"
    )
    (shim / "shim.go").write_text(
        "package shim\n\n"
        'import (\n\ttfpf "github.com/hashicorp/terraform-plugin-framework/provider"\n'
        f'\t"{_RANDOM_UPSTREAM}/internal/provider"\n)\n\n'
        "// NewProvider is the upstream random provider.\n"
        "func NewProvider() tfpf.Provider { return provider.New() }\n"
    )
    with log.open("a") as fh:
        fh.write(f"\nrecreated {shim} (requires {_RANDOM_UPSTREAM} {upstream})\n")


def _provider(
    name: str, version: str, module: str, prepare: Callable[[Path, Path], None] | None = None
) -> GoBuild:
    cmd = f"cmd/pulumi-resource-{name}"
    return GoBuild(
        name=f"pulumi-resource-{name}",
        version=_v(version),
        module=module,
        package=cmd,
        from_source=True,
        generate=(cmd,),  # writes cmd/.../schema-embed.json (schema.json with "version" set)
        generate_env=(("VERSION", version),),
        ldflags=(f"-X {module}/pkg/version.Version={version}",),
        prepare=prepare,
    )


#: plugin name -> (build, plugin version)
PROVIDERS: dict[str, tuple[GoBuild, str]] = {
    "kubernetes": (
        _provider("kubernetes", KUBERNETES_PROVIDER_VERSION, "github.com/pulumi/pulumi-kubernetes/provider/v4"),
        KUBERNETES_PROVIDER_VERSION,
    ),
    "random": (
        _provider("random", RANDOM_PROVIDER_VERSION, "github.com/pulumi/pulumi-random/provider/v4", _random_shim),
        RANDOM_PROVIDER_VERSION,
    ),
}


def target(build: GoBuild) -> Path:
    """Where the cached build of ``build`` lives (the CLI under ``bin/`` for ``PulumiCommand(root=)``)."""
    base = cache_dir() / "bin" / build.key
    return base / "bin" / build.name if build.name == "pulumi" else base / build.name


