"""Health checks, run the podman way (no daemon): `hp healthcheck run` (and the shipped timer
that runs it every few seconds) runs each running container's due check with `crun exec`,
records the result in STATE/containers/NAME/health.json, and acts on an unhealthy container as
its health_on_failure says. `hp apply` runs them itself while it waits for a dependency to be
healthy (wait_healthy). The decisions are compiler/health.py's.

One check of a container runs at a time: the runner holds an flock on the container's directory
while it checks and records (a timer's run finds it held and leaves that container to the holder).
Checks need no state lock; acting on an unhealthy container (a restart, a stop) takes it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import msgspec

from compiler import commands, oci
from compiler.errors import HpError
from compiler.exec_process import encode_process, exec_process
from compiler.health import (
    CheckRun,
    HealthCheck,
    HealthState,
    action,
    after_check,
    decode_health,
    encode_health,
    for_run,
    is_due,
    last_words,
    next_due,
    output_tail,
    shown,
    timed_out,
)
from compiler.layout import Layout
from compiler.supervision import is_current_run, same_run, wanted_running

from . import containers
from .lock import GaveUp, flock_within, state_lock
from .run import TimedOut, run_status
from .store import container_names, log_step, read_record, write_atomic

ACTION_LOCK_WAIT = 60.0  # for the state lock before a restart or stop by health_on_failure
PARALLEL = 8  # checks of different containers run at once


class Checked(msgspec.Struct, frozen=True):
    """A container's health after `run_check`: `ran`: a check ran just now (False: none was due,
    or another hp was running it)."""

    name: str
    state: HealthState
    ran: bool


def read_health(layout: Layout, name: str) -> HealthState | None:
    try:
        with open(layout.health(name), "rb") as f:
            return decode_health(f.read())
    except (FileNotFoundError, HpError):
        return None


def health_of(layout: Layout, name: str, running: bool) -> str:
    """`hp ps`'s HEALTH: starting, healthy, unhealthy, or - (no check, or not running)."""
    record = read_record(layout, name)
    run_state = containers.read_run_state(layout, name)
    check = record.healthcheck if record is not None else None
    return shown(check, read_health(layout, name), run_state.start if run_state else 0, running)


def run_check(layout: Layout, name: str, *, only_if_due: bool = True, wait: float = 0.0) -> Checked | None:
    """Run `name`'s check in it (if due, unless `only_if_due` is False) and record the result.
    None if it has no check or is not running (also if it stopped, or was started anew, while the
    check ran: that result is not recorded). `wait`: how long to wait for another hp checking it."""
    record = read_record(layout, name)
    if record is None or record.healthcheck is None:
        return None
    check = record.healthcheck
    with _checking(layout, name, wait) as mine:
        run_state = containers.read_run_state(layout, name)
        if run_state is None or not wanted_running(run_state) or containers.crun_status(layout, name) != "running":
            return None
        state = for_run(read_health(layout, name), run_state.start)
        if not mine or (only_if_due and not is_due(check, state, run_state.started_at, time.time())):
            return Checked(name, state, False)
        result = _exec(layout, name, check)
        now = containers.read_run_state(layout, name)
        if not same_run(now, run_state.start) or containers.crun_status(layout, name) != "running":
            return None
        state = after_check(check, state, run_state.started_at, result)
        try:
            write_atomic(layout.health(name), encode_health(state))
        except FileNotFoundError:  # removed meanwhile
            return None
    return Checked(name, state, True)


@contextlib.contextmanager
def _checking(layout: Layout, name: str, wait: float) -> Iterator[bool]:
    """Hold the flock on the container's directory (True), or not, if another holds it for `wait` s."""
    path = layout.container_dir(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise HpError(name, "no such container") from None
    except OSError as e:
        raise HpError(path, f"cannot open: {e.strerror or e}") from None
    try:
        yield flock_within(fd, wait, path)
    finally:
        os.close(fd)


def _exec(layout: Layout, name: str, check: HealthCheck) -> CheckRun:
    """The check's command run in the container as its own process runs (`crun exec`), within the
    check's timeout; past it, crun exec and what it started are killed."""
    with open(layout.config_json(name), "rb") as f:
        config = msgspec.json.decode(f.read(), type=oci.RuntimeConfig)
    process = exec_process(config.process, check.argv, tty=False)
    fd, path = tempfile.mkstemp(prefix=".health-", suffix=".json", dir=layout.container_dir(name))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode_process(process))
        start = time.time()
        try:
            code, out, err = run_status(commands.crun_exec(layout, name, path, False), timeout=check.timeout)
        except TimedOut:
            return timed_out(check, start, time.time())
        return CheckRun(start, time.time(), code, output_tail(out, err))
    finally:
        os.unlink(path)


