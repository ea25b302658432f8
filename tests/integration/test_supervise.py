"""Keeping containers running, for real: conmon is each container's monitor, restart policies
restart without any hp command running, monitors outlive the cgroup hp ran in, and
`hp start --all` brings back what a (simulated) reboot took down.

network = "none" unless a test is about addresses: the default bridge may be another state
dir's while tests run side by side."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from compiler.cgroups import CGROUP_ROOT, cgroups_path
from compiler.layout import layout

from .hprun import eventually, hp, leftovers, mounts_under, ps, run_state, sh_container, write_file
from .leaks import host_snapshot, leaks
from .test_hp_network import free_subnet

pytestmark = pytest.mark.integration


def test_on_failure_restarts_until_restart_max(tmp_path, state, registry, test_images) -> None:
    name = f"fail-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        sh_container(
            name,
            test_images["exiter"],
            "echo run; sleep 0.2; exit 1",
            'restart = "on-failure"\nrestart_max = 2\nmust_run = false',
        ),
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        eventually(lambda: run_state(state, name).get("gave_up"), "the policy gave up")
        row = ps(state)[name]
        assert (row["status"], row["exit_code"], row["restart"], row["restarts"]) == ("stopped", 1, "on-failure", 2)
        logs = hp("logs", name, state=state, check=True).stdout
        assert logs.split() == ["run", "run", "run"]  # the first run and two restarts
        apply_log = Path(layout(str(state)).apply_log).read_text()
        assert f"{name}: exited 1: restart_max = 2 reached" in apply_log
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_on_failure_counts_restarts_without_a_limit(tmp_path, state, registry, test_images) -> None:
    name = f"loop-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        sh_container(name, test_images["exiter"], "sleep 0.2; exit 3", 'restart = "on-failure"\nmust_run = false'),
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        eventually(lambda: ps(state)[name]["restarts"] >= 3, "three restarts")
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_always_comes_back_after_an_outside_kill_but_not_after_hp_stop(tmp_path, state, registry, test_images) -> None:
    name = f"always-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path, registry, sh_container(name, test_images["sleeper"], "exec sleep 3600", 'restart = "always"')
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        first = ps(state)[name]["pid"]
        os.kill(first, signal.SIGKILL)  # from outside hp, as the OOM killer or a stray kill would
        eventually(
            lambda: ps(state)[name]["status"] == "running" and ps(state)[name]["pid"] != first, "it came back by itself"
        )
        assert ps(state)[name]["restarts"] == 1
        hp("stop", name, state=state, check=True)
        time.sleep(1.5)  # what a restart would take (0.1 s back-off), several times over
        row = ps(state)[name]
        assert (row["status"], row["restarts"]) == ("stopped", 1)
        assert run_state(state, name)["want"] == "stopped"
        plan = hp("plan", str(file), state=state, check=True).stdout
        assert "stopped by hp stop: will start it again" in plan
        hp("start", name, state=state, check=True)
        assert (ps(state)[name]["status"], ps(state)[name]["restarts"]) == ("running", 0)  # a start by hp resets it
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_no_restart_follows_rm_destroy_or_a_replace(tmp_path, state, registry, test_images) -> None:
    name = f"norestart-{uuid.uuid4().hex[:6]}"
    script = "exec sleep 3600"
    file = write_file(tmp_path, registry, sh_container(name, test_images["sleeper"], script, 'restart = "always"'))
    before = host_snapshot()
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        file = write_file(
            tmp_path,
            registry,
            sh_container(name, test_images["sleeper"], script, 'restart = "always"\nenv = { V = "2" }'),
        )
        hp("apply", str(file), "--yes", state=state, check=True)  # a replace
        assert ps(state)[name]["restarts"] == 0
        hp("rm", name, state=state, check=True)
        time.sleep(1.0)
        assert not os.path.exists(layout(str(state)).container_dir(name))  # no exit handler brought anything back
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leaks(state, before) == {}


def _caller_cgroup() -> Path:
    path = Path(f"{CGROUP_ROOT}/pids/hp-test-caller-{uuid.uuid4().hex[:8]}")
    path.mkdir()
    return path


def _kill_cgroup(cgroup: Path) -> list[int]:
    killed = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed


def test_monitors_outlive_the_cgroup_hp_ran_in(tmp_path, state, registry, test_images) -> None:
    """As when the login session or the systemd unit that ran `hp apply` ends: every process of
    its cgroup is killed. The containers run on, and an exit after that is still recorded."""
    name = f"outlive-{uuid.uuid4().hex[:6]}"
    ender = f"ender-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        sh_container(name, test_images["sleeper"], "exec sleep 3600")
        + sh_container(ender, test_images["exiter"], "sleep 3; exit 7", "must_run = false"),
    )
    caller = _caller_cgroup()
    try:
        shell = subprocess.Popen(["sleep", "600"])  # the session's other processes
        (caller / "cgroup.procs").write_text(str(shell.pid))
        hp_argv = [sys_hp(), "apply", str(file), "--yes", "--state-dir", str(state)]
        applied = subprocess.run(
            hp_argv,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: (caller / "cgroup.procs").write_text(str(os.getpid())),
        )
        assert applied.returncode == 0, applied.stderr
        killed = _kill_cgroup(caller)
        shell.wait(timeout=10)
        assert killed == [shell.pid]  # nothing of hp's stayed in the caller's cgroup
        assert ps(state)[name]["status"] == "running"
        eventually(lambda: ps(state)[ender]["status"] == "stopped", "the other container ended")
        assert ps(state)[ender]["exit_code"] == 7  # its conmon recorded it, with the caller long gone
    finally:
        _kill_cgroup(caller)
        hp("destroy", str(file), "--yes", state=state)
        eventually(lambda: not (caller / "cgroup.procs").read_text().split(), "the caller's cgroup emptied")
        caller.rmdir()
    assert leftovers(state, [name, ender]) == []


def sys_hp() -> str:
    from .hprun import HP

    return HP


def _simulate_reboot(state: Path) -> None:
    """What a reboot takes: every container process and its monitor (SIGKILL, monitors first so
    none of them records an exit), the overlay mounts, the network namespaces, crun's state."""
    lay = layout(str(state))
    names = sorted(os.listdir(lay.containers_dir))
    for name in names:
        pid_file = Path(lay.conmon_pid_file(name))
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    for name in names:
        for cgroup in Path(CGROUP_ROOT).glob(f"*{cgroups_path(lay.cgroup_name(name))}"):
            for pid in (cgroup / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    for name in names:

        def ended(name: str = name) -> bool:
            return not any(
                (c / "cgroup.procs").read_text().split()
                for c in Path(CGROUP_ROOT).glob(f"*{cgroups_path(lay.cgroup_name(name))}")
            )

        eventually(ended, f"{name}'s processes ended")
    for mount in sorted(mounts_under(state), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=True)
    for netns in Path(lay.netns_dir).glob("*"):
        netns.unlink()
    for entry in Path(lay.crun_root).iterdir():
        subprocess.run(["rm", "-rf", str(entry)], check=True)


def test_start_all_brings_back_what_a_reboot_took_down(tmp_path, state, registry, test_images) -> None:
    tag = uuid.uuid4().hex[:6]
    web, stopped, plain = f"web-{tag}", f"held-{tag}", f"plain-{tag}"
    subnet = free_subnet()
    network = f"rb{tag}"
    networks = f'[networks.{network}]\nsubnet = "{subnet}"\n\n[volumes.data{tag}]\n\n'
    keep = f'restart = "always"\nmounts = [{{ type = "volume", source = "data{tag}", target = "/data" }}]'
    script = "echo up >> /data/boots; exec sleep 3600"
    file = write_file(
        tmp_path,
        registry,
        networks
        + sh_container(web, test_images["sleeper"], script, keep, network=network)
        + sh_container(stopped, test_images["sleeper"], "exec sleep 3600", 'restart = "always"', network=network),
    )
    other = tmp_path / "other"
    other.mkdir()
    other_file = write_file(other, registry, sh_container(plain, test_images["sleeper"], "exec sleep 3600"))
    before = host_snapshot()
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        hp("apply", str(other_file), "--yes", state=state, check=True)
        hp("exec", web, "--", "sh", "-c", "echo kept > /tmp/in-upper", state=state, check=True)
        hp("stop", stopped, state=state, check=True)
        address = ps(state)[web]["ip"]
        assert address

        _simulate_reboot(state)
        assert ps(state)[web]["status"] == "stopped"

        result = hp("start", "--all", state=state)
        assert result.returncode == 0, result.stderr
        assert f"{web}: started" in result.stderr
        rows = ps(state)
        assert rows[web]["status"] == "running" and rows[web]["ip"] == address
        assert rows[stopped]["status"] == "stopped"  # hp stopped it: it stays so
        assert rows[plain]["status"] == "stopped"  # restart = "no": not brought back
        same = hp("exec", web, "--", "cat", "/tmp/in-upper", "/data/boots", state=state, check=True).stdout
        assert same.split() == ["kept", "up", "up"]  # the same writable layer and volume
        hp("start", stopped, state=state, check=True)
        assert "No changes" in hp("plan", str(file), state=state, check=True).stdout
    finally:
        hp("destroy", str(file), "--yes", "--volumes", state=state)
        hp("destroy", str(other_file), "--yes", state=state)
    assert leaks(state, before) == {}
