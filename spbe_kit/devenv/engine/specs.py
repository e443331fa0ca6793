"""What each Pulumi engine binary is built from: module, version, package, ldflags, fix-ups.

Versions come from :mod:`spbe_kit.engine.versions`. ldflags set the version each binary
reports: the CLI through the pulumi sdk's ``version.Version`` (printed by ``pulumi version``),
the provider through its own ``provider/v4/pkg/version.Version`` (exactly what its Makefile
passes: the plain ``X.Y.Z``, also given to ``go generate`` as ``VERSION``, which stamps it
into the embedded schema).
"""

from __future__ import annotations

from pathlib import Path

from spbe_kit.devenv.engine.gobuild import PULUMI_VERSION_VAR, GoBuild
from spbe_kit.engine.locate import cached_cli
from spbe_kit.engine.versions import (
    KUBERNETES_PROVIDER_MODULE_VERSION,
    KUBERNETES_PROVIDER_VERSION,
    PULUMI_CLI_VERSION,
)
from spbe_kit.paths import cache_dir

PKG_MODULE = "github.com/pulumi/pulumi/pkg/v3"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
K8S_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
K8S_SDK_MODULE = "github.com/pulumi/pulumi-kubernetes/sdk/v4"


def _v(version: str) -> str:
    return "v" + version.lstrip("v")


CLI = GoBuild(
    name="pulumi",
    version=_v(PULUMI_CLI_VERSION),
    module=PKG_MODULE,
    package="cmd/pulumi",
    ldflags=(f"-X {PULUMI_VERSION_VAR}={_v(PULUMI_CLI_VERSION)}",),
    # the tags pulumi's own release build uses: pure-Go user lookup, no gRPC tracing
    tags=("osusergo", "grpcnotrace"),
    pins=((SDK_MODULE, _v(PULUMI_CLI_VERSION)),),  # pkg/go.mod: sdk/v3 => ../sdk
)

KUBERNETES_PROVIDER = GoBuild(
    name="pulumi-resource-kubernetes",
    version=_v(KUBERNETES_PROVIDER_VERSION),
    module=K8S_PROVIDER_MODULE,
    module_version=KUBERNETES_PROVIDER_MODULE_VERSION,
    package="cmd/pulumi-resource-kubernetes",
    from_source=True,
    # provider/go.mod: sdk/v4 => ../sdk (outside the module zip): the published SDK of the same release
    pins=((K8S_SDK_MODULE, _v(KUBERNETES_PROVIDER_VERSION)),),
    # writes schema-embed.json and terraform-mapping-embed.json, which main.go embeds
    generate=("cmd/pulumi-resource-kubernetes",),
    generate_env=(("VERSION", KUBERNETES_PROVIDER_VERSION),),
    ldflags=(f"-X {K8S_PROVIDER_MODULE}/pkg/version.Version={KUBERNETES_PROVIDER_VERSION}",),
)

#: plugin name -> (build, plugin version)
PROVIDERS: dict[str, tuple[GoBuild, str]] = {
    "kubernetes": (KUBERNETES_PROVIDER, KUBERNETES_PROVIDER_VERSION),
}


def target(build: GoBuild) -> Path:
    """Where the cached build of ``build`` lives (the CLI where ``engine.locate`` looks for it)."""
    if build is CLI:
        return cached_cli()
    return cache_dir() / "bin" / build.key / build.name
