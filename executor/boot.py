"""`hp start --all`: after the host came up again, bring back what was running.

A reboot loses everything hp keeps in memory or on tmpfs: the containers' processes and their
conmons, crun's state (under STATE/crun), the overlay mounts, the network namespaces, bridges
and iptables rules. What is on disk stays: each container's directory (record, bundle,
writable layer, run.json, its address), its volumes, host-local's reservations. Containers come
back in dependency order (their records' depends_on). A container
comes back if compiler.supervision.comes_back_at_boot says so: hp had it running and did not
stop it, its restart policy is not "no", and no exit was recorded for its last run (it was
running when the host went down) or it was waiting to be restarted. Each is started the way
`hp start` starts one: the same writable layer, volumes and address.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from compiler import depends
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.state import is_running
from compiler.supervision import comes_back_at_boot

from . import containers
from .applying import tidy
from .store import bump_serial, container_names, read_record


def start_all(layout: Layout, say: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """Start every container that comes back; (names started, one error line per failure).
    Call under the state lock."""
    started: list[str] = []
    failed: list[str] = []
    statuses = containers.crun_statuses(layout)
    records = {name: read_record(layout, name) for name in container_names(layout)}
    graph = {name: dict(r.depends_on) if r else {} for name, r in records.items()}
    for name in (n for layer in depends.layers(graph) for n in layer):  # dependencies first
        record = records[name]
        if record is None or record.phase != "ready" or is_running(statuses.get(name)):
            continue
        policy = record.supervision
        exited = os.path.exists(layout.exit_file(name))
        if not comes_back_at_boot(policy, containers.read_run_state(layout, name), exited):
            continue
        if not started and not failed:
            bump_serial(layout)  # a plan saved before this is stale after it
        try:
            wait_for_dependencies(layout, name, graph[name])
            containers.start(layout, name)
        except HpError as e:
            failed.append(str(e if name in e.where else e.within(name)))
            continue
        started.append(name)
        say(f"{name}: started")
    if started or failed:
        tidy(layout)
    return started, failed


def wait_for_dependencies(layout: Layout, name: str, deps: dict[str, str]) -> None:
    """Before `name` starts by hand (`hp start`) or at boot: each dependency it lists runs, and a
    "healthy" one passes its health check (waited for, as apply does). A dependency that is not
    running is an error: hp starts what was asked, not more (`hp start DEP` first, or
    `hp apply`)."""
    statuses = containers.crun_statuses(layout)
    for dep, condition in sorted(deps.items()):
        if not is_running(statuses.get(dep)):
            raise HpError(name, f"depends on {dep}, which is not running (hp start {dep} first)")
        if condition == "healthy":
            from .health import wait_healthy

            wait_healthy(layout, dep, depends.HEALTHY_WAIT)


def in_dependency_order(layout: Layout, names: list[str], reverse: bool = False) -> list[str]:
    """`names` with each after the ones it depends on (their records' depends_on, among `names`),
    or, `reverse`, before them: how `hp start`, `hp stop` and `hp rm` take several names."""
    records = {name: read_record(layout, name) for name in dict.fromkeys(names)}
    graph = {
        name: {d: c for d, c in (r.depends_on if r else {}).items() if d in records} for name, r in records.items()
    }
    order = [n for layer in depends.layers(graph) for n in layer]
    return order[::-1] if reverse else order
