"""hp-init, the keep-alive init (see hp-init.c and docs/conversion.md#keep_alive)."""

from __future__ import annotations

from pathlib import Path

SOURCE = Path(__file__).with_name("hp-init.c")


def build_argv(output: str) -> tuple[str, ...]:
    """The compiler command that builds hp-init, static, at `output`."""
    return ("cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", output, str(SOURCE))
