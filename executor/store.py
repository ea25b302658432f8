"""Files in the state directory: atomic writes, hp's records, the state serial, leftovers.

STATE/serial counts the changes hp made to the state dir: a saved plan names the serial
it was made at, and is refused once it moved. Container directories appear and disappear
by rename (STATE/containers/.new-NAME-* is a directory being filled, .gone-NAME-* one
being deleted), so a directory named NAME always holds a record; what a killed hp left
under a dot name holds no mount and no process, and is swept under the state lock.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile

from compiler.layout import Layout, rootfs_path
from compiler.names import is_container_name
from compiler.state import ContainerRecord, decode_record

NEW_PREFIX, GONE_PREFIX = ".new-", ".gone-"


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file, fsync, rename over `path`: readers see the old or the new
    content, never a part. The temporary name is unique per call, so threads and processes
    writing at once never share one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def container_names(layout: Layout) -> list[str]:
    """The containers hp has, by name (not the dot-named directories in transit, nor anything
    whose name hp would never give a container)."""
    try:
        return sorted(n for n in os.listdir(layout.containers_dir) if is_container_name(n))
    except FileNotFoundError:
        return []


def read_record(layout: Layout, name: str) -> ContainerRecord | None:
    """hp's record of `name`, or None if hp has none or cannot read it (a record cut short by
    a power loss): the container is then nobody's, and `hp rm NAME` removes what there is."""
    try:
        with open(layout.record(name), "rb") as f:
            return decode_record(f.read())
    except (FileNotFoundError, ValueError):
        return None


def read_or_none(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def read_serial(layout: Layout) -> int:
    return read_int(layout.serial) or 0


def bump_serial(layout: Layout) -> int:
    """Count one more change of the state (called under the state lock, before the change)."""
    os.makedirs(layout.state_dir, exist_ok=True)
    serial = read_serial(layout) + 1
    write_atomic(layout.serial, f"{serial}\n".encode())
    return serial


def sweep_leftovers(layout: Layout) -> list[str]:
    """Delete the dot-named container and volume directories a killed hp left (under the state lock)."""
    swept = []
    try:
        entries = os.listdir(layout.volumes_dir)
    except FileNotFoundError:
        entries = []
    for entry in entries:  # a volume half-made or half-removed: made or removed again when needed
        if entry.startswith((NEW_PREFIX, GONE_PREFIX)):
            shutil.rmtree(f"{layout.volumes_dir}/{entry}", ignore_errors=True)
            swept.append(entry)
    try:
        entries = os.listdir(layout.containers_dir)
    except FileNotFoundError:
        return swept
    for entry in entries:
        if entry.startswith((NEW_PREFIX, GONE_PREFIX)):
            path = f"{layout.containers_dir}/{entry}"
            if any(os.path.ismount(rootfs_path(d)) for d in _container_dirs(path)):
                continue  # never expected; never delete through a mount
            shutil.rmtree(path, ignore_errors=True)
            swept.append(entry)
    return swept


def _container_dirs(leftover: str) -> list[str]:
    """The container directories in a dot-named leftover: a .new- one is the directory being filled
    (compiler.bundle's Bundle.under), a .gone- one holds STATE/containers/NAME renamed into it."""
    if os.path.basename(leftover).startswith(NEW_PREFIX):
        return [leftover]
    try:
        return [f"{leftover}/{entry}" for entry in sorted(os.listdir(leftover))]
    except OSError:
        return []


def apply_log_entry(message: str) -> str:
    """One line of STATE/apply.log: UTC time, hp's pid, the message."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp} [{os.getpid()}] {message}\n"


def log_step(layout: Layout, message: str) -> None:
    """Append one step to STATE/apply.log, outside an apply (a restart by policy, a health
    action). The log is for people; a failure to write it changes nothing."""
    try:
        with open(layout.apply_log, "a", encoding="utf-8") as log:
            log.write(apply_log_entry(message))
    except OSError:
        pass
