"""A container's log, read purely: conmon's k8s-file records joined into lines, and `hp logs`'
--since, --tail and --timestamps. Bytes and times come in; nothing here reads a file or the clock.

conmon writes one record per line of the file:

    2026-12-01T03:26:19.199588592+00:00 stdout F out

TIME (RFC 3339, nanoseconds, the host's offset), STREAM (stdout or stderr), TAG, then the text.
TAG F: the text ends a line, and keeps the newline the container wrote. TAG P: a fragment (a
line longer than conmon's buffer, or output with no newline yet); the newline after it is only
the record's end, and the next records of the same stream continue it up to an F. A line of
any other shape (a log written by an older hp, which wrote raw output, or a damaged line) is
stdout text without a time: shown, never an error.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

import msgspec

from .errors import HpError, quote

Stream = Literal["stdout", "stderr"]

_RECORD = re.compile(rb"([0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]{8,40}) (stdout|stderr) ([FP]) ")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_UNIT_NANOS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
SINCE_EXAMPLE = 'an RFC 3339 time like "2026-12-01T03:00:00Z" or a duration like "10m" or "1h30m"'


class Record(msgspec.Struct, frozen=True):
    """One record of the log. `text` is as the container wrote it: a full record's ends with its
    newline, a fragment's has none. `time` as written and `nanos` (since the epoch) are "" and
    None for a line without a time."""

    stream: Stream
    text: bytes
    partial: bool = False
    time: str = ""
    nanos: int | None = None


class Line(msgspec.Struct, frozen=True):
    """A line of output: its fragments joined. Its time is that of its last record (when it was
    complete, as podman has it)."""

    stream: Stream
    text: bytes
    time: str = ""
    nanos: int | None = None


class Pending(msgspec.Struct, frozen=True):
    """The fragments of each stream's line not yet ended by an F record."""

    stdout: tuple[Record, ...] = ()
    stderr: tuple[Record, ...] = ()


def parse_records(data: bytes, *, final: bool = True) -> tuple[list[Record], int]:
    """The records in `data` and how many of its bytes they used. Only whole lines are used
    unless `final` (the end of the file: its last line may lack a newline)."""
    records = []
    start = 0
    end = len(data)
    while start < end:
        newline = data.find(b"\n", start)
        if newline < 0:
            if not final:
                break
            records.append(parse_record(data[start:], ended=False))
            start = end
            break
        records.append(parse_record(data[start:newline], ended=True))
        start = newline + 1
    return records, start


def parse_record(line: bytes, *, ended: bool = True) -> Record:
    """One line of the file, without its newline (`ended`: it had one)."""
    newline = b"\n" if ended else b""
    m = _RECORD.match(line)
    if m is not None:
        time = m[1].decode("ascii", "replace")
        nanos = _record_nanos(time)
        if nanos is not None:
            partial = m[3] == b"P"
            text = line[m.end() :] + (b"" if partial else newline)
            return Record("stdout" if m[2] == b"stdout" else "stderr", text, partial, time, nanos)
    return Record("stdout", line + newline)


def _record_nanos(time: str) -> int | None:
    try:
        return rfc3339_nanos(time)
    except ValueError:
        return None


def join(records: Iterable[Record], pending: Pending | None = None) -> tuple[list[Line], Pending]:
    """The lines the records end, in the order they ended, and the fragments still open."""
    pending = Pending() if pending is None else pending
    open_ = {"stdout": list(pending.stdout), "stderr": list(pending.stderr)}
    lines = []
    for record in records:
        fragments = open_[record.stream]
        if record.partial:
            fragments.append(record)
            continue
        lines.append(_line(record.stream, [*fragments, record]))
        fragments.clear()
    return lines, Pending(tuple(open_["stdout"]), tuple(open_["stderr"]))


def unfinished(pending: Pending) -> list[Line]:
    """At the end of the log: each stream's open fragments as a line (with no newline), the one
    begun first first."""
    parts = [p for p in (pending.stdout, pending.stderr) if p]
    parts.sort(key=lambda fragments: fragments[0].nanos or 0)
    return [_line(fragments[0].stream, list(fragments)) for fragments in parts]


