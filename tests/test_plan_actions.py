"""What each plan action does to its container (compiler.plan's REMOVES, CREATES, STARTS,
REWRITES_SETTINGS) and apply's phases: the sets the executor acts on, pinned per action; and a
recorded container's status as the plan sees it (current_status)."""

from __future__ import annotations

import typing

import pytest

from compiler.plan import (
    CREATES,
    DESTROY_PHASE,
    LAYERED_PHASES,
    ORDER,
    PHASES,
    REMOVES,
    REWRITES_SETTINGS,
    STARTS,
    Action,
    current_status,
)

# action, removes, creates, starts, rewrites its record's settings
ACTIONS = [
    ("create", False, True, True, False),
    ("replace", True, True, True, False),
    ("destroy", True, False, False, False),
    ("restore", False, False, True, True),
    ("update", False, False, False, True),
    ("no-op", False, False, False, False),
]


def test_every_action_is_in_the_table() -> None:
    assert sorted(a[0] for a in ACTIONS) == sorted(typing.get_args(Action))


@pytest.mark.parametrize("action,removes,creates,starts,rewrites", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_what_an_action_does(action: str, removes: bool, creates: bool, starts: bool, rewrites: bool) -> None:
    assert (action in REMOVES, action in CREATES, action in STARTS, action in REWRITES_SETTINGS) == (
        removes,
        creates,
        starts,
        rewrites,
    )


def test_phases() -> None:
    """Destroys first, alone; every other action but no-op in exactly one later phase."""
    assert PHASES == (DESTROY_PHASE, *LAYERED_PHASES)
    assert DESTROY_PHASE == ("destroy",)
    actions = [a for phase in PHASES for a in phase]
    assert sorted(actions) == sorted(a for a in typing.get_args(Action) if a != "no-op")
    assert list(ORDER) == [*actions, "no-op"]


# (name, crun's status, recorded exit status, Current.status)
CURRENT = [
    ("running", "running", None, "running"),
    ("paused", "paused", None, "paused"),
    ("exited-crun-state-kept", "stopped", 1, "stopped"),
    ("stopped-by-hp-stop", None, 143, "stopped"),
    ("removed-outside-hp", None, None, "missing"),
]


@pytest.mark.parametrize("name,crun,exit_code,expected", CURRENT, ids=[c[0] for c in CURRENT])
def test_current_status(name: str, crun: str | None, exit_code: int | None, expected: str) -> None:
    assert current_status(crun, exit_code) == expected
