"""hp-init, the keep-alive init (docs/conversion.md#keep_alive): a small static C program,
built once at install time (`scripts/setup` runs `python -m executor.init`), never on a
user's host while hp runs. It is installed at installed_path(): <prefix>/libexec/hp/hp-init
of the Python environment hp is installed in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SOURCE = Path(__file__).parent / "hp-init.c"


def installed_path(prefix: str | None = None) -> str:
    return os.path.join(prefix or sys.prefix, "libexec", "hp", "hp-init")


def build_argv(output: str) -> tuple[str, ...]:
    """The compiler command that builds hp-init, static, at `output`."""
    return ("cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", output, str(SOURCE))
