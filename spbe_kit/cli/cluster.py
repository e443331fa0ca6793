"""`spbe cluster ...`: the embedded local Kubernetes cluster (thin layer over spbe_kit.devenv.cluster)."""

from __future__ import annotations

import json

import click

from spbe_kit.devenv.cluster import binaries, control_plane

_OUTPUT = click.option(
    "--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="Output format.",
)


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}Mi" if n else "-"


@click.group()
def cluster() -> None:
    """Local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)."""


@cluster.command()
@click.option("--force", is_flag=True, help="Rebuild every binary, even those already built.")
@click.option("--real-node", is_flag=True, help="Also the real node's: kubelet, kube-proxy, CoreDNS, kube-network-policies.")
@_OUTPUT
def build(force: bool, real_node: bool, output: str) -> None:
    """Build the missing cluster binaries from Go modules (progress on stderr)."""
    report = binaries.build_missing(_progress, force=force, real_node=real_node)
    if output == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for name, tool in (binaries.ALL_TOOLS if real_node else binaries.TOOLS).items():
        click.echo(f"{name:<24} {tool.version:<9} {binaries.find(name)}")


@cluster.command()
@click.option("--no-build", is_flag=True, help="Fail instead of building missing binaries.")
@click.option("--real-node", is_flag=True,
              help="Add a real node (containerd, runc, kubelet, kube-proxy, CoreDNS, NetworkPolicies enforced) "
                   "that runs the baseline images for real; needs root. Kept by later `up`s until `down`.")
@_OUTPUT
def up(no_build: bool, real_node: bool, output: str) -> None:
    """Start the local cluster (idempotent); build missing binaries first."""
    info = control_plane.up(progress=_progress, build=not no_build, real_node=real_node)
    if output == "json":
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        click.echo(f"server:     {info.server}")
        click.echo(f"kubeconfig: {info.kubeconfig}")
        click.echo(f"version:    {info.version}")


@cluster.command()
@click.option("--keep-data", is_flag=True, help="Keep etcd data, PKI and volumes so the next `up` resumes.")
def down(keep_data: bool) -> None:
    """Stop every process of the local cluster (wipes its data unless --keep-data; logs are kept)."""
    stopped = control_plane.down(wipe=not keep_data, progress=_progress)
    click.echo(f"stopped {len(stopped)} process(es)" + (f": {', '.join(stopped)}" if stopped else ""))


@cluster.command()
@_OUTPUT
@click.pass_context
def status(ctx: click.Context, output: str) -> None:
    """Health of each cluster process and of /readyz. Exit 0 when healthy, 1 otherwise."""
    st = control_plane.status()
    if output == "json":
        click.echo(json.dumps(st.to_dict(), indent=2))
    else:
        click.echo(f"cluster: {st.state}   server: {st.server}   readyz: {st.readyz}")
        click.echo(f"{'COMPONENT':<24} {'PID':>7}  {'HEALTH':<8} {'RSS':>7}  DETAIL")
        for c in st.components:
            health = "ok" if c.healthy else ("down" if not c.running else "failing")
            click.echo(f"{c.name:<24} {c.pid or '-':>7}  {health:<8} {_mib(c.rss_bytes):>7}  {c.detail}")
        if st.nodes:
            ready = sum(st.nodes.values())
            click.echo(f"nodes: {ready}/{len(st.nodes)} Ready   total RSS: {_mib(st.rss_bytes)}")
        store = st.backup_store
        if store is not None:
            health = "ok" if store["healthy"] else ("down" if not store["pid"] else "failing")
            click.echo(f"{'backup-store':<24} {store['pid'] or '-':>7}  {health:<8} {'':>7}  {store['endpoint']} "
                       f"(data kept by `cluster down`: {store['data']})")
        node = st.real_node
        if node is not None:
            click.echo(f"real node: {node.name} ({node.ip})   {'Ready' if node.ready else 'NotReady'}   "
                       f"pods: {node.pods}   images: {node.images}   CPUs: {node.cpus or '?'} advertised "
                       f"({node.host_cpus} on this host)")
            for name, p in node.processes.items():
                health = "ok" if p["healthy"] else ("down" if not p["running"] else "failing")
                click.echo(f"  {name:<22} {p.get('pid') or '-':>7}  {health:<8} {_mib(p['rss_bytes']):>7}  {p['detail']}")
    ctx.exit(0 if st.healthy else 1)
