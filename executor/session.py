"""What the commands share: the state directory, the helpers, the images of one run."""

from __future__ import annotations

import os

from compiler import HpFile
from compiler.layout import Layout, layout
from compiler.reference import parse_reference

DEFAULT_STATE_DIR = "/var/lib/hp"


def state_layout(state_dir: str | None) -> Layout:
    """--state-dir, else $HP_STATE_DIR, else /var/lib/hp; made absolute."""
    chosen = state_dir or os.environ.get("HP_STATE_DIR") or DEFAULT_STATE_DIR
    return layout(os.path.abspath(chosen))


def insecure_registry(hp_file: HpFile, ref: str) -> bool:
    domain = parse_reference(ref, "image").domain
    settings = hp_file.registries.get(domain)
    return bool(settings and settings.insecure)


def host_resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf") as f:
            return f.read(1 << 20)
    except OSError:
        return ""