def _line(stream: Stream, records: list[Record]) -> Line:
    last = records[-1]
    return Line(stream, b"".join(r.text for r in records), last.time, last.nanos)


def lines_of(data: bytes) -> list[Line]:
    """Every line of a whole log file's bytes."""
    records, _ = parse_records(data, final=True)
    lines, pending = join(records)
    return lines + unfinished(pending)


def is_since(line: Line, since: int | None) -> bool:
    """Whether `line` passes `--since` (epoch nanoseconds; None: no --since). A line without a
    time (written by an older hp) cannot be shown to be recent, so --since leaves it out."""
    return since is None or (line.nanos is not None and line.nanos >= since)


def last(lines: Iterable[Line], tail: int | None) -> list[Line]:
    """The last `tail` lines (all of them for None)."""
    if tail is None:
        return list(lines)
    return list(deque(lines, maxlen=tail))


def check_tail(tail: int | None) -> int | None:
    if tail is not None and tail < 0:
        raise HpError("--tail", f"expected a number of lines, 0 or more, got {tail}")
    return tail


def rendered(line: Line, timestamps: bool) -> bytes:
    """The bytes `hp logs` prints for `line`: its text as written, after its time as podman
    prints it (RFC 3339 with nanoseconds, trailing zeros dropped) with --timestamps."""
    if timestamps and line.time:
        return rfc3339_nano(line.time).encode("ascii") + b" " + line.text
    return line.text


def parse_since(value: str, now: int) -> int:
    """--since as epoch nanoseconds: an RFC 3339 time, or a duration before `now` (epoch
    nanoseconds) like 10m, 1h30m, 90s, 2h, 1.5h, 300ms."""
    if _DURATION.fullmatch(value):
        return now - duration_nanos(value)
    if not _RFC3339.fullmatch(value):
        raise HpError("--since", f"expected {SINCE_EXAMPLE}, got {quote(value)}")
    try:
        return rfc3339_nanos(value)
    except ValueError as e:
        raise HpError("--since", f"{quote(value)}: {e}") from None


def duration_nanos(value: str) -> int:
    """A Go-style duration (as podman's --since takes it) in nanoseconds."""
    total = 0
    for number, unit in _DURATION_PART.findall(value):
        whole, _, fraction = number.partition(".")
        scale = _UNIT_NANOS[unit]
        total += int(whole or "0") * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
    return total


def rfc3339_nanos(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time; ValueError saying what is wrong."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError("not an RFC 3339 time")
    fraction = (m[7] or "")[:9].ljust(9, "0")
    return _seconds(m[1], m[2], m[3], m[4], m[5], m[6], m[8].upper()) * 10**9 + int(fraction)


@lru_cache(maxsize=256)  # a log's records share a few seconds each
def _seconds(year: str, month: str, day: str, hour: str, minute: str, second: str, offset: str) -> int:
    y, mo, d, h, mi, s = int(year), int(month), int(day), int(hour), int(minute), int(second)
    if not 1 <= mo <= 12:
        raise ValueError(f"month {month} is out of range")
    if not 1 <= d <= _month_days(y, mo):
        raise ValueError(f"day {day} is out of range for {year}-{month}")
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"time {hour}:{minute}:{second} is out of range")
    shift = 0
    if offset != "Z":
        oh, om = int(offset[1:3]), int(offset[4:6])
        if oh > 23 or om > 59:
            raise ValueError(f"offset {offset} is out of range")
        shift = (oh * 3600 + om * 60) * (1 if offset[0] == "+" else -1)
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - shift


def _month_days(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def rfc3339_nano(time: str) -> str:
    """A record's time as Go's RFC3339Nano prints it (podman logs -t): trailing zeros of the
    fraction dropped, a zero offset as Z. A time of another shape is returned as it is."""
    m = _RFC3339.fullmatch(time)
    if m is None:
        return time
    fraction = (m[7] or "")[:9].rstrip("0")
    offset = m[8].upper()
    if offset[1:] == "00:00":
        offset = "Z"
    return f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}{'.' + fraction if fraction else ''}{offset}"
