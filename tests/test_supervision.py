"""Restart policies, back-off and boot decisions (compiler/supervision.py), and their hp.toml checks."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.errors import HpError
from compiler.spec import parse_hp_file
from compiler.supervision import (
    FIRST_DELAY,
    MAX_DELAY,
    RunState,
    Supervision,
    after_exit,
    comes_back_at_boot,
    decode_run_state,
    encode_run_state,
    next_delay,
    started,
    stopping,
    supervision,
)

NOW = 1_000_000.0
RUNNING = RunState(start=4, started_at=NOW - 1, want="running", restarts=1, delay=0.1)

# (name, policy, state, exit code, restart?, restarts after, delay, reason contains)
EXITS = [
    ("no-policy", Supervision("no"), RUNNING, 1, False, 1, None, 'restart = "no"'),
    ("on-failure-fails", Supervision("on-failure"), RUNNING, 1, True, 2, 0.2, "restart 2 in 0.2 s"),
    ("on-failure-exit-0", Supervision("on-failure"), RUNNING, 0, False, 1, None, "exited 0"),
    ("on-failure-unknown-status", Supervision("on-failure"), RUNNING, None, True, 2, 0.2, "restart 2"),
    ("on-failure-at-max", Supervision("on-failure", 1), RUNNING, 1, False, 1, None, "restart_max = 1 reached"),
    ("on-failure-below-max", Supervision("on-failure", 2), RUNNING, 1, True, 2, 0.2, "restart 2"),
    ("always-exit-0", Supervision("always"), RUNNING, 0, True, 2, 0.2, "restart 2"),
    ("always-killed", Supervision("always"), RUNNING, 137, True, 2, 0.2, "restart 2"),
    (
        "stopped-by-hp",
        Supervision("always"),
        msgspec.structs.replace(RUNNING, want="stopped"),
        143,
        False,
        1,
        None,
        "hp stopped it",
    ),
    (
        "long-run-resets-back-off",
        Supervision("always"),
        msgspec.structs.replace(RUNNING, started_at=NOW - 60, delay=16.0),
        1,
        True,
        2,
        FIRST_DELAY,
        "restart 2 in 0.1 s",
    ),
]


@pytest.mark.parametrize("name,policy,state,code,restart,restarts,delay,reason", EXITS, ids=[e[0] for e in EXITS])
def test_after_exit(name, policy, state, code, restart, restarts, delay, reason) -> None:
    decision = after_exit(policy, state, state.start, code, NOW)
    assert decision.restart == restart
    assert decision.state.restarts == restarts
    assert decision.state.exit_code == code
    assert decision.state.restarting == restart
    if delay is not None:
        assert decision.delay == pytest.approx(delay)
    assert reason in decision.reason


def test_an_exit_of_an_older_run_changes_nothing() -> None:
    decision = after_exit(Supervision("always"), RUNNING, RUNNING.start - 1, 1, NOW)
    assert (decision.restart, decision.state) == (False, RUNNING)


BACK_OFF = [
    ("first", 0.0, 0.0, FIRST_DELAY),
    ("doubles", 0.4, 1.0, 0.8),
    ("capped", 20.0, 1.0, MAX_DELAY),
    ("reset-after-10-s", 20.0, 10.0, FIRST_DELAY),
]


@pytest.mark.parametrize("name,previous,ran_for,expected", BACK_OFF, ids=[b[0] for b in BACK_OFF])
def test_back_off(name, previous, ran_for, expected) -> None:
    assert next_delay(previous, ran_for) == pytest.approx(expected)


@given(st.lists(st.floats(min_value=0, max_value=9.9), max_size=30))
def test_back_off_never_passes_the_cap_and_never_shrinks_on_short_runs(runs) -> None:
    delay = 0.0
    for ran_for in runs:
        new = next_delay(delay, ran_for)
        assert FIRST_DELAY <= new <= MAX_DELAY and new >= delay
        delay = new


def test_a_start_by_hp_resets_the_count_and_a_start_by_policy_keeps_it() -> None:
    by_policy = started(RUNNING, NOW, by_policy=True)
    by_hp = started(stopping(RUNNING), NOW)
    assert (by_policy.start, by_policy.restarts, by_policy.want) == (5, 1, "running")
    assert (by_hp.start, by_hp.restarts, by_hp.want, by_hp.delay) == (5, 0, "running", 0.0)


BOOT = [
    ("running-at-crash", Supervision("always"), RUNNING, False, True),
    ("exited-before", Supervision("always"), RUNNING, True, False),
    ("waiting-for-restart", Supervision("on-failure"), msgspec.structs.replace(RUNNING, restarting=True), True, True),
    ("stopped-by-hp", Supervision("always"), stopping(RUNNING), False, False),
    ("policy-no", Supervision("no"), RUNNING, False, False),
    ("never-started", Supervision("always"), None, False, False),
]


@pytest.mark.parametrize("name,policy,state,exited,back", BOOT, ids=[b[0] for b in BOOT])
def test_what_comes_back_at_boot(name, policy, state, exited, back) -> None:
    assert comes_back_at_boot(policy, state, exited) == back


def test_run_state_round_trips_and_a_damaged_one_is_one_error() -> None:
    assert decode_run_state(encode_run_state(RUNNING)) == RUNNING
    with pytest.raises(HpError, match="run.json"):
        decode_run_state(b'{"start": "x"}')


def _spec(extra: str):
    return parse_hp_file(f'[containers.a]\nimage = "busybox"\n{extra}\n').containers["a"]


SETTINGS = [
    ("defaults", "", Supervision("no", 0, 10 * 1024**2)),
    ("on-failure-with-max", 'restart = "on-failure"\nrestart_max = 3', Supervision("on-failure", 3, 10 * 1024**2)),
    ("log-size", 'log_max_size = "1m"', Supervision("no", 0, 1024**2)),
]


@pytest.mark.parametrize("name,extra,expected", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_settings(name, extra, expected) -> None:
    assert supervision("a", _spec(extra)) == expected


BAD = [
    (
        "unknown-policy",
        'restart = "sometimes"',
        "containers.a.restart",
        'expected "no", "on-failure" or "always", got \'sometimes\'',
    ),
    (
        "max-without-on-failure",
        'restart = "always"\nrestart_max = 2',
        "containers.a.restart_max",
        'applies only to restart = "on-failure"',
    ),
    ("negative-max", 'restart = "on-failure"\nrestart_max = -1', "containers.a.restart_max", ">= 0"),
    ("bad-size", 'log_max_size = "ten"', "containers.a.log_max_size", 'expected a size like "256m"'),
    ("tiny-size", "log_max_size = 100", "containers.a.log_max_size", "below the minimum of 4k"),
]


@pytest.mark.parametrize("name,extra,where,problem", BAD, ids=[b[0] for b in BAD])
def test_bad_settings_name_the_field(name, extra, where, problem) -> None:
    with pytest.raises(HpError) as error:
        supervision("a", _spec(extra))
    assert error.value.where == where and problem in error.value.problem
