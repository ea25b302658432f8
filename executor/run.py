"""Running one command: an argv tuple in, its output or one clear error out.

The only place hp starts processes. No shell, ever: argv[0] is looked up in
PATH and the arguments are passed as they are, so an image reference or a
name with `;`, `$(...)`, spaces or quotes is only ever an argument.
"""

from __future__ import annotations

import shlex
from typing import Sequence

from compiler.errors import HpError


class CommandFailed(HpError):
    """A command exited non-zero. str(): what failed, then the command's own stderr."""

    def __init__(self, what: str, argv: Sequence[str], code: int, stderr: str) -> None:
        detail = " ".join(line.strip() for line in stderr.strip().splitlines()[-3:] if line.strip())
        super().__init__(what, f"`{shlex.join(argv)}` exited {code}" + (f": {detail}" if detail else ""))
        self.argv = tuple(argv)
        self.code = code
        self.stderr = stderr


def run(argv: Sequence[str], what: str, *, stdin: bytes | None = None, timeout: float | None = 300) -> str:
    """Run argv; return its stdout (text). Raise CommandFailed naming `what` if it fails."""
    code, out, err = run_status(argv, stdin=stdin, timeout=timeout)
    if code != 0:
        raise CommandFailed(what, argv, code, err)
    return out


def run_status(argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = 300) -> tuple[int, str, str]:
    """Run argv; return (exit code, stdout, stderr) whatever the exit code."""
    from plumbum import local
    from plumbum.commands.processes import CommandNotFound, ProcessTimedOut

    try:
        command = local[argv[0]][tuple(argv[1:])]
    except CommandNotFound:
        raise HpError(argv[0], "command not found (is it installed? see `hp doctor`)") from None
    try:
        if stdin is not None:
            command = command << stdin
        code, out, err = command.run(retcode=None, timeout=timeout)
    except ProcessTimedOut:
        raise HpError(shlex.join(argv), f"timed out after {timeout} s") from None
    return code, out, err


def run_attached(argv: Sequence[str]) -> int:
    """Run argv with this process's stdin, stdout and stderr; return its exit status."""
    from plumbum import local
    from plumbum.commands.processes import CommandNotFound

    try:
        command = local[argv[0]][tuple(argv[1:])]
    except CommandNotFound:
        raise HpError(argv[0], "command not found (is it installed? see `hp doctor`)") from None
    process = command.popen(stdin=None, stdout=None, stderr=None)
    return process.wait()


def run_with_input(argv: Sequence[str], env: dict[str, str], stdin: bytes, *,
                   timeout: float | None = 60) -> tuple[int, str, str]:
    """Run argv with `env` added to this process's environment and `stdin` as its input;
    return (exit code, stdout, stderr) whatever the exit code."""
    from plumbum import local
    from plumbum.commands.processes import CommandNotFound, ProcessTimedOut

    try:
        command = local[argv[0]][tuple(argv[1:])]
    except CommandNotFound:
        raise HpError(argv[0], "command not found (is it installed? see `hp doctor`)") from None
    try:
        code, out, err = (command.with_env(**env) << stdin).run(retcode=None, timeout=timeout)
    except ProcessTimedOut:
        raise HpError(shlex.join(argv), f"timed out after {timeout} s") from None
    return code, out, err
