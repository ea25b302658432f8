"""Graceful stops and prevent_destroy, for real: a replace, a destroy, a removal from the file and
`hp rm` stop a container as `hp stop` does (its image's stop signal, its stop_timeout, then SIGKILL),
and a protected container is neither replaced nor destroyed.

The containers trap their stop signal and write into a host directory bind-mounted at /mark, so
what their trap did is seen after hp removed them (and their log) for good. network = "none": the
default bridge may be another state dir's while tests run side by side."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .hprun import container_record, crun_names, hp, leftovers, mark_dir, marked, ps, sh_container, write_file

pytestmark = pytest.mark.integration

# The image's STOPSIGNAL is SIGUSR1 (tests/integration/registry.py): the trap is on it, not on TERM.
GRACEFUL = "trap 'echo stopped-$V >> /mark/log; exit 0' USR1; while :; do sleep 0.1; done"
# Ignores its stop signal (SIGTERM, the default): only the SIGKILL after stop_timeout ends it.
STUBBORN = "trap 'echo ignored-$V >> /mark/log' TERM; while :; do sleep 0.1; done"


def container(name: str, image: str, script: str, marks: Path, version: str, extra: str = "") -> str:
    """`script` in container `name`, with $V the version, writing into `marks`."""
    return sh_container(name, image, script, extra, env={"V": version}, marks=marks)


def test_replace_and_destroy_stop_with_the_image_stop_signal(tmp_path, state, registry, test_images) -> None:
    name = f"grace-{uuid.uuid4().hex[:6]}"
    marks = mark_dir(tmp_path)
    image = test_images["stopsig"]
    file = write_file(tmp_path, registry, container(name, image, GRACEFUL, marks, "1"))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        file = write_file(tmp_path, registry, container(name, image, GRACEFUL, marks, "2"))
        replaced = hp("apply", str(file), "--yes", state=state)
        assert replaced.returncode == 0, replaced.stderr
        assert marked(marks) == ["stopped-1"]  # the old one's trap ran before it was removed
        assert f"{name}: removing (stopping it: SIGUSR1, then SIGKILL after 10 s)" in replaced.stderr
        assert "- stopped first: SIGUSR1, then SIGKILL after 10 s" in replaced.stdout
        assert ps(state)[name]["status"] == "running"
        destroyed = hp("destroy", str(file), "--yes", state=state)
        assert destroyed.returncode == 0, destroyed.stderr
        assert marked(marks) == ["stopped-1", "stopped-2"]
        assert leftovers(state, [name]) == []
    finally:
        hp("destroy", str(file), "--yes", state=state)


def test_stop_timeout_is_honoured_then_sigkill(tmp_path, state, registry, test_images) -> None:
    """An ignored stop signal: the trap runs, and after stop_timeout (1 s) SIGKILL ends it; the
    apply and the destroy finish."""
    name = f"stub-{uuid.uuid4().hex[:6]}"
    marks = mark_dir(tmp_path)
    image = test_images["exiter"]
    file = write_file(tmp_path, registry, container(name, image, STUBBORN, marks, "1", "stop_timeout = 1"))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        record = container_record(state, name)
        assert (record["stop_timeout"], record["prevent_destroy"]) == (1, False)
        file = write_file(tmp_path, registry, container(name, image, STUBBORN, marks, "2", "stop_timeout = 1"))
        replaced = hp("apply", str(file), "--yes", state=state, timeout=60)
        assert replaced.returncode == 0, replaced.stderr
        assert "then SIGKILL after 1 s)" in replaced.stderr
        assert marked(marks) == ["ignored-1"]
        destroyed = hp("destroy", str(file), "--yes", state=state, timeout=60)
        assert destroyed.returncode == 0, destroyed.stderr
        assert marked(marks) == ["ignored-1", "ignored-2"]
        assert leftovers(state, [name]) == [] and crun_names(state) == []
    finally:
        hp("destroy", str(file), "--yes", state=state)


def test_removal_from_the_file_and_rm_stop_gracefully(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    gone, removed = f"gone-{s}", f"rmd-{s}"
    image = test_images["stopsig"]
    marks = mark_dir(tmp_path)
    both = container(gone, image, GRACEFUL, marks, gone) + container(removed, image, GRACEFUL, marks, removed)
    file = write_file(tmp_path, registry, both)
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        rm = hp("rm", removed, state=state)  # no --force: stopped as hp stop does, then removed
        assert rm.returncode == 0, rm.stderr
        assert marked(marks) == [f"stopped-{removed}"]
        file.write_text(file.read_text().replace(both, ""))
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        assert marked(marks) == [f"stopped-{removed}", f"stopped-{gone}"]
        assert leftovers(state, [gone, removed]) == []
    finally:
        file.write_text(both)
        hp("destroy", str(file), "--yes", state=state)


def test_a_kill_during_the_grace_wait_is_finished_by_the_next_apply(tmp_path, state, registry, test_images) -> None:
    name = f"wait-{uuid.uuid4().hex[:6]}"
    marks = mark_dir(tmp_path)
    image = test_images["exiter"]
    file = write_file(tmp_path, registry, container(name, image, STUBBORN, marks, "1", "stop_timeout = 1"))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        file = write_file(tmp_path, registry, container(name, image, STUBBORN, marks, "2", "stop_timeout = 1"))
        killed = hp("apply", str(file), "--yes", state=state, env={"HP_KILL_AT": "stop-signalled"})
        assert killed.returncode == -9, killed.stderr
        assert container_record(state, name)["phase"] == "removing"
        finished = hp("apply", str(file), "--yes", state=state)
        assert finished.returncode == 0, finished.stderr
        assert "phase removing" in finished.stdout
        assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0
        assert ps(state)[name]["status"] == "running" and crun_names(state) == [name]
        assert "V=2" in hp("exec", name, "--", "env", state=state, check=True).stdout.splitlines()
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_prevent_destroy_blocks_replace_destroy_and_removal_until_unset(tmp_path, state, registry, test_images) -> None:
    name = f"keep-{uuid.uuid4().hex[:6]}"
    marks = mark_dir(tmp_path)
    image = test_images["stopsig"]
    protected = container(name, image, GRACEFUL, marks, "1", "prevent_destroy = true")
    file = write_file(tmp_path, registry, protected)
    assert hp("apply", str(file), "--yes", state=state).returncode == 0  # the state fixture removes what is left
    before = ps(state)[name]
    where = f"hp: error: {file}: containers.{name}.prevent_destroy: the plan would"
    attempts = {
        "replace": ("apply", container(name, image, GRACEFUL, marks, "2", "prevent_destroy = true")),
        "removal": ("apply", ""),
        "destroy": ("destroy", protected),
    }
    for what, (command, text) in attempts.items():
        write_file(tmp_path, registry, text)
        refused = hp(command, str(file), "--yes", state=state)
        assert refused.returncode == 1, (what, refused.stderr)
        assert refused.stderr.startswith(where) and refused.stderr.count("\n") == 1, (what, refused.stderr)
        assert ps(state)[name] == before and marked(marks) == [], what  # nothing changed, not even stopped
    write_file(tmp_path, registry, attempts["replace"][1])
    planned = hp("plan", str(file), state=state)  # plan itself fails, as Terraform's does
    assert planned.returncode == 1 and planned.stderr.startswith(where)

    # Terraform's way: unset the flag (an update of hp's record only), then destroy
    file = write_file(tmp_path, registry, container(name, image, GRACEFUL, marks, "1"))
    unset = hp("apply", str(file), "--yes", state=state)
    assert unset.returncode == 0, unset.stderr
    assert "prevent_destroy: true -> false" in unset.stdout and "1 updated" in unset.stderr
    assert ps(state)[name] == before
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0
    assert marked(marks) == ["stopped-1"] and leftovers(state, [name]) == []


def test_hp_stop_without_time_signals_then_kills_an_ignoring_container(tmp_path, state, registry, test_images) -> None:
    name = f"stop-{uuid.uuid4().hex[:6]}"
    marks = mark_dir(tmp_path)
    file = write_file(
        tmp_path, registry, container(name, test_images["exiter"], STUBBORN, marks, "1", "stop_timeout = 1")
    )
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        stopped = hp("stop", name, state=state, timeout=60)  # the trap runs, SIGKILL follows (durations not asserted)
        assert stopped.returncode == 0, stopped.stderr
        row = ps(state)[name]
        assert (row["status"], row["exit_code"]) == ("stopped", 137) and marked(marks) == ["ignored-1"]
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_the_stop_trap_writes_into_its_named_volume_on_replace_and_destroy(
    tmp_path, state, registry, test_images
) -> None:
    """The issue's case: a container that writes a marker into its volume when it is stopped finds the
    marker there after a replace (in the new container) and after a destroy (the volume is kept)."""
    name = f"volmark-{uuid.uuid4().hex[:6]}"
    image = test_images["stopsig"]

    def text(version: str) -> str:
        return (
            f'[volumes.marks-{name}]\n\n[containers.{name}]\nimage = "{image}"\n'
            'entrypoint = ["/bin/sh", "-c"]\n'
            f'command = ["{GRACEFUL}"]\nenv = {{ V = "{version}" }}\nnetwork = "none"\nuser = "0:0"\n'
            f'mounts = [{{ type = "volume", source = "marks-{name}", target = "/mark" }}]\n'
        )

    file = write_file(tmp_path, registry, text("1"))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        file = write_file(tmp_path, registry, text("2"))
        replaced = hp("apply", str(file), "--yes", state=state)
        assert replaced.returncode == 0, replaced.stderr
        seen = hp("exec", name, "--", "cat", "/mark/log", state=state)
        assert seen.stdout.split() == ["stopped-1"], seen.stderr
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        info = json.loads(hp("volume", "inspect", f"marks-{name}", state=state, check=True).stdout)
        assert Path(info["path"], "log").read_text().split() == ["stopped-1", "stopped-2"]
        assert info["containers"] == []
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert hp("volume", "rm", f"marks-{name}", state=state).returncode == 0
    assert leftovers(state, [name]) == []
