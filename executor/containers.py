"""A container's life on this host: create, start, stop, remove, status, exec.

Each function is a short sequence of effects whose argv come from
compiler.commands; a failure undoes what the call had done, so nothing
half-made is left behind (no mount, no crun state, no directory).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import tempfile
import time

import msgspec

from compiler import commands, oci, supervision
from compiler.bundle import Bundle
from compiler.cgroups import cgroup_mounts, cgroups_path, container_cgroup_dirs
from compiler.cni import NetworkSetup
from compiler.errors import HpError
from compiler.health import HealthCheck, OnFailure
from compiler.layout import INIT_HELPER, Layout
from compiler.signals import DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, SIGKILL
from compiler.state import ContainerStatus, encode_record, has_process, is_running, new_record, shown_status
from compiler.supervision import RunState, Supervision, decode_run_state, encode_run_state

from . import monitor, networking, volumes
from .faults import checkpoint
from .helpers import init_program
from .images import PreparedImage, hold_image, lower_of, merged_root
from .run import run, run_status
from .store import GONE_PREFIX, NEW_PREFIX, container_names, read_int, read_record, write_atomic
from .waiting import wait_until

CRUN_TIMEOUT = 30.0  # crun start, state, list, kill, delete: quick unless something is badly stuck
CREATE_TIMEOUT = 60.0  # conmon + crun create: mounts, namespaces, cgroups
MOUNT_TIMEOUT = 30.0
# After `crun start` returns, the container's process has yet to exec its program: an exec that
# fails (E2BIG, ENOENT ...) or a program that exits at once shows within this time.
START_GRACE = 0.5
EXIT_FILE_WAIT = 2.0  # for conmon to write the exit status of a process that ended
MONITOR_END_WAIT = 5.0  # for conmon to end after its container: its exit command runs first
CGROUP_BUSY_WAIT = 2.0  # for killed processes to leave their cgroup before it can be removed


HELPERS = {INIT_HELPER: init_program}  # hp's own programs a bundle may hold, by name: where each is on this host


def exists(layout: Layout, name: str) -> bool:
    return os.path.lexists(layout.container_dir(name))


class NewContainer(msgspec.Struct, frozen=True):
    """Everything a container is made from, decided before anything is made (by planning, which
    gives every field: hp.toml's defaults are the spec's, not repeated here)."""

    name: str
    ref: str
    image: PreparedImage
    config: oci.RuntimeConfig
    bundle: Bundle  # its directory, as it is to be written (compiler/bundle.py): hp-init in it for keep_alive
    stop_signal: int
    network: NetworkSetup
    file: str  # the hp.toml that manages it
    must_run: bool  # False: ending soon after its start is expected (hp.toml must_run)
    stop_timeout: int  # hp.toml's: seconds from the stop signal to SIGKILL
    prevent_destroy: bool  # hp.toml's
    supervision: Supervision  # hp.toml's restart, restart_max, log_max_size
    depends_on: dict[str, str]  # hp.toml's, normalized
    healthcheck: HealthCheck | None  # the effective check (compiler/health.py)
    health_on_failure: OnFailure  # hp.toml's
    seccomp_profile: str  # the profile its filter is compiled from (compiler.seccomp.profile_identity)
    env_files: tuple[str, ...]  # its env files, by path and digest (compiler.env.env_file_identities)

    @property
    def config_json(self) -> bytes:
        return self.bundle.config_json

    @property
    def image_id(self) -> str:
        return self.image.image_id


class Started(msgspec.Struct, frozen=True):
    """A container just started: confirm_running(layout, started) tells whether it stayed up."""

    name: str
    log_offset: int  # the size of its log before this start: what it wrote since is after it
    at: float  # time.monotonic() right after `crun start`


def create(layout: Layout, new: NewContainer, *, confirm: bool | None = None) -> Started | None:
    """Make the container's directory, mount, crun container and record, then start it.
    All or nothing; and if hp is killed half-way, the record's phase says so (compiler.state).
    `confirm`: as start's; None means the container's must_run."""
    name = new.name
    if exists(layout, name):
        raise HpError(name, f"a container named {name!r} already exists (hp rm {name} first)")
    record = new_record(new)
    hold_image(layout, new.image)  # the image's layers stay while a container of this state dir uses them
    os.makedirs(layout.containers_dir, exist_ok=True)
    # filled under a dot name, then renamed: a directory named NAME always holds a record
    staging = tempfile.mkdtemp(prefix=f"{NEW_PREFIX}{name}-", dir=layout.containers_dir)
    try:
        os.chmod(staging, 0o700)
        bundle = new.bundle.under(staging)
        for path in bundle.directories:
            os.mkdir(path, 0o755)
        for file in bundle.files:
            with open(file.path, "wb") as f:
                f.write(file.content)
        make_volumes(layout, new)
        for helper in bundle.helpers:
            shutil.copy2(HELPERS[helper.program](), helper.path)
        write_atomic(bundle.record, encode_record(record))
        os.rename(staging, layout.container_dir(name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    checkpoint("after-dir")
    try:
        started = start(layout, name, fresh=True, confirm=new.must_run if confirm is None else confirm)
        checkpoint("after-start")
        write_atomic(layout.record(name), encode_record(msgspec.structs.replace(record, phase="ready")))
    except BaseException:
        try:
            _remove_tree(layout, name)
        except HpError:
            pass  # the failure that got us here is the one to report; the record (phase creating) stays, and
            # the next apply finishes the removal
        raise
    return started


def make_volumes(layout: Layout, new: NewContainer) -> None:
    """The volumes `new` mounts that do not exist yet, each filled from its image at its target.
    Apply calls this for its containers one by one, in name order, before it creates any of them
    in parallel: so a named volume that several new containers share is always filled from the
    same one (the first by name), whatever order the parallel creates run in."""
    existing = set(volumes.names(layout))
    missing = [use for use in new.bundle.volumes if use.origin.name not in existing]
    if not missing:
        return
    with merged_root(layout, new.image) as image_root:  # a zero-copy image is mounted only for this
        for use in missing:
            volumes.ensure(layout, use.origin, image_root, use.destination)


def start(
    layout: Layout, name: str, *, fresh: bool = False, confirm: bool | None = None, by_policy: bool = False
) -> Started | None:
    """Mount the overlay (if needed), connect its network (namespace, CNI ADD: up before the
    entrypoint runs; kept as it is if it is up), create the crun container under a new conmon,
    start it. None if it was running already.
    `fresh`: the container was made just now, so there is no old state to look for.
    `confirm`: wait START_GRACE and fail, undoing the start, unless it is still running
    (confirm_running); None: as the record's must_run says. An apply starts many at once and
    confirms them together afterwards, so that the grace periods overlap.
    `by_policy`: a restart by its restart policy (executor/supervise.py): the count goes on."""
    if not fresh:
        current = crun_status(layout, name)
        if current == "running":
            return None
        if current is not None:
            _stop_watching(layout, name)  # the old run's exit must not restart it meanwhile
            run(
                commands.crun_delete(layout, name, force=True),
                f"clearing {name}'s old crun state",
                timeout=CRUN_TIMEOUT,
            )
    record = read_record(layout, name)
    if record is None:
        raise HpError(name, "no such container")
    if confirm is None:
        confirm = record.must_run
    mounted_here = False
    if fresh or not os.path.ismount(layout.rootfs(name)):
        run(
            commands.mount_overlay(
                lower_of(layout, record.image_id), layout.upper(name), layout.work(name), layout.rootfs(name)
            ),
            f"mounting {name}'s root filesystem",
            timeout=MOUNT_TIMEOUT,
        )
        mounted_here = True
        checkpoint("after-mount")
    try:
        networking.connect(layout, name)
        log_size = _size(layout.log(name))
        run_state = supervision.started(read_run_state(layout, name), time.time(), by_policy)
        write_atomic(layout.run_state(name), encode_run_state(run_state))
        monitor.launch(
            layout,
            name,
            terminal=_terminal(layout, name),
            log_max_size=record.log_max_size,
            start=run_state.start,
            timeout=CREATE_TIMEOUT,
        )
        checkpoint("after-crun-create")
        run(commands.crun_start(layout, name), f"starting {name}", timeout=CRUN_TIMEOUT)
        started = Started(name, log_size, time.monotonic())
        if confirm:
            confirm_running(layout, started)
    except BaseException:
        _stop_watching(layout, name)
        run_status(commands.crun_delete(layout, name, force=True), timeout=CRUN_TIMEOUT)
        monitor.wait_gone(layout, name, MONITOR_END_WAIT)
        for undo in (remove_cgroups, networking.disconnect):
            try:
                undo(layout, name)
            except HpError:
                pass  # the error that got us here is the one to report; the next apply retries
        if mounted_here:
            run_status(commands.umount(layout.rootfs(name)), timeout=MOUNT_TIMEOUT)
        raise
    return started


def read_run_state(layout: Layout, name: str) -> RunState | None:
    try:
        with open(layout.run_state(name), "rb") as f:
            return decode_run_state(f.read())
    except (FileNotFoundError, HpError):
        return None


def _stop_watching(layout: Layout, name: str) -> None:
    """Say, before hp stops or kills `name`, that no exit from now on is to be restarted."""
    if os.path.isdir(layout.container_dir(name)):
        write_atomic(layout.run_state(name), encode_run_state(supervision.stopping(read_run_state(layout, name))))


def _terminal(layout: Layout, name: str) -> bool:
    """config.json's process.terminal: conmon then gives crun a console socket."""
    with open(layout.config_json(name), "rb") as f:
        config = msgspec.json.decode(f.read(), type=_TerminalOnly)
    return bool(config.process and config.process.terminal)


