"""`hp stats`: a container's counters read from its cgroup files and its network namespace's
/proc/PID/net/dev, turned into figures by compiler/stats.py. Nothing is written anywhere.

The pid is the one crun wrote in STATE/containers/NAME/pid; it is used only through a
descriptor of /proc/PID that is first checked to be in the container's cgroup, so a pid that
ended and was given to another process is never read as the container's (reads through the
descriptor of a process that ended fail: that container is then left out of the sample)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from compiler import stats as figures
from compiler.cgroups import cgroups_path
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.names import check_container_name, is_container_name
from compiler.state import is_running
from compiler.stats import CgroupFiles, Reading, Stats

from . import containers, networking
from .lifecycle import require
from .store import read_int

STREAM_INTERVAL = 1.0  # seconds between two tables (or JSON lines)
SAMPLE_GAP = 0.5  # --no-stream: seconds between the two readings CPU % is measured over
_READ_LIMIT = 1 << 20  # a cgroup or /proc file is a few kB; never read more


def watch(layout: Layout, names: tuple[str, ...], show: Callable[[list[Stats]], None], *, stream: bool) -> None:
    """show() the figures of `names` (each must be running), or of every running container: once
    (`stream` False), or every STREAM_INTERVAL until interrupted. A named container that is not
    running any more is an error for a single sample, and left out of a stream's later tables
    (a restart by policy may bring it back)."""
    for name in names:
        check_container_name(name)  # every name, before anything is read
    chosen = running(layout, names)
    mountinfo, meminfo = _read_text("/proc/self/mountinfo"), _read_text("/proc/meminfo")
    before = {r.name: r for r in sample(layout, chosen, mountinfo, meminfo)}
    while True:
        time.sleep(STREAM_INTERVAL if stream else SAMPLE_GAP)
        if names and stream:
            chosen = [name for name in dict.fromkeys(names) if containers.exists(layout, name)]
        elif not names:
            chosen = running(layout, ())  # containers come and go
        now = sample(layout, chosen, mountinfo, meminfo)
        if not stream:
            gone = [name for name in chosen if name not in {r.name for r in now}]
            if gone:
                raise HpError(gone[0], "not running")
        show([figures.stats(before.get(r.name), r) for r in now])
        if not stream:
            return
        before = {r.name: r for r in now}


def running(layout: Layout, names: tuple[str, ...]) -> list[str]:
    """`names` (in order, once each), each checked to be hp's and running; without names, every
    running container of the state dir."""
    statuses = containers.crun_statuses(layout)
    if not names:
        return sorted(
            name
            for name, status in statuses.items()
            if is_running(status) and is_container_name(name) and containers.exists(layout, name)
        )
    for name in names:
        require(layout, name)
        if not is_running(statuses.get(name)):
            raise HpError(name, "not running")
    return list(dict.fromkeys(names))


def sample(layout: Layout, names: list[str], mountinfo: str, meminfo: str) -> list[Reading]:
    """The counters of each container of `names` that is running now (in order)."""
    readings = (read_counters(layout, name, mountinfo, meminfo) for name in names)
    return [r for r in readings if r is not None]


def read_counters(layout: Layout, name: str, mountinfo: str, meminfo: str) -> Reading | None:
    """`name`'s counters, or None if its process is not (or no longer) there."""
    pid = read_int(layout.pid_file(name))
    if pid is None or pid <= 0:
        return None
    path = cgroups_path(layout.cgroup_name(name))
    setup = networking.read_setup(layout, name)
    try:
        proc = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        if not figures.proc_in_cgroup(_read_at(proc, "cgroup"), path):
            return None
        files = read_cgroup_files(figures.stat_files(mountinfo, path))
        at_ns = time.monotonic_ns()
        # a host-networked container has no namespace of its own: its net/dev would be the host's
        net_dev = None if setup is None or setup.mode == "host" else _read_at(proc, "net/dev")
    except OSError:  # ESRCH: it ended while being read
        return None
    finally:
        os.close(proc)
    return figures.reading(name, pid, at_ns, files, meminfo, net_dev)


def read_cgroup_files(wanted: tuple[figures.StatFile, ...]) -> CgroupFiles:
    """The text of each file that exists (a controller that is not there has none)."""
    v1: dict[str, str] = {}
    v2: dict[str, str] = {}
    for f in wanted:
        try:
            text = _read_text(f.path)
        except OSError:
            continue
        (v1 if f.version == 1 else v2)[f.name] = text
    return CgroupFiles(v1=v1, v2=v2)


def _read_text(path: str) -> str:
    with open(path, "rb") as f:
        return f.read(_READ_LIMIT).decode("utf-8", "replace")


def _read_at(directory: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY, dir_fd=directory)
    with os.fdopen(fd, "rb") as f:
        return f.read(_READ_LIMIT).decode("utf-8", "replace")
