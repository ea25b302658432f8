"""Sizes and limits (compiler/resources.py), against issue 2's rules and docs/conversion.md:

- memory / memory_swap / tmpfs size: bytes, or "<n>[b|k|m|g]", 1024-based, any case;
  memory at least 6m (Docker's and podman's minimum); memory_swap is memory PLUS swap,
  -1 = unlimited, needs memory, below memory is an error (crun refuses it on cgroup v2);
- cpus → CFS quota over a 100000 µs period (Docker's --cpus): round(cpus × 100000);
  above 0 (at least 0.01), at most 4096;
- pids_limit: 1..4194304 (the kernel's pids.max stops at PID_MAX_LIMIT), or -1 for no limit;
- durations (a registry's pull timeout): a number of seconds, or "<n>[s|m|h]" (any case; no unit:
  seconds); above 0, at most 24h; a registry's timeout defaults to 60 s;
- tmpfs mode: an octal string ("1777") or a TOML integer (0o1777), at most 0o7777;
- ulimits: name with or without RLIMIT_, any case; [soft, hard] or one value for both;
  0..2^64-1 (runtime-spec: uint64); soft <= hard; nofile at most 2^31-64 (the kernel's
  largest fs.nr_open: setrlimit refuses more).
"""

from __future__ import annotations

import math

import pytest

from compiler.errors import HpError
from compiler.resources import (
    CPU_PERIOD,
    DEFAULT_PULL_TIMEOUT,
    cpu_quota,
    memory_limits,
    parse_duration,
    parse_mode,
    parse_size,
    pids_limit,
    pull_timeout,
    rlimit,
)

K, M, G = 1024, 1024**2, 1024**3
WHERE = "containers.web"


def raises_at(where: str, fn, *args) -> HpError:
    with pytest.raises(HpError) as info:
        fn(*args)
    assert info.value.where == where, str(info.value)
    assert "\n" not in str(info.value)
    return info.value


# --------------------------------------------------------------------------- parse_size


@pytest.mark.parametrize(
    "value, expected",
    [
        (268435456, 268435456),
        ("268435456", 268435456),
        ("256m", 256 * M),
        ("256M", 256 * M),
        ("1g", G),
        ("1G", G),
        ("64k", 64 * K),
        ("64K", 64 * K),
        ("10b", 10),
        ("10B", 10),
        ("1", 1),
        (1, 1),
        ("007m", 7 * M),
        ("8589934591g", 8589934591 * G),
        (2**63 - 1, 2**63 - 1),
    ],
    ids=[
        "int-bytes",
        "string-bytes",
        "mebibytes",
        "mebibytes-upper",
        "gibibyte",
        "gibibyte-upper",
        "kibibytes",
        "kibibytes-upper",
        "b-suffix",
        "b-suffix-upper",
        "one-byte-string",
        "one-byte-int",
        "leading-zeros",
        "largest-in-int64",
        "int64-max",
    ],
)
def test_parse_size(value, expected: int) -> None:
    assert parse_size(value, "x") == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "m",
        "1.5g",
        "-1",
        "-1m",
        "0",
        0,
        "0m",
        -5,
        "1t",
        "1 m",
        " 1m",
        "1m ",
        "1,024",
        "1_000",
        "0x10",
        "\u0661\u0662m",
        "\uff11m",
        "lots",
        "8589934592g",
        2**63,
        "1e6",
    ],
    ids=[
        "empty",
        "unit-only",
        "fraction",
        "negative-string",
        "negative-with-unit",
        "zero-string",
        "zero-int",
        "zero-with-unit",
        "negative-int",
        "terabytes-unit-unknown",
        "inner-space",
        "leading-space",
        "trailing-space",
        "thousands-comma",
        "underscore",
        "hex",
        "arabic-indic-digits",
        "fullwidth-digit",
        "word",
        "overflows-int64",
        "int-overflows-int64",
        "exponent",
    ],
)
def test_parse_size_invalid(value) -> None:
    raises_at("containers.web.memory", parse_size, value, "containers.web.memory")


# --------------------------------------------------------------------------- memory_limits


@pytest.mark.parametrize(
    "memory, swap, expected",
    [
        (None, None, (None, None)),
        ("256m", None, (256 * M, None)),
        ("6m", None, (6 * M, None)),
        (6 * M, None, (6 * M, None)),
        ("256m", "512m", (256 * M, 512 * M)),
        ("256m", "256m", (256 * M, 256 * M)),
        ("256m", -1, (256 * M, -1)),
        ("256m", "-1", (256 * M, -1)),
        ("1g", 2 * G, (G, 2 * G)),
    ],
    ids=[
        "unset",
        "limit-only",
        "minimum-6m",
        "minimum-6m-int",
        "swap-above-limit",
        "swap-equal-limit",
        "unlimited-swap-int",
        "unlimited-swap-string",
        "mixed-forms",
    ],
)
def test_memory_limits(memory, swap, expected) -> None:
    assert memory_limits(memory, swap, WHERE) == expected


