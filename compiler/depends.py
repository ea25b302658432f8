"""Start order: each container's `depends_on` (hp.toml), checked and turned into layers. Pure.

    depends_on = ["app", "db"]                      started first
    depends_on = { app = "healthy", db = "started" }  app's health check passes first

Names refer to containers of the same file. An unknown name, a container depending on itself
and a cycle are errors naming the field. `layers` puts every container in the earliest layer
after all of its dependencies: apply starts layer by layer (each layer's containers in
parallel), and stops in the reverse order.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from .errors import HpError, key_path, quote

Condition = Literal["started", "healthy"]
CONDITIONS: tuple[Condition, ...] = ("started", "healthy")
# seconds a start waits for a "healthy" dependency to pass its check: an apply's, `hp start`'s and a boot's
HEALTHY_WAIT = 300.0


def normalize(value: tuple[str, ...] | Mapping[str, str] | None, where: str) -> dict[str, Condition]:
    """A list (each "started") or a table of name -> condition, as {name: condition}, sorted."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out: dict[str, Condition] = {}
        for name in sorted(value):
            condition = value[name]
            if condition not in CONDITIONS:
                raise HpError(key_path(where, name), f'expected "started" or "healthy", got {quote(str(condition))}')
            out[name] = condition
        return out
    seen: dict[str, Condition] = {}
    for i, name in enumerate(value):
        if name in seen:
            raise HpError(f"{where}[{i}]", f"{quote(name)} is listed twice")
        seen[name] = "started"
    return dict(sorted(seen.items()))


def check(graph: Mapping[str, Mapping[str, Condition]]) -> None:
    """Every dependency is a container of the file, none is the container itself, and there is
    no cycle (the first one found, from the first name, is the error)."""
    for name in sorted(graph):
        where = f"{key_path('containers', name)}.depends_on"
        for dep in graph[name]:
            if dep == name:
                raise HpError(where, f"{quote(name)} cannot depend on itself")
            if dep not in graph:
                raise HpError(
                    where, f"no container {quote(dep)} in this file (depends_on names containers of the same file)"
                )
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :] + [dep] if dep in path else [name, dep]
                raise HpError(f"{key_path('containers', cycle[0])}.depends_on", f"a cycle: {' -> '.join(cycle)}")
            if state.get(dep) is None:
                visit(dep, path + [dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def check_healthy(graph: Mapping[str, Mapping[str, str]], without_check: Collection[str]) -> None:
    """A "healthy" dependency must have a health check (its image's or hp.toml's), known only once
    the images are: an HpError (source "spec") at the first that has none. `without_check`: the
    file's containers that have none."""
    for name in sorted(graph):
        for dep, condition in graph[name].items():
            if condition == "healthy" and dep in without_check:
                raise HpError(
                    key_path(f"{key_path('containers', name)}.depends_on", dep),
                    f'is "healthy", but {dep} has no health check (neither its image nor hp.toml gives one)',
                    source="spec",
                )


def layers(graph: Mapping[str, Mapping[str, str]]) -> tuple[tuple[str, ...], ...]:
    """The names of `graph` in start order: layer 0 depends on nothing, each later layer only on
    earlier ones; names sorted within a layer. Dependencies outside `graph` are ignored (they
    are not part of this change). Call after check()."""
    level: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in level:
            level[name] = 1 + max((depth(d) for d in graph[name] if d in graph), default=-1)
        return level[name]

    for name in graph:
        depth(name)
    count = max(level.values(), default=-1) + 1
    return tuple(tuple(sorted(n for n, k in level.items() if k == i)) for i in range(count))


def describe(deps: Mapping[str, str]) -> str:
    """As hp.toml writes it: { app = "healthy", db = "started" } ({} for none)."""
    return "{ " + ", ".join(f'{name} = "{c}"' for name, c in sorted(deps.items())) + " }" if deps else "{}"
