"""`hp logs`: a container's log (conmon's k8s-file, STATE/containers/NAME/log) printed, its
stdout lines to our stdout and its stderr lines to our stderr, and with --follow read on while
the container runs, across conmon's rotations.

conmon rotates by opening log.tmp (O_TRUNC), renaming it over `log` and writing there: the
file we hold open keeps what was written before, complete, and the rest is in the new `log`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import BinaryIO

from compiler import logs
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.state import has_process
from compiler.supervision import RunState, decode_run_state

from . import containers
from .lifecycle import require
from .store import read_int, read_record

POLL = 0.1
CHUNK = 1 << 16
# a container whose policy restarts, stopped while its run state still says running (no exit
# recorded), may be about to be restarted by its exit handler: follow it this many polls longer
SETTLE_POLLS = 30


def show_logs(
    layout: Layout,
    name: str,
    *,
    follow: bool,
    tail: int | None,
    since: int | None,
    timestamps: bool,
    out: BinaryIO,
    err: BinaryIO,
) -> None:
    """Print the log's lines that pass `since` (epoch nanoseconds), the last `tail` of them; with
    `follow`, then every line written until the container stops for good."""
    logs.check_tail(tail)
    require(layout, name)
    printer = _Printer(out, err, timestamps)
    reader = _LogReader(layout.log(name), since)
    try:
        _print_backlog(reader, printer, tail, at_end=not follow)
        if follow:
            _follow(layout, name, reader, printer)
            printer.print(reader.finish())
    finally:
        reader.close()


def _print_backlog(reader: _LogReader, printer: _Printer, tail: int | None, at_end: bool) -> None:
    """What the log holds now (all of it `at_end`), as it is read; only its last `tail` lines
    are kept in memory for --tail."""
    if tail is None:
        for lines in reader.batches(at_end):
            printer.print(lines)
    else:
        printer.print(logs.last((line for lines in reader.batches(at_end) for line in lines), tail))


def _follow(layout: Layout, name: str, reader: _LogReader, printer: _Printer) -> None:
    settling = 0
    while True:
        lines = reader.read_all()
        if lines:
            printer.print(lines)
            continue
        if reader.rotated():
            printer.print(reader.read_all())  # what the old file got between the read and the rename
            reader.reopen()
            continue
        state = _liveness(layout, name)
        if state == "stopped" or (state == "settling" and settling >= SETTLE_POLLS):
            printer.print(reader.read_all())  # written between the last read and the end
            if reader.rotated():
                reader.reopen()
                printer.print(reader.read_all())
            return
        settling = settling + 1 if state == "settling" else 0
        time.sleep(POLL)


def _liveness(layout: Layout, name: str) -> str:
    """ "alive" while the container runs, its conmon is still there (writing what the container
    wrote last, or running its exit command, which may restart it), or a restart by its policy
    is due; "settling" while a container whose policy restarts has stopped with its exit not
    yet handled; else "stopped"."""
    if has_process(containers.crun_status(layout, name)) or _monitor_busy(layout, name):
        return "alive"
    run = _run_state(layout, name)
    if run is None or run.want == "stopped":
        return "stopped"
    if run.restarting:
        return "alive"
    record = read_record(layout, name)
    restarts = record is not None and record.restart != "no"
    return "settling" if restarts and run.exit_code is None else "stopped"


def _monitor_busy(layout: Layout, name: str) -> bool:
    """Whether the pid in conmon.pid is still this container's conmon, or the exit command it
    became (conmon execs it in place)."""
    pid = read_int(layout.conmon_pid_file(name))
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    if os.path.basename(argv[0]) == b"conmon":
        return os.fsencode(layout.bundle(name)) in argv
    return b"container-exited" in argv and os.fsencode(layout.state_dir) in argv and os.fsencode(name) in argv


def _run_state(layout: Layout, name: str) -> RunState | None:
    try:
        with open(layout.run_state(name), "rb") as f:
            return decode_run_state(f.read())
    except FileNotFoundError:
        return None
    except HpError:
        return None  # being rewritten, or unreadable: as if there were none


class _LogReader:
    """The log file as lines: what has been written since the last read, parsed; the file
    reopened after a rotation. The fragments of an unfinished line carry over, across files."""

    def __init__(self, path: str, since: int | None) -> None:
        self.path = path
        self.since = since
        self.file: BinaryIO | None = None
        self.rest = b""
        self.pending = logs.Pending()
        self.reopen()

    def reopen(self) -> None:
        self.close()
        self.rest = b""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # nothing written yet
        except OSError as e:
            raise HpError(self.path, f"cannot read the log: {e.strerror}") from None
        self.file = os.fdopen(fd, "rb")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def read_all(self) -> list[logs.Line]:
        """The whole lines written since the last call."""
        return [line for lines in self.batches() for line in lines]

    def batches(self, at_end: bool = False) -> Iterator[list[logs.Line]]:
        """The whole lines written since the last call, a chunk of the file at a time; `at_end`:
        then what is left at the end of the log."""
        if self.file is None:
            self.reopen()
        if self.file is not None:
            if os.fstat(self.file.fileno()).st_size < self.file.tell():
                self.file.seek(0)  # cut short in place: start over
                self.rest = b""
            while chunk := self.file.read(CHUNK):
                records, used = logs.parse_records(self.rest + chunk, final=False)
                self.rest = (self.rest + chunk)[used:]
                yield self._joined(records)
        if at_end:
            yield self.finish()

    def finish(self) -> list[logs.Line]:
        """At the end: a last line without a newline, and unfinished fragments."""
        records, _ = logs.parse_records(self.rest, final=True)
        self.rest = b""
        lines = self._joined(records) + logs.unfinished(self.pending)
        self.pending = logs.Pending()
        return [line for line in lines if logs.is_since(line, self.since)]

    def _joined(self, records: list[logs.Record]) -> list[logs.Line]:
        lines, self.pending = logs.join(records, self.pending)
        return [line for line in lines if logs.is_since(line, self.since)]

    def rotated(self) -> bool:
        """Whether `log` is now another file than the one read (or has appeared)."""
        try:
            now = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if self.file is None:
            return True
        return not os.path.samestat(now, os.fstat(self.file.fileno()))


class _Printer:
    """Lines to out (stdout's) or err (stderr's), each stream flushed before the other is
    written to, so that on one terminal they interleave as they were written."""

    def __init__(self, out: BinaryIO, err: BinaryIO, timestamps: bool) -> None:
        self.streams = {"stdout": out, "stderr": err}
        self.timestamps = timestamps
        self.last: BinaryIO | None = None

    def print(self, lines: list[logs.Line]) -> None:
        for line in lines:
            stream = self.streams[line.stream]
            if self.last is not None and stream is not self.last:
                self.last.flush()
            stream.write(logs.rendered(line, self.timestamps))
            self.last = stream
        if self.last is not None:
            self.last.flush()
