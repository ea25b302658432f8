"""The commands over one container: exec (logs: executor/logs.py)."""

from __future__ import annotations

import os
import sys

import msgspec

from compiler import oci
from compiler.errors import HpError
from compiler.exec_process import encode_process, exec_process
from compiler.layout import Layout
from compiler import commands

from . import containers
from .run import run_attached


def require(layout: Layout, name: str) -> None:
    if not containers.exists(layout, name):
        raise HpError(name, "no such container")


def exec_command(layout: Layout, name: str, argv: tuple[str, ...], tty: bool) -> int:
    """Run argv in the running container as its own process would run: user, cwd, env, caps."""
    require(layout, name)
    if containers.crun_status(layout, name) != "running":
        raise HpError(name, "container is not running")
    with open(f"{layout.bundle(name)}/config.json", "rb") as f:
        config = msgspec.json.decode(f.read(), type=oci.RuntimeConfig)
    process = exec_process(config.process, argv, tty=tty)
    path = f"{layout.container_dir(name)}/exec-{os.getpid()}.json"
    with open(path, "wb") as f:
        f.write(encode_process(process))
    try:
        return run_attached(commands.crun_exec(layout, name, path, tty))
    finally:
        os.unlink(path)


def is_interactive() -> bool:
    return sys.stdin.isatty()
