"""Counting what hp left on the host, by kind, for the attack and fault tests.

    before = host_snapshot()
    ... hp apply / a kill / hp destroy ...
    assert leaks(state, before) == {}

A leak is anything of this state dir's that outlives its containers: mounts under it,
network namespace files, veth interfaces and iptables chains that were not there before,
iptables rules naming its containers (the CNI container IDs carry the state dir's tag),
cgroups under hp/<tag>-*, processes in those cgroups or naming the state dir, crun state,
host-local IP reservations, and bridge records and host-wide bridge claims. Host-wide
things (veths, chains) are compared with a snapshot taken before the test, so what other
software has is never counted.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from compiler.cgroups import CGROUP_ROOT, cgroups_path, monitor_cgroup_path
from compiler.layout import BRIDGE_CLAIMS_DIR, Layout, layout

from .hprun import cni_id_prefix, crun_names, mounts_under

TABLES = ("nat", "filter", "mangle")


@dataclass(frozen=True)
class HostSnapshot:
    veths: frozenset[str]
    chains: frozenset[str]  # "table:chain"


def _iptables_save(table: str) -> str:
    return subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=True, timeout=30).stdout


def _chains(table: str, text: str) -> set[str]:
    return {f"{table}:{line[1:].split()[0]}" for line in text.splitlines() if line.startswith(":")}


def _veths() -> set[str]:
    out = subprocess.run(
        ["ip", "-o", "link", "show", "type", "veth"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def host_snapshot() -> HostSnapshot:
    chains: set[str] = set()
    for table in TABLES:
        chains |= _chains(table, _iptables_save(table))
    return HostSnapshot(frozenset(_veths()), frozenset(chains))


def _containers_cgroup(tag: str) -> str:
    """The start of every cgroup path of the state dir tagged `tag`'s containers: /hp/<tag>-
    (Layout.cgroup_name joins the tag and the name with "-"; it has no prefix of its own)."""
    return cgroups_path(f"{tag}-")


def _processes(state: Path, tag: str) -> list[str]:
    found = []
    for proc in glob.glob("/proc/[0-9]*"):
        pid = int(proc.rsplit("/", 1)[1])
        if pid == os.getpid():
            continue
        try:
            with open(f"{proc}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2 :][:1] == b"Z":
                continue  # ended: holds nothing (where pid 1 reaps late, conmons stay zombies a while)
            with open(f"{proc}/cgroup") as f:
                cgroup = f.read()
            with open(f"{proc}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # ended meanwhile
            continue
        if _containers_cgroup(tag) in cgroup or monitor_cgroup_path(tag) in cgroup or str(state) in cmdline:
            found.append(f"{pid} {cmdline[:120]}")
    return found


def _ip_reservations(where: Layout) -> list[str]:
    found = []
    for path in glob.glob(f"{where.ipam_dir}/*/*"):  # each network's store: Layout.ipam_store
        try:
            ipaddress.ip_address(os.path.basename(path))
        except ValueError:
            continue  # host-local's lock and last_reserved_ip files
        found.append(path)
    return found


def _claims(state: Path) -> list[str]:
    found = []
    for path in glob.glob(f"{BRIDGE_CLAIMS_DIR}/*"):
        try:
            with open(path) as f:
                holder = f.read().strip()
        except OSError:
            continue
        if holder == str(state):
            found.append(path)
    return found


def _entries(directory: str) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def leaks(state: Path, before: HostSnapshot) -> dict[str, list[str]]:
    """Everything of `state`'s that is still on the host, by kind; {} when nothing is."""
    where = layout(str(state))
    tag = where.tag
    # on cgroup v2 the hierarchy is CGROUP_ROOT itself; on v1 one directory under it per controller
    cgroups = [f"{_containers_cgroup(tag)}*", monitor_cgroup_path(tag)]
    found: dict[str, list[str]] = {
        "mounts": mounts_under(state),
        "netns": _entries(where.netns_dir),
        "veths": sorted(_veths() - before.veths),
        "cgroups": sorted(
            path
            for cgroup in cgroups
            for root in (CGROUP_ROOT, f"{CGROUP_ROOT}/*")
            for path in glob.glob(root + cgroup)
        ),
        "processes": _processes(state, tag),
        "crun": crun_names(state),
        "ipam": _ip_reservations(where),
        "bridge records": _entries(where.bridges_dir),
        "bridge claims": _claims(state),
    }
    rules, chains, cni_ids = [], set(), cni_id_prefix(state)
    for table in TABLES:
        text = _iptables_save(table)
        rules += [f"{table}: {line}" for line in text.splitlines() if cni_ids in line]
        chains |= _chains(table, text)
    found["iptables rules"] = rules
    found["iptables chains"] = sorted(chains - before.chains)
    return {kind: items for kind, items in found.items() if items}
