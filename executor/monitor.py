"""Each container's monitor is conmon, podman's own, run the way podman runs it.

    launch(layout, name, ...)  conmon, moved into hp's monitor cgroup before it does anything,
                               runs `crun create`; returns the container's pid, or an HpError
                               with crun's own message
    wait_gone(layout, name)    until the container's conmon has ended (after its exit command)

conmon waits on a start pipe until hp has moved it into the monitor cgroup
(compiler.cgroups.monitor_cgroup_path: not the caller's, not the container's), so no moment
exists in which ending the caller's login session or systemd unit would end it. It then
double-forks (the process hp started exits at once), runs `crun create`, and reports on a sync
pipe: {"data": PID} or {"data": -1, "message": "crun's error"}.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import subprocess
import sys
import threading
import time

import msgspec

from compiler import commands
from compiler.cgroups import cgroup_mounts, monitor_cgroup_dirs
from compiler.errors import HpError
from compiler.layout import Layout

from .faults import FAULT_VARIABLES
from .run import kill_tree, spawn
from .store import container_names, read_int
from .waiting import wait_until

SPAWN_TIMEOUT = 10.0  # for conmon's first process to fork its monitor and exit


def programs() -> tuple[str, str]:
    """(conmon, crun) as absolute paths: conmon execs them without a PATH lookup."""
    found = []
    for program in ("conmon", "crun"):
        path = shutil.which(program) or (f"/usr/libexec/podman/{program}" if program == "conmon" else None)
        if path is None or not os.access(path, os.X_OK):
            raise HpError(program, "command not found (Debian: apt-get install conmon crun; see `hp doctor`)")
        found.append(os.path.abspath(path))
    return found[0], found[1]


def launch(layout: Layout, name: str, *, terminal: bool, log_max_size: int, start: int, timeout: float) -> int:
    """Run `crun create` for `name` under a new conmon; the container's pid once it is created.
    On any failure (crun's, a time limit, an interrupt) no conmon of it is left running."""
    for stale in (
        layout.exit_file(name),
        layout.pid_file(name),
        layout.conmon_pid_file(name),
        layout.runtime_log(name),
    ):
        if os.path.lexists(stale):
            os.unlink(stale)
    os.makedirs(layout.exits_dir(name), mode=0o700, exist_ok=True)
    conmon, runtime = programs()
    argv = commands.conmon_argv(
        layout,
        name,
        conmon=conmon,
        runtime=runtime,
        terminal=terminal,
        log_max_size=log_max_size,
        exit_command=commands.exit_command(sys.executable, layout, name, start),
    )
    start_read, start_write = os.pipe()
    sync_read, sync_write = os.pipe()
    env = {k: v for k, v in os.environ.items() if k not in FAULT_VARIABLES}
    env.update(_OCI_STARTPIPE=str(start_read), _OCI_SYNCPIPE=str(sync_write))
    deadline = time.monotonic() + timeout
    process = None
    try:
        with open(layout.monitor_log(name), "ab") as conmon_log:
            process = spawn(argv, env=env, pass_fds=(start_read, sync_write), stderr=conmon_log)
        os.close(start_read)
        os.close(sync_write)
        start_read = sync_write = -1
        join_monitor_cgroup(layout, process.pid)
        os.write(start_write, b"0")
        os.close(start_write)
        start_write = -1
        try:
            process.wait(timeout=SPAWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise HpError(f"creating {name}", f"conmon did not start within {SPAWN_TIMEOUT:g} s") from None
        message = _read_sync(sync_read, deadline)
    except BaseException:
        if process is not None:
            _kill_monitor(layout, name, process)
        raise
    finally:
        for fd in (start_read, start_write, sync_write, sync_read):
            if fd >= 0:
                os.close(fd)
    if message is None:
        _kill_monitor(layout, name, process)
        raise HpError(f"creating {name}", f"conmon gave no answer within {timeout:g} s (killed)")
    if message.data is None or message.data <= 0:
        why = _one_line(message.message) or _log_tail(layout, name)
        raise HpError(f"creating {name}", f"crun create failed: {why}")
    return message.data


class SyncMessage(msgspec.Struct, frozen=True):
    """conmon's message on the sync pipe: the container's pid, or -1 and what went wrong."""

    data: int | None = None
    message: str | None = None


class _LogEntry(msgspec.Struct, frozen=True):
    msg: str = ""  # a line of crun's JSON log (level and time are not shown)


def _sync_message(data: bytes) -> SyncMessage:
    """`data` as conmon's message; one that is JSON but not of its shape is shown as text."""
    try:
        return msgspec.json.decode(data, type=SyncMessage)
    except msgspec.ValidationError:
        return SyncMessage(message=data.decode("utf-8", "replace"))


def _read_sync(fd: int, deadline: float) -> SyncMessage | None:
    """conmon's one JSON message on the sync pipe; {} if it closed the pipe without one; None
    if the deadline passed."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        try:
            return _sync_message(data)
        except msgspec.DecodeError:
            continue  # a message split across reads
    try:
        return _sync_message(data) if data else SyncMessage()
    except msgspec.DecodeError:
        return SyncMessage(message=data.decode("utf-8", "replace"))


def _kill_monitor(layout: Layout, name: str, process: subprocess.Popen) -> None:
    """End the conmon hp started for `name`: the first process, and the monitor it forked (its
    pid file, written once it has forked) with what it runs (crun create)."""
    for pid in (process.pid, read_int(layout.conmon_pid_file(name))):
        if pid is not None and _is_conmon(pid):
            kill_tree(pid)
    try:
        process.wait(timeout=SPAWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass


def _is_conmon(pid: int) -> bool:
    """A live conmon (a zombie is not: on a host whose pid 1 does not reap, an ended conmon
    stays one, and it holds nothing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # "PID (COMM) STATE ...": COMM may hold spaces and parentheses
    comm = stat[stat.find(b"(") + 1 : stat.rfind(b")")]
    return comm == b"conmon" and stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def monitor_pid(layout: Layout, name: str) -> int | None:
    """The pid of `name`'s conmon if it is still running."""
    pid = read_int(layout.conmon_pid_file(name))
    return pid if pid is not None and _is_conmon(pid) else None


def wait_gone(layout: Layout, name: str, timeout: float) -> bool:
    """True once `name`'s conmon has ended (it ends after its exit command); False at the limit."""
    return wait_until(lambda: monitor_pid(layout, name) is None, timeout, longest=0.1)


_CGROUPS = threading.Lock()  # parallel creates: one may remove the cgroups another is joining


def join_monitor_cgroup(layout: Layout, pid: int) -> None:
    """Move `pid` into this state dir's monitor cgroup on every hierarchy (made if missing)."""
    with _CGROUPS:
        _join(layout, pid)


def _join(layout: Layout, pid: int) -> None:
    for directory in monitor_cgroup_dirs(cgroup_mounts(_mountinfo()), layout.tag):
        os.makedirs(directory, exist_ok=True)
        _inherit_cpuset(directory)
        try:
            with open(f"{directory}/cgroup.procs", "w") as f:
                f.write(str(pid))
        except OSError as e:
            raise HpError(f"cgroup {directory}", f"cannot move conmon into it: {e.strerror}") from None


def remove_monitor_cgroups(layout: Layout) -> None:
    """rmdir this state dir's monitor cgroups if no container of it is left: only when empty (a
    monitor still running, or its exit command, keeps them), and only these."""
    with _CGROUPS:
        if container_names(layout):
            return
        for directory in monitor_cgroup_dirs(cgroup_mounts(_mountinfo()), layout.tag):
            try:
                os.rmdir(directory)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.EBUSY):
                    raise HpError(f"cgroup {directory}", f"cannot remove it: {e.strerror}") from None


def _inherit_cpuset(directory: str) -> None:
    """A new v1 cpuset cgroup has no CPUs or memory nodes and takes no process until it has:
    copy its parent's, as crun does for a container's (the parent first, if hp made it too)."""
    for file in ("cpuset.cpus", "cpuset.mems"):
        path = f"{directory}/{file}"
        if not os.path.exists(path):
            return  # not a v1 cpuset hierarchy
        with open(path) as f:
            if f.read().strip():
                continue
        parent = os.path.dirname(directory)
        _inherit_cpuset(parent)
        with open(f"{parent}/{file}") as f:
            value = f.read().strip()
        with open(path, "w") as f:
            f.write(value)


def _mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def _one_line(text: object) -> str:
    return " ".join(str(text).split()) if text else ""


def _log_tail(layout: Layout, name: str) -> str:
    """What crun (its JSON log) or conmon (its stderr) said last."""
    for path in (layout.runtime_log(name), layout.monitor_log(name)):
        try:
            with open(path, "rb") as f:
                lines = f.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
        except FileNotFoundError:
            continue
        for line in reversed(lines):
            try:
                text = msgspec.json.decode(line, type=_LogEntry).msg
            except msgspec.DecodeError:  # not crun's JSON: conmon's text
                text = line
            if text.strip() and "oom_score_adj" not in text:
                return _one_line(text)
    return "no message from crun or conmon"
