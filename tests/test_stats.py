"""hp stats' figures (compiler/stats.py, issue 12 item 3): file contents in, numbers out, for
cgroup v1 (this Debian 12 VM's hybrid layout), v2 (a unified host) and what either may lack.
The file contents are as the kernel writes them (taken from this VM's cgroups where it has them)."""

from __future__ import annotations

import msgspec
import pytest

from compiler import stats as s
from compiler.cgroups import cgroups_path
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.stats import CgroupFiles, Reading

TAG = Layout("/var/lib/hp").tag
PATH = cgroups_path(f"{TAG}-web")
MEMINFO = "MemTotal:       24683652 kB\nMemFree:        20000000 kB\nMemAvailable:   22000000 kB\n"
HOST = 24683652 * 1024
V1_UNLIMITED = "9223372036854771712\n"

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/hugetlb rw,relatime - cgroup cgroup rw,hugetlb
"""
COMOUNTED = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
UNIFIED = "30 25 0:29 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n"

V1_MEMORY_STAT = """\
cache 2097152
rss 41943040
rss_huge 0
shmem 0
mapped_file 0
inactive_anon 41943040
active_anon 4096
inactive_file 1048576
active_file 1048576
unevictable 0
hierarchical_memory_limit 134217728
hierarchical_memsw_limit 9223372036854771712
total_cache 2097152
total_rss 41943040
total_inactive_anon 41943040
total_active_anon 4096
total_inactive_file 1572864
total_active_file 1048576
total_unevictable 0
"""
V1_BLKIO = """\
8:0 Read 1048576
8:0 Write 8192
8:0 Sync 1056768
8:0 Async 0
8:0 Discard 0
8:0 Total 1056768
253:1 Read 4096
253:1 Write 0
253:1 Sync 4096
253:1 Async 0
253:1 Discard 0
253:1 Total 4096
Total 1060864
"""
V2_CPU_STAT = "usage_usec 4942\nuser_usec 2565\nsystem_usec 2376\nnice_usec 0\n"
V2_MEMORY_STAT = """\
anon 41943040
file 4194304
kernel 327680
kernel_stack 16384
shmem 41943040
file_mapped 0
inactive_anon 41943040
active_anon 0
inactive_file 2097152
active_file 2097152
unevictable 0
"""
V2_IO_STAT = (
    "8:0 rbytes=1048576 wbytes=8192 rios=16 wios=2 dbytes=0 dios=0\n"
    "253:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"
)
NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  431983  1547    0    0    0     0          0         0   431983  1547    0    0    0     0       0          0
  eth0: 2324651    6281    0    0    0     0          0         0   564318    4543    0    0    0     0       0          0
  eth1:1000 2 0 0 0 0 0 0 20 1 0 0 0 0 0 0
"""  # noqa: E501 (the kernel's own columns)

V1_FULL = CgroupFiles(
    v1={
        "cpuacct.usage": "4942261\n",
        "memory.usage_in_bytes": "46137344\n",
        "memory.limit_in_bytes": "134217728\n",
        "memory.stat": V1_MEMORY_STAT,
        "pids.current": "3\n",
        "blkio.throttle.io_service_bytes_recursive": V1_BLKIO,
    },
    v2={"cpu.stat": V2_CPU_STAT},
)
V2_FULL = CgroupFiles(
    v2={
        "cpu.stat": V2_CPU_STAT,
        "memory.current": "46137344\n",
        "memory.max": "134217728\n",
        "memory.stat": V2_MEMORY_STAT,
        "pids.current": "3\n",
        "io.stat": V2_IO_STAT,
    }
)


def v1_dirs(*hierarchies: str) -> list[str]:
    return [f"/sys/fs/cgroup/{h}/hp/{TAG}-web" for h in hierarchies]


@pytest.mark.parametrize(
    "mountinfo, expected",
    [
        (
            HYBRID,
            [(1, f"{v1_dirs('cpuacct')[0]}/cpuacct.usage")]
            + [
                (1, f"{v1_dirs('memory')[0]}/{n}")
                for n in ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat")
            ]
            + [(1, f"{v1_dirs('blkio')[0]}/{n}") for n in s.V1_FILES["blkio"]]
            + [(1, f"{v1_dirs('pids')[0]}/pids.current")]
            + [(2, f"{v1_dirs('unified')[0]}/{n}") for n in s.V2_FILES],
        ),
        (COMOUNTED, [(1, f"{v1_dirs('cpu,cpuacct')[0]}/cpuacct.usage")]),
        (UNIFIED, [(2, f"/sys/fs/cgroup/hp/{TAG}-web/{n}") for n in s.V2_FILES]),
        ("", []),
    ],
    ids=["hybrid", "cpu-cpuacct-comounted", "unified", "no-cgroups"],
)
def test_the_files_read_are_each_controllers_own(mountinfo: str, expected: list) -> None:
    assert [(f.version, f.path) for f in s.stat_files(mountinfo, PATH)] == expected