@pytest.mark.parametrize(
    "memory, swap, where",
    [
        ("5m", None, "containers.web.memory"),
        (6 * M - 1, None, "containers.web.memory"),
        ("1k", None, "containers.web.memory"),
        ("lots", None, "containers.web.memory"),
        ("256m", "128m", "containers.web.memory_swap"),
        ("256m", 256 * M - 1, "containers.web.memory_swap"),
        (None, "512m", "containers.web.memory_swap"),
        (None, -1, "containers.web.memory_swap"),
        ("256m", "lots", "containers.web.memory_swap"),
        ("256m", -2, "containers.web.memory_swap"),
        ("256m", 0, "containers.web.memory_swap"),
    ],
    ids=[
        "below-minimum",
        "one-byte-below-minimum",
        "far-below-minimum",
        "bad-memory",
        "swap-below-limit",
        "swap-one-byte-below-limit",
        "swap-without-memory",
        "unlimited-swap-without-memory",
        "bad-swap",
        "swap-minus-2",
        "swap-zero",
    ],
)
def test_memory_limits_invalid(memory, swap, where: str) -> None:
    raises_at(where, memory_limits, memory, swap, WHERE)


# --------------------------------------------------------------------------- cpu_quota


def test_cpu_period_is_dockers() -> None:
    assert CPU_PERIOD == 100_000


@pytest.mark.parametrize(
    "cpus, quota",
    [
        (None, None),
        (0.5, 50_000),
        (1.0, 100_000),
        (1, 100_000),
        (2.5, 250_000),
        (0.01, 1_000),
        (0.333, 33_300),
        (4096.0, 409_600_000),
        (0.123456, 12_346),
    ],
    ids=["unset", "half", "one", "one-int", "two-and-a-half", "minimum", "a-third", "maximum", "rounded"],
)
def test_cpu_quota(cpus, quota) -> None:
    assert cpu_quota(cpus, "containers.web.cpus") == quota


@pytest.mark.parametrize(
    "cpus",
    [0.0, -0.0, -1.0, 0.009, 0.0001, 4096.5, 1e9, math.inf, -math.inf, math.nan],
    ids=[
        "zero",
        "negative-zero",
        "negative",
        "below-minimum",
        "tiny",
        "above-maximum",
        "huge",
        "inf",
        "minus-inf",
        "nan",
    ],
)
def test_cpu_quota_invalid(cpus: float) -> None:
    raises_at("containers.web.cpus", cpu_quota, cpus, "containers.web.cpus")


# --------------------------------------------------------------------------- pids_limit


@pytest.mark.parametrize(
    "value, expected",
    [(None, None), (256, 256), (1, 1), (-1, -1), (4194304, 4194304)],
    ids=["unset", "typical", "one", "unlimited", "pid-max-limit"],
)
def test_pids_limit(value, expected) -> None:
    assert pids_limit(value, "containers.web.pids_limit") == expected


@pytest.mark.parametrize(
    "value",
    [0, -2, -100, 4194305, 2**63 - 1, 2**63],
    ids=["zero", "minus-2", "minus-100", "above-pid-max-limit", "int64-max-issue-9", "beyond-int64"],
)
def test_pids_limit_invalid(value: int) -> None:
    err = raises_at("containers.web.pids_limit", pids_limit, value, "containers.web.pids_limit")
    assert "4194304" in err.problem


# --------------------------------------------------------------------------- parse_duration


@pytest.mark.parametrize(
    "value, seconds",
    [
        (60, 60.0),
        (2.5, 2.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("5M", 300.0),
        ("1h", 3600.0),
        ("24h", 86400.0),
        (86400, 86400.0),
        ("1s", 1.0),
        (0.001, 0.001),
    ],
    ids=[
        "int",
        "float",
        "string-seconds",
        "seconds",
        "minutes",
        "minutes-upper",
        "hour",
        "a-day-hours",
        "a-day-seconds",
        "one-second",
        "a-millisecond",
    ],
)
def test_parse_duration(value, seconds: float) -> None:
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "s",
        "0",
        "0s",
        0,
        0.0,
        -1,
        "-1s",
        "1.5m",
        "1d",
        "5 m",
        " 5m",
        "1h30m",
        "25h",
        86401,
        10**400,
        "9" * 400,
        math.inf,
        math.nan,
        "\u0665m",
        "60sec",
    ],
    ids=[
        "empty",
        "unit-only",
        "zero-string",
        "zero-seconds",
        "zero-int",
        "zero-float",
        "negative",
        "negative-string",
        "fraction-string",
        "days",
        "inner-space",
        "leading-space",
        "compound",
        "above-a-day",
        "above-a-day-int",
        "huge-int",
        "huge-string",
        "inf",
        "nan",
        "arabic-indic-digit",
        "word-unit",
    ],
)
def test_parse_duration_invalid(value) -> None:
    raises_at("registries.r.timeout", parse_duration, value, "registries.r.timeout")


