"""`hp apply`: carry out a plan, destroys first, then replacements, restores and creates.

Each phase runs its containers a few at a time (creating one is mostly waiting for crun)
and finishes before the next begins; a failure lets the rest of its phase finish, then
stops the apply with the first error (and how many more there were). Every step is
journaled in the container's record (compiler.state), so an hp killed at any moment is
finished by the next apply.
"""

from __future__ import annotations

import datetime
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TextIO

import msgspec

from compiler.errors import HpError
from compiler.layout import Layout
from compiler.plan import Change

from . import containers
from .helpers import ensure_helpers
from .images import prune_unused
from .networking import prune_networks, read_setup, refresh_hosts
from .planning import Planned
from .progress import PlainProgress, Progress
from .store import bump_serial, container_names, read_record, sweep_leftovers

PARALLEL = 6
PHASES = (("destroy",), ("replace",), ("restore", "create"))
DONE = {"destroy": "destroyed", "replace": "replaced", "restore": "restored", "create": "created and started"}


class Applied(msgspec.Struct, frozen=True):
    created: int = 0
    replaced: int = 0
    destroyed: int = 0
    restored: int = 0

    def summary(self) -> str:
        return (f"Apply complete: {self.created} created, {self.replaced} replaced, {self.destroyed} destroyed, "
                f"{self.restored} restored.")


def apply_plan(layout: Layout, planned: Planned, progress: Progress | None = None) -> Applied:
    """Make the host match the plan. Call under the state lock, with a plan made under it."""
    progress = progress or PlainProgress()
    sweep_leftovers(layout)
    todo = [c for c in planned.plan.changes if c.action != "no-op"]
    if not todo:
        return Applied()
    bump_serial(layout)
    with open(f"{layout.state_dir}/apply.log", "a", encoding="utf-8") as log:
        return _apply(layout, planned, todo, progress, _logged(progress, log))


def _logged(progress: Progress, log: TextIO) -> Callable[[str], None]:
    """Say it, and append it to STATE/apply.log with the time and hp's pid."""
    lock = threading.Lock()

    def say(message: str) -> None:
        progress.say(message)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with lock:
            log.write(f"{stamp} [{os.getpid()}] {message}\n")
            log.flush()

    return say


def _apply(layout: Layout, planned: Planned, todo: list[Change], progress: Progress,
           say: Callable[[str], None]) -> Applied:
    say(f"applying {len(todo)} change(s) to {planned.fingerprint.file}")
    helpers = ensure_helpers(layout) if any(c.action != "destroy" for c in todo) else None

    def step(change: Change) -> None:
        name = change.name
        try:
            if change.action in ("destroy", "replace") and containers.exists(layout, name):
                say(f"{name}: removing")
                containers.remove(layout, name, force=True)
            if change.action in ("replace", "create"):
                say(f"{name}: creating")
                containers.create(layout, planned.new[name], helpers)  # type: ignore[arg-type]
            elif change.action == "restore":
                say(f"{name}: starting")
                containers.start(layout, name, helpers, must_run=planned.new[name].must_run)  # type: ignore[arg-type]
        except HpError as e:
            raise e if name in e.where else e.within(name)
        say(f"{name}: {DONE[change.action]}")
        progress.advance()

    try:
        for phase in PHASES:
            batch = [c for c in todo if c.action in phase]
            if not batch:
                continue
            with ThreadPoolExecutor(max_workers=min(PARALLEL, len(batch))) as pool:
                futures = [pool.submit(step, change) for change in batch]
                errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                first = errors[0]
                if len(errors) > 1 and isinstance(first, HpError):
                    raise HpError(first.where, f"{first.problem} (and {len(errors) - 1} more failed)")
                raise first  # type: ignore[misc]
    except BaseException:
        try:
            tidy(layout)
        except Exception:
            pass  # the failure that got us here is the one to report
        raise
    tidy(layout)
    count = {a: sum(c.action == a for c in todo) for a in DONE}
    return Applied(count["create"], count["replace"], count["destroy"], count["restore"])


def tidy(layout: Layout) -> None:
    """After containers came or went: each bridged container's /etc/hosts lists its current
    peers; image rootfs trees, networks and bridges no container uses any more go."""
    names = container_names(layout)
    setups = {name: read_setup(layout, name) for name in names}
    refresh_hosts(layout, setups)
    records = (read_record(layout, name) for name in names)
    prune_unused(layout, {r.image_id for r in records if r is not None})
    prune_networks(layout, {s.network for s in setups.values() if s is not None and s.network})
