"""`hp exec`: the process a command runs as inside a running container, as `docker exec` does:
the container's own user, groups, working directory, environment and capabilities."""

from __future__ import annotations

import msgspec

from . import oci
from .errors import HpError


def exec_process(container: oci.Process, argv: tuple[str, ...], *, tty: bool) -> oci.Process:
    if not argv or argv[0] == "":
        raise HpError("COMMAND", "no command given (hp exec NAME -- COMMAND [ARG...])")
    if any("\0" in a for a in argv):
        raise HpError("COMMAND", "an argument contains a NUL byte")
    return msgspec.structs.replace(container, args=argv, terminal=tty)


def encode_process(process: oci.Process) -> bytes:
    return msgspec.json.encode(process)
