"""hp stats' figures, from the text of a container's cgroup files, /proc/PID/net/dev and /proc/meminfo.
Pure: the executor (executor/stats.py) reads the files this module names, and hands their text back.

The figures are podman's: CPU % is the CPU time used between two readings against the wall time
between them (100% = one CPU); memory usage leaves out the inactive page cache (usage minus
inactive_file), and an unlimited limit is the host's memory; network bytes are summed over the
container's interfaces but lo; block I/O is the bytes read and written, summed over devices.

Where a host has both (a v1/v2 hybrid), a v1 controller's file is used, as podman and docker use
v1 on such a host; the unified hierarchy's file is used where no v1 controller has the figure
(cpu.stat's usage_usec is there even with no controller enabled)."""

from __future__ import annotations

import msgspec

from .cgroups import cgroup_mounts, container_cgroup_dirs

# the files read on each v1 controller's hierarchy, and on the unified one
V1_FILES = {
    "cpuacct": ("cpuacct.usage",),
    "memory": ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat"),
    "pids": ("pids.current",),
    "blkio": ("blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive"),
}
V2_FILES = ("cpu.stat", "memory.current", "memory.max", "memory.stat", "pids.current", "io.stat")


class StatFile(msgspec.Struct, frozen=True):
    version: int  # 1 or 2
    name: str  # "memory.stat"
    path: str  # /sys/fs/cgroup/memory/hp/<tag>-<name>/memory.stat


class CgroupFiles(msgspec.Struct, frozen=True):
    """The text of the files of stat_files that exist, by name: the v1 ones, and the unified one's."""

    v1: dict[str, str] = {}
    v2: dict[str, str] = {}


class Reading(msgspec.Struct, frozen=True):
    """One container's counters at one moment (None: not available on this host)."""

    name: str
    pid: int
    at_ns: int  # a monotonic clock's time of the CPU reading
    cpu_ns: int | None
    memory_usage: int | None
    memory_limit: int | None
    pids: int | None
    net_rx: int | None
    net_tx: int | None
    block_read: int | None
    block_write: int | None


class Stats(msgspec.Struct, frozen=True):
    """What `hp stats --json` gives for one container: bytes, and percentages as floats."""

    name: str
    cpu_percent: float | None
    memory_usage: int | None
    memory_limit: int | None
    memory_percent: float | None
    pids: int | None
    net_rx: int | None
    net_tx: int | None
    block_read: int | None
    block_write: int | None


def stat_files(mountinfo: str, cgroup_path: str) -> tuple[StatFile, ...]:
    """The files to read for a container whose cgroupsPath is `cgroup_path` (checked as hp's own
    container's by container_cgroup_dirs): each v1 hierarchy's files for its controllers (from
    the mount's options), and the unified hierarchy's."""
    controllers = _mount_controllers(mountinfo)
    points = cgroup_mounts(mountinfo)
    found = []
    for point, directory in zip(points, container_cgroup_dirs(points, cgroup_path), strict=True):
        kind = controllers.get(point)
        if kind is None:
            found += [StatFile(2, name, f"{directory}/{name}") for name in V2_FILES]
        else:
            found += [
                StatFile(1, name, f"{directory}/{name}")
                for controller in sorted(kind)
                for name in V1_FILES.get(controller, ())
            ]
    return tuple(found)


def _mount_controllers(mountinfo: str) -> dict[str, frozenset[str]]:
    """Each v1 cgroup mount's controllers (its super options: "rw,cpu,cpuacct"); cgroup2 mounts
    are not in it."""
    found = {}
    for line in mountinfo.splitlines():
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) >= 5 and len(rest) >= 3 and rest[0] == "cgroup":
            point = cgroup_mounts(line)
            if point:
                found[point[0]] = frozenset(rest[2].split(","))
    return found


def reading(name: str, pid: int, at_ns: int, files: CgroupFiles, meminfo: str, net_dev: str | None) -> Reading:
    """The counters in the files' text; net_dev None: the container has no network namespace of its own."""
    usage, limit = memory(files, mem_total(meminfo))
    rx, tx = net_bytes(net_dev) if net_dev is not None else (None, None)
    read, written = block_io(files)
    return Reading(
        name=name,
        pid=pid,
        at_ns=at_ns,
        cpu_ns=cpu_nanos(files),
        memory_usage=usage,
        memory_limit=limit,
        pids=_int(files.v1.get("pids.current") or files.v2.get("pids.current")),
        net_rx=rx,
        net_tx=tx,
        block_read=read,
        block_write=written,
    )


def stats(before: Reading | None, after: Reading) -> Stats:
    """The figures of `after`, its CPU % since `before` (None without an earlier reading of the same run)."""
    return Stats(
        name=after.name,
        cpu_percent=cpu_percent(before, after),
        memory_usage=after.memory_usage,
        memory_limit=after.memory_limit,
        memory_percent=_percent(after.memory_usage, after.memory_limit),
        pids=after.pids,
        net_rx=after.net_rx,
        net_tx=after.net_tx,
        block_read=after.block_read,
        block_write=after.block_write,
    )


def cpu_percent(before: Reading | None, after: Reading) -> float | None:
    if before is None or before.pid != after.pid or before.cpu_ns is None or after.cpu_ns is None:
        return None  # a restart between the readings starts the counter again
    wall = after.at_ns - before.at_ns
    used = after.cpu_ns - before.cpu_ns
    if wall <= 0 or used < 0:
        return None
    return used / wall * 100.0