class _Terminal(msgspec.Struct):
    terminal: bool = False


class _TerminalOnly(msgspec.Struct):
    process: _Terminal | None = None


def confirm_running(layout: Layout, started: Started) -> None:
    """Still running START_GRACE after its `crun start`, by crun's own status; else an HpError
    with its exit status and what it (or crun's init, for a failed exec) wrote to its log. Waits
    only for what is left of the grace period."""
    name, log_size = started.name, started.log_offset
    left = max(0.0, started.at + START_GRACE - time.monotonic())
    ended = wait_until(lambda: os.path.exists(layout.exit_file(name)), left)
    if not ended and is_running(crun_status(layout, name)):
        return
    wait_until(lambda: os.path.exists(layout.exit_file(name)), EXIT_FILE_WAIT)
    code = read_int(layout.exit_file(name))
    tail = _tail(layout.log(name), log_size)
    status = f" {code}" if code is not None else ""
    raise HpError(
        f"starting {name}",
        f"it exited{status} within {START_GRACE:g} s of its start"
        + (f": {tail};" if tail else ", with nothing in its log;")
        + " if it is meant to end by itself, set must_run = false",
    )


def stop(layout: Layout, name: str, timeout: float | None = None) -> None:
    """The record's stop signal, `timeout` seconds (None: the record's stop_timeout), then
    SIGKILL; then crun delete and unmount. The container's writable layer, volumes and log
    stay: `hp start` runs it again."""
    record = read_record(layout, name)
    signal = record.stop_signal if record else DEFAULT_STOP_SIGNAL
    if timeout is None:
        timeout = record.stop_timeout if record else DEFAULT_STOP_TIMEOUT
    status = crun_status(layout, name)
    _stop_watching(layout, name)
    if has_process(status):
        if status == "created":
            signal = SIGKILL
        run_status(commands.crun_kill(layout, name, signal), timeout=CRUN_TIMEOUT)
        checkpoint("stop-signalled")
        if not wait_until(lambda: crun_status(layout, name) in ("stopped", None), timeout):
            run_status(commands.crun_kill(layout, name, SIGKILL), timeout=CRUN_TIMEOUT)
            wait_until(lambda: crun_status(layout, name) in ("stopped", None), 10)
        wait_until(lambda: os.path.exists(layout.exit_file(name)), EXIT_FILE_WAIT)
    monitor.wait_gone(layout, name, MONITOR_END_WAIT)
    if crun_status(layout, name) is not None:
        run(commands.crun_delete(layout, name, force=True), f"deleting {name}'s crun state", timeout=CRUN_TIMEOUT)
    networking.disconnect(layout, name)
    if os.path.ismount(layout.rootfs(name)):
        run(commands.umount(layout.rootfs(name)), f"unmounting {name}'s root filesystem", timeout=MOUNT_TIMEOUT)


