"""What the tests of the quick paths (executor/compile_command.py, executor/ps_command.py) share:
click's own reading of a command line of the CLI typer builds from executor/cli.py, the options
that CLI declares, and hp run as a process that says whether it loaded typer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
import typer.main

from executor.cli import app

try:  # typer 0.28 carries its own copy of click, and raises its exceptions even where click is installed too
    from typer._click import exceptions as click_exceptions
except ImportError:  # typer < 0.28 uses click itself
    from click import exceptions as click_exceptions  # type: ignore[import-not-found, no-redef]  # typer < 0.28's click

HP = Path(sys.executable).parent / "hp"
TIMEOUT = 60  # seconds; only a guard against a hang
# hp's main() run as the hp script runs it, then "TYPER True|False" as the last line on stderr
PROBE = (
    "import sys\nfrom executor.main import main\nsys.argv = sys.argv[1:]\n"
    "try:\n    main()\nfinally:\n    sys.stderr.write('\\nTYPER ' + str('typer' in sys.modules) + '\\n')\n"
)


def _command(name: str):  # click's Command (typer's vendored click on 0.28, click itself before)
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]  # hp's app is a group


def click_params(command: str, args: list[str]) -> dict[str, object] | None:
    """click's parameters for `hp COMMAND ARGS`, or None when click refuses the line."""
    try:
        with _command(command).make_context(command, list(args)) as ctx:
            return dict(ctx.params)
    except (typer.Exit, click_exceptions.ClickException):  # help, or a line click refuses
        return None


def declared_options(command: str) -> set[str]:
    """Every option string `hp COMMAND` declares (long and short)."""
    return {opt for p in _command(command).params if p.param_type_name == "option" for opt in p.opts}


def run_hp(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """hp ARGS as a process (PROBE), stdin empty."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(HP), *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        env=env,
        cwd=cwd,
    )
