"""process.env: the image's Env, the container's overrides, then hp's few defaults."""

from __future__ import annotations

from typing import Mapping, Sequence

from .errors import HpError, key_path, quote

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _split_image_entry(entry: str, where: str) -> tuple[str, str]:
    if "\0" in entry:
        raise HpError(where, f"{quote(entry)} contains a NUL byte")
    name, eq, value = entry.partition("=")
    if not eq:
        raise HpError(where, f"{quote(entry)} has no '=': image Env entries must be NAME=VALUE")
    if not name:
        raise HpError(where, f"{quote(entry)} has an empty variable name")
    return name, value


def _check_name(name: str, where: str) -> None:
    if not name:
        raise HpError(where, "empty variable name")
    if "=" in name or "\0" in name:
        raise HpError(where, f"invalid variable name {quote(name)}")


def merge_env(
    image_env: Sequence[str],
    image_where: str,
    overrides: Mapping[str, str] | Sequence[str] | None,
    override_where: str,
    *,
    hostname: str,
    terminal: bool,
    home: str,
) -> tuple[str, ...]:
    """Image Env (deduplicated: last value wins, at the first position), then the
    container's overrides (replace in place or append; a bare NAME in the list form
    unsets), then PATH/HOSTNAME/TERM/HOME only where still unset. No expansion."""
    env: dict[str, str] = {}
    for i, entry in enumerate(image_env):
        name, value = _split_image_entry(entry, f"{image_where}[{i}]")
        env[name] = value
    if isinstance(overrides, Mapping):
        for name in sorted(overrides):
            where = key_path(override_where, name) if name else override_where
            _check_name(name, where)
            value = overrides[name]
            if "\0" in value:
                raise HpError(where, "value contains a NUL byte")
            env[name] = value
    elif overrides is not None:
        for i, entry in enumerate(overrides):
            where = f"{override_where}[{i}]"
            if "\0" in entry:
                raise HpError(where, f"{quote(entry)} contains a NUL byte")
            name, eq, value = entry.partition("=")
            _check_name(name, where)
            if eq:
                env[name] = value
            else:
                env.pop(name, None)
    if "PATH" not in env:
        env["PATH"] = DEFAULT_PATH
    if "HOSTNAME" not in env:
        env["HOSTNAME"] = hostname
    if terminal and "TERM" not in env:
        env["TERM"] = "xterm"
    if not env.get("HOME"):
        env["HOME"] = home
    return tuple(f"{name}={value}" for name, value in env.items())