def remove(layout: Layout, name: str, force: bool = False) -> None:
    """Remove everything of `name`: crun state, mount, directory. A running container is
    stopped as `hp stop` does (its stop signal, its stop_timeout, then SIGKILL); with force it
    is killed at once. Works on half-made containers too, and finishes a removal that a killed
    hp began: the record says "removing" before the stop, so a kill during the wait is finished
    by the next apply (or `hp rm`)."""
    if not exists(layout, name):
        raise HpError(name, "no such container")
    record = read_record(layout, name)
    if record is not None and record.phase != "removing":
        write_atomic(layout.record(name), encode_record(msgspec.structs.replace(record, phase="removing")))
    checkpoint("removing")
    stop(layout, name, timeout=0 if force else None)
    _remove_tree(layout, name)


def _remove_tree(layout: Layout, name: str) -> None:
    """crun state, network, overlay mount, what crun left of its cgroup, then the directory:
    renamed away first (one atomic step), so a killed hp leaves either the whole directory with
    its record or a dot-named one."""
    _stop_watching(layout, name)
    run_status(commands.crun_delete(layout, name, force=True), timeout=CRUN_TIMEOUT)
    monitor.wait_gone(layout, name, MONITOR_END_WAIT)
    networking.disconnect(layout, name)
    rootfs = layout.rootfs(name)
    if os.path.ismount(rootfs):
        run(commands.umount(rootfs), f"unmounting {name}'s root filesystem", timeout=MOUNT_TIMEOUT)
    remove_cgroups(layout, name)
    volumes.adopt_legacy(layout, name)  # an older hp's image volumes in the bundle: kept, never deleted here
    checkpoint("after-stop")
    gone = tempfile.mkdtemp(prefix=f"{GONE_PREFIX}{name}-", dir=layout.containers_dir)
    os.rename(layout.container_dir(name), f"{gone}/{name}")
    checkpoint("after-gone")
    shutil.rmtree(gone)
    monitor.remove_monitor_cgroups(layout)  # if it was the last one


