"""`hp ps`, without the argument parser: the command the CLI declares (executor/cli.py) and the
quick path executor/main.py takes for it, as executor/compile_command.py does for hp compile.

`hp ps` is what a person types most, and what a watch loop runs: typer and the CLI module's own
definitions are about a third of its start. For an ordinary command line (`--json`,
`--state-dir DIR`), `parse_args` reads the arguments here; anything else (help, an unknown option,
a value that starts with a dash) returns None and the typer CLI handles it, so the two paths
cannot differ (tests/test_ps_command.py holds the parser to click's on generated command lines).
"""

from __future__ import annotations

import sys
from typing import TypedDict

# hp ps's options: --json is a flag, --state-dir takes a value ($HP_STATE_DIR when it is absent,
# which state_layout reads, as typer's envvar does)
FLAG = "--json"
VALUE_OPTION = "--state-dir"


class PsParams(TypedDict):
    json_output: bool
    state_dir: str | None


def parse_args(args: list[str]) -> PsParams | None:
    """The parameters of `hp ps ARGS` when ARGS is an ordinary command line (the last --state-dir
    wins, as with click), else None."""
    params: PsParams = {"json_output": False, "state_dir": None}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == FLAG:
            params["json_output"] = True
            continue
        name, equals, value = arg.partition("=")
        if name != VALUE_OPTION:
            return None
        if not equals:
            if i == len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        params["state_dir"] = value
    return params


def quick(args: list[str]) -> int | None:
    """`hp ps ARGS` run here if ARGS is an ordinary command line: its exit status; else None, for
    the typer CLI (executor/main.py)."""
    params = parse_args(args)
    return None if params is None else ps_command(**params)


HEADER = ("NAME", "IMAGE", "STATUS", "HEALTH", "PID", "IP", "PORTS", "RESTART", "RESTARTS")


def ps_command(json_output: bool = False, state_dir: str | None = None) -> int:
    """Print hp's containers, a table or one JSON list; the exit status (an error is one line on stderr)."""
    import msgspec

    from compiler.errors import HpError, error_line, exit_status
    from executor import containers
    from executor.session import state_layout
    from executor.tables import print_table

    try:
        rows = containers.statuses(state_layout(state_dir))
    except HpError as e:
        sys.stderr.write(error_line(e, {}) + "\n")
        return exit_status(e)
    if json_output:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(rows), indent=2) + b"\n")
        return 0
    table = [HEADER] + [
        (
            r.name,
            r.image,
            r.status + (f" ({r.exit_code})" if r.exit_code is not None else ""),
            r.health,
            str(r.pid) if r.pid else "-",
            r.ip or ("host" if r.network == "host" else "-"),
            ",".join(r.ports) or "-",
            r.restart,
            str(r.restarts),
        )
        for r in rows
    ]
    print_table(table)
    return 0