def test_only_a_containers_cgroup_is_read() -> None:
    with pytest.raises(HpError, match="is not a container's cgroup"):
        s.stat_files(HYBRID, "/hp/../../etc")


@pytest.mark.parametrize(
    "files, expected",
    [
        (V1_FULL, 4942261),
        (CgroupFiles(v2={"cpu.stat": V2_CPU_STAT}), 4942000),  # a hybrid host without cpuacct: the unified cpu.stat
        (V2_FULL, 4942000),
        (CgroupFiles(), None),
        (CgroupFiles(v1={"cpuacct.usage": "garbage\n"}), None),
    ],
    ids=["v1-cpuacct", "hybrid-unified-only", "v2-usage-usec", "none", "unreadable"],
)
def test_cpu_nanos(files: CgroupFiles, expected: int | None) -> None:
    assert s.cpu_nanos(files) == expected


@pytest.mark.parametrize(
    "files, expected",
    [
        # usage minus total_inactive_file (the hierarchy's), the limit as set
        (V1_FULL, (46137344 - 1572864, 134217728)),
        (
            CgroupFiles(
                v1={
                    "memory.usage_in_bytes": "46137344\n",
                    "memory.limit_in_bytes": V1_UNLIMITED,
                    "memory.stat": "inactive_file 1048576\n",
                }
            ),
            (46137344 - 1048576, HOST),
        ),
        (V2_FULL, (46137344 - 2097152, 134217728)),
        (
            CgroupFiles(v2={"memory.current": "46137344\n", "memory.max": "max\n", "memory.stat": V2_MEMORY_STAT}),
            (46137344 - 2097152, HOST),
        ),
        (
            CgroupFiles(
                v2={"memory.current": "4096\n", "memory.max": "64000000000000\n", "memory.stat": V2_MEMORY_STAT}
            ),
            (4096, HOST),
        ),  # inactive_file above usage (a race between the reads): usage as it is; a limit over the host's
        (CgroupFiles(v1={"memory.usage_in_bytes": "8192\n"}), (8192, HOST)),
        (CgroupFiles(v2={"cpu.stat": V2_CPU_STAT}), (None, HOST)),
    ],
    ids=["v1", "v1-unlimited", "v2", "v2-max", "v2-race-and-huge-limit", "v1-no-stat-no-limit", "no-memory-controller"],
)
def test_memory(files: CgroupFiles, expected: tuple) -> None:
    assert s.memory(files, s.mem_total(MEMINFO)) == expected


@pytest.mark.parametrize(
    "files, expected",
    [
        (V1_FULL, (1048576 + 4096, 8192)),
        (CgroupFiles(v1={"blkio.throttle.io_service_bytes_recursive": "Total 0\n"}), (0, 0)),
        (CgroupFiles(v1={"blkio.io_service_bytes_recursive": V1_BLKIO}), (1052672, 8192)),
        (V2_FULL, (1048576 + 4096, 8192)),
        (CgroupFiles(v2={"io.stat": ""}), (0, 0)),
        (CgroupFiles(v2={"cpu.stat": V2_CPU_STAT}), (None, None)),
    ],
    ids=["v1-throttle", "v1-idle", "v1-cfq", "v2", "v2-idle", "no-io-controller"],
)
def test_block_io(files: CgroupFiles, expected: tuple) -> None:
    assert s.block_io(files) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (NET_DEV, (2324651 + 1000, 564318 + 20)),
        ("\n".join(NET_DEV.splitlines()[:3]), (0, 0)),  # lo only (network = "none")
        ("", (0, 0)),
    ],
    ids=["two-interfaces-and-lo", "lo-only", "empty"],
)
def test_net_bytes(text: str, expected: tuple) -> None:
    assert s.net_bytes(text) == expected


@pytest.mark.parametrize(
    "text, expected", [(MEMINFO, HOST), ("MemFree: 1 kB\n", None), ("", None)], ids=["kB", "missing", "empty"]
)
def test_mem_total(text: str, expected: int | None) -> None:
    assert s.mem_total(text) == expected


