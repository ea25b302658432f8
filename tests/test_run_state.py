"""compiler.supervision's questions about a container's run state (run.json): whether hp wants it
running, stopped it, and whether a given run is still the current one."""

from __future__ import annotations

import pytest

from compiler.supervision import RunState, is_current_run, same_run, stopped_by_hp, wanted_running

RUN_3 = RunState(start=3, want="running")
STOPPED_3 = RunState(start=3, want="stopped")

# (name, run state, start asked about, wanted_running, stopped_by_hp, same_run, is_current_run)
CASES = [
    ("current", RUN_3, 3, True, False, True, True),
    ("started-anew-since", RUN_3, 2, True, False, False, False),
    ("stopped-by-hp", STOPPED_3, 3, False, True, True, False),
    ("stopped-then-started-anew", RunState(start=4, want="running"), 3, True, False, False, False),
    ("no-run-state", None, 3, False, False, False, False),
]


@pytest.mark.parametrize("name,state,start,wanted,stopped,same,current", CASES, ids=[c[0] for c in CASES])
def test_run_state_questions(
    name: str, state: RunState | None, start: int, wanted: bool, stopped: bool, same: bool, current: bool
) -> None:
    assert (wanted_running(state), stopped_by_hp(state), same_run(state, start), is_current_run(state, start)) == (
        wanted,
        stopped,
        same,
        current,
    )
