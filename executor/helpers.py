"""hp's two small static programs, hp-init and hp-monitor, built once per source version
into STATE/bin (content-addressed, so an upgrade of hp never runs an old build)."""

from __future__ import annotations

import hashlib
import os
import stat

import msgspec

from compiler.errors import HpError
from compiler.layout import Layout

from .init import build_argv, source
from .run import run
from .session import check_trusted_dir


class Helpers(msgspec.Struct, frozen=True):
    init: str
    monitor: str


def ensure_helpers(layout: Layout) -> Helpers:
    return Helpers(init=_ensure(layout, "hp-init"), monitor=_ensure(layout, "hp-monitor"))


def _ensure(layout: Layout, program: str) -> str:
    digest = hashlib.sha256(source(program).read_bytes()).hexdigest()[:16]
    target = f"{layout.bin_dir}/{program}-{digest}"
    os.makedirs(layout.bin_dir, mode=0o700, exist_ok=True)
    check_trusted_dir(layout.bin_dir)
    if os.path.lexists(target):
        check_trusted_program(target)
        return target
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        run(build_argv(tmp, program), f"building {program} (needs gcc and libc6-dev)")
        os.rename(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def check_trusted_program(path: str) -> None:
    """Run only what no other user could have written: a regular file (not a symlink) owned by
    us, writable by nobody else. One that is not is refused, never replaced or deleted."""
    problem = _untrusted_because(os.lstat(path))
    if problem:
        raise HpError(path, f"{problem}: refusing to run it (remove it, and hp builds its own)")


def _untrusted_because(info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "a symlink, not a file hp built"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != os.geteuid():
        return f"owned by uid {info.st_uid}, not by uid {os.geteuid()} who runs hp"
    if info.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return ""
