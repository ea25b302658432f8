"""Files in the state directory: atomic writes, and reading hp's records."""

from __future__ import annotations

import os
import tempfile

from compiler.errors import HpError
from compiler.layout import Layout
from compiler.state import ContainerRecord, decode_record


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
    try:
        return sorted(os.listdir(layout.containers_dir))
    except FileNotFoundError:
        return []


def read_record(layout: Layout, name: str) -> ContainerRecord | None:
    """hp's record of `name`, or None if hp has none (or only a half-made container)."""
    try:
        with open(layout.record(name), "rb") as f:
            return decode_record(f.read())
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise HpError(layout.record(name), f"unreadable record: {e}") from None


def read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None
