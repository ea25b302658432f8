"""`hp apply`: carry out a plan, destroys first, then replacements, restores, updates and creates.

Each phase runs its containers a few at a time (creating one is mostly waiting for crun)
and finishes before the next begins; a failure lets the rest of its phase finish, then
stops the apply with the first error (and how many more there were). Every step is
journaled in the container's record (compiler.state), so an hp killed at any moment is
finished by the next apply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

import msgspec

from compiler import depends
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.plan import CREATES, DESTROY_PHASE, LAYERED_PHASES, REMOVES, REWRITES_SETTINGS, STARTS, Change
from compiler.signals import describe_stop
from compiler.state import encode_record, is_running, with_settings

from . import containers
from .images import prune_unused
from .monitor import remove_monitor_cgroups
from .networking import prune_networks, read_setup, refresh_hosts
from .planning import Planned
from .progress import PlainProgress, Progress
from .store import apply_log_entry, bump_serial, container_names, read_record, sweep_leftovers, write_atomic

PARALLEL = 6
DONE = {
    "destroy": "destroyed",
    "replace": "replaced",
    "restore": "restored",
    "update": "updated",
    "create": "created and started",
}


class Applied(msgspec.Struct, frozen=True):
    created: int = 0
    replaced: int = 0
    destroyed: int = 0
    restored: int = 0
    updated: int = 0

    def summary(self) -> str:
        return (
            f"Apply complete: {self.created} created, {self.replaced} replaced, {self.destroyed} destroyed, "
            f"{self.restored} restored" + (f", {self.updated} updated." if self.updated else ".")
        )


def apply_plan(layout: Layout, planned: Planned, progress: Progress | None = None) -> Applied:
    """Make the host match the plan. Call under the state lock, with a plan made under it."""
    progress = progress or PlainProgress()
    sweep_leftovers(layout)
    todo = [c for c in planned.plan.changes if c.action != "no-op"]
    if not todo:
        return Applied()
    bump_serial(layout)
    with open(layout.apply_log, "a", encoding="utf-8") as log:
        return _apply(layout, planned, todo, progress, _logged(progress, log))


def _logged(progress: Progress, log: TextIO) -> Callable[[str], None]:
    """Say it, and append it to STATE/apply.log with the time and hp's pid."""
    lock = threading.Lock()

    def say(message: str) -> None:
        progress.say(message)
        with lock:
            log.write(apply_log_entry(message))
            log.flush()

    return say


def _apply(
    layout: Layout, planned: Planned, todo: list[Change], progress: Progress, say: Callable[[str], None]
) -> Applied:
    say(f"applying {len(todo)} change(s) to {planned.fingerprint.file}")

    def step(change: Change) -> containers.Started | None:
        """Carry out one change; a container that must run is returned, to be confirmed with
        the rest of its phase (their grace periods overlap instead of adding up)."""
        name = change.name
        started = None
        try:
            if change.action in REMOVES and containers.exists(layout, name):
                say(f"{name}: removing{_stopping(layout, name)}")
                containers.remove(layout, name)
            if change.action in REWRITES_SETTINGS:
                _write_settings(layout, planned.new[name])
            if change.action in CREATES:
                say(f"{name}: creating")
                started = containers.create(layout, planned.new[name], confirm=False)
            elif change.action == "restore":
                say(f"{name}: starting")
                started = containers.start(layout, name, confirm=False)
        except HpError as e:
            raise (e if name in e.where else e.within(name)) from None
        if started is not None and planned.new[name].must_run:
            return started
        done(change)
        return None

    def done(change: Change) -> None:
        say(f"{change.name}: {DONE[change.action]}")
        progress.advance()

    def confirm(change: Change, started: containers.Started) -> None:
        """It stayed up, or what this apply made of it is undone (the record goes, or the
        restored container is stopped again) and the start's failure is the error."""
        try:
            containers.confirm_running(layout, started)
        except HpError as e:
            try:
                if change.action == "restore":
                    containers.stop(layout, change.name, timeout=0)
                else:
                    containers.remove(layout, change.name, force=True)
            except HpError:
                pass  # the start's failure is the one to report; the next apply retries
            raise (e.within(change.name) if change.name not in e.where else e) from None
        done(change)

    for change in sorted((c for c in todo if c.action in CREATES), key=lambda c: c.name):
        containers.make_volumes(layout, planned.new[change.name])
    try:
        for batch in _batches(layout, planned, todo):
            waits = sorted(
                {
                    (dep, cond)
                    for c in batch
                    if c.action in STARTS
                    for dep, cond in planned.new[c.name].depends_on.items()
                }
            )
            for dep, condition in waits:
                _wait_for(layout, dep, condition, say)
            with ThreadPoolExecutor(max_workers=min(PARALLEL, len(batch))) as pool:
                futures = [pool.submit(step, change) for change in batch]
                errors: list[BaseException] = [e for f in futures if (e := f.exception()) is not None]
                to_confirm = [
                    (c, f.result()) for c, f in zip(batch, futures, strict=True) if f.exception() is None and f.result()
                ]
                for change, started in to_confirm:  # each waits only for what is left of its own grace
                    try:
                        confirm(change, started)  # type: ignore[arg-type]  # to_confirm: results that started
                    except HpError as e:
                        errors.append(e)
            if errors:
                first = errors[0]
                if len(errors) > 1 and isinstance(first, HpError):
                    raise HpError(first.where, f"{first.problem} (and {len(errors) - 1} more failed)")
                raise first
    except BaseException:
        try:
            tidy(layout)
        except Exception:
            pass  # the failure that got us here is the one to report
        raise
    tidy(layout)
    count = {a: sum(c.action == a for c in todo) for a in DONE}
    return Applied(count["create"], count["replace"], count["destroy"], count["restore"], count["update"])


