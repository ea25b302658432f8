"""When a container ends by itself: conmon's exit command, `hp container-exited NAME START`.

conmon runs it after writing the exit status, and waits for it, so it is short: an exit that
needs nothing (hp stopped the container, its policy is "no", an exit of an older run) returns
at once without the state lock. Otherwise it takes the lock, records the exit in run.json and,
as compiler.supervision.after_exit decides, waits out the back-off (without the lock) and
starts the container again the way `hp start` does, keeping its network, mounts and log.

While it waits (for the lock, or the back-off), it gives up as soon as run.json says that hp
stopped the container (stop, rm, destroy, a replace) or started it anew: those write run.json
first, so they never wait on it and it never restarts what they stopped.
"""

from __future__ import annotations

import time

from compiler.errors import HpError
from compiler.layout import Layout
from compiler.supervision import RunState, after_exit, encode_run_state, is_current_run

from . import containers
from .lock import GaveUp, state_lock
from .store import log_step, read_int, read_record, write_atomic

LOCK_WAIT = 600.0  # an apply may hold the lock while it pulls; a restart waits that long at most


def container_exited(layout: Layout, name: str, start: int) -> str:
    """Handle the end of run `start` of `name`; what was done, in words (also in apply.log)."""
    if not containers.exists(layout, name):
        return f"{name}: no such container any more"
    record = read_record(layout, name)
    state = containers.read_run_state(layout, name)
    if record is None or state is None:
        return f"{name}: no record or run state: nothing to do"
    policy = record.supervision

    def superseded() -> bool:
        return not is_current_run(containers.read_run_state(layout, name), start)

    if superseded() or policy.restart == "no":
        return f"{name}: run {start} ended; nothing to do"
    try:
        with state_lock(layout, timeout=LOCK_WAIT, give_up=superseded, brief=True):
            state = containers.read_run_state(layout, name) or RunState()
            decision = after_exit(policy, state, start, read_int(layout.exit_file(name)), time.time())
            write_atomic(layout.run_state(name), encode_run_state(decision.state))
    except GaveUp:
        return f"{name}: run {start} ended; hp stopped or started it meanwhile"
    code = decision.state.exit_code
    said = f"{name}: exited {code if code is not None else '(status unknown)'}: {decision.reason}"
    log_step(layout, said)
    if not decision.restart:
        return said
    deadline = time.monotonic() + decision.delay
    while time.monotonic() < deadline:
        if superseded():
            return said + "; hp stopped or started it meanwhile"
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    try:
        with state_lock(layout, timeout=LOCK_WAIT, give_up=superseded, brief=True):
            containers.start(layout, name, confirm=False, by_policy=True)
    except GaveUp:
        return said + "; hp stopped or started it meanwhile"
    except HpError as e:
        failed = f"{name}: restart failed: {e}"
        log_step(layout, failed)
        return failed
    log_step(layout, f"{name}: restarted (restart {decision.state.restarts})")
    return said
