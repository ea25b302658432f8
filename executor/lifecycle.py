"""The commands over one container: exec, restart (logs: executor/logs.py)."""

from __future__ import annotations

import os
import sys

import msgspec

from compiler import commands, oci
from compiler.errors import HpError
from compiler.exec_process import ExecOptions, encode_process, exec_process
from compiler.layout import Layout
from compiler.users import ResolvedUser, parse_group, parse_passwd, resolve_user

from . import containers
from .images import read_image_file
from .run import run_attached
from .store import read_record


def require(layout: Layout, name: str) -> None:
    if not containers.exists(layout, name):
        raise HpError(name, "no such container")


def exec_command(layout: Layout, name: str, options: ExecOptions) -> int:
    """Run the command in the running container as its own process would run (user, cwd, env,
    caps), but for what -u, -e and -w change; hp's stdin goes to it with -i (or -t)."""
    require(layout, name)
    if containers.crun_status(layout, name) != "running":
        raise HpError(name, "container is not running")
    with open(layout.config_json(name), "rb") as f:
        config = msgspec.json.decode(f.read(), type=oci.RuntimeConfig)
    user = _exec_user(layout, name, options.user) if options.user is not None else None
    process = exec_process(
        config.process, options.argv, tty=options.tty, user=user, env=options.env, cwd=options.workdir
    )
    path = layout.exec_process(name, os.getpid())
    with open(path, "wb") as f:
        f.write(encode_process(process))
    try:
        return run_attached(
            commands.crun_exec(layout, name, path, options.tty), stdin=options.interactive or options.tty
        )
    finally:
        os.unlink(path)


def _exec_user(layout: Layout, name: str, spec: str) -> ResolvedUser:
    """-u resolved as hp.toml's `user` is: against the /etc/passwd and /etc/group of the container's image."""
    record = read_record(layout, name)
    if record is None:
        raise HpError(name, "its record is missing or unreadable: cannot find its image to resolve -u")
    passwd = _image_text(layout, record.image_id, "/etc/passwd")
    group = _image_text(layout, record.image_id, "/etc/group")
    return resolve_user(
        spec,
        "-u",
        parse_passwd(passwd) if passwd is not None else None,
        parse_group(group) if group is not None else None,
    )


def _image_text(layout: Layout, image_id: str, path: str) -> str | None:
    try:
        data = read_image_file(layout, image_id, path)  # never follows a symlink out of the image
    except HpError as e:  # a directory, a FIFO, a symlink loop, too large ...
        raise e.within("-u: the image's") from None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HpError(f"-u: the image's {path}", f"is not UTF-8 text (byte {e.start})") from None


def restart(layout: Layout, name: str, timeout: float | None = None) -> None:
    """hp stop, then hp start: the same writable layer, volumes and address."""
    require(layout, name)
    containers.stop(layout, name, timeout=timeout)
    containers.start(layout, name)


def is_interactive() -> bool:
    return sys.stdin.isatty()
