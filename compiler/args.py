"""process.args from the image's Entrypoint/Cmd and the container's overrides (Docker's rules)."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import HpError


def resolve_args(
    image_entrypoint: Sequence[str] | None,
    image_cmd: Sequence[str] | None,
    entrypoint: Sequence[str] | None,
    command: Sequence[str] | None,
    where: str,
) -> tuple[str, ...]:
    """`where` is the container's path (containers.NAME); errors point below it.

    - image Entrypoint [""] counts as absent; command [] counts as absent.
    - entrypoint absent: image Entrypoint + (command, else image Cmd).
    - entrypoint []: command, else image Cmd.
    - entrypoint [""]: docker's --entrypoint "": no entrypoint and no image Cmd.
    - entrypoint non-empty: entrypoint + command (the image Cmd is dropped).
    """
    for field, values in (("entrypoint", entrypoint), ("command", command)):
        for i, arg in enumerate(values or ()):
            if "\0" in arg:
                raise HpError(f"{where}.{field}[{i}]", "contains a NUL byte")
    img_ep = tuple(image_entrypoint or ())
    if img_ep == ("",):
        img_ep = ()
    img_cmd = tuple(image_cmd or ())
    cmd = tuple(command or ())
    if entrypoint is None:
        args = img_ep + (cmd or img_cmd)
    elif len(entrypoint) == 0:
        args = cmd or img_cmd
    elif tuple(entrypoint) == ("",):
        args = cmd
        if not args:
            raise HpError(
                f"{where}.entrypoint",
                'no command to run: entrypoint = [""] clears the image\'s Entrypoint and Cmd, and command is not set',
            )
    else:
        args = tuple(entrypoint) + cmd
    if not args and entrypoint is not None:
        raise HpError(
            f"{where}.entrypoint",
            "no command to run: entrypoint = [] clears the image's Entrypoint, "
            "and there is no command and no image Cmd",
        )
    if not args:
        raise HpError(
            where,
            "no command to run: the image has no Entrypoint or Cmd, and neither entrypoint nor command is set",
        )
    if args[0] == "":
        raise HpError(where, "no command to run: the first argument of the command line is empty")
    for i, arg in enumerate(args):
        if "\0" in arg:
            raise HpError(where, f"argument {i} of the command line contains a NUL byte")
    return args
