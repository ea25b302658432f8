"""Health checks, for real: an image's HEALTHCHECK (built with podman build, pushed, pulled by hp)
and hp.toml's healthcheck run in the container with crun exec; `hp ps` shows the result; a
failing check makes the container unhealthy after its retries; health_on_failure restarts or
stops it; wait_healthy (what `hp apply` uses for depends_on = "healthy") waits for a check that
passes only after a delay. Checks run when `hp healthcheck run` (or wait_healthy) runs them:
nothing here depends on how fast the host is, only on the order of events.

network = "none" everywhere: the default bridge may be another state dir's."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from compiler.errors import HpError
from compiler.layout import layout
from executor.health import wait_healthy

from .hprun import (
    container_record,
    eventually,
    health_record,
    hp,
    leftovers,
    ps,
    run_state,
    sh_container,
    write_file,
)
from .registry import podman_rmi, run

pytestmark = pytest.mark.integration

# the image's check: passes once /tmp/ready exists; 1 s apart, 2 failures make it unhealthy
IMAGE_CHECK = "HEALTHCHECK --interval=1s --timeout=5s --retries=2 CMD test -f /tmp/ready"


@pytest.fixture(scope="module")
def health_image(registry, test_images, test_image_namespace, tmp_path_factory) -> str:
    """The sleeper test image with IMAGE_CHECK, pushed to the test registry (podman import cannot
    set a HEALTHCHECK: it is built FROM the sleeper, in docker format, which keeps it). Not left in
    podman's local storage: hp pulls it."""
    base = test_images["sleeper"]
    ref = f"{registry.host}/{test_image_namespace}/healthy:1"
    workdir = tmp_path_factory.mktemp("health-image")
    (workdir / "Containerfile").write_text(f"FROM {base}\n{IMAGE_CHECK}\n")
    try:
        run(
            [
                "podman",
                "build",
                "--quiet",
                "--format",
                "docker",
                "--tls-verify=false",
                "--pull=missing",
                "--tag",
                ref,
                str(workdir),
            ],
            timeout=120,
        )
        run(["podman", "push", "--quiet", "--tls-verify=false", "--format", "v2s2", ref])
    finally:
        podman_rmi(ref, base)
    return ref


READY = "touch /tmp/ready; exec sleep 3600"
NEVER_READY = "exec sleep 3600"


def test_image_healthcheck_shows_in_ps(tmp_path, state, registry, health_image, test_images) -> None:
    name, plain = f"hc-{uuid.uuid4().hex[:6]}", f"plain-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        sh_container(name, health_image, READY) + sh_container(plain, test_images["sleeper"], NEVER_READY),
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        rows = ps(state)
        assert (rows[name]["health"], rows[plain]["health"]) == ("starting", "-")  # no check has run yet
        assert "HEALTH" in hp("ps", state=state, check=True).stdout.splitlines()[0]
        result = hp("healthcheck", "run", name, state=state)
        assert result.returncode == 0, result.stderr
        assert f"{name}: healthy" in result.stderr
        assert ps(state)[name]["health"] == "healthy"
        recorded = health_record(state, name)
        assert (recorded["status"], recorded["run"], recorded["log"][-1]["exit_code"]) == (
            "healthy",
            run_state(state, name)["start"],
            0,
        )
        refused = hp("healthcheck", "run", plain, state=state)
        assert (refused.returncode, refused.stderr.strip()) == (1, f"hp: error: {plain}: has no health check")
        # a stopped container shows no health, and a new start begins again at "starting"
        hp("stop", name, state=state, check=True)
        assert ps(state)[name]["health"] == "-"
        hp("start", name, state=state, check=True)
        assert ps(state)[name]["health"] == "starting"
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name, plain]) == []


