"""`spbe drift`: check tenants against the baseline and file the evidence (read-only)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from spbe_kit.cli.output import EXIT_FAIL, EXIT_SUCCESS, warn
from spbe_kit.drift.messages import Lang


@click.command("drift")
@click.argument("targets", nargs=-1)
@click.option("--all", "all_tenants", is_flag=True, help="Every request in --requests, and every tenant namespace.")
@click.option("--requests", "requests_dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="SPBE_REQUESTS_DIR", default=None, help="Folder of tenant requests [env SPBE_REQUESTS_DIR].")
@click.option("--output", "-o", type=click.Choice(["table", "json", "junit", "html"]), default="table", show_default=True,
              help="Report format.")
@click.option("--evidence", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a timestamped JSON report and its HTML view (with the JSON's SHA-256) here.")
@click.option("--lang", type=click.Choice([lang.value for lang in Lang]), default="en", show_default=True,
              help="Language of the report for auditors (id: Bahasa Indonesia).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cluster to check (default: $SPBE_KUBECONFIG, else the local cluster).")
@click.option("--context", default=None, help="Context in the kubeconfig.")
@click.option("--hash-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Key for the keyed hashes of credentials (default: one generated under the state dir).")
@click.option("--previous", "previous_report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An earlier JSON report: credentials whose hash changed since then are drift.")
@click.option("--registry", default=None, envvar="SPBE_REGISTRY", help="The image mirror the tenants were built with.")
@click.option("--as", "as_user", default=None, help="Check as this user (impersonation), e.g. to see what an auditor sees.")
@click.option("--as-group", default=None, help="Group for --as, e.g. spbe:auditors.")
def drift(targets, all_tenants, requests_dir, output, evidence, lang, kubeconfig, context, hash_key_file,
          previous_report, registry, as_user, as_group) -> None:
    """Check TENANTS (ids or request files), or --all, against the baseline.

    Exit 0 when every tenant matches; 1 when anything drifted, could not be verified, or a
    request is invalid; 2 on usage or runtime errors. Needs read access only; never prints a
    secret value.
    """
    from spbe_kit.drift import report as formats
    from spbe_kit.drift.run import DriftOptions
    from spbe_kit.drift.run import drift as run_drift
    from spbe_kit.kubeclient import resolve_kubeconfig

    if not targets and not all_tenants:
        raise click.UsageError("name tenants or request files, or use --all")
    config = resolve_kubeconfig(kubeconfig)
    language = Lang(lang)
    if as_group and not as_user:
        raise click.UsageError("--as-group needs --as")
    options = DriftOptions(tuple(targets), all_tenants, requests_dir, config, context, hash_key_file,
                           previous_report, registry, (as_user, as_group) if as_user else None)
    bar = _TenantBar() if sys.stderr.isatty() else None
    result = run_drift(options, progress=None, tenant_progress=bar)
    if bar:
        bar.close()
    data = result.to_dict()
    if output == "json":
        click.echo(formats.as_json(data), nl=False)
    elif output == "junit":
        click.echo(formats.as_junit(data, language), nl=False)
    elif output == "html":
        import hashlib

        from spbe_kit.drift.html import render_html

        click.echo(render_html(data, hashlib.sha256(formats.as_json(data).encode()).hexdigest(), language.value))
    else:
        click.echo(formats.as_text(data, language), nl=False)
    if evidence is not None:
        json_path, html_path, digest = formats.write_evidence(data, evidence, language)
        warn(f"evidence: {json_path} (sha256 {digest}) and {html_path}")
    # a tenant "error" is an invalid request (invalid input: 1); cluster or usage problems raise (2)
    raise SystemExit(EXIT_SUCCESS if data["clean"] else EXIT_FAIL)


class _TenantBar:
    """A progress bar over tenants on a terminal (stderr)."""

    def __init__(self) -> None:
        self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="checking tenants", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
