"""The one error type of the compiler: a problem in an input, located by a field path."""

from __future__ import annotations

import re


class HpError(Exception):
    """An input problem: `where` names the file or field, `problem` says what is wrong.

    str() gives the single line the CLI prints, e.g.
    ``containers.web.memory: expected a size like "256m", got "lots"``.
    """

    def __init__(self, where: str, problem: str, *, source: str = "") -> None:
        super().__init__(where, problem)
        self.where = where
        self.problem = problem
        # which input the path is in: "spec" (hp.toml), "image", "passwd", "group" or "" (unknown)
        self.source = source

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}" if self.where else self.problem

    def within(self, prefix: str) -> HpError:
        """The same problem, with `prefix` (a file name or outer path) put in front."""
        where = f"{prefix}: {self.where}" if self.where else prefix
        return type(self)(where, self.problem, source=self.source)

    def from_source(self, source: str) -> HpError:
        """The same problem, marked as found in `source` (unless already marked)."""
        return self if self.source else type(self)(self.where, self.problem, source=source)


class StalePlan(HpError):
    """A saved plan that may not be applied: edited, or made for a world that changed since.
    The CLI exits 3 for it (1 for any other HpError: exit_status)."""


def exit_status(err: HpError) -> int:
    """hp's exit status for `err`: 3 for a refused saved plan (a script may make a new plan and
    try again), 1 for any other error."""
    return 3 if isinstance(err, StalePlan) else 1


def quote(value: object) -> str:
    """A value as it appears in a message: JSON-ish double quotes, escapes visible."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in escaped)
        return f'"{escaped}"'
    return repr(value)


def error_line(err: HpError, files: dict[str, str]) -> str:
    """The line the CLI prints for `err`: the file its path is in (from `files`,
    keyed by err.source), then the path and the problem."""
    name = files.get(err.source, "")
    if name and not name.isprintable():
        name = quote(name)
    return f"hp: error: {err.within(name) if name else err}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_path(prefix: str, key: str) -> str:
    """prefix.key, with the key quoted as TOML would need it (containers."my app")."""
    shown = key if _BARE_KEY.fullmatch(key) else quote(key)
    return f"{prefix}.{shown}" if prefix else shown