def test_a_failing_check_makes_it_unhealthy_after_its_retries(tmp_path, state, registry, health_image) -> None:
    name = f"sick-{uuid.uuid4().hex[:6]}"
    # hp.toml's test over the image's; the image's interval (1 s) and retries (2) still apply
    file = write_file(
        tmp_path,
        registry,
        sh_container(name, health_image, NEVER_READY, 'healthcheck = { test = "echo not ready; exit 3" }'),
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        first = hp("healthcheck", "run", name, state=state)
        assert first.returncode == 1
        assert ps(state)[name]["health"] == "starting"  # one failure of two
        last = health_record(state, name)["log"][-1]
        assert (last["exit_code"], last["output"]) == (3, "not ready\n")

        def timer_run() -> bool:  # the timer's way: only a due check runs (1 s after the last one began)
            hp("healthcheck", "run", "--all", state=state, check=True)
            return ps(state)[name]["health"] == "unhealthy"

        eventually(timer_run, "the second failure")
        recorded = health_record(state, name)
        assert (recorded["failing_streak"], [r["exit_code"] for r in recorded["log"]]) == (2, [3, 3])
        assert ps(state)[name]["status"] == "running"  # health_on_failure = "none": nothing is done to it
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_a_check_past_its_timeout_is_killed_and_fails(tmp_path, state, registry, health_image) -> None:
    name = f"slow-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        sh_container(name, health_image, READY, 'healthcheck = { test = ["CMD", "sleep", "300"], timeout = "1s" }'),
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        result = hp("healthcheck", "run", name, state=state, timeout=60)
        assert result.returncode == 1
        last = health_record(state, name)["log"][-1]
        assert (last["exit_code"], last["output"]) == (-1, "Health check exceeded timeout (1s)")
        processes = hp("exec", name, "--", "ps", "-o", "args", state=state, check=True).stdout
        assert "sleep 300" not in processes  # the check went with crun exec
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


@pytest.mark.parametrize("on_failure", ["restart", "kill"])
def test_health_on_failure(tmp_path, state, registry, health_image, on_failure: str) -> None:
    name = f"{on_failure}-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path, registry, sh_container(name, health_image, NEVER_READY, f'health_on_failure = "{on_failure}"')
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        before = ps(state)[name]["pid"]
        start = run_state(state, name)["start"]
        hp("healthcheck", "run", name, state=state)
        assert ps(state)[name]["pid"] == before  # one failure of two: nothing done yet
        result = hp("healthcheck", "run", name, state=state)
        assert result.returncode == 1
        assert f'health_on_failure = "{on_failure}"' in result.stderr
        row = ps(state)[name]
        if on_failure == "restart":
            assert (row["status"], row["health"]) == ("running", "starting")
            assert row["pid"] != before and run_state(state, name)["start"] == start + 1
            assert (
                f"{name}: unhealthy (the last check exited 1): restarted"
                in Path(layout(str(state)).apply_log).read_text()
            )
        else:
            assert (row["status"], row["health"], run_state(state, name)["want"]) == ("stopped", "-", "stopped")
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_wait_healthy(tmp_path, state, registry, health_image) -> None:
    late, never, patient = (f"{w}-{uuid.uuid4().hex[:6]}" for w in ("late", "never", "patient"))
    file = write_file(
        tmp_path,
        registry,
        # the image's retries (2) would make it unhealthy at the second failure, 2 s after its start
        sh_container(late, health_image, "sleep 2; touch /tmp/ready; exec sleep 3600", "healthcheck = { retries = 10 }")
        + sh_container(never, health_image, NEVER_READY)
        # failures within start_period do not count: it stays "starting" until the wait ends
        + sh_container(patient, health_image, NEVER_READY, 'healthcheck = { start_period = "1h" }'),
    )
    where = layout(str(state))
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        wait_healthy(where, late, timeout=60)
        assert ps(state)[late]["health"] == "healthy"
        assert hp("exec", late, "--", "test", "-f", "/tmp/ready", state=state).returncode == 0
        with pytest.raises(HpError) as unhealthy:
            wait_healthy(where, never, timeout=60)
        assert str(unhealthy.value) == f"{never}: unhealthy: the last check exited 1"
        with pytest.raises(HpError) as waited:
            wait_healthy(where, patient, timeout=2.5)
        assert str(waited.value) == f"{patient}: not healthy within 2.5 s: the last check exited 1"
        hp("stop", late, state=state, check=True)
        with pytest.raises(HpError) as stopped:
            wait_healthy(where, late, timeout=60)
        assert str(stopped.value) == f"{late}: is not running (it exited 137)"
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [late, never, patient]) == []


def test_a_changed_check_updates_the_record_only(tmp_path, state, registry, health_image) -> None:
    name = f"upd-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, sh_container(name, health_image, READY))
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        pid = ps(state)[name]["pid"]
        file = write_file(
            tmp_path,
            registry,
            sh_container(name, health_image, READY, 'healthcheck = { interval = "5s" }\nhealth_on_failure = "restart"'),
        )
        plan = hp("plan", str(file), state=state, check=True).stdout
        assert "healthcheck: " in plan and "health_on_failure: none -> restart" in plan
        assert "0 to replace" in plan
        hp("apply", str(file), "--yes", state=state, check=True)
        record = container_record(state, name)
        assert (record["healthcheck"]["interval"], record["healthcheck"]["test"], record["health_on_failure"]) == (
            5.0,
            ["CMD-SHELL", "test -f /tmp/ready"],
            "restart",
        )
        assert ps(state)[name]["pid"] == pid  # not touched
        assert "No changes" in hp("plan", str(file), state=state, check=True).stdout
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_one_check_of_a_container_at_a_time(tmp_path, state, registry, health_image) -> None:
    import subprocess

    from .hprun import HP

    name = f"once-{uuid.uuid4().hex[:6]}"
    directory = Path(layout(str(state)).container_dir(name))
    file = write_file(tmp_path, registry, sh_container(name, health_image, READY, 'healthcheck = { test = "sleep 2" }'))
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        first = subprocess.Popen(
            [HP, "healthcheck", "run", name, "--state-dir", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # its check is under way once its process file is in the container's directory
            eventually(
                lambda: any(p.name.startswith(".health-") for p in directory.iterdir()),
                "the first check running",
            )
            second = hp("healthcheck", "run", name, state=state)
            assert second.returncode == 0 and second.stderr == ""  # it found the check busy and left it
        finally:
            _, said = first.communicate(timeout=60)
        assert first.returncode == 0 and f"{name}: healthy" in said
        assert len(health_record(state, name)["log"]) == 1
        assert not [p for p in directory.iterdir() if p.name.startswith(".health-")]
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []
