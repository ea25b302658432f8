"""Keeping a container running, decided purely: its restart policy and log size (hp.toml), what
hp knows of its current run (STATE/containers/NAME/run.json), and what to do when it ends.

conmon, each container's monitor, calls `hp _exited NAME START` when the container's first
process ends (executor/supervise.py); that call reads the run state and the exit status and
asks `after_exit` what to do. Nothing here reads the clock or the disk: times come in.

Back-off, as Docker's: the first restart waits FIRST_DELAY, each one after doubles it up to
MAX_DELAY; a run that lasted RESET_AFTER or longer starts over at FIRST_DELAY.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .defaults import DEFAULT_LOG_MAX_SIZE, Defaults, defaults
from .errors import HpError, key_path
from .resources import parse_size
from .spec import ContainerSpec

RestartPolicy = Literal["no", "on-failure", "always"]
RESTART_POLICIES: tuple[RestartPolicy, ...] = ("no", "on-failure", "always")
FIRST_DELAY = 0.1
MAX_DELAY = 30.0
RESET_AFTER = 10.0
MIN_LOG_SIZE = 4096  # below this conmon would start the log afresh every few lines


class Supervision(msgspec.Struct, frozen=True):
    """hp.toml's restart, restart_max and log_max_size (in bytes), checked."""

    restart: RestartPolicy = "no"
    restart_max: int = 0
    log_max_size: int = DEFAULT_LOG_MAX_SIZE


def supervision(name: str, spec: ContainerSpec, d: Defaults | None = None) -> Supervision:
    d = d or defaults()
    where = key_path("containers", name)
    if spec.restart_max and spec.restart != "on-failure":
        raise HpError(f"{where}.restart_max", f'applies only to restart = "on-failure" (restart is "{spec.restart}")')
    size = d.log_max_size
    if spec.log_max_size is not None:
        size = parse_size(spec.log_max_size, f"{where}.log_max_size")
        if size < MIN_LOG_SIZE:
            raise HpError(
                f"{where}.log_max_size", f"{spec.log_max_size} is below the minimum of {MIN_LOG_SIZE // 1024}k"
            )
    return Supervision(spec.restart, spec.restart_max, size)


Want = Literal["running", "stopped"]


class RunState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """STATE/containers/NAME/run.json: the container's current run, as hp and its exit handler
    see it. Rewritten atomically at each start, stop and exit.

    start: counts the starts; conmon's exit command carries the number of the start it
      belongs to, so an exit of an older run (already handled) is ignored.
    started_at: wall-clock seconds of that start (how long a run lasted sets the back-off).
    want: "stopped" once hp stops it (stop, rm, destroy, a replace): no restart follows,
      and `hp start --all` leaves it; "running" from every start hp makes.
    restarts: restarts by policy since hp last started it (`hp ps`'s RESTARTS).
    delay: the back-off before the latest restart (0 before any).
    restarting: an exit was handled and a restart is waiting out its delay.
    exit_code: the status of the latest exit handled; None while it runs.
    gave_up: why the policy let it stay stopped ("" otherwise), for `hp ps --json`."""

    start: int = 0
    started_at: float = 0.0
    want: Want = "running"
    restarts: int = 0
    delay: float = 0.0
    restarting: bool = False
    exit_code: int | None = None
    gave_up: str = ""


def wanted_running(state: RunState | None) -> bool:
    """hp started it and has not stopped it since."""
    return state is not None and state.want == "running"


def stopped_by_hp(state: RunState | None) -> bool:
    """hp stopped it (stop, rm, destroy, a replace) and has not started it since."""
    return state is not None and state.want == "stopped"


def same_run(state: RunState | None, start: int) -> bool:
    """Run number `start` is still the latest: hp has not started the container anew since (it may
    have stopped it)."""
    return state is not None and state.start == start


def is_current_run(state: RunState | None, start: int) -> bool:
    """Run number `start` is still the latest and hp has not stopped it: what is done about that run
    (a restart after its exit, health_on_failure) still applies."""
    return same_run(state, start) and wanted_running(state)


def encode_run_state(state: RunState) -> bytes:
    return msgspec.json.encode(state) + b"\n"


def decode_run_state(data: bytes) -> RunState:
    try:
        return msgspec.json.decode(data, type=RunState)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise HpError("run.json", f"unreadable: {e}") from None


def started(state: RunState | None, now: float, by_policy: bool = False) -> RunState:
    """The run state for a new start at `now`. A start by hp (apply, start) resets the restart
    count, as `docker start` does; a start by policy keeps counting."""
    old = state or RunState()
    return RunState(
        start=old.start + 1,
        started_at=now,
        want="running",
        restarts=old.restarts if by_policy else 0,
        delay=old.delay if by_policy else 0.0,
    )


def stopping(state: RunState | None) -> RunState:
    """hp is about to stop it: no exit from now on leads to a restart."""
    return msgspec.structs.replace(state or RunState(), want="stopped", restarting=False)


class AfterExit(msgspec.Struct, frozen=True):
    """What to do about an exit: `state` to record; restart after `delay` seconds if `restart`."""

    state: RunState
    restart: bool
    delay: float = 0.0
    reason: str = ""


def after_exit(policy: Supervision, state: RunState, start: int, exit_code: int | None, now: float) -> AfterExit:
    """The decision when run number `start` ended with `exit_code` (None: unknown) at `now`."""
    if start != state.start:
        return AfterExit(state, False, reason=f"an older run (start {start}, now {state.start}) ended")
    ended = msgspec.structs.replace(state, exit_code=exit_code, restarting=False)
    if state.want == "stopped":
        return AfterExit(ended, False, reason="hp stopped it")
    if policy.restart == "no":
        return AfterExit(ended, False, reason='restart = "no"')
    failed = exit_code != 0
    if policy.restart == "on-failure" and not failed:
        return AfterExit(ended, False, reason='it exited 0 and restart = "on-failure"')
    if policy.restart == "on-failure" and policy.restart_max and state.restarts >= policy.restart_max:
        why = f"restart_max = {policy.restart_max} reached"
        return AfterExit(msgspec.structs.replace(ended, gave_up=why), False, reason=why)
    delay = next_delay(state.delay, now - state.started_at)
    restarting = msgspec.structs.replace(ended, restarts=state.restarts + 1, delay=delay, restarting=True)
    return AfterExit(restarting, True, delay, f"restart {state.restarts + 1} in {delay:g} s")


def next_delay(previous: float, ran_for: float) -> float:
    if previous <= 0 or ran_for >= RESET_AFTER:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)


def comes_back_at_boot(policy: Supervision, state: RunState | None, exited: bool) -> bool:
    """Whether `hp start --all` brings it back: hp had it running (and did not stop it), its
    policy restarts, and it was still running when the host went down (no exit recorded), or
    was between restarts."""
    if state is None or state.want != "running" or policy.restart == "no":
        return False
    return state.restarting or not exited
