"""The commands hp runs, as argv tuples: decided here, purely; run by executor/run.py.

Everything that reaches an argv is an argument, never shell text. Showing a
command to a person is shlex.join(argv).
"""

from __future__ import annotations

from .layout import Layout


def crun(layout: Layout, *args: str) -> tuple[str, ...]:
    """crun with hp's own --root: hp never sees or touches other tools' containers."""
    return ("crun", "--root", layout.crun_root, *args)


def crun_create(layout: Layout, name: str, monitor: str) -> tuple[str, ...]:
    """hp-monitor wrapping `crun create`: the container's output goes to its log, its exit status
    to its exit file, and this command returns once the container exists."""
    return (
        monitor, "--log", layout.log(name), "--exit-file", layout.exit_file(name),
        "--pid-file", layout.pid_file(name), "--",
        *crun(layout, "create", "--bundle", layout.bundle(name), "--pid-file", layout.pid_file(name), name),
    )


def crun_start(layout: Layout, name: str) -> tuple[str, ...]:
    return crun(layout, "start", name)


def crun_state(layout: Layout, name: str) -> tuple[str, ...]:
    return crun(layout, "state", name)


def crun_kill(layout: Layout, name: str, signal: int | str) -> tuple[str, ...]:
    return crun(layout, "kill", name, str(signal))


def crun_delete(layout: Layout, name: str, force: bool = False) -> tuple[str, ...]:
    return crun(layout, "delete", *(("--force",) if force else ()), name)


def crun_exec(layout: Layout, name: str, process_file: str, tty: bool) -> tuple[str, ...]:
    return crun(layout, "exec", "--process", process_file, *(("--tty",) if tty else ()), name)


def mount_overlay(lower: str, upper: str, work: str, target: str) -> tuple[str, ...]:
    return ("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", target)


def umount(target: str) -> tuple[str, ...]:
    return ("umount", target)
