"""A container's cgroup: its path (config.json's linux.cgroupsPath) and the directories that path
is on this host, one per mounted hierarchy, read from /proc/self/mountinfo's text. Pure.

crun makes `/sys/fs/cgroup/<hierarchy>/hp/<tag>-<name>` on every hierarchy (each v1 controller,
named ones such as systemd, and the v2 unified one): 11 directories on a Debian 12 hybrid host.
A `crun create` that fails after making them leaves them behind; the executor removes exactly
these, and only when they are empty of processes (rmdir)."""

from __future__ import annotations

import re

from .defaults import Defaults, defaults
from .errors import HpError, quote
from .names import CONTAINER_NAME

CGROUP_ROOT = "/sys/fs/cgroup"  # where crun looks for the hierarchies
_TAGGED = re.compile(r"[0-9a-f]{12}-(.+)")


def cgroups_path(cgroup_name: str, d: Defaults | None = None) -> str:
    """linux.cgroupsPath for a container: /hp/<cgroup_name> (hp's parent, then the name)."""
    return f"{(d or defaults()).cgroup_parent}/{cgroup_name}"


def cgroup_mounts(mountinfo: str) -> tuple[str, ...]:
    """The mount points under /sys/fs/cgroup of every cgroup (v1) and cgroup2 filesystem, in order."""
    found = []
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        fields, kind = before.split(), after.split()[:1]
        if not sep or len(fields) < 5 or kind not in (["cgroup"], ["cgroup2"]):
            continue
        point = _unescape(fields[4])
        if point == CGROUP_ROOT or point.startswith(CGROUP_ROOT + "/"):
            found.append(point)
    return tuple(found)


def container_cgroup_dirs(mount_points: tuple[str, ...], path: str, d: Defaults | None = None) -> tuple[str, ...]:
    """The directories `path` (a container's cgroupsPath as hp apply makes it: /hp/<tag>-<name>) is on
    each hierarchy. Refuses any other path: hp removes nothing but its own containers' cgroups."""
    parent = (d or defaults()).cgroup_parent
    name = path[len(parent) + 1 :] if path.startswith(parent + "/") else ""
    tagged = _TAGGED.fullmatch(name)
    if not tagged or not CONTAINER_NAME.fullmatch(tagged[1]):
        raise HpError("cgroup", f"{quote(path)} is not a container's cgroup under {parent}")
    return tuple(f"{point}{path}" for point in mount_points)


def monitor_cgroup_path(tag: str, d: Defaults | None = None) -> str:
    """Where hp puts the conmon of each container of the state dir tagged `tag`: a cgroup of
    its own (as podman's /libpod_parent/conmon), neither the caller's (ending a login session or
    a systemd unit must not end the monitors) nor a container's (a container's limits and its
    removal must not touch its monitor)."""
    return f"{(d or defaults()).cgroup_parent}/conmon-{tag}"


def monitor_cgroup_dirs(mount_points: tuple[str, ...], tag: str, d: Defaults | None = None) -> tuple[str, ...]:
    """monitor_cgroup_path on every hierarchy: a monitor is moved into each."""
    if not re.fullmatch(r"[0-9a-f]{12}", tag):
        raise HpError("cgroup", f"{quote(tag)} is not a state dir's tag")
    return tuple(f"{point}{monitor_cgroup_path(tag, d)}" for point in mount_points)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in a path as \\040, \\011, \\012, \\134."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)
