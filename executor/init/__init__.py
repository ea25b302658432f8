"""hp's static helper programs: hp-init (the keep-alive init, see docs/conversion.md#keep_alive)
and hp-monitor (a container's subreaper: its log and exit status, see docs/executor.md)."""

from __future__ import annotations

from pathlib import Path

SOURCES = Path(__file__).parent


def source(program: str) -> Path:
    return SOURCES / f"{program}.c"


def build_argv(output: str, program: str = "hp-init") -> tuple[str, ...]:
    """The compiler command that builds `program`, static, at `output`."""
    return ("cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", output, str(source(program)))
