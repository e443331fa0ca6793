"""How many CPUs the local real node advertises: the host's, or more (SPBE_CLUSTER_NODE_CPUS).

A medium tenant reserves about 3.9 CPUs (its requests), more than a 2-core development or CI
machine has, so the scheduler and kubelet's admission would leave half of it Pending. Requests
are reservations, not use: the tenant idles far below them. The real node may therefore
overcommit the CPU, openly, the way LXCFS does for containers: kubelet and containerd run in a
mount namespace of their own where ``/sys/devices/system/cpu`` and ``/sys/devices/system/node``
are a generated view with more CPUs (cAdvisor counts a node's CPUs there). Nothing else on the
host sees that view; containers get their own, real sysfs. Memory is never overstated.

`spbe cluster status` shows both figures (advertised and host).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from spbe_kit.errors import ClusterError

SYS_CPU = Path("/sys/devices/system/cpu")
SYS_NODE = Path("/sys/devices/system/node")
DEFAULT_CPUS = 8


def host_cpus() -> int:
    return os.cpu_count() or 1


def advertised_cpus() -> int:
    raw = os.environ.get("SPBE_CLUSTER_NODE_CPUS")
    if not raw:
        return max(DEFAULT_CPUS, host_cpus())
    try:
        count = int(raw)
    except ValueError:
        raise ClusterError(f"SPBE_CLUSTER_NODE_CPUS={raw!r} is not a number") from None
    if not 1 <= count <= 256:
        raise ClusterError(f"SPBE_CLUSTER_NODE_CPUS={raw!r} must be between 1 and 256")
    return count


def _copy_text(src: Path, dst: Path) -> None:
    try:
        dst.write_text(src.read_text())
    except OSError:
        pass  # unreadable sysfs attribute (write-only or absent): not needed by cAdvisor


def _copy_tree(src: Path, dst: Path) -> None:
    """Regular attributes of a sysfs directory tree (no symlinks: they lead all over sysfs)."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        if entry.is_symlink():
            continue
        if entry.is_dir():
            _copy_tree(entry, dst / entry.name)
        else:
            _copy_text(entry, dst / entry.name)


def write_view(root: Path, cpus: int) -> tuple[Path, Path]:
    """Generate the view under ``root``; returns (cpu dir, node dir) to mount over the real ones."""
    shutil.rmtree(root, ignore_errors=True)
    cpu_dir, node_dir = root / "cpu", root / "node"
    cpu_dir.mkdir(parents=True)
    span = f"0-{cpus - 1}" if cpus > 1 else "0"
    for name in ("online", "possible", "present"):
        (cpu_dir / name).write_text(span + "\n")
    for name in ("offline", "isolated"):
        (cpu_dir / name).write_text("\n")
    (cpu_dir / "kernel_max").write_text(f"{max(cpus - 1, 0)}\n")
    template = SYS_CPU / "cpu0"
    for i in range(cpus):
        cpu = cpu_dir / f"cpu{i}"
        topo = cpu / "topology"
        topo.mkdir(parents=True)
        for name, value in (("core_id", i), ("physical_package_id", 0), ("die_id", 0), ("cluster_id", 0),
                            ("core_cpus_list", i), ("thread_siblings_list", i), ("core_siblings_list", span),
                            ("package_cpus_list", span), ("die_cpus_list", span), ("cluster_cpus_list", i)):
            (topo / name).write_text(f"{value}\n")
        (cpu / "online").write_text("1\n")
        if (template / "cache").is_dir():
            _copy_tree(template / "cache", cpu / "cache")
    node0 = node_dir / "node0"
    node0.mkdir(parents=True)
    for name in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
        (node_dir / name).write_text("0\n")
    real0 = SYS_NODE / "node0"
    for name in ("meminfo", "distance", "numastat", "vmstat"):
        if (real0 / name).exists():
            _copy_text(real0 / name, node0 / name)
    if (real0 / "hugepages").is_dir():
        _copy_tree(real0 / "hugepages", node0 / "hugepages")
    (node0 / "cpulist").write_text(span + "\n")
    for i in range(cpus):
        (node0 / f"cpu{i}").symlink_to(f"../../cpu/cpu{i}")
    return cpu_dir, node_dir


SYS_CPUSET = Path("/sys/fs/cgroup/cpuset")


def mount_script(cpu_dir: Path, node_dir: Path) -> str:
    """Shell run inside the new mount namespace before the runtime starts.

    Where the host mounts the cgroup v1 cpuset controller, the kubelet writes every CPU it counts (the
    view's) into the ``kubepods`` cpuset, which the kernel refuses for CPUs it cannot have ("numerical
    result out of range", when the host's possible CPUs are fewer than the view's), and the kubelet exits.
    So ``kubepods`` is made here with the host's real CPUs and memory nodes, passed on to every cgroup
    made under it (``cgroup.clone_children``), and in this namespace only its ``cpuset.cpus`` is a plain
    file that takes the kubelet's write. The node pins no CPUs (CPU manager policy none): nothing else
    writes a cpuset. The host's own view of the hierarchy is unchanged."""
    kubepods, fake = SYS_CPUSET / "kubepods", cpu_dir.parent / "kubepods-cpuset.cpus"
    cpuset = (f"if mountpoint -q {SYS_CPUSET}; then mkdir -p {kubepods}"
              f" && {{ [ -n \"$(cat {kubepods}/cpuset.cpus)\" ] || cat {SYS_CPUSET}/cpuset.effective_cpus > {kubepods}/cpuset.cpus; }}"
              f" && {{ [ -n \"$(cat {kubepods}/cpuset.mems)\" ] || cat {SYS_CPUSET}/cpuset.effective_mems > {kubepods}/cpuset.mems; }}"
              f" && echo 1 > {kubepods}/cgroup.clone_children && cat {kubepods}/cpuset.cpus > {fake}"
              f" && mount --bind {fake} {kubepods}/cpuset.cpus; fi")
    return f"mount --bind {cpu_dir} {SYS_CPU} && mount --bind {node_dir} {SYS_NODE} && {cpuset}"
