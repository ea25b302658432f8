"""The `hp` command line: argument parsing and rendering only; the work is in
`compiler` (pure) and the executor modules."""

from __future__ import annotations

import sys
from typing import Optional

import typer


app = typer.Typer(
    name="hp",
    help="Run OCI containers on one Linux host through podman and crun, in the plan/apply style.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from executor import __version__

        print(f"hp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print hp's version."),
) -> None:
    pass


@app.command("compile")
def compile_command(
    file: str = typer.Argument(..., metavar="FILE", help="The desired-state file (hp.toml)."),
    container: Optional[str] = typer.Option(
        None, "--container", "-c", metavar="NAME",
        help="The container to compile (may be left out when FILE defines exactly one).",
    ),
    image_config: str = typer.Option(
        ..., "--image-config", "-i", metavar="IMAGE.json",
        help="The image's config: `podman image inspect` output or an OCI image config.",
    ),
    passwd: Optional[str] = typer.Option(
        None, "--passwd", metavar="FILE", help="The image's /etc/passwd, to resolve a user name."),
    group: Optional[str] = typer.Option(
        None, "--group", metavar="FILE", help="The image's /etc/group, to resolve a group name and memberships."),
) -> None:
    """Print the OCI runtime config.json for one container. Pure: nothing is pulled or run."""
    from compiler import HpError, compile_config_json
    from compiler.errors import error_line
    from executor.inputs import read_input, read_text

    files = {"spec": file, "image": image_config, "passwd": passwd or "", "group": group or ""}
    try:
        labels = {"spec": "FILE", "image": "--image-config", "passwd": "--passwd", "group": "--group"}
        from_stdin = [labels[k] for k, path in files.items() if path == "-"]
        if len(from_stdin) > 1:
            raise HpError(from_stdin[1], f"stdin (-) is already read for {from_stdin[0]}")
        hp_toml = read_input(file)
        image = read_input(image_config)
        passwd_text = read_text(passwd, limit=10 * 1024 * 1024) if passwd else None
        group_text = read_text(group, limit=10 * 1024 * 1024) if group else None
        out = compile_config_json(hp_toml, container, image, passwd_text, group_text)
    except HpError as e:
        sys.stderr.write(error_line(e, files) + "\n")
        raise typer.Exit(1) from None
    try:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    except OSError as e:
        sys.stderr.write(f"hp: error: cannot write the config to stdout: {e.strerror or e}\n")
        raise typer.Exit(1) from None
