"""process.env: the image's Env, the container's env files, its env, then hp's few defaults."""

# No `from __future__ import annotations` here: msgspec would evaluate every field's annotation
# string on this module's first decode, ~1.7 ms of each hp compile (docs/design.md, start-up).

from collections.abc import Mapping, Sequence

import msgspec

from .digests import sha256_hex
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


class EnvFile(msgspec.Struct, frozen=True):
    """An env_file as the executor read it: its path as messages show it, and its text."""

    shown: str
    text: str


_BLANKS = " \t"


def parse_env_file(env_file: EnvFile) -> tuple[tuple[str, str], ...]:
    """docker's env-file format (docker run --env-file): NAME=VALUE a line, the value taken as it
    is (no quotes, no expansion, spaces kept), leading blanks dropped, blank lines and lines
    starting with # ignored. A bare NAME, which docker fills in from its own environment, is an
    error here: a plan must not depend on the environment of whoever runs hp. Errors name
    file:line."""
    text = env_file.text.removeprefix("\ufeff")
    pairs = []
    for number, line in enumerate(text.split("\n"), start=1):
        where = f"{env_file.shown}:{number}"
        line = line.removesuffix("\r").lstrip(" \t\n\v\f\r")
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        # the line itself is never shown: a file named by mistake may hold secrets
        if not eq:
            raise HpError(
                where,
                "no '=': write NAME=VALUE (a bare NAME would take its value from the "
                "environment hp runs in, which a plan must not depend on)",
                source="env_file",
            )
        if not name:
            raise HpError(where, "no variable name before '='", source="env_file")
        if any(c in _BLANKS for c in name):
            raise HpError(where, "the variable name contains blanks", source="env_file")
        if "\0" in line:
            raise HpError(where, "contains a NUL byte", source="env_file")
        pairs.append((name, value))
    return tuple(pairs)


def file_env(paths: Sequence[str], texts: Mapping[str, EnvFile], where: str) -> tuple[tuple[str, str], ...]:
    """The NAME=VALUE pairs of a container's env_file list, file after file."""
    pairs: list[tuple[str, str]] = []
    for i, path in enumerate(paths):
        if path not in texts:
            raise HpError(f"{where}[{i}]", f"{quote(path)} was not read (the caller passes its text)", source="spec")
        pairs.extend(parse_env_file(texts[path]))
    return tuple(pairs)


def env_file_identities(paths: Sequence[str], texts: Mapping[str, EnvFile]) -> tuple[str, ...]:
    """ "PATH sha256:HEX" for each of a container's env files (each once), in the env_file list's order:
    PATH as written there, HEX the sha256 of the file's text. What its record keeps, so that a replace can
    say which file changed (changed_env_files); never anything of the text but its digest."""
    return tuple(f"{path} sha256:{sha256_hex(texts[path].text.encode('utf-8'))}" for path in dict.fromkeys(paths))


def changed_env_files(before: Sequence[str], after: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(PATH, "changed" | "added" | "removed") for each env file that differs between two
    env_file_identities values: the files of `after` in its order, then those only `before` had. PATH as
    messages show it (quoted if it holds a control character). Nothing when `before` is empty: a record
    older than the field says nothing of its files (a first env file is in the config diff anyway)."""
    if not before:
        return ()
    old, new = _by_path(before), _by_path(after)
    changes = [(p, "added" if p not in old else "changed") for p in new if old.get(p) != new[p]]
    changes += [(p, "removed") for p in old if p not in new]
    return tuple((p if p.isprintable() else quote(p), how) for p, how in changes)


def _by_path(identities: Sequence[str]) -> dict[str, str]:
    """env_file_identities' values as {PATH: "sha256:HEX"} (a PATH may hold blanks, the digest none)."""
    return {path: digest for path, _, digest in (i.rpartition(" ") for i in identities)}


def merge_env(
    image_env: Sequence[str],
    image_where: str,
    overrides: Mapping[str, str] | Sequence[str] | None,
    override_where: str,
    *,
    hostname: str,
    terminal: bool,
    home: str,
    file_env: Sequence[tuple[str, str]] = (),
) -> tuple[str, ...]:
    """Image Env (deduplicated: last value wins, at the first position), then the env files'
    NAME=VALUE pairs (`file_env`, parsed, in order), then the container's overrides (replace in
    place or append; a bare NAME in the list form unsets), then PATH/HOSTNAME/TERM/HOME only
    where still unset. No expansion."""
    env: dict[str, str] = {}
    for i, entry in enumerate(image_env):
        name, value = _split_image_entry(entry, f"{image_where}[{i}]")
        env[name] = value
    for name, value in file_env:
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
