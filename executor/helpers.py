"""hp-init, the one program of hp's own that runs inside containers (keep_alive), built at
install time (executor/init). Copied into a keep_alive container's bundle only after a check
that no other user could have written it."""

from __future__ import annotations

import os
import stat

from compiler.errors import HpError

from .init import installed_path


def init_program() -> str:
    path = installed_path()
    if not os.path.lexists(path):
        raise HpError(
            "keep_alive",
            f"hp-init is not installed at {path}: run scripts/setup, which builds it "
            "once (python -m executor.init, with gcc)",
        )
    check_trusted_program(path)
    return path


def check_trusted_program(path: str) -> None:
    """Use only what no other user could have written: a regular file (not a symlink) owned by
    root or by us, writable by nobody else. One that is not is refused, never replaced or deleted."""
    problem = _untrusted_because(os.lstat(path))
    if problem:
        raise HpError(path, f"{problem}: refusing to use it (reinstall: scripts/setup)")


def _untrusted_because(info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "a symlink, not the file hp's install built"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid not in (0, os.geteuid()):
        return f"owned by uid {info.st_uid}, neither root nor uid {os.geteuid()} who runs hp"
    if info.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return ""