def remove_cgroups(layout: Layout, name: str) -> None:
    """rmdir the container's cgroup directories (/sys/fs/cgroup/<hierarchy>/hp/<tag>-<name>, the
    path its config.json gives crun, and any cgroup below them: deepest first) on every hierarchy.
    crun delete removes them, but a `crun create` that fails half-way leaves them. Only rmdir: a
    cgroup that still holds processes after CGROUP_BUSY_WAIT is an error; hp kills nothing there."""
    with open("/proc/self/mountinfo") as f:
        mountinfo = f.read()
    for top in container_cgroup_dirs(cgroup_mounts(mountinfo), cgroups_path(layout.cgroup_name(name))):
        for directory, _, _ in os.walk(top, topdown=False):
            if not wait_until(functools.partial(_rmdir_cgroup, directory), CGROUP_BUSY_WAIT):
                raise HpError(
                    f"{name}'s cgroup",
                    f"{directory} still holds processes after {CGROUP_BUSY_WAIT:g} s "
                    "(hp removes only empty cgroups, and kills nothing there)",
                )


def _rmdir_cgroup(directory: str) -> bool:
    """True once `directory` is gone; False while it holds processes (EBUSY)."""
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno == errno.EBUSY:
            return False
        raise HpError(f"cgroup {directory}", f"cannot remove it: {e.strerror}") from None
    return True


