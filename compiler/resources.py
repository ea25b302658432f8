"""Sizes, CPU shares, durations and limits: parsed from hp.toml values, checked, as plain numbers."""

from __future__ import annotations

import re

from .errors import HpError, quote

_SIZE = re.compile(r"([0-9]+)([bkmg]?)", re.ASCII | re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MAX_INT64 = 2**63 - 1
MIN_MEMORY = 6 * 1024**2  # what Docker and podman require; less fails at start-up
CPU_PERIOD = 100_000
# the kernel's pids.max takes 0..PID_MAX_LIMIT (4194304 on 64-bit; kernel/cgroup/pids.c refuses
# anything from PID_MAX_LIMIT + 1 up with EINVAL, and crun then fails half-way through create)
MAX_PIDS = 4 * 1024 * 1024


def parse_size(value: int | str, where: str) -> int:
    """Bytes from 268435456 or "256m" (b, k, m, g; 1024-based; any case)."""
    if isinstance(value, int):
        size = value
    else:
        m = _SIZE.fullmatch(value)
        if not m:
            raise HpError(where, f'expected a size like "256m" (b, k, m or g) or a number of bytes, got {quote(value)}')
        size = int(m[1]) * _UNITS[m[2].lower()]
    if size <= 0:
        raise HpError(where, f"size must be positive, got {value}")
    if size > MAX_INT64:
        raise HpError(where, f"size {value} is too large")
    return size


def memory_limits(memory: int | str | None, swap: int | str | None, where: str) -> tuple[int | None, int | None]:
    """(limit, memory+swap) in bytes; swap -1 means unlimited swap."""
    limit = parse_size(memory, f"{where}.memory") if memory is not None else None
    if limit is not None and limit < MIN_MEMORY:
        raise HpError(f"{where}.memory", f"{memory} is below the minimum of 6m")
    if swap is None:
        return limit, None
    if swap == -1 or swap == "-1":
        total = -1
    else:
        total = parse_size(swap, f"{where}.memory_swap")
    if limit is None:
        raise HpError(f"{where}.memory_swap", "needs memory to be set too (memory_swap is memory plus swap)")
    if total != -1 and total < limit:
        raise HpError(
            f"{where}.memory_swap",
            f"{swap} is below memory ({memory}): memory_swap is memory plus swap, so it must be at least memory",
        )
    return limit, total


def cpu_quota(cpus: float | None, where: str) -> int | None:
    """The CFS quota for a period of 100000 µs: cpus=0.5 → 50000."""
    if cpus is None:
        return None
    if not (cpus > 0) or cpus != cpus or cpus > 4096:
        raise HpError(where, f"must be a number of CPUs above 0 (at most 4096), got {cpus}")
    quota = round(cpus * CPU_PERIOD)
    if quota < 1000:
        raise HpError(where, f"{cpus} is below the minimum of 0.01 CPUs")
    return quota


def pids_limit(value: int | None, where: str) -> int | None:
    """1..4194304 processes, or -1 for no limit."""
    if value is None:
        return None
    if value == -1:
        return -1
    if not 0 < value <= MAX_PIDS:
        raise HpError(
            where,
            f"must be a number of processes from 1 to {MAX_PIDS} (the kernel's largest), "
            f"or -1 for no limit, got {value}",
        )
    return value


_DURATION = re.compile(r"([0-9]+)([smh]?)", re.ASCII | re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}
MAX_DURATION = 24 * 3600


def parse_duration(value: float | str, where: str) -> float:
    """Seconds from 90, 2.5 or "90s", "5m", "1h" (a whole number and one unit, any case; none: seconds),
    above 0 and at most a day."""
    if isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if not m:
            raise HpError(
                where, f'expected a duration like "60s", "5m" or "1h", or a number of seconds, got {quote(value)}'
            )
        seconds: float = int(m[1]) * _SECONDS[m[2].lower()]
    else:
        seconds = value
    if not 0 < seconds <= MAX_DURATION:  # also refuses nan
        shown = quote(value) if isinstance(value, str) else value
        raise HpError(where, f"must be above 0 and at most 24h, got {shown}")
    return float(seconds)


DEFAULT_PULL_TIMEOUT = 60.0  # a registry that accepts and never answers must not hold the state lock for long


def pull_timeout(value: float | str | None, where: str) -> float:
    """A registry's `timeout` in seconds: how long one `podman pull` from it may take."""
    return DEFAULT_PULL_TIMEOUT if value is None else parse_duration(value, where)


def parse_mode(value: int | str, where: str) -> int:
    """A file mode: 0o1777 (TOML octal integer) or "1777" (octal string)."""
    if isinstance(value, str):
        if not re.fullmatch(r"0?[0-7]{1,4}", value, re.ASCII):
            raise HpError(where, f'expected an octal mode like "1777", got {quote(value)}')
        mode = int(value, 8)
    else:
        mode = value
    if not 0 <= mode <= 0o7777:
        raise HpError(where, f"mode {value} is out of range (0 to 0o7777)")
    return mode


RLIMITS = (
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
)
MAX_UINT64 = 2**64 - 1
# RLIMIT_NOFILE may not exceed the sysctl fs.nr_open (default 1048576), which itself stops at
# 2147483584 on 64-bit (INT_MAX rounded down to a multiple of 64): above that, setrlimit always fails
MAX_NOFILE = 2**31 - 64


def rlimit(name: str, value: tuple[int, int] | int, where: str) -> tuple[str, int, int]:
    """("RLIMIT_NOFILE", soft, hard) from a ulimits entry like nofile = [1024, 2048]."""
    key = name.lower()
    if key.startswith("rlimit_"):
        key = key[len("rlimit_") :]
    if key not in RLIMITS:
        raise HpError(where, f"unknown ulimit {quote(name)} (known: {', '.join(RLIMITS)})")
    soft, hard = (value, value) if isinstance(value, int) else value
    for v in (soft, hard):
        if not 0 <= v <= MAX_UINT64:
            raise HpError(where, f"limit {v} is out of range (0 to {MAX_UINT64})")
    if soft > hard:
        raise HpError(where, f"soft limit {soft} is above hard limit {hard}")
    if key == "nofile" and hard > MAX_NOFILE:
        raise HpError(
            where,
            f"limit {hard} is above {MAX_NOFILE}, the most open files the kernel ever allows "
            "(and above the host's fs.nr_open, 1048576 unless raised)",
        )
    return f"RLIMIT_{key.upper()}", soft, hard
