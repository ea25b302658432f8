"""Running one command: an argv tuple in, its output or one clear error out.

The only place hp starts processes. No shell, ever: argv[0] is looked up in
PATH and the arguments are passed as they are, so an image reference or a
name with `;`, `$(...)`, spaces or quotes is only ever an argument.

Every command has a time limit (DEFAULT_TIMEOUT unless the caller gives one). When it
passes, or when hp itself is interrupted while waiting, the command is killed together
with every process it started (`podman pull`, or hp-monitor with its detached half and
crun), so nothing of it goes on running and no pipe is left open to wait on.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from compiler.errors import HpError

if TYPE_CHECKING:
    from plumbum.commands.base import BaseCommand  # plumbum is imported when a command runs: hp starts faster
    from plumbum.machines.local import LocalCommand

DEFAULT_TIMEOUT = 60.0  # generous for anything hp runs but copies and pulls, which set their own
DRAIN_TIMEOUT = 5.0  # after the kill: for the pipes to close (a process that left the tree may hold them)


class CommandFailed(HpError):
    """A command exited non-zero. str(): what failed, then the command's own stderr."""

    def __init__(self, what: str, argv: Sequence[str], code: int, stderr: str) -> None:
        detail = " ".join(line.strip() for line in stderr.strip().splitlines()[-3:] if line.strip())
        super().__init__(what, f"`{shlex.join(argv)}` exited {code}" + (f": {detail}" if detail else ""))
        self.argv = tuple(argv)
        self.code = code
        self.stderr = stderr


class TimedOut(HpError):
    """A command did not finish within its time limit, and was killed with all it started."""

    def __init__(self, where: str, argv: Sequence[str], timeout: float) -> None:
        super().__init__(where, f"`{shlex.join(argv)}` did not finish within {timeout:g} s and was stopped")
        self.argv = tuple(argv)
        self.timeout = timeout


def run(argv: Sequence[str], what: str, *, stdin: bytes | None = None, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Run argv; return its stdout (text). Raise CommandFailed (or TimedOut) naming `what` if it fails."""
    try:
        code, out, err = run_status(argv, stdin=stdin, timeout=timeout)
    except TimedOut as e:
        raise TimedOut(what, argv, timeout) from e
    if code != 0:
        raise CommandFailed(what, argv, code, err)
    return out


def run_status(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run argv (with `env` added to this process's environment, and `stdin` as its input);
    return (exit code, stdout, stderr) whatever the exit code. TimedOut after `timeout` seconds."""
    command = _command(argv)
    if env:
        command = command.with_env(**env)
    # stdin, stdout and stderr are pipes. A local command's popen is a subprocess.Popen of bytes (no encoding):
    # plumbum's annotation, a protocol of str without communicate's input and timeout, says less
    process = cast("subprocess.Popen[bytes]", command.popen())
    try:
        out, err = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(process)
        raise TimedOut(shlex.join(argv), argv, timeout) from None
    except BaseException:  # hp interrupted: what the command was doing stops with it
        _end(process)
        raise
    return process.returncode, _text(out), _text(err)


def run_attached(argv: Sequence[str], *, stdin: bool = True) -> int:
    """Run argv with this process's stdin (without `stdin`: /dev/null), stdout and stderr; return its
    exit status."""
    process = _command(argv).popen(stdin=None if stdin else subprocess.DEVNULL, stdout=None, stderr=None)
    return process.wait()


def spawn(argv: Sequence[str], *, env: dict[str, str], pass_fds: tuple[int, ...], stderr) -> subprocess.Popen:
    """Start argv in a session of its own, in /, with exactly `env` (plumbum's popen would add
    this process's environment back), stdin and stdout on /dev/null, `pass_fds` inherited: for
    a program that outlives hp (conmon), which the caller waits for and bounds itself."""
    path = str(_program(argv[0]).executable)
    return subprocess.Popen(
        (path, *argv[1:]),
        env=env,
        pass_fds=pass_fds,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
        cwd="/",
    )


def _command(argv: Sequence[str]) -> BaseCommand:
    """argv as a plumbum command, its arguments bound as they are (never through a shell)."""
    return _program(argv[0])[tuple(argv[1:])]


def _program(name: str) -> LocalCommand:
    """The program `name`, looked up in PATH unless it is a path; HpError if there is none."""
    from plumbum import local
    from plumbum.commands.processes import CommandNotFound

    try:
        return local[name]
    except CommandNotFound:
        raise HpError(name, "command not found (is it installed? see `hp doctor`)") from None


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")


def _end(process) -> None:
    """Kill the process and everything it started, then collect it: its pipes are drained
    for a few seconds at most, then closed."""
    kill_tree(process.pid)
    try:
        process.communicate(timeout=DRAIN_TIMEOUT)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    process.wait()


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` (a child of hp's) and all its descendants. Each is stopped before its
    children are looked up, parents first: a stopped process can neither start another nor
    reap one, so every pid found is still the descendant it was when it is killed."""
    stopped = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            os.kill(current, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        stopped.append(current)
        todo += _children(current)
    for each in stopped:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc/*/stat (this kernel may lack
    /proc/PID/task/TID/children)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so split after the last ")"
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found
