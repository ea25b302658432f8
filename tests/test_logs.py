"""hp logs, the pure part (compiler/logs.py): conmon's k8s-file records parsed and joined into
lines, --since, --tail and --timestamps; and the reading of a log file that conmon rotates
(executor/logs.py's reader), on plain files in a temporary directory.

Record shapes are conmon's (src/ctr_logging.c, write_k8s_log): `TIME STREAM F TEXT\\n` with
the container's own newline ending TEXT, `TIME STREAM P FRAGMENT\\n` with a newline added.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.errors import HpError
from compiler.logs import (
    Line,
    Pending,
    Record,
    check_tail,
    is_since,
    join,
    last,
    lines_of,
    parse_records,
    parse_since,
    rendered,
    rfc3339_nano,
    rfc3339_nanos,
)

T1 = "2026-12-01T03:26:19.199588592+00:00"
T2 = "2026-12-01T03:26:19.200315706+00:00"
T3 = "2026-12-01T03:26:20.000000000+00:00"
N1 = 1796095579199588592  # T1 since the epoch (date -d T1 +%s%N)
N2 = 1796095579200315706
N3 = 1796095580000000000
NOW = 1796096000 * 10**9  # 2026-12-01T03:33:20Z


def out(text: bytes, time: str = "") -> tuple[str, bytes, str]:
    return ("stdout", text, time)


def err(text: bytes, time: str = "") -> tuple[str, bytes, str]:
    return ("stderr", text, time)


def shown(lines: list[Line]) -> list[tuple[str, bytes, str]]:
    return [(line.stream, line.text, line.time) for line in lines]


PARSE_CASES = {
    "empty": (b"", []),
    "full lines of both streams": (
        f"{T1} stdout F out\n{T2} stderr F err\n".encode(),
        [out(b"out\n", T1), err(b"err\n", T2)],
    ),
    "an empty line": (f"{T1} stdout F \n".encode(), [out(b"\n", T1)]),
    "partials joined, time of the last": (
        f"{T1} stdout P a\n{T2} stdout P b\n{T3} stdout F c\n".encode(),
        [out(b"abc\n", T3)],
    ),
    "partials of two streams interleaved": (
        f"{T1} stdout P o1\n{T1} stderr P e1\n{T2} stderr F e2\n{T3} stdout F o2\n".encode(),
        [err(b"e1e2\n", T2), out(b"o1o2\n", T3)],
    ),
    "a partial left open at the end": (
        f"{T1} stdout F a\n{T2} stdout P prompt> \n".encode(),
        [out(b"a\n", T1), out(b"prompt> ", T2)],
    ),
    "open partials of both streams, first begun first": (
        f"{T1} stderr P e\n{T2} stdout P o\n".encode(),
        [err(b"e", T1), out(b"o", T2)],
    ),
    "CRLF of a terminal kept": (f"{T1} stdout F hi\r\n".encode(), [out(b"hi\r\n", T1)]),
    "a fragment ending in CR": (f"{T1} stdout P hi\r\n{T2} stdout F \n".encode(), [out(b"hi\r\n", T2)]),
    "spaces in the text kept": (f"{T1} stdout F  a  b \n".encode(), [out(b" a  b \n", T1)]),
    "other offset kept as written": (
        b"2026-12-01T04:26:19.5+01:00 stdout F x\n",
        [out(b"x\n", "2026-12-01T04:26:19.5+01:00")],
    ),
    "raw lines of an older hp": (b"hello\nworld\n", [out(b"hello\n"), out(b"world\n")]),
    "raw line without a newline at the end": (b"hello\nwor", [out(b"hello\n"), out(b"wor")]),
    "raw CRLF": (b"a\r\nb\r\n", [out(b"a\r\n"), out(b"b\r\n")]),
    "raw before records": (f"old\n{T1} stderr F new\n".encode(), [out(b"old\n"), err(b"new\n", T1)]),
    "blank raw line": (b"\n", [out(b"\n")]),
    "bad month: raw": (b"2026-13-01T03:26:19.1+00:00 stdout F x\n", [out(b"2026-13-01T03:26:19.1+00:00 stdout F x\n")]),
    "bad stream: raw": (f"{T1} stdin F x\n".encode(), [out(f"{T1} stdin F x\n".encode())]),
    "bad tag: raw": (f"{T1} stdout X x\n".encode(), [out(f"{T1} stdout X x\n".encode())]),
    "no space after the tag: raw": (f"{T1} stdout F\n".encode(), [out(f"{T1} stdout F\n".encode())]),
    "no offset: raw": (b"2026-12-01T03:26:19.1 stdout F x\n", [out(b"2026-12-01T03:26:19.1 stdout F x\n")]),
    "a torn last record": (f"{T1} stdout F a\n{T2} stderr F hal".encode(), [out(b"a\n", T1), err(b"hal", T2)]),
    "invalid UTF-8 kept": (f"{T1} stdout F ".encode() + b"\xff\xfe\n", [out(b"\xff\xfe\n", T1)]),
    "NUL kept": (f"{T1} stdout F a\0b\n".encode(), [out(b"a\0b\n", T1)]),
}


@pytest.mark.parametrize("data, expected", PARSE_CASES.values(), ids=PARSE_CASES.keys())
def test_lines_of(data: bytes, expected: list) -> None:
    assert shown(lines_of(data)) == expected


def test_record_times_in_nanoseconds() -> None:
    records, _ = parse_records(f"{T1} stdout F a\n{T2} stderr F b\nraw\n".encode())
    assert [r.nanos for r in records] == [N1, N2, None]


def test_only_whole_lines_are_used_until_the_end() -> None:
    data = f"{T1} stdout F a\n{T2} stdout F b".encode()
    records, used = parse_records(data, final=False)
    assert [r.text for r in records] == [b"a\n"] and used == len(f"{T1} stdout F a\n")
    records, used = parse_records(data, final=True)
    assert [r.text for r in records] == [b"a\n", b"b"] and used == len(data)


def test_partials_carry_over_between_reads() -> None:
    first, pending = join([Record("stdout", b"a", True, T1, N1)])
    assert first == [] and pending == Pending(stdout=(Record("stdout", b"a", True, T1, N1),))
    second, pending = join([Record("stdout", b"b\n", False, T2, N2)], pending)
    assert shown(second) == [out(b"ab\n", T2)] and pending == Pending()


PIECES = st.sampled_from(
    [
        f"{T1} stdout F ".encode(),
        f"{T2} stderr P ".encode(),
        b"2026-02-30T03:26:19.1+00:00 stdout F ",
        b"9999-12-31T23:59:59.999999999-23:59 stderr F ",
        b"2026-12-01T03:26:19.+00:00 stdout P ",
        b"\n",
        b"\r\n",
        b" ",
        b"F ",
        b"stdout ",
    ]
)


@given(
    st.one_of(st.binary(max_size=400), st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=30).map(b"".join))
)
@settings(max_examples=500, deadline=None)
def test_parsing_never_raises(data: bytes) -> None:
    for line in lines_of(data):
        assert line.stream in ("stdout", "stderr") and (line.time == "") == (line.nanos is None)


@given(
    st.lists(
        st.tuples(st.sampled_from(["stdout", "stderr"]), st.sampled_from("FP"), st.binary(max_size=20)), max_size=20
    )
)
@settings(max_examples=300, deadline=None)
def test_each_stream_keeps_its_bytes(records: list[tuple[str, str, bytes]]) -> None:
    """What conmon wrote per stream comes back, byte for byte, whatever the mix of records."""
    data = b""
    wrote = {"stdout": b"", "stderr": b""}
    for stream, tag, text in records:
        text = text.replace(b"\n", b"") + (b"\n" if tag == "F" else b"")
        data += f"{T1} {stream} {tag} ".encode() + text + (b"\n" if tag == "P" else b"")
        wrote[stream] += text
    lines = lines_of(data)
    for stream in ("stdout", "stderr"):
        assert b"".join(line.text for line in lines if line.stream == stream) == wrote[stream]


SINCE_CASES = {
    "UTC": ("2026-12-01T03:26:19Z", N1 - 199588592),
    "lowercase t and z": ("2026-12-01t03:26:19z", N1 - 199588592),
    "fraction": ("2026-12-01T03:26:19.199588592Z", N1),
    "short fraction": ("2026-12-01T03:26:19.2Z", N1 - 199588592 + 200000000),
    "fraction past nanoseconds cut": ("2026-12-01T03:26:19.1995885929Z", N1),
    "positive offset": ("2026-12-01T05:26:19+02:00", N1 - 199588592),
    "negative offset": ("2026-11-30T22:56:19-04:30", N1 - 199588592),
    "epoch": ("1970-01-01T00:00:00Z", 0),
    "leap day": ("2024-02-29T00:00:00Z", 1709164800 * 10**9),
    "before the epoch": ("1969-12-31T23:59:59Z", -(10**9)),
    "minutes": ("10m", NOW - 600 * 10**9),
    "hours and minutes": ("1h30m", NOW - 5400 * 10**9),
    "seconds": ("90s", NOW - 90 * 10**9),
    "hours": ("2h", NOW - 7200 * 10**9),
    "fractional hours": ("1.5h", NOW - 5400 * 10**9),
    "milliseconds": ("300ms", NOW - 300 * 10**6),
    "zero": ("0s", NOW),
}


@pytest.mark.parametrize("value, nanos", SINCE_CASES.values(), ids=SINCE_CASES.keys())
def test_parse_since(value: str, nanos: int) -> None:
    assert parse_since(value, NOW) == nanos


BAD_SINCE_CASES = {
    "empty": ("", "expected an RFC 3339 time"),
    "words": ("yesterday", "expected an RFC 3339 time"),
    "bare number": ("10", "expected an RFC 3339 time"),
    "unknown unit": ("10d", "expected an RFC 3339 time"),
    "negative duration": ("-10m", "expected an RFC 3339 time"),
    "space in duration": ("1h 30m", "expected an RFC 3339 time"),
    "no zone": ("2026-12-01T03:00:00", "expected an RFC 3339 time"),
    "date only": ("2026-12-01", "expected an RFC 3339 time"),
    "month 13": ("2026-13-01T03:00:00Z", "month 13 is out of range"),
    "February 30": ("2026-02-30T03:00:00Z", "day 30 is out of range for 2026-02"),
    "February 29 of a common year": ("2100-02-29T00:00:00Z", "day 29 is out of range"),
    "hour 24": ("2026-12-01T24:00:00Z", "time 24:00:00 is out of range"),
    "leap second": ("2026-12-31T23:59:60Z", "out of range"),
    "offset hours": ("2026-12-01T03:00:00+24:00", "offset +24:00 is out of range"),
    "newline": ("10m\n", "expected an RFC 3339 time"),
}


@pytest.mark.parametrize("value, problem", BAD_SINCE_CASES.values(), ids=BAD_SINCE_CASES.keys())
def test_bad_since(value: str, problem: str) -> None:
    with pytest.raises(HpError) as info:
        parse_since(value, NOW)
    assert info.value.where == "--since"
    assert problem in info.value.problem
    assert "\n" not in str(info.value)


def test_since_leaves_out_older_lines_and_lines_without_a_time() -> None:
    lines = lines_of(f"old\n{T1} stdout F a\n{T2} stdout F b\n".encode())
    assert [line.text for line in lines if is_since(line, N2)] == [b"b\n"]
    assert [line.text for line in lines if is_since(line, None)] == [b"old\n", b"a\n", b"b\n"]


TAIL_CASES = {
    "none: all": (None, 20, list(range(20))),
    "zero": (0, 20, []),
    "five of twenty": (5, 20, [15, 16, 17, 18, 19]),
    "more than there are": (50, 3, [0, 1, 2]),
    "of nothing": (5, 0, []),
}


@pytest.mark.parametrize("tail, count, kept", TAIL_CASES.values(), ids=TAIL_CASES.keys())
def test_tail(tail: int | None, count: int, kept: list[int]) -> None:
    lines = (Line("stdout", b"%d\n" % i) for i in range(count))
    assert [int(line.text) for line in last(lines, check_tail(tail))] == kept


def test_tail_counts_joined_lines() -> None:
    lines = lines_of(f"{T1} stdout F a\n{T1} stdout P b\n{T2} stdout P c\n{T3} stdout F d\n".encode())
    assert [line.text for line in last(lines, 1)] == [b"bcd\n"]


def test_negative_tail() -> None:
    with pytest.raises(HpError) as info:
        check_tail(-1)
    assert str(info.value) == "--tail: expected a number of lines, 0 or more, got -1"


TIMESTAMP_CASES = {
    "UTC as Z": (T1, "2026-12-01T03:26:19.199588592Z"),
    "trailing zeros dropped": ("2026-12-01T03:26:19.120000000+00:00", "2026-12-01T03:26:19.12Z"),
    "no fraction left": (T3, "2026-12-01T03:26:20Z"),
    "offset kept": ("2026-12-01T04:26:19.500000000+01:00", "2026-12-01T04:26:19.5+01:00"),
    "negative offset kept": ("2026-12-01T00:26:19.000000001-03:00", "2026-12-01T00:26:19.000000001-03:00"),
}


@pytest.mark.parametrize("time, expected", TIMESTAMP_CASES.values(), ids=TIMESTAMP_CASES.keys())
def test_rfc3339_nano(time: str, expected: str) -> None:
    assert rfc3339_nano(time) == expected
    assert rfc3339_nanos(expected) == rfc3339_nanos(time)


def test_rendered() -> None:
    line = Line("stderr", b"boom\n", T1, N1)
    assert rendered(line, False) == b"boom\n"
    assert rendered(line, True) == b"2026-12-01T03:26:19.199588592Z boom\n"
    assert rendered(Line("stdout", b"old\n"), True) == b"old\n"  # no time known: as written


# The reader of executor/logs.py, on a file rotated the way conmon rotates it.


def record(i: int, stream: str = "stdout") -> bytes:
    return f"{T1} {stream} F line {i}\n".encode()


def test_reader_continues_after_a_rotation(tmp_path) -> None:
    from executor.logs import _LogReader

    path = str(tmp_path / "log")
    with open(path, "wb") as f:
        f.write(record(1) + record(2))
    reader = _LogReader(path, None)
    try:
        assert [line.text for line in reader.read_all()] == [b"line 1\n", b"line 2\n"]
        with open(path, "ab") as f:
            f.write(record(3) + f"{T1} stdout P li".encode() + b"\n")  # the old file's last writes
        with open(path + ".tmp", "wb") as f:  # conmon: open log.tmp with O_TRUNC, rename it over log
            f.write(f"{T2} stdout F ne 4\n".encode() + record(5))
        os.rename(path + ".tmp", path)
        assert reader.rotated()
        assert [line.text for line in reader.read_all()] == [b"line 3\n"]
        reader.reopen()
        assert not reader.rotated()
        assert [line.text for line in reader.read_all()] == [b"line 4\n", b"line 5\n"]
    finally:
        reader.close()


def test_reader_waits_for_the_log_to_appear(tmp_path) -> None:
    from executor.logs import _LogReader

    path = str(tmp_path / "log")
    reader = _LogReader(path, None)
    try:
        assert reader.read_all() == [] and not reader.rotated()
        with open(path, "wb") as f:
            f.write(record(1) + b"no newline yet")
        assert [line.text for line in reader.read_all()] == [b"line 1\n"]
        assert [line.text for line in reader.finish()] == [b"no newline yet"]
    finally:
        reader.close()


def test_printer_keeps_streams_apart() -> None:
    from executor.logs import _Printer

    stdout, stderr = io.BytesIO(), io.BytesIO()
    _Printer(stdout, stderr, timestamps=False).print(lines_of(f"{T1} stdout F o\n{T2} stderr F e\n".encode()))
    assert (stdout.getvalue(), stderr.getvalue()) == (b"o\n", b"e\n")
