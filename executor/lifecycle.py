"""The commands over a whole file or one container: apply, destroy, logs, exec."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TextIO

import msgspec

from compiler import HpFile, check_file, oci
from compiler.errors import HpError
from compiler.exec_process import encode_process, exec_process
from compiler.layout import Layout
from compiler import commands

from . import containers
from .helpers import ensure_helpers
from .images import PreparedImage, ensure_image
from .run import run_attached
from .session import host_resolv_conf, insecure_registry


PARALLEL = 6


def missing_containers(layout: Layout, hp_file: HpFile) -> list[str]:
    return [name for name in hp_file.containers if not containers.exists(layout, name)]


def existing_containers(layout: Layout, hp_file: HpFile) -> list[str]:
    return [name for name in hp_file.containers if containers.exists(layout, name)]


def apply(layout: Layout, hp_file: HpFile, say: Callable[[str], None]) -> list[str]:
    """Create and start every container of the file that does not exist yet; return their names."""
    check_file(hp_file)
    todo = missing_containers(layout, hp_file)
    if not todo:
        return []
    helpers = ensure_helpers(layout)
    resolv = host_resolv_conf()
    images: dict[str, PreparedImage] = {}
    for name in todo:
        ref = hp_file.containers[name].image
        if ref not in images:
            images[ref] = ensure_image(ref, layout, insecure=insecure_registry(hp_file, ref))
            if images[ref].pulled:
                say(f"pulled {ref}")

    def create(name: str) -> None:
        spec = hp_file.containers[name]
        try:
            containers.create(layout, name, spec.image, spec, images[spec.image], helpers, resolv)
        except HpError as e:
            raise e.within(name) if not e.where.startswith(name) else e
        say(f"{name}: created and started")

    # containers are independent, and creating one is mostly waiting for crun: a few at a time
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(todo))) as pool:
        results = [pool.submit(create, name) for name in todo]
        errors = [r.exception() for r in results if r.exception() is not None]
    if errors:
        raise errors[0]
    return todo


def destroy(layout: Layout, hp_file: HpFile, say: Callable[[str], None]) -> list[str]:
    """Remove every container of the file that exists; return their names."""
    done = existing_containers(layout, hp_file)
    for name in done:
        containers.remove(layout, name, force=True)
        say(f"{name}: removed")
    return done


def require(layout: Layout, name: str) -> None:
    if not containers.exists(layout, name):
        raise HpError(name, "no such container")


def logs(layout: Layout, name: str, follow: bool, out: TextIO) -> None:
    """Copy the container's log to `out`; with follow, keep copying until it stops."""
    require(layout, name)
    write = out.buffer.write if hasattr(out, "buffer") else (lambda b: out.write(b.decode("utf-8", "replace")))
    try:
        f = open(layout.log(name), "rb")
    except FileNotFoundError:
        return
    with f:
        while True:
            while chunk := f.read(65536):
                write(chunk)
            out.flush()
            if not follow or containers.crun_status(layout, name) not in ("running", "created"):
                write(f.read())  # what it wrote between the last read and its end
                out.flush()
                return
            time.sleep(0.1)


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