def _batches(layout: Layout, planned: Planned, todo: list[Change]) -> list[list[Change]]:
    """The changes in the order they run, each batch in parallel: destroys first, dependents
    before what they depend on (the records' depends_on); then, layer by layer of the file's
    depends_on (compiler/depends.py), that layer's replaces, then its restores, updates and
    creates. Without any depends_on: destroys, replaces, the rest (compiler.plan's PHASES)."""
    destroys = [c for c in todo if c.action in DESTROY_PHASE]
    records = {c.name: read_record(layout, c.name) for c in destroys}
    removing = {
        name: {d: "started" for d in (r.depends_on if r else {}) if d in records} for name, r in records.items()
    }
    batches = [[c for c in destroys if c.name in layer] for layer in reversed(depends.layers(removing))]
    graph = {name: dict(new.depends_on) for name, new in planned.new.items()}
    for layer in depends.layers(graph):
        for phase in LAYERED_PHASES:
            batches.append([c for c in todo if c.action in phase and c.name in layer])
    return [batch for batch in batches if batch]


def _wait_for(layout: Layout, dependency: str, condition: str, say: Callable[[str], None]) -> None:
    """A dependency's condition, before what depends on it starts: "healthy" waits (running its
    health checks) up to compiler.depends.HEALTHY_WAIT; "started" needs nothing more, as it
    started in an earlier batch (or was running already) and must_run confirmed it."""
    if condition != "healthy":
        return
    from .health import wait_healthy

    say(f"{dependency}: waiting for it to be healthy")
    try:
        wait_healthy(layout, dependency, depends.HEALTHY_WAIT)
    except HpError as e:
        raise (e if dependency in e.where else e.within(dependency)) from None
    say(f"{dependency}: healthy")


def _stopping(layout: Layout, name: str) -> str:
    """How a running container will be stopped first, for the progress line."""
    record = read_record(layout, name)
    if record is None or not is_running(containers.crun_status(layout, name)):
        return ""
    return f" (stopping it: {describe_stop(record.stop_signal, record.stop_timeout)})"


def _write_settings(layout: Layout, new: containers.NewContainer) -> None:
    """The record takes the file's SETTINGS (compiler.state: hp reads them from the record)."""
    record = read_record(layout, new.name)
    if record is None:
        return
    updated = with_settings(record, new)
    if updated != record:
        write_atomic(layout.record(new.name), encode_record(updated))


def tidy(layout: Layout) -> None:
    """After containers came or went: each bridged container's /etc/hosts lists its current
    peers; image rootfs trees, networks and bridges no container uses any more go."""
    names = container_names(layout)
    setups = {name: read_setup(layout, name) for name in names}
    refresh_hosts(layout, setups)
    records = (read_record(layout, name) for name in names)
    prune_unused(layout, {r.image_id for r in records if r is not None})
    prune_networks(layout, {s.network for s in setups.values() if s is not None and s.network})
    remove_monitor_cgroups(layout)  # if the last container went: its monitors' cgroups (if empty) too
