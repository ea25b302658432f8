"""depends_on, for real: apply starts a container only after what it depends on (and, for
"healthy", after that one's health check passed), over several applies; destroy stops
dependents first. Each container writes its start and its stop into a shared host directory.
network = "none": the default bridge may be another state dir's while tests run side by side."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from .hprun import container_dirs, hp, leftovers, mark_dir, marked, sh_container, write_file

pytestmark = pytest.mark.integration

# SIGTERM (the exiter image's stop signal) is trapped: the stop is written down, then it ends
LOOP = "trap 'echo stop-$N >> /mark/log; exit 0' TERM; {before}echo start-$N >> /mark/log; while :; do sleep 0.1; done"


def container(name: str, image: str, marks: Path, version: str, before: str = "", extra: str = "") -> str:
    """LOOP in container `name`, whose marks say the part of its name before "-" ($N)."""
    env = {"N": name.split("-")[0], "V": version}
    return sh_container(name, image, LOOP.format(before=before), extra, env=env, marks=marks)


def stack(tag: str, image: str, path: Path, version: str) -> str:
    # "web" sorts before "zapp" and starts at once; zapp takes 0.3 s to write its start: without
    # the order, web's start would come first
    return container(f"zapp-{tag}", image, path, version, before="sleep 0.3; ") + container(
        f"web-{tag}", image, path, version, extra=f'depends_on = ["zapp-{tag}"]'
    )


def test_apply_starts_dependencies_first_and_destroy_stops_dependents_first(
    tmp_path, state, registry, test_images
) -> None:
    tag = uuid.uuid4().hex[:6]
    path = mark_dir(tmp_path)
    image = test_images["exiter"]
    file = write_file(tmp_path, registry, stack(tag, image, path, "1"))
    try:
        for version in ("1", "2", "3"):  # a create, then two replaces of both
            file = write_file(tmp_path, registry, stack(tag, image, path, version))
            applied = hp("apply", str(file), "--yes", state=state)
            assert applied.returncode == 0, applied.stderr
            starts = [m for m in marked(path) if m.startswith("start-")]
            assert starts[-2:] == ["start-zapp", "start-web"], marked(path)
        before = len(marked(path))
        destroyed = hp("destroy", str(file), "--yes", state=state)
        assert destroyed.returncode == 0, destroyed.stderr
        assert marked(path)[before:] == ["stop-web", "stop-zapp"]
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [f"zapp-{tag}", f"web-{tag}"]) == []


def test_hp_start_refuses_while_a_dependency_is_stopped(tmp_path, state, registry, test_images) -> None:
    tag = uuid.uuid4().hex[:6]
    path = mark_dir(tmp_path)
    file = write_file(tmp_path, registry, stack(tag, test_images["exiter"], path, "1"))
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        hp("stop", f"web-{tag}", state=state, check=True)
        hp("stop", f"zapp-{tag}", state=state, check=True)
        refused = hp("start", f"web-{tag}", state=state)
        assert refused.returncode == 1
        assert refused.stderr == (
            f"hp: error: web-{tag}: depends on zapp-{tag}, which is not running (hp start zapp-{tag} first)\n"
        )
        hp("start", f"zapp-{tag}", state=state, check=True)
        hp("start", f"web-{tag}", state=state, check=True)
        before = len(marked(path))
        hp("stop", "--all", state=state, check=True)  # dependents first
        # dependencies first, whatever the order given
        hp("start", f"web-{tag}", f"zapp-{tag}", state=state, check=True)
        assert marked(path)[before:] == ["stop-web", "stop-zapp", "start-zapp", "start-web"]
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [f"zapp-{tag}", f"web-{tag}"]) == []


def test_a_healthy_dependency_is_waited_for(tmp_path, state, registry, test_images) -> None:
    """app's check passes only once it wrote /tmp/ready, 2 s after its start: web starts after."""
    tag = uuid.uuid4().hex[:6]
    path = mark_dir(tmp_path)
    image = test_images["exiter"]
    check = 'healthcheck = { test = ["CMD-SHELL", "test -f /tmp/ready"], interval = "1s", retries = 30 }'
    text = container(
        f"zapp-{tag}", image, path, "1", before="sleep 2; touch /tmp/ready; echo ready-$N >> /mark/log; ", extra=check
    ) + container(f"web-{tag}", image, path, "1", extra=f'depends_on = {{ zapp-{tag} = "healthy" }}')
    file = write_file(tmp_path, registry, text)
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        assert f"zapp-{tag}: healthy" in applied.stderr
        assert marked(path) == ["ready-zapp", "start-zapp", "start-web"]
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [f"zapp-{tag}", f"web-{tag}"]) == []


def test_a_healthy_dependency_without_a_check_is_a_plan_time_error(tmp_path, state, registry, test_images) -> None:
    tag = uuid.uuid4().hex[:6]
    path = mark_dir(tmp_path)
    image = test_images["exiter"]
    file = write_file(
        tmp_path,
        registry,
        container(f"zapp-{tag}", image, path, "1")
        + container(f"web-{tag}", image, path, "1", extra=f'depends_on = {{ zapp-{tag} = "healthy" }}'),
    )
    planned = hp("plan", str(file), state=state)
    assert planned.returncode == 1
    assert planned.stderr.endswith(
        f'containers.web-{tag}.depends_on.zapp-{tag}: is "healthy", but zapp-{tag} has '
        "no health check (neither its image nor hp.toml gives one)\n"
    )
    assert container_dirs(state) == []
