"""The host's device nodes and bounding set, as facts for the compiler (compiler/devices.py).

A named device is stat(2)ed, following symlinks, as podman resolves one; privileged containers get
every device node under /dev, found as podman 4.3.1 walks it (runc's getDevices): names sorted,
subdirectories in place, symlinks and pts, shm, fd, mqueue, .lxc, .lxd-mounts and console skipped.
"""

from __future__ import annotations

import os
import stat
from typing import Literal

from compiler.capabilities import ALL_CAPABILITIES
from compiler.devices import DeviceRequest, device_nodes, parse_devices
from compiler.errors import HpError, key_path, quote
from compiler.host import HostDevice, HostFacts
from compiler.spec import HpFile

from .inputs import shown

DEV = "/dev"
MAX_DEV_ENTRIES = 20000  # a bound on the walk: a real /dev has a few hundred
_SKIPPED_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts"})
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


def named_devices(hp_file: HpFile) -> dict[str, HostDevice]:
    """The host's nodes for every container's `devices`, by host path. Every entry is checked before
    any is looked at; one that does not exist fails here, before anything is pulled, with the
    compiler's own error (compiler.devices.device_nodes)."""
    wanted: dict[str, tuple[str, tuple[DeviceRequest, ...]]] = {}
    for name in sorted(hp_file.containers):
        if hp_file.containers[name].privileged:
            continue  # it gets every device; the compiler refuses its devices list
        where = f"{key_path('containers', name)}.devices"
        try:
            wanted[name] = (where, parse_devices(hp_file.containers[name].devices, where))
        except HpError as e:
            raise e.from_source("spec") from None
    paths = {
        r.host: f"{where}[{i}]"
        for where, requests in reversed(wanted.values())
        for i, r in reversed(list(enumerate(requests)))
    }
    found = {}
    for path, where in sorted(paths.items()):
        device = device_at(path, where)
        if device is not None:
            found[path] = device
    for where, requests in wanted.values():
        try:
            device_nodes(requests, HostFacts(devices=found), where)
        except HpError as e:
            raise e.from_source("spec") from None
    return found


def device_at(path: str, where: str) -> HostDevice | None:
    """The device node at `path` (symlinks followed), None when nothing is there, or an HpError at
    `where` when something that is not a character or block device is."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise HpError(where, f"cannot look at {shown(path)}: {e.strerror or e}", source="spec") from None
    device = _device(path, st)
    if device is None:
        kind = next((word for test, word in _KINDS if test(st.st_mode)), "not a device")
        raise HpError(where, f"{shown(path)} is not a device ({kind})", source="spec")
    return device


def all_devices(root: str = DEV, *, limit: int = MAX_DEV_ENTRIES) -> tuple[HostDevice, ...]:
    """Every character and block device under `root`, in podman's order (see the module's doc); an
    HpError past `limit` entries or MAX_DEPTH levels, rather than a partial list."""
    out: list[HostDevice] = []
    _walk(root, root, out, [limit], 0)
    return tuple(out)


MAX_DEPTH = 16


def _walk(root: str, directory: str, out: list[HostDevice], budget: list[int], depth: int) -> None:
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return  # gone since its parent was listed
    except OSError as e:
        raise HpError(shown(directory), f"cannot list the host's devices: {e.strerror or e}") from None
    budget[0] -= len(entries)
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise HpError(shown(root), "too many entries or levels to walk for a privileged container's devices")
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIPPED_DIRS:
                _walk(root, entry.path, out, budget, depth + 1)
        elif entry.name != "console" and not entry.is_symlink():
            device = _lstat_device(entry.path)
            if device is not None:
                out.append(device)


def bounding_set(status_text: str) -> tuple[str, ...]:
    """The capabilities in /proc/self/status's CapBnd line, sorted by name; () when there is none."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            try:
                mask = int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                raise HpError("/proc/self/status", f"CapBnd is not a hex mask: {quote(line)}") from None
            return tuple(sorted(name for bit, name in enumerate(ALL_CAPABILITIES) if mask >> bit & 1))
    return ()


def host_bounding_set(status: str = "/proc/self/status") -> tuple[str, ...]:
    """hp's own bounding set (crun, which hp starts, inherits it)."""
    try:
        with open(status, encoding="ascii", errors="replace") as f:
            return bounding_set(f.read(65536))
    except OSError as e:
        raise HpError(status, f"cannot read: {e.strerror or e}") from None


def _lstat_device(path: str) -> HostDevice | None:
    try:
        return _device(path, os.lstat(path))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise HpError(shown(path), f"cannot look at a host device: {e.strerror or e}") from None


def _device(path: str, st: os.stat_result) -> HostDevice | None:
    kind: Literal["c", "b"]
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    return HostDevice(
        path=path,
        type=kind,
        major=os.major(st.st_rdev),
        minor=os.minor(st.st_rdev),
        file_mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
    )
