"""Container and volume names: one rule each, for hp.toml's `[containers.NAME]` / `[volumes.NAME]`
and for NAME on the command line.

A name becomes a path (STATE/containers/NAME, STATE/netns/NAME), a crun ID and part of a
cgroup and of a CNI container ID, so it is checked before anything is built from it:
"../../x", ".", "a/b" or "-f" can never reach the file system or a command line.
"""

from __future__ import annotations

import re

from .errors import HpError, quote

CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NAME_RULE = "use 1-64 letters, digits, '_' or '-', starting with a letter or digit"
_SHOWN = 80  # characters of a bad name quoted in the message


def is_container_name(name: object) -> bool:
    return isinstance(name, str) and CONTAINER_NAME.fullmatch(name) is not None


def check_container_name(name: str) -> str:
    """`name` itself, or HpError naming it (quoted, escapes visible, cut short if long)."""
    if is_container_name(name):
        return name
    shown = quote(name[:_SHOWN]) + ("..." if len(name) > _SHOWN else "") if isinstance(name, str) else repr(name)
    raise HpError(shown, f"invalid container name: {NAME_RULE}", source="option")


VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
VOLUME_NAME_RULE = "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
# an image volume's name (compiler.volumes.image_volume_name): never a declared volume's
IMAGE_VOLUME_NAME = re.compile(r".*\.[0-9a-f]{12}")


def is_volume_name(name: object) -> bool:
    return isinstance(name, str) and VOLUME_NAME.fullmatch(name) is not None


def check_volume_name(name: str, where: str | None = None) -> str:
    """`name` itself, or HpError naming it (or `where`, a field path)."""
    if is_volume_name(name):
        return name
    shown = quote(name[:_SHOWN]) + ("..." if len(name) > _SHOWN else "") if isinstance(name, str) else repr(name)
    if where is not None:
        raise HpError(where, f"invalid volume name {shown}: {VOLUME_NAME_RULE}")
    raise HpError(shown, f"invalid volume name: {VOLUME_NAME_RULE}", source="option")
