"""`spbe verify`: prove a tenant's running components are configured as the baseline says (testinfra)."""

from __future__ import annotations

from pathlib import Path

import click

from spbe_kit.cli.output import EXIT_ERROR, EXIT_FAIL, EXIT_SUCCESS, warn

@click.command("verify")
@click.argument("tenant")
@click.option("--targets", "targets_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where each component runs and what to check there (YAML/JSON), instead of the tenant's pods.")
@click.option("--output", "-o", type=click.Choice(["table", "json", "junit"]), default="table", show_default=True,
              help="Report format.")
@click.option("--registry", default=None, envvar="SPBE_REGISTRY", help="The image mirror the tenant was built with.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cluster of the tenant's pods (default: $SPBE_KUBECONFIG, else the local cluster).")
@click.option("--context", default=None, help="Context in the kubeconfig.")
def verify(tenant, targets_file, output, registry, kubeconfig, context) -> None:
    """Run the verification suite for TENANT (a request file; or a tenant id with --targets).

    Checks run inside each component's pod (testinfra's kubectl backend) or wherever --targets
    says (local:// for services on this machine). Exit 0 when every check passed; 1 when one
    failed or could not be verified (a skipped check is never a pass); 2 when hosts cannot be
    reached or the suite cannot run.
    """
    from spbe_kit.verify import report as formats
    from spbe_kit.verify.run import run_suite

    expected: list[str] = []
    if targets_file is not None:
        from spbe_kit.verify.targets import load_targets

        targets = load_targets(targets_file)
        if Path(tenant).is_file():
            from spbe_kit.request import load_request

            tenant = load_request(Path(tenant)).tenant_id
        if targets.tenant != tenant:
            raise click.UsageError(f"{targets_file} describes tenant {targets.tenant!r}, not {tenant!r}")
    else:
        from spbe_kit.kubeclient import resolve_kubeconfig
        from spbe_kit.verify.tenant import tenant_targets

        if not Path(tenant).is_file():
            raise click.UsageError(f"{tenant} is not a request file: give the tenant's request, or --targets FILE")
        found = tenant_targets(Path(tenant), registry, resolve_kubeconfig(kubeconfig), context)
        for line in found.warnings:
            warn(line)
        targets, expected = found.targets, found.expected
    if not targets.targets and not expected:
        raise click.UsageError("nothing to verify: the targets name no component")
    report = run_suite(targets, expected)
    if output == "json":
        click.echo(formats.as_json(report))
    elif output == "junit":
        click.echo(formats.as_junit(report), nl=False)
    else:
        click.echo(formats.as_table(report))
    counts = report.counts()
    if counts["error"]:
        warn(f"{counts['error']} check(s) could not run: see DETAIL (is the host reachable?)")
        raise SystemExit(EXIT_ERROR)
    raise SystemExit(EXIT_SUCCESS if report.verified else EXIT_FAIL)

