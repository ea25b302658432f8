"""Persistent network namespaces: a file bind-mounted onto /proc/PID/ns/net, as `ip netns` makes
them, but under hp's state directory (compiler.layout.Layout.netns: STATE/netns/NAME).

The namespace outlives every process in it; crun joins it by path (config.json's
linux.namespaces), CNI configures it by path. Both functions are idempotent, so a re-run
after a crash finishes what was half-done.

Mount propagation: like `ip netns`, the directory holding the namespace files is made a
mount of its own in a peer group of its own (bind-mounted onto itself, made private, then
shared). Private: our mounts do not propagate into the host's other mounts. Shared: a mount
namespace copied from ours later (another tool's, a service's) gets our namespace mounts as
peers, so unmounting one here unmounts it there too and the namespace can be freed.
"""

from __future__ import annotations

import os
import re
import threading

from compiler.commands import bind_self_argv, make_private_argv, make_shared_argv, netns_create_argv, umount
from compiler.errors import HpError

from .run import run


def create_netns(path: str) -> None:
    """A network namespace bind-mounted at `path`, its loopback up. Nothing is done if one is
    already mounted there; a stale file (a leftover of a reboot) gets a fresh namespace."""
    path = _real(path)
    if is_netns(path):
        return
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    _prepare_dir(directory)
    with open(path, "a"):  # unshare bind-mounts onto an existing file only
        pass
    try:
        run(netns_create_argv(path), f"creating network namespace {path}")
    except BaseException:
        remove_netns(path)
        raise


def remove_netns(path: str) -> None:
    """Unmount and delete the namespace file at `path`; nothing to do if it is gone. The
    namespace itself ends when no process is left in it (crun's container has exited)."""
    path = _real(path)
    for _ in range(8):  # mounted more than once (stacked) is unlikely, but each needs a umount
        if mount_of(path) is None:
            break
        run(umount(path), f"unmounting network namespace {path}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def is_netns(path: str) -> bool:
    """Whether a network namespace is mounted at `path` (not merely a file there)."""
    mount = mount_of(_real(path))
    return mount is not None and mount[0] == "nsfs"


def release_netns_dir(directory: str) -> None:
    """Unmount the namespace directory's own mount once no namespace is left in it (for a
    full teardown; hp keeps it between runs). Raises if a namespace file is still mounted."""
    directory = _real(directory)
    mounts = _mounts()
    inside = [m for m in mounts if m.startswith(directory + "/")]
    if inside:
        raise HpError(directory, f"still holds mounted namespaces: {', '.join(sorted(inside))}")
    while directory in _mounts():
        run(umount(directory), f"unmounting {directory}")


_PREPARING = threading.Lock()  # apply connects containers in parallel threads


def _prepare_dir(directory: str) -> None:
    with _PREPARING:
        _prepare_dir_once(directory)


def _prepare_dir_once(directory: str) -> None:
    if directory in _mounts():
        return
    run(bind_self_argv(directory), f"making {directory} a mount point")
    run(make_private_argv(directory), f"making {directory} a private mount")
    run(make_shared_argv(directory), f"making {directory} a shared mount")


def mount_of(path: str) -> tuple[str, str] | None:
    """(filesystem type, propagation) of the topmost mount at `path`, or None if none is."""
    return _mounts().get(path)


def _mounts() -> dict[str, tuple[str, str]]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())


def parse_mountinfo(text: str) -> dict[str, tuple[str, str]]:
    """/proc/self/mountinfo as {mount point: (filesystem type, propagation)}, the later (upper)
    of stacked mounts winning. propagation: "shared", "slave", "shared,slave" or "private"."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields or len(fields) < 7:
            continue
        dash = fields.index("-", 6)
        optional = fields[6:dash]
        kinds = [k for k in ("shared", "master") if any(o.startswith(k + ":") for o in optional)]
        propagation = ",".join("slave" if k == "master" else k for k in kinds) or "private"
        found[_unescape(fields[4])] = (fields[dash + 1], propagation)
    return found


def _unescape(field: str) -> str:
    # the kernel writes space, tab, newline and backslash in paths as \ooo
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def _real(path: str) -> str:
    # mountinfo names mount points by their real path
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