def a_reading(pid: int = 100, at_ns: int = 0, cpu_ns: int | None = 0, files: CgroupFiles = V1_FULL) -> Reading:
    r = s.reading("web", pid, at_ns, files, MEMINFO, NET_DEV)
    return msgspec.structs.replace(r, cpu_ns=cpu_ns)


@pytest.mark.parametrize(
    "before, after, expected",
    [
        (a_reading(at_ns=0, cpu_ns=0), a_reading(at_ns=10**9, cpu_ns=5 * 10**8), 50.0),
        (a_reading(at_ns=0, cpu_ns=0), a_reading(at_ns=10**9, cpu_ns=2 * 10**9), 200.0),  # two CPUs busy
        (a_reading(at_ns=0, cpu_ns=7), a_reading(at_ns=5 * 10**8, cpu_ns=7), 0.0),
        (None, a_reading(), None),
        (a_reading(pid=100), a_reading(pid=200, at_ns=10**9), None),  # restarted in between
        (a_reading(cpu_ns=None), a_reading(at_ns=10**9), None),
        (a_reading(at_ns=5), a_reading(at_ns=5, cpu_ns=9), None),
    ],
    ids=["half-a-cpu", "two-cpus", "idle", "first-reading", "restarted", "no-cpu-figure", "no-time-passed"],
)
def test_cpu_percent(before: Reading | None, after: Reading, expected: float | None) -> None:
    assert s.cpu_percent(before, after) == expected


def test_a_v1_sample_as_json() -> None:
    before = s.reading("web", 100, 0, V1_FULL, MEMINFO, NET_DEV)
    after = s.reading(
        "web",
        100,
        10**9,
        msgspec.structs.replace(V1_FULL, v1={**V1_FULL.v1, "cpuacct.usage": str(4942261 + 25 * 10**7)}),
        MEMINFO,
        NET_DEV,
    )
    assert msgspec.json.decode(msgspec.json.encode([s.stats(before, after)])) == [
        {
            "name": "web",
            "cpu_percent": 25.0,
            "memory_usage": 44564480,
            "memory_limit": 134217728,
            "memory_percent": 44564480 / 134217728 * 100,
            "pids": 3,
            "net_rx": 2325651,
            "net_tx": 564338,
            "block_read": 1052672,
            "block_write": 8192,
        }
    ]


def test_a_host_networked_container_has_no_network_figures() -> None:
    r = s.reading("web", 100, 0, V2_FULL, MEMINFO, None)
    assert (r.net_rx, r.net_tx, r.pids, r.memory_limit) == (None, None, 3, 134217728)


@pytest.mark.parametrize(
    "stats, row",
    [
        (
            s.Stats("web", 25.0, 44564480, 134217728, 33.203125, 3, 2325651, 564338, 1052672, 8192),
            ("web", "25.00%", "42.5MiB / 128MiB", "33.20%", "2.326MB / 564.3kB", "1.053MB / 8.192kB", "3"),
        ),
        (
            s.Stats("db", None, None, HOST, None, None, None, None, None, None),
            ("db", "--", "-- / 23.54GiB", "--", "-- / --", "-- / --", "--"),
        ),
        (
            s.Stats("x", 0.0, 0, 1023, 0.0, 1, 999, 1000, 0, 0),
            ("x", "0.00%", "0B / 1023B", "0.00%", "999B / 1kB", "0B / 0B", "1"),
        ),
    ],
    ids=["figures", "unknown", "unit-edges"],
)
def test_table_rows(stats: s.Stats, row: tuple) -> None:
    assert s.table_row(stats) == row
    assert len(s.table_row(stats)) == len(s.HEADER)


@pytest.mark.parametrize(
    "proc_cgroup, expected",
    [
        (f"4:memory:{PATH}\n1:cpu:{PATH}\n0::{PATH}\n", True),
        (f"0::{PATH}\n", True),  # a unified host
        (f"4:memory:{PATH}/sub\n0::/user.slice\n", False),
        ("4:memory:/hp/other\n0::/\n", False),
        ("", False),
    ],
    ids=["hybrid", "unified", "elsewhere", "another-container", "ended"],
)
def test_proc_in_cgroup(proc_cgroup: str, expected: bool) -> None:
    assert s.proc_in_cgroup(proc_cgroup, PATH) is expected