def wait_healthy(layout: Layout, name: str, timeout: float) -> None:
    """Run `name`'s due checks until it is healthy. HpError naming it, with its last check's
    output, if it turns unhealthy, stops, or is not healthy within `timeout` seconds (a check
    started before then may end up to its own timeout later). health_on_failure is not applied
    here: `hp healthcheck run` does that."""
    record = read_record(layout, name)
    if record is None:
        raise HpError(name, "no such container")
    if record.healthcheck is None:
        raise HpError(name, "has no health check")
    deadline = time.monotonic() + timeout
    while True:
        checked = run_check(layout, name, wait=max(0.0, deadline - time.monotonic()))
        if checked is None:
            raise HpError(name, f"is not running{_exit_of(layout, name)}")
        state = checked.state
        if state.status == "healthy":
            return
        if state.status == "unhealthy":
            raise HpError(name, f"unhealthy: {last_words(state)}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise HpError(name, f"not healthy within {timeout:g} s: {last_words(state)}")
        run_state = containers.read_run_state(layout, name)
        started_at = run_state.started_at if run_state else time.time()
        pause = next_due(record.healthcheck, state, started_at) - time.time()
        time.sleep(min(left, max(0.05, pause)))


def _exit_of(layout: Layout, name: str) -> str:
    code = containers.status(layout, name, containers.crun_status(layout, name)).exit_code
    return f" (it exited {code})" if code is not None else ""


def run_checks(
    layout: Layout, names: list[str], *, only_if_due: bool, say: Callable[[str], None]
) -> tuple[list[Checked], list[HpError]]:
    """Each container's check (`names`; none: every running container with a check), several at
    once; then health_on_failure on the unhealthy ones. What ran, and what failed."""
    chosen = names or [n for n in container_names(layout) if _has_check(layout, n)]
    failed: list[HpError] = []

    def one(name: str) -> Checked | None:
        try:
            checked = run_check(layout, name, only_if_due=only_if_due)
        except HpError as e:
            failed.append(e if name in e.where else e.within(name))
            return None
        if checked is None and names:
            record = read_record(layout, name)
            problem = "has no health check" if record is None or record.healthcheck is None else "is not running"
            failed.append(HpError(name, problem))
        return checked

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = [c for c in pool.map(one, chosen) if c is not None]
    for checked in results:
        if checked.ran:
            say(
                f"{checked.name}: {checked.state.status}"
                + (f" ({last_words(checked.state)})" if checked.state.log[-1].exit_code != 0 else "")
            )
        try:
            done = act_on_failure(layout, checked.name, checked.state)
        except HpError as e:
            failed.append(e if checked.name in e.where else e.within(checked.name))
            continue
        if done:
            say(done)
    return results, failed


def _has_check(layout: Layout, name: str) -> bool:
    record = read_record(layout, name)
    return record is not None and record.healthcheck is not None


def act_on_failure(layout: Layout, name: str, state: HealthState) -> str:
    """health_on_failure for an unhealthy container: "restart" (stop, then start, as `hp restart`)
    or "kill" (stopped at once: SIGKILL, then as `hp stop`). Under the state lock, and only if it is
    still the same run, still unhealthy, and hp has not stopped it meanwhile. What was done, in words."""
    record = read_record(layout, name)
    if record is None:
        return ""
    if action(record.health_on_failure, state) == "none":
        return ""

    def superseded() -> bool:
        return not is_current_run(containers.read_run_state(layout, name), state.run)

    try:
        with state_lock(layout, timeout=ACTION_LOCK_WAIT, give_up=superseded, brief=True):
            now = read_health(layout, name)
            if superseded() or now is None or now.run != state.run or now.status != "unhealthy":
                return ""

            def said(outcome: str) -> str:
                return f'{name}: unhealthy ({last_words(now)}): {outcome} (health_on_failure = "{wanted}")'

            wanted = record.health_on_failure
            try:
                containers.stop(layout, name, timeout=0 if wanted == "kill" else None)
                if wanted == "restart":
                    containers.start(layout, name)
            except HpError as e:
                log_step(layout, said(f"failed: {e}"))
                raise
            done = said("stopped" if wanted == "kill" else "restarted")
    except GaveUp:
        return ""
    log_step(layout, done)
    return done


__all__ = ["Checked", "act_on_failure", "health_of", "read_health", "run_check", "run_checks", "wait_healthy"]
