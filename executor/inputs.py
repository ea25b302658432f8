"""Reading the input files, with one clear error per failure."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from compiler.env import EnvFile, parse_env_file
from compiler.errors import HpError, key_path, quote

if TYPE_CHECKING:
    from compiler.spec import HpFile

ENV_FILE_LIMIT = 1024 * 1024


def shown(path: str) -> str:
    """A file name as messages show it: quoted when it holds a newline or other control character."""
    return path if path.isprintable() else quote(path)


MAX_INPUT_BYTES = 16 * 1024 * 1024
ACCOUNTS_LIMIT = 10 * 1024 * 1024  # passwd and group files, an image's or --passwd/--group: containerd/moby's cap


def read_input(path: str, *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file (or stdin as "-"), or HpError naming the file."""
    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read(limit + 1)
        else:
            # O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise HpError(path, "not a regular file")
                data = f.read(limit + 1)
    except OSError as e:
        raise HpError(shown(path), f"cannot read: {e.strerror or e}") from None
    except HpError as e:
        raise HpError(shown(path), e.problem) from None
    if len(data) > limit:
        raise HpError(shown(path), f"larger than {limit // (1024 * 1024)} MiB")
    return data


def read_text(path: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    data = read_input(path, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HpError(shown(path), f"not UTF-8 text (byte {e.start})") from None


def read_env_files(file: str, hp_file: HpFile) -> dict[str, EnvFile]:
    """The text of every env_file the containers name, by the path as written: relative to the
    directory of FILE (hp.toml). HpError naming the file if one cannot be read."""
    texts = {}
    base = os.path.dirname(file)
    for name in sorted(hp_file.containers):
        for i, path in enumerate(hp_file.containers[name].env_file):
            if path in texts:
                continue
            if not path or "\0" in path:
                raise HpError(
                    f"{key_path('containers', name)}.env_file[{i}]",
                    "empty path" if not path else "contains a NUL byte",
                    source="spec",
                )
            full = os.path.join(base, path)
            texts[path] = EnvFile(shown(full), read_text(full, limit=ENV_FILE_LIMIT))
            parse_env_file(texts[path])  # a bad line is reported before anything is pulled
    return texts
