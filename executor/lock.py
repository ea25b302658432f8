"""One hp at a time changes a state directory: an flock on STATE/lock, held for the whole command.

The holder writes its pid into the file, so the one who waits or gives up can say who holds it.
The kernel drops the lock when the holder dies, even by SIGKILL: a stale lock cannot exist.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator

from compiler.errors import HpError
from compiler.layout import Layout

from .session import make_state_dir


class GaveUp(HpError):
    """state_lock's give_up() said the lock is no longer wanted."""


BRIEF = "restart"  # what a restart by policy notes in the lock file next to its pid
BRIEF_WAIT = 15.0  # how long any command waits for such a holder: it holds the lock for one start


@contextlib.contextmanager
def state_lock(
    layout: Layout, timeout: float = 0.0, give_up: Callable[[], bool] | None = None, brief: bool = False
) -> Iterator[None]:
    """Hold the state lock; wait for it up to `timeout` seconds, and stop waiting (GaveUp) as
    soon as `give_up()` is true. `brief`: the holder is a restart by policy, which holds it for
    a moment; a command that finds one waits for it up to BRIEF_WAIT, whatever its timeout."""
    make_state_dir(layout)
    path = layout.lock
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise HpError(path, f"cannot open the lock file: {e.strerror or e}") from None
    try:
        taken = flock_within(fd, timeout, path, give_up)
        if not taken and not (give_up is not None and give_up()) and _holder(fd).endswith(f" {BRIEF}"):
            taken = flock_within(fd, BRIEF_WAIT, path, give_up)
        if not taken:
            if give_up is not None and give_up():
                raise GaveUp("state", "no longer waiting for the state lock")
            holder = _holder(fd).split(" ")[0] or "unknown"
            waited = f" (waited {timeout:g} s; see --lock-timeout)" if timeout else " (--lock-timeout waits)"
            raise HpError("state", f"state is locked by pid {holder}{waited}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}{' ' + BRIEF if brief else ''}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    return os.pread(fd, 64, 0).decode(errors="replace").strip()


def flock_within(fd: int, timeout: float, path: str, give_up: Callable[[], bool] | None = None) -> bool:
    """Take an exclusive flock on `fd` (the file at `path`), trying for up to `timeout` seconds;
    False if another holds it all that time (or give_up() became true meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise HpError(path, f"cannot lock: {e.strerror}") from None
        if time.monotonic() >= deadline or (give_up is not None and give_up()):
            return False
        time.sleep(0.02)
