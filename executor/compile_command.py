"""`hp compile`, without the argument parser: the command the CLI declares (executor/cli.py) and
the quick path executor/main.py takes for it.

hp compile is the command scripts run in a loop, so it starts without typer: for an ordinary
command line, `parse_args` reads the arguments here, and the command runs with only the compiler
and the input readers imported. Anything it does not read exactly as click would (help, an
unknown or missing option, `--`, an option value that starts with a dash) returns None and
the full typer CLI handles it, so the two paths cannot differ (tests/test_compile_command.py
holds the parser to click's on generated command lines).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.env import EnvFile
    from compiler.spec import HpFile

# The command's options: long name -> parameter, short name -> long name (executor/cli.py declares them)
OPTIONS = {
    "--container": "container",
    "--image-config": "image_config",
    "--passwd": "passwd",
    "--group": "group",
    "--netns": "netns",
    "--seccomp-profile": "seccomp_profile",
    "--kernel": "kernel",
    "--arch": "arch",
}
SHORT_OPTIONS = {"-c": "--container", "-i": "--image-config"}
REQUIRED = ("file", "image_config")


def parse_args(args: list[str]) -> dict[str, str] | None:
    """The parameters of `hp compile ARGS` when ARGS is an ordinary command line (the last of a
    repeated option wins, as with click), else None."""
    params: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-" or not arg.startswith("-"):
            if "file" in params:
                return None
            params["file"] = arg
            continue
        if arg.startswith("--"):
            name, equals, value = arg.partition("=")
        else:
            name, value = SHORT_OPTIONS.get(arg[:2], ""), arg[2:]
            equals = "=" if value else ""
        if name not in OPTIONS:
            return None
        if not equals:
            if i == len(args) or (args[i].startswith("-") and args[i] != "-"):
                return None
            value = args[i]
            i += 1
        params[OPTIONS[name]] = value
    if any(key not in params for key in REQUIRED):
        return None
    return params


def quick(args: list[str]) -> int | None:
    """`hp compile ARGS` run here if ARGS is an ordinary command line: its exit status; else None,
    for the typer CLI (executor/main.py)."""
    params = parse_args(args)
    return None if params is None else compile_command(**params)


def compile_command(
    file: str,
    image_config: str,
    container: str | None = None,
    passwd: str | None = None,
    group: str | None = None,
    netns: str | None = None,
    seccomp_profile: str | None = None,
    kernel: str | None = None,
    arch: str | None = None,
) -> int:
    """Print the config.json for one container; the exit status (an error is one line on stderr)."""
    from compiler import HpError, compile_hp_file, parse_hp_file
    from compiler.errors import error_line, exit_status
    from executor.inputs import ACCOUNTS_LIMIT, read_input, read_text

    files = {"spec": file, "image": image_config, "passwd": passwd or "", "group": group or ""}
    try:
        labels = {"spec": "FILE", "image": "--image-config", "passwd": "--passwd", "group": "--group"}
        from_stdin = [labels[k] for k, path in files.items() if path == "-"]
        if len(from_stdin) > 1:
            raise HpError(from_stdin[1], f"stdin (-) is already read for {from_stdin[0]}")
        hp_toml = read_input(file)
        image = read_input(image_config)
        passwd_text = read_text(passwd, limit=ACCOUNTS_LIMIT) if passwd else None
        group_text = read_text(group, limit=ACCOUNTS_LIMIT) if group else None
        if netns is not None and not netns.startswith("/"):
            raise HpError("--netns", f"{netns!r} is not an absolute path", source="option")
        try:  # parsed once; a file that does not parse is reported after the options are checked
            hp_file, parse_error = parse_hp_file(hp_toml), None
        except HpError as e:
            hp_file, parse_error = None, e.from_source("spec")
        env_files = _env_files(file, hp_file, container)
        host = _host_facts(file, hp_file, container, seccomp_profile, arch, kernel)
        if parse_error is not None:
            raise parse_error
        assert hp_file is not None
        out = compile_hp_file(hp_file, container, image, passwd_text, group_text, netns, env_files, host)
    except HpError as e:
        sys.stderr.write(error_line(e, files) + "\n")
        return exit_status(e)
    try:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    except OSError as e:
        sys.stderr.write(f"hp: error: cannot write the config to stdout: {e.strerror or e}\n")
        return 1
    return 0


def _env_files(file: str, hp_file: HpFile | None, container: str | None) -> dict[str, EnvFile]:
    """The env files of the container `hp compile` compiles, relative to FILE's directory (the
    current one when FILE is stdin), as hp plan reads them."""
    from compiler import pick_container
    from executor.inputs import read_env_files  # not executor.planning: hp compile needs none of its imports

    if hp_file is None:
        return {}  # the parse error is reported
    name = pick_container(hp_file, container)
    one = type(hp_file)(containers={name: hp_file.containers[name]})
    return read_env_files("" if file == "-" else file, one)


def _host_facts(
    file: str,
    hp_file: HpFile | None,
    container: str | None,
    seccomp_profile: str | None = None,
    arch: str | None = None,
    kernel: str | None = None,
) -> Any:
    """The host's facts for the container `hp compile` compiles (executor/host.py), as hp plan
    gathers them, with --seccomp-profile, --arch and --kernel over them (so a compile can be
    reproduced on another host); None when the file does not parse (compile_config_json reports it)."""
    import msgspec

    from compiler import HpError, pick_container
    from compiler.seccomp import kernel_version, machine_arch
    from executor.host import host_facts

    try:
        if arch is not None:
            machine_arch(arch, "--arch")
        if kernel is not None:
            kernel_version(kernel, "--kernel")
    except HpError as e:
        raise e.from_source("option") from None
    if hp_file is None:
        return None
    try:
        name = pick_container(hp_file, container)
    except HpError:
        return None
    one = type(hp_file)(containers={name: hp_file.containers[name]})
    host = host_facts(one, os.path.dirname("" if file == "-" else file), default_profile=seccomp_profile)
    return msgspec.structs.replace(host, arch=arch or host.arch, kernel=kernel or host.kernel)
