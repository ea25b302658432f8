"""`hp exec`: the process a command runs as inside a running container, as `docker exec` does:
the container's own user, groups, working directory, environment and capabilities, unless
-u, -e or -w say otherwise. Also the words after NAME (hp's own options, then the command)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from . import oci
from .errors import HpError, quote
from .paths import absolute_path
from .users import ResolvedUser


class ExecOptions(msgspec.Struct, frozen=True):
    """hp exec's options, as given; `env` holds NAME=VALUE only (`-e NAME` already has its value)."""

    argv: tuple[str, ...] = ()
    state_dir: str | None = None
    tty: bool = False
    interactive: bool = False
    user: str | None = None
    env: tuple[str, ...] = ()
    workdir: str | None = None
    help: bool = False


class ExecUsageError(HpError):
    """An unknown option, a missing value or a missing command: the CLI shows usage (exit 2)."""


_FLAGS = {"-t": "tty", "--tty": "tty", "-i": "interactive", "--interactive": "interactive"}
_VALUED = {
    "-u": "user",
    "--user": "user",
    "-e": "env",
    "--env": "env",
    "-w": "workdir",
    "--workdir": "workdir",
    "--state-dir": "state_dir",
}


def parse_exec_words(words: Sequence[str], given: ExecOptions, environ: Mapping[str, str]) -> ExecOptions:
    """The words after NAME: hp's options (also short ones together, `-it`, `-uapp`), then `--` or
    the first word that is not an option, then the command. `given`: the options before NAME.
    `environ`: hp's environment, for `-e NAME`. Any other option there is an ExecUsageError: it
    would otherwise be run as the command, or silently lost."""
    values: dict[str, Any] = {f: getattr(given, f) for f in ExecOptions.__struct_fields__}
    values["env"] = list(given.env)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if word in ("-h", "--help"):
            return msgspec.structs.replace(given, help=True)
        if not word.startswith("-") or word == "-":
            break
        if word.startswith("--"):
            option, eq, value = word.partition("=")
            if option in _FLAGS and not eq:
                values[_FLAGS[option]] = True
            elif option in _VALUED:
                if not eq:
                    if i + 1 == len(words):
                        raise ExecUsageError("", f"option '{option}' requires an argument")
                    i += 1
                    value = words[i]
                _set(values, _VALUED[option], option, value, environ)
            else:
                raise ExecUsageError("", f"no such option: {word} (a command that starts with '-' goes after --)")
        else:
            i = _short_cluster(words, i, values, environ)
        i += 1
    if i >= len(words):
        raise ExecUsageError("", "missing the command to run")
    values["argv"] = tuple(words[i:])
    values["env"] = tuple(values["env"])
    return ExecOptions(**values)


def _short_cluster(words: Sequence[str], i: int, values: dict[str, Any], environ: Mapping[str, str]) -> int:
    """`-t`, `-it`, `-u app`, `-uapp`, `-ite K=V` (getopt's rules); the index of the last word used."""
    word = words[i]
    for j, letter in enumerate(word[1:], start=1):
        option = f"-{letter}"
        if option in _FLAGS:
            values[_FLAGS[option]] = True
        elif option in _VALUED:
            value = word[j + 1 :]
            if not value:
                if i + 1 == len(words):
                    raise ExecUsageError("", f"option '{option}' requires an argument")
                i += 1
                value = words[i]
            _set(values, _VALUED[option], option, value, environ)
            return i
        else:
            raise ExecUsageError(
                "",
                f"no such option: {option if len(word) > 2 else word} (a command that starts with '-' goes after --)",
            )
    return i


def _set(values: dict[str, Any], field: str, option: str, value: str, environ: Mapping[str, str]) -> None:
    if field == "env":
        entry = env_option(value, option, environ)
        if entry is not None:
            values["env"].append(entry)
    elif field == "user":
        values["user"] = user_option(value, option)
    elif field == "workdir":
        values["workdir"] = absolute_path(value, option, "directory")
    else:
        values[field] = value


def env_option(value: str, option: str, environ: Mapping[str, str]) -> str | None:
    """`-e NAME=VALUE` as it is; `-e NAME`: NAME=its value in hp's environment, None if hp has none
    (docker's rule: it is then left as the container has it)."""
    if "\0" in value:
        raise HpError(option, f"{quote(value)} contains a NUL byte")
    name, eq, _ = value.partition("=")
    if not name:
        raise HpError(option, f"{quote(value)} has an empty variable name")
    if eq:
        return value
    return f"{name}={environ[name]}" if name in environ else None


def user_option(value: str, option: str) -> str:
    if not value or value == ":":
        raise HpError(option, "empty user (give a name or uid, optionally :group or :gid)")
    if "\0" in value:
        raise HpError(option, "contains a NUL byte")
    return value


def exec_process(
    container: oci.Process,
    argv: tuple[str, ...],
    *,
    tty: bool,
    user: ResolvedUser | None = None,
    env: tuple[str, ...] = (),
    cwd: str | None = None,
) -> oci.Process:
    """The container's process with argv, and what -u (resolved), -e and -w change. Another user
    gets the HOME of its passwd entry (unless -e sets HOME) and the capabilities hp gives a
    container running as it: root all of the bounding set, any other uid none but the bounding set."""
    if not argv or argv[0] == "":
        raise HpError("COMMAND", "no command given (hp exec NAME -- COMMAND [ARG...])")
    if any("\0" in a for a in argv):
        raise HpError("COMMAND", "an argument contains a NUL byte")
    process = msgspec.structs.replace(container, args=argv, terminal=tty)
    variables = dict(entry.partition("=")[::2] for entry in container.env)
    if user is not None:
        process = msgspec.structs.replace(
            process,
            user=msgspec.structs.replace(
                container.user, uid=user.uid, gid=user.gid, additional_gids=user.additional_gids
            ),
            capabilities=_capabilities_for(container, user.uid),
        )
        variables["HOME"] = user.home
    for entry in env:
        name, _, value = entry.partition("=")
        variables[name] = value
    if cwd is not None:
        process = msgspec.structs.replace(process, cwd=cwd)
    return msgspec.structs.replace(process, env=tuple(f"{k}={v}" for k, v in variables.items()))


def _capabilities_for(container: oci.Process, uid: int) -> oci.ProcessCapabilities | None:
    caps = container.capabilities
    if caps is None or (uid == 0) == (container.user.uid == 0):
        return caps  # the same kind of user as the container's own: its own sets
    if uid == 0:
        return oci.ProcessCapabilities(
            bounding=caps.bounding, effective=caps.bounding, inheritable=(), permitted=caps.bounding, ambient=()
        )
    return oci.ProcessCapabilities(bounding=caps.bounding, effective=(), inheritable=(), permitted=(), ambient=())


def encode_process(process: oci.Process) -> bytes:
    return msgspec.json.encode(process)
