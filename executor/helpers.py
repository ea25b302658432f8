"""hp's two small static programs, hp-init and hp-monitor, built once per source version
into STATE/bin (content-addressed, so an upgrade of hp never runs an old build)."""

from __future__ import annotations

import hashlib
import os

import msgspec

from compiler.layout import Layout

from .init import build_argv, source
from .run import run


class Helpers(msgspec.Struct, frozen=True):
    init: str
    monitor: str


def ensure_helpers(layout: Layout) -> Helpers:
    return Helpers(init=_ensure(layout, "hp-init"), monitor=_ensure(layout, "hp-monitor"))


def _ensure(layout: Layout, program: str) -> str:
    digest = hashlib.sha256(source(program).read_bytes()).hexdigest()[:16]
    target = f"{layout.bin_dir}/{program}-{digest}"
    if os.path.exists(target):
        return target
    os.makedirs(layout.bin_dir, exist_ok=True)
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        run(build_argv(tmp, program), f"building {program} (needs gcc and libc6-dev)")
        os.rename(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