def cpu_nanos(files: CgroupFiles) -> int | None:
    """CPU time used by the container's processes, in nanoseconds: v1 cpuacct.usage, or v2 cpu.stat's usage_usec."""
    usage = _int(files.v1.get("cpuacct.usage"))
    if usage is not None:
        return usage
    usec = _keyed(files.v2.get("cpu.stat", "")).get("usage_usec")
    return None if usec is None else usec * 1000


def memory(files: CgroupFiles, host_total: int | None) -> tuple[int | None, int | None]:
    """(usage, limit) in bytes: usage without the inactive page cache, the limit at most the host's memory."""
    if "memory.usage_in_bytes" in files.v1:
        usage = _int(files.v1["memory.usage_in_bytes"])
        stat = _keyed(files.v1.get("memory.stat", ""))
        inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))  # total_: with sub-cgroups
        limit = _int(files.v1.get("memory.limit_in_bytes"))
    elif "memory.current" in files.v2:
        usage = _int(files.v2["memory.current"])
        inactive = _keyed(files.v2.get("memory.stat", "")).get("inactive_file", 0)
        limit_text = files.v2.get("memory.max", "").strip()
        limit = None if limit_text == "max" else _int(limit_text)
    else:
        return None, host_total
    if usage is not None:
        usage = usage - inactive if inactive < usage else usage  # docker's rule: never below zero
    if limit is None or (host_total is not None and limit > host_total):
        limit = host_total  # v1's "unlimited" is 9223372036854771712, v2's is "max"
    return usage, limit


def mem_total(meminfo: str) -> int | None:
    """/proc/meminfo's MemTotal, in bytes."""
    for line in meminfo.splitlines():
        key, _, value = line.partition(":")
        if key == "MemTotal":
            words = value.split()
            if words and words[0].isdigit():
                return int(words[0]) * (1024 if words[1:] == ["kB"] else 1)
    return None


def net_bytes(net_dev: str) -> tuple[int, int]:
    """(received, sent) bytes over every interface but lo, from /proc/PID/net/dev."""
    rx = tx = 0
    for line in net_dev.splitlines()[2:]:  # two header lines
        interface, sep, counters = line.partition(":")
        numbers = counters.split()
        if not sep or interface.strip() == "lo" or len(numbers) < 9 or not all(n.isdigit() for n in numbers):
            continue
        rx += int(numbers[0])
        tx += int(numbers[8])
    return rx, tx


def block_io(files: CgroupFiles) -> tuple[int | None, int | None]:
    """(read, written) bytes: v1 blkio's io_service_bytes (the throttle layer's, which counts every
    request, else CFQ's), or v2 io.stat's rbytes and wbytes; summed over devices."""
    for name in V1_FILES["blkio"]:
        if name in files.v1:
            return _blkio_sums(files.v1[name])
    if "io.stat" in files.v2:
        read = written = 0
        for line in files.v2["io.stat"].splitlines():
            fields = dict(word.partition("=")[::2] for word in line.split()[1:])
            read += _int(fields.get("rbytes")) or 0
            written += _int(fields.get("wbytes")) or 0
        return read, written
    return None, None


def _blkio_sums(text: str) -> tuple[int, int]:
    """'8:0 Read 4096' lines (also Write, Sync, Async, Discard, Total per device, and a last 'Total N')."""
    sums = {"Read": 0, "Write": 0}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[1] in sums and words[2].isdigit():
            sums[words[1]] += int(words[2])
    return sums["Read"], sums["Write"]


def _keyed(text: str) -> dict[str, int]:
    """'key value' lines (memory.stat, cpu.stat) as numbers."""
    found = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit():
            found[words[0]] = int(words[1])
    return found


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def _percent(part: int | None, whole: int | None) -> float | None:
    return None if part is None or not whole else part / whole * 100.0


# ------------------------------------------------------------------------------- the table

HEADER = ("NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")


def table_row(s: Stats) -> tuple[str, ...]:
    """As podman shows them: memory in binary units (MiB), network and block I/O in decimal ones (MB)."""
    return (
        s.name,
        _shown_percent(s.cpu_percent),
        f"{binary_size(s.memory_usage)} / {binary_size(s.memory_limit)}",
        _shown_percent(s.memory_percent),
        f"{decimal_size(s.net_rx)} / {decimal_size(s.net_tx)}",
        f"{decimal_size(s.block_read)} / {decimal_size(s.block_write)}",
        "--" if s.pids is None else str(s.pids),
    )


def binary_size(size: int | None) -> str:
    return _size(size, 1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"))


def decimal_size(size: int | None) -> str:
    return _size(size, 1000, ("B", "kB", "MB", "GB", "TB", "PB"))


def _size(size: int | None, base: int, units: tuple[str, ...]) -> str:
    if size is None:
        return "--"
    value, unit = float(size), units[0]
    for unit in units:
        if value < base or unit == units[-1]:
            break
        value /= base
    return f"{value:.4g}{unit}"


def _shown_percent(value: float | None) -> str:
    return "--" if value is None else f"{value:.2f}%"


def proc_in_cgroup(proc_cgroup: str, cgroup_path: str) -> bool:
    """Whether /proc/PID/cgroup's text puts the process in `cgroup_path` on some hierarchy: the
    pid in a container's pid file is still its process (not a later one given the same number)."""
    return any(line.split(":", 2)[2:] == [cgroup_path] for line in proc_cgroup.splitlines())
