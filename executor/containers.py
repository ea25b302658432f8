"""A container's life on this host: create, start, stop, remove, status, exec.

Each function is a short sequence of effects whose argv come from
compiler.commands; a failure undoes what the call had done, so nothing
half-made is left behind (no mount, no crun state, no directory).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from typing import Callable

import msgspec

from compiler import commands, oci
from compiler.cgroups import cgroup_mounts, cgroups_path, container_cgroup_dirs
from compiler.cni import NetworkSetup, encode_setup
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.supervision import Supervision
from compiler.state import ContainerRecord, ContainerStatus, config_hash, encode_record
from compiler.volumes import VolumeOrigin, image_volume_name, volume_of_source

from . import networking, volumes
from .faults import checkpoint
from .helpers import Helpers
from .images import PreparedImage
from .run import run, run_status
from .store import GONE_PREFIX, NEW_PREFIX, read_int, read_record, write_atomic

DEFAULT_STOP_TIMEOUT = 10  # without a record (hp.toml's stop_timeout is in it)
CRUN_TIMEOUT = 30.0  # crun start, state, list, kill, delete: quick unless something is badly stuck
CREATE_TIMEOUT = 60.0  # hp-monitor + crun create: mounts, namespaces, cgroups
MOUNT_TIMEOUT = 30.0
# After `crun start` returns, the container's process has yet to exec its program: an exec that
# fails (E2BIG, ENOENT ...) or a program that exits at once shows within this time.
START_GRACE = 0.5
EXIT_FILE_WAIT = 2.0  # for hp-monitor to write the exit status of a process that ended
CGROUP_BUSY_WAIT = 2.0  # for killed processes to leave their cgroup before it can be removed


def exists(layout: Layout, name: str) -> bool:
    return os.path.lexists(layout.container_dir(name))


class NewContainer(msgspec.Struct, frozen=True):
    """Everything a container is made from, decided before anything is made (by planning)."""

    name: str
    ref: str
    image: PreparedImage
    config: oci.RuntimeConfig
    files: tuple[tuple[str, bytes], ...]  # bundle files by name: config.json, hostname, hosts, resolv.conf
    keep_alive: bool
    stop_signal: int
    network: NetworkSetup
    file: str = ""  # the hp.toml that manages it
    must_run: bool = True  # False: ending soon after its start is expected (hp.toml must_run)
    stop_timeout: int = 10  # hp.toml's: seconds from the stop signal to SIGKILL
    prevent_destroy: bool = False  # hp.toml's
    supervision: Supervision = Supervision()  # hp.toml's restart, restart_max, log_max_size

    @property
    def config_json(self) -> bytes:
        return dict(self.files)["config.json"]


class Started(msgspec.Struct, frozen=True):
    """A container just started: confirm_running(layout, started) tells whether it stayed up."""

    name: str
    log_offset: int  # the size of its log before this start: what it wrote since is after it
    at: float  # time.monotonic() right after `crun start`


def create(layout: Layout, new: NewContainer, helpers: Helpers, *, confirm: bool | None = None) -> Started:
    """Make the container's directory, mount, crun container and record, then start it.
    All or nothing; and if hp is killed half-way, the record's phase says so (compiler.state).
    `confirm`: as start's; None means the container's must_run."""
    name = new.name
    if exists(layout, name):
        raise HpError(name, f"a container named {name!r} already exists (hp rm {name} first)")
    record = ContainerRecord(name, new.ref, new.image.image_id, config_hash(new.config_json), new.stop_signal,
                             new.file, "creating", new.must_run, stop_timeout=new.stop_timeout,
                             prevent_destroy=new.prevent_destroy, restart=new.supervision.restart,
                             restart_max=new.supervision.restart_max,
                             log_max_size=new.supervision.log_max_size)
    os.makedirs(layout.containers_dir, exist_ok=True)
    # filled under a dot name, then renamed: a directory named NAME always holds a record
    staging = tempfile.mkdtemp(prefix=f"{NEW_PREFIX}{name}-", dir=layout.containers_dir)
    try:
        os.chmod(staging, 0o700)
        bundle = f"{staging}/bundle"
        for path in (bundle, f"{bundle}/rootfs", f"{staging}/upper", f"{staging}/work"):
            os.mkdir(path, 0o755)
        for file, content in new.files:
            with open(f"{bundle}/{file}", "wb") as f:
                f.write(content)
        make_volumes(layout, new)
        if new.keep_alive:
            shutil.copy2(helpers.init, f"{bundle}/hp-init")
        with open(f"{staging}/network.json", "wb") as f:
            f.write(encode_setup(new.network))
        write_atomic(f"{staging}/container.json", encode_record(record))
        os.rename(staging, layout.container_dir(name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    checkpoint("after-dir")
    try:
        started = start(layout, name, helpers, fresh=True, confirm=new.must_run if confirm is None else confirm)
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
    for mount in new.config.mounts:
        volume = volume_of_source(layout.volumes_dir, mount.source) if mount.type == "bind" else None
        if volume is not None:
            volumes.ensure(layout, _origin(new.name, volume, mount.destination), new.image.rootfs, mount.destination)


def _origin(container: str, volume: str, destination: str) -> VolumeOrigin:
    if volume == image_volume_name(container, destination):
        return VolumeOrigin(volume, "image", container, destination)
    return VolumeOrigin(volume, "named")


def start(layout: Layout, name: str, helpers: Helpers, *, fresh: bool = False,
          confirm: bool | None = None) -> Started:
    """Mount the overlay (if needed), connect its network (namespace, CNI ADD: up before the
    entrypoint runs), create the crun container under hp-monitor, start it.
    `fresh`: the container was made just now, so there is no old state to look for.
    `confirm`: wait START_GRACE and fail, undoing the start, unless it is still running
    (confirm_running); None: as the record's must_run says. An apply starts many at once and
    confirms them together afterwards, so that the grace periods overlap."""
    if not fresh:
        current = crun_status(layout, name)
        if current == "running":
            return
        if current is not None:
            run(commands.crun_delete(layout, name, force=True), f"clearing {name}'s old crun state",
                timeout=CRUN_TIMEOUT)
        for path in (layout.exit_file(name), layout.pid_file(name)):
            if os.path.exists(path):
                os.unlink(path)
    record = read_record(layout, name)
    if record is None:
        raise HpError(name, "no such container")
    if confirm is None:
        confirm = record.must_run
    mounted_here = False
    if fresh or not os.path.ismount(layout.rootfs(name)):
        run(commands.mount_overlay(layout.image_rootfs(record.image_id), layout.upper(name), layout.work(name),
                                   layout.rootfs(name)), f"mounting {name}'s root filesystem", timeout=MOUNT_TIMEOUT)
        mounted_here = True
        checkpoint("after-mount")
    try:
        networking.connect(layout, name)
        log_size = _size(layout.log(name))
        code, _, err = run_status(commands.crun_create(layout, name, helpers.monitor), timeout=CREATE_TIMEOUT)
        if code != 0:
            raise HpError(f"creating {name}", f"crun create exited {code}: {_tail(layout.log(name), log_size) or err}")
        checkpoint("after-crun-create")
        run(commands.crun_start(layout, name), f"starting {name}", timeout=CRUN_TIMEOUT)
        started = Started(name, log_size, time.monotonic())
        if confirm:
            confirm_running(layout, started)
    except BaseException:
        run_status(commands.crun_delete(layout, name, force=True), timeout=CRUN_TIMEOUT)
        for undo in (remove_cgroups, networking.disconnect):
            try:
                undo(layout, name)
            except HpError:
                pass  # the error that got us here is the one to report; the next apply retries
        if mounted_here:
            run_status(commands.umount(layout.rootfs(name)), timeout=MOUNT_TIMEOUT)
        raise
    return started


def confirm_running(layout: Layout, started: Started) -> None:
    """Still running START_GRACE after its `crun start`, by crun's own status; else an HpError
    with its exit status and what it (or crun's init, for a failed exec) wrote to its log. Waits
    only for what is left of the grace period."""
    name, log_size = started.name, started.log_offset
    left = max(0.0, started.at + START_GRACE - time.monotonic())
    ended = _wait(lambda: os.path.exists(layout.exit_file(name)), left)
    if not ended and crun_status(layout, name) in ("running", "paused"):
        return
    _wait(lambda: os.path.exists(layout.exit_file(name)), EXIT_FILE_WAIT)
    code = read_int(layout.exit_file(name))
    tail = _tail(layout.log(name), log_size)
    status = f" {code}" if code is not None else ""
    raise HpError(f"starting {name}", f"it exited{status} within {START_GRACE:g} s of its start"
                                      + (f": {tail};" if tail else ", with nothing in its log;")
                                      + " if it is meant to end by itself, set must_run = false")


def stop(layout: Layout, name: str, timeout: float | None = None) -> None:
    """The record's stop signal, `timeout` seconds (None: the record's stop_timeout), then
    SIGKILL; then crun delete and unmount. The container's writable layer, volumes and log
    stay: `hp start` runs it again."""
    record = read_record(layout, name)
    signal = record.stop_signal if record else 15
    if timeout is None:
        timeout = record.stop_timeout if record else DEFAULT_STOP_TIMEOUT
    status = crun_status(layout, name)
    if status in ("running", "created", "paused"):
        if status == "created":
            signal = 9
        run_status(commands.crun_kill(layout, name, signal), timeout=CRUN_TIMEOUT)
        checkpoint("stop-signalled")
        if not _wait(lambda: crun_status(layout, name) in ("stopped", None), timeout):
            run_status(commands.crun_kill(layout, name, 9), timeout=CRUN_TIMEOUT)
            _wait(lambda: crun_status(layout, name) in ("stopped", None), 10)
        _wait(lambda: os.path.exists(layout.exit_file(name)), 2)
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
    run_status(commands.crun_delete(layout, name, force=True), timeout=CRUN_TIMEOUT)
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


def remove_cgroups(layout: Layout, name: str) -> None:
    """rmdir the container's cgroup directories (/sys/fs/cgroup/<hierarchy>/hp/<tag>-<name>, the
    path its config.json gives crun, and any cgroup below them: deepest first) on every hierarchy.
    crun delete removes them, but a `crun create` that fails half-way leaves them. Only rmdir: a
    cgroup that still holds processes after CGROUP_BUSY_WAIT is an error; hp kills nothing there."""
    with open("/proc/self/mountinfo") as f:
        mountinfo = f.read()
    for top in container_cgroup_dirs(cgroup_mounts(mountinfo), cgroups_path(layout.cgroup_name(name))):
        for directory, _, _ in os.walk(top, topdown=False):
            if not _wait(lambda gone=directory: _rmdir_cgroup(gone), CGROUP_BUSY_WAIT):
                raise HpError(f"{name}'s cgroup", f"{directory} still holds processes after {CGROUP_BUSY_WAIT:g} s "
                                                  "(hp removes only empty cgroups, and kills nothing there)")


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
    if not os.path.exists(f"{layout.crun_root}/{name}"):
        return None
    code, out, _ = run_status(commands.crun_state(layout, name), timeout=CRUN_TIMEOUT)
    if code != 0:
        return None
    return json.loads(out).get("status")


def crun_statuses(layout: Layout) -> dict[str, str]:
    """crun's status of every container under hp's root, from one `crun list`."""
    if not os.path.isdir(layout.crun_root):
        return {}
    out = run(commands.crun_list(layout), "listing crun's containers", timeout=CRUN_TIMEOUT)
    try:
        return {c["id"]: c["status"] for c in json.loads(out or "[]")}
    except (ValueError, KeyError, TypeError):
        raise HpError("crun list", f"unexpected output: {out[:200]!r}") from None


def status(layout: Layout, name: str) -> ContainerStatus:
    record = read_record(layout, name)
    state = crun_status(layout, name)
    shown = state if state in ("created", "running") else "stopped"
    if state == "paused":
        shown = "running"
    pid = read_int(layout.pid_file(name)) if shown in ("created", "running") else None
    exit_code = read_int(layout.exit_file(name)) if shown == "stopped" else None
    setup = networking.read_setup(layout, name)
    ip = networking.address_of(layout, name) if setup is not None and setup.attachment is not None else None
    ports = tuple(str(p) for p in setup.attachment.port_mappings) if setup and setup.attachment else ()
    return ContainerStatus(name=name, image=record.image if record else "", status=shown,
                           exit_code=exit_code, pid=pid, network=setup.mode if setup else "", ip=ip, ports=ports)


def _wait(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return True


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _tail(path: str, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read(4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return " ".join(line.strip() for line in text.strip().splitlines()[-3:])


__all__ = ["Started", "confirm_running", "create", "crun_status", "exists", "remove", "start", "status", "stop"]