def crun_status(layout: Layout, name: str) -> str | None:
    """crun's status of `name` ("created", "running", "stopped", "paused"), None if crun has none."""
    if not os.path.exists(layout.crun_state_dir(name)):
        return None
    code, out, _ = run_status(commands.crun_state(layout, name), timeout=CRUN_TIMEOUT)
    if code != 0:
        return None
    try:
        return msgspec.json.decode(out, type=CrunState).status
    except msgspec.DecodeError:
        raise HpError(f"crun state {name}", f"unexpected output: {out[:200]!r}") from None


def crun_statuses(layout: Layout) -> dict[str, str]:
    """crun's status of every container under hp's root, from one `crun list`. One status file
    crun cannot parse fails its whole list, so then each container hp has is asked alone
    (crun_status), and one crun cannot tell is left out, as crun_status leaves it."""
    if not os.path.isdir(layout.crun_root):
        return {}
    code, out, _ = run_status(commands.crun_list(layout), timeout=CRUN_TIMEOUT)
    if code != 0:
        asked = {name: crun_status(layout, name) for name in container_names(layout)}
        return {name: status for name, status in asked.items() if status is not None}
    try:
        return {c.id: c.status for c in msgspec.json.decode(out or "[]", type=list[CrunState])}
    except msgspec.DecodeError:
        raise HpError("crun list", f"unexpected output: {out[:200]!r}") from None


class CrunState(msgspec.Struct, frozen=True):
    """What hp reads of `crun state NAME` and of each entry of `crun list --format json`."""

    id: str
    status: str


def statuses(layout: Layout) -> list[ContainerStatus]:
    """`hp ps`'s rows: each container hp has, by name, with crun asked once for them all."""
    crun = crun_statuses(layout)
    return [status(layout, name, crun.get(name)) for name in container_names(layout)]


def status(layout: Layout, name: str, state: str | None) -> ContainerStatus:
    """What `hp ps` shows of `name`, whose status crun gives as `state` (crun_status)."""
    record = read_record(layout, name)
    pid = read_int(layout.pid_file(name)) if has_process(state) else None
    exit_code = read_int(layout.exit_file(name)) if not has_process(state) else None
    setup = networking.read_setup(layout, name)
    ip = networking.address_of(layout, name) if setup is not None and setup.attachment is not None else None
    ports = tuple(str(p) for p in setup.attachment.port_mappings) if setup and setup.attachment else ()
    run_state = read_run_state(layout, name)
    shown = shown_status(state, run_state)
    from .health import health_of  # it runs checks with this module's functions

    return ContainerStatus(
        name=name,
        image=record.image if record else "",
        status=shown,
        exit_code=exit_code,
        pid=pid,
        network=(setup.network or setup.mode) if setup else "",
        network_mode=setup.mode if setup else "",
        ip=ip,
        ports=ports,
        restart=record.restart if record else "no",
        restarts=run_state.restarts if run_state else 0,
        health=health_of(layout, name, shown == "running"),
    )


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


_LOG_RECORD = re.compile(r"^\S+ (?:stdout|stderr) [FP] ?(.*)$")


def _tail(path: str, offset: int) -> str:
    """The last 3 lines of text written to the log since `offset` (conmon's k8s-file framing
    taken off), for an error message."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read(8192).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    lines = [m[1] if (m := _LOG_RECORD.match(line)) else line for line in text.strip().splitlines()]
    return " ".join(line.strip() for line in lines[-3:] if line.strip())


__all__ = ["Started", "confirm_running", "create", "crun_status", "exists", "remove", "start", "status", "stop"]