def test_pull_timeout_defaults_to_a_minute() -> None:
    assert DEFAULT_PULL_TIMEOUT == 60.0
    assert pull_timeout(None, "x") == 60.0
    assert pull_timeout("3s", "x") == 3.0


# --------------------------------------------------------------------------- parse_mode


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1777", 0o1777),
        ("0755", 0o755),
        ("755", 0o755),
        ("700", 0o700),
        ("0", 0),
        ("7777", 0o7777),
        (0o1777, 0o1777),
        (0o755, 0o755),
        (0, 0),
        (0o7777, 0o7777),
    ],
    ids=[
        "sticky-string",
        "leading-zero-string",
        "plain-string",
        "private-string",
        "zero-string",
        "max-string",
        "sticky-int",
        "int",
        "zero-int",
        "max-int",
    ],
)
def test_parse_mode(value, expected: int) -> None:
    assert parse_mode(value, "m") == expected


@pytest.mark.parametrize(
    "value",
    ["", "8", "789", "17777", "0o755", "rwx", " 755", "7 55", "\u0667\u0665\u0665", -1, 0o10000, 4096 * 8],
    ids=[
        "empty",
        "digit-8",
        "contains-8-9",
        "five-digits",
        "python-prefix",
        "symbolic",
        "leading-space",
        "inner-space",
        "arabic-indic-digits",
        "negative-int",
        "int-above-7777",
        "large-int",
    ],
)
def test_parse_mode_invalid(value) -> None:
    raises_at("containers.web.mounts[0].mode", parse_mode, value, "containers.web.mounts[0].mode")


# --------------------------------------------------------------------------- rlimit

U64 = 2**64 - 1


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("nofile", (1024, 2048), ("RLIMIT_NOFILE", 1024, 2048)),
        ("nofile", 4096, ("RLIMIT_NOFILE", 4096, 4096)),
        ("NOFILE", (1, 1), ("RLIMIT_NOFILE", 1, 1)),
        ("RLIMIT_NPROC", (10, 20), ("RLIMIT_NPROC", 10, 20)),
        ("rlimit_core", 0, ("RLIMIT_CORE", 0, 0)),
        ("Memlock", (0, U64), ("RLIMIT_MEMLOCK", 0, U64)),
        ("stack", U64, ("RLIMIT_STACK", U64, U64)),
        ("as", (1, 2), ("RLIMIT_AS", 1, 2)),
        ("rttime", (5, 5), ("RLIMIT_RTTIME", 5, 5)),
        ("msgqueue", (5, 5), ("RLIMIT_MSGQUEUE", 5, 5)),
        ("sigpending", (5, 5), ("RLIMIT_SIGPENDING", 5, 5)),
        ("nofile", 2**31 - 64, ("RLIMIT_NOFILE", 2**31 - 64, 2**31 - 64)),
        ("nproc", U64, ("RLIMIT_NPROC", U64, U64)),
    ],
    ids=[
        "pair",
        "single-value-for-both",
        "upper-case",
        "prefixed",
        "prefixed-lower-zero",
        "mixed-case-u64",
        "u64-single",
        "as",
        "rttime",
        "msgqueue",
        "sigpending",
        "nofile-kernel-maximum",
        "nproc-unlimited",
    ],
)
def test_rlimit(name: str, value, expected) -> None:
    assert rlimit(name, value, "containers.web.ulimits.x") == expected


@pytest.mark.parametrize(
    "name, value",
    [
        ("files", 5),
        ("", 5),
        ("RLIMIT_", 5),
        ("nofile ", 5),
        ("nofile", (2048, 1024)),
        ("nofile", -1),
        ("nofile", (-1, 5)),
        ("nofile", U64 + 1),
        ("nofile", (0, U64 + 1)),
        ("RLIMIT_RLIMIT_NOFILE", 5),
        ("nofile", 2**31 - 63),
        ("nofile", (1024, U64)),
    ],
    ids=[
        "unknown-name",
        "empty-name",
        "prefix-only",
        "trailing-space",
        "soft-above-hard",
        "negative",
        "negative-soft",
        "beyond-u64",
        "hard-beyond-u64",
        "double-prefix",
        "nofile-above-kernel-maximum",
        "nofile-unlimited-hard",
    ],
)
def test_rlimit_invalid(name: str, value) -> None:
    raises_at("containers.web.ulimits.x", rlimit, name, value, "containers.web.ulimits.x")


def test_rlimit_types_match_the_schema_pattern() -> None:
    import re

    from compiler.resources import RLIMITS

    for name in RLIMITS:
        kind, _, _ = rlimit(name, 1, "x")
        assert re.fullmatch(r"RLIMIT_[A-Z]+", kind), kind
