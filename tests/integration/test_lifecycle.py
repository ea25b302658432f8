"""hp apply / ps / exec / logs / stop / start / rm / destroy, for real: images built by the
tests, served by a real registry on 127.0.0.1, pulled by podman, run by crun."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from compiler.layout import Layout
from compiler.volumes import image_volume_name

from .hprun import HP, hp, leftovers, ps, run_in_pty, write_file

pytestmark = pytest.mark.integration


def test_apply_runs_containers_as_the_image_and_file_say(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    web, custom, ka_ok, ka_fail = f"web-{s}", f"custom-{s}", f"kaok-{s}", f"kafail-{s}"
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{web}]
image = "{test_images["sleeper"]}"

[containers.{custom}]
image = "{test_images["sleeper"]}"
user = "0:0"
workdir = "/tmp"
env = {{ MODE = "file", EXTRA = "1" }}
command = ["sh", "-c", "echo hello from {custom}; echo oops >&2; exec sleep 3600"]

[containers.{ka_ok}]
image = "{test_images["sleeper"]}"
keep_alive = true
command = ["true"]

[containers.{ka_fail}]
image = "{test_images["exiter"]}"
keep_alive = true
must_run = false
""",
    )
    # the first use of the image pulls it, whatever ran before
    subprocess.run(["podman", "rmi", "--force", test_images["sleeper"]], capture_output=True)
    result = hp("apply", str(file), "--yes", state=state)
    assert result.returncode == 0, result.stderr
    assert f"pulled {test_images['sleeper']}" in result.stderr
    rows = ps(state)
    assert set(rows) == {web, custom, ka_ok, ka_fail}
    assert rows[web]["status"] == "running" and rows[web]["pid"] > 0
    assert rows[web]["image"] == test_images["sleeper"]

    # the image's USER, WORKDIR, ENV and ENTRYPOINT/CMD
    assert hp("exec", web, "--", "id", "-u", state=state).stdout == "1000\n"
    assert hp("exec", web, "--", "pwd", state=state).stdout == "/srv/www\n"
    env = hp("exec", web, "--", "env", state=state).stdout.splitlines()
    assert "MODE=image" in env and f"HOSTNAME={web}" in env and "HOME=/home/app" in env
    assert hp("exec", web, "--", "cat", "/proc/1/cmdline", state=state).stdout.split("\0")[:3] == [
        "/bin/busybox",
        "sleep",
        "3600",
    ]
    # the file's overrides
    assert hp("exec", custom, "--", "id", "-u", state=state).stdout == "0\n"
    assert hp("exec", custom, "--", "pwd", state=state).stdout == "/tmp\n"
    env = hp("exec", custom, "--", "env", state=state).stdout.splitlines()
    assert "MODE=file" in env and "EXTRA=1" in env
    # exit status passes through exec
    assert hp("exec", web, "--", "sh", "-c", "exit 5", state=state).returncode == 5
    # logs: stdout and stderr of the container
    logs = hp("logs", custom, state=state, check=True)
    assert logs.stdout == f"hello from {custom}\n" and logs.stderr == "oops\n"

    # keep_alive: exit 0 stays up, exit 3 stops with 3
    assert rows[ka_ok]["status"] == "running"
    assert rows[ka_fail]["status"] == "stopped" and rows[ka_fail]["exit_code"] == 3

    # two containers of one image do not see each other's writes
    assert hp("exec", web, "--", "touch", "/tmp/mine", state=state).returncode == 0
    assert hp("exec", custom, "--", "ls", "/tmp/mine", state=state).returncode != 0

    # a second apply changes nothing
    again = hp("apply", str(file), "--yes", state=state)
    assert again.returncode == 0 and "nothing to do" in again.stderr

    # stop / start keep the writable layer
    assert hp("stop", web, "--time", "1", state=state).returncode == 0
    assert ps(state)[web]["status"] == "stopped"
    assert hp("start", web, state=state).returncode == 0
    assert ps(state)[web]["status"] == "running"
    assert hp("exec", web, "--", "ls", "/tmp/mine", state=state).returncode == 0

    # rm of a running container stops it as hp stop does (tests/integration/test_graceful.py), then removes it
    assert hp("rm", web, state=state).returncode == 0
    assert web not in ps(state)

    # destroy removes the rest, and nothing of theirs remains
    gone = hp("destroy", str(file), "--yes", state=state)
    assert gone.returncode == 0, gone.stderr
    assert ps(state) == {}
    assert leftovers(state, [web, custom, ka_ok, ka_fail]) == []


def test_stop_uses_the_image_stop_signal_then_kill(tmp_path, state, registry, test_images) -> None:
    name = f"stubborn-{uuid.uuid4().hex[:6]}"
    # ignores SIGTERM: stop must fall back to SIGKILL after --time
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{name}]
image = "{test_images["exiter"]}"
command = ["trap '' TERM; while true; do sleep 1; done"]
""",
    )
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    assert hp("stop", name, "--time", "1", state=state).returncode == 0
    row = ps(state)[name]
    assert row["status"] == "stopped" and row["exit_code"] == 137
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0
    assert leftovers(state, [name]) == []


@pytest.mark.parametrize("case", ["missing-image", "registry-down", "crun-error"])
def test_failures_are_one_line_and_leave_nothing(case, tmp_path, state, registry, test_images) -> None:
    name = f"bad-{uuid.uuid4().hex[:6]}"
    image = {
        "missing-image": f"{registry.host}/hp-test/does-not-exist:1",
        "registry-down": "127.0.0.1:9/hp-test/nothing:1",
        "crun-error": test_images["sleeper"],
    }[case]
    bad_mount = 'mounts = [{ type = "bind", source = "/nonexistent/hp-test", target = "/x" }]'
    extra = bad_mount if case == "crun-error" else ""
    file = write_file(tmp_path, registry, f'[containers.{name}]\nimage = "{image}"\n{extra}\n')
    if case == "registry-down":
        file.write_text(file.read_text() + '\n[registries."127.0.0.1:9"]\ninsecure = true\n')
    result = hp("apply", str(file), "--yes", state=state)
    assert result.returncode == 1
    # progress lines, then exactly one error line, last
    errors = [line for line in result.stderr.splitlines() if line.startswith("hp: error: ")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert {"missing-image": "pull", "registry-down": "pull", "crun-error": "crun create"}[case] in result.stderr
    assert leftovers(state, [name]) == []
    images = Layout(str(state)).images_dir
    assert not os.path.exists(images) or case == "crun-error" or os.listdir(images) == []


def test_rm_cleans_up_a_half_made_container(tmp_path, state, registry, test_images) -> None:
    """A container whose crun state is gone (killed outside hp, crashed apply) is removed whole."""
    name = f"half-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\n')
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    subprocess.run(["crun", "--root", Layout(str(state)).crun_root, "delete", "--force", name], check=True)
    assert ps(state)[name]["status"] == "stopped"
    assert hp("rm", name, state=state).returncode == 0
    assert leftovers(state, [name]) == []


def test_apply_without_yes_and_without_a_terminal_refuses(tmp_path, state, registry, test_images) -> None:
    name = f"ask-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\n')
    result = hp("apply", str(file), state=state)
    assert result.returncode == 1 and "--yes" in result.stderr
    assert ps(state) == {}


def test_image_volume_is_filled_from_the_image_and_survives_restart(tmp_path, state, registry, test_images) -> None:
    name = f"vol-{uuid.uuid4().hex[:6]}"
    nosh = f"nosh-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{name}]
image = "{test_images["sleeper"]}"

[containers.{nosh}]
image = "{test_images["noshell"]}"
keep_alive = true
""",
    )
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    # the image's content and ownership: app (1000) can write to its own volume
    assert hp("exec", name, "--", "cat", "/data/seed", state=state).stdout == "from the image\n"
    assert hp("exec", name, "--", "touch", "/data/written", state=state).returncode == 0
    volume = Path(Layout(str(state)).volume_data(image_volume_name(name, "/data")))  # outside the container's directory
    assert (volume / "written").exists() and (volume / "seed").stat().st_uid == 1000
    assert hp("stop", name, "--time", "1", state=state).returncode == 0
    assert hp("start", name, state=state).returncode == 0
    assert hp("exec", name, "--", "ls", "/data/written", state=state).returncode == 0
    # an image without a shell: keep_alive's hp-init needs none (busybox true exits 0: stays up)
    assert ps(state)[nosh]["status"] == "running"
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0
    assert leftovers(state, [name, nosh]) == []


def test_logs_follow_returns_when_the_container_stops(tmp_path, state, registry, test_images) -> None:
    name = f"talk-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{name}]
image = "{test_images["sleeper"]}"
command = ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.2; done; echo bye >&2"]
""",
    )
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    followed = hp("logs", "--follow", name, state=state, timeout=30)
    assert followed.returncode == 0
    assert (followed.stdout, followed.stderr) == ("line 1\nline 2\nline 3\n", "bye\n")
    assert ps(state)[name]["exit_code"] == 0
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_doctor_passes_on_a_prepared_host(state) -> None:
    result = hp("doctor", state=state)
    assert result.returncode == 0, result.stdout
    assert {line.split(":")[0].split(None, 1)[1] for line in result.stdout.splitlines()} >= {
        "root",
        "crun",
        "podman",
        "overlayfs",
        "cgroups",
        "state dir",
        "CNI plugins",
        "default network",
    }
    assert all(line.startswith("ok ") for line in result.stdout.splitlines())


def test_unknown_container_is_one_line(state) -> None:
    for argv in (("logs", "ghost"), ("stop", "ghost"), ("start", "ghost"), ("rm", "ghost")):
        result = hp(*argv, state=state)
        assert result.returncode == 1 and result.stderr == "hp: error: ghost: no such container\n", argv


HOLD_LOCK = """  # argv: the state dir's lock file (Layout.lock), then how long to hold it
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_second_hp_on_the_same_state_fails_at_once_or_waits(tmp_path, state, registry, test_images) -> None:
    name = f"lock-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\n')
    state.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, Layout(str(state)).lock, "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None  # stdout=PIPE
        assert holder.stdout.readline() == "locked\n"
        refused = hp("apply", str(file), "--yes", state=state)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"hp: error: state: state is locked by pid {holder.pid}")
        assert ps(state) == {}
        waited = hp("apply", str(file), "--yes", "--lock-timeout", "30", state=state)
        assert waited.returncode == 0, waited.stderr
        assert ps(state)[name]["status"] == "running"
    finally:
        holder.kill()
        holder.wait()
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_exec_with_a_terminal(tmp_path, state, registry, test_images) -> None:
    name = f"tty-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\n')
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    try:
        code, out = run_in_pty(
            [
                HP,
                "exec",
                "--state-dir",
                str(state),
                "--tty",
                name,
                "--",
                "sh",
                "-c",
                "tty; test -t 0 && test -t 1 && echo both-terminals; exit 7",
            ],
            b"",
            b"\0",
        )
        assert code == 7, out
        assert b"/dev/pts/" in out and b"both-terminals" in out, out
        plain = hp("exec", name, "--", "sh", "-c", "test -t 1 || echo not-a-terminal", state=state)
        assert plain.stdout == "not-a-terminal\n"
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_sysctls_are_set_inside_the_container_only(tmp_path, state, registry, test_images) -> None:
    name = f"sysctl-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\n'
        'network = "none"\n'
        'sysctls = { "net.ipv4.ip_forward" = "1", "kernel.shmmni" = "2048" }\n',
    )
    with open("/proc/sys/kernel/shmmni") as f:
        host_shmmni = f.read()
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        inside = hp(
            "exec",
            name,
            "--",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/shmmni",
            "/proc/sys/net/ipv4/ping_group_range",
            state=state,
            check=True,
        ).stdout.split()
        assert inside == ["1", "2048", "0", "0"]  # and podman's default: root inside may ping
        with open("/proc/sys/kernel/shmmni") as f:
            assert f.read() == host_shmmni  # the host's own is untouched
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_the_container_starts_with_podmans_umask_whatever_hps_caller_has(
    tmp_path, state, registry, test_images
) -> None:
    """process.user.umask 0022, as podman writes it: without it the runtime passes on the umask of whoever
    ran hp apply (077 here), and files the service creates would get modes nobody chose."""
    name = f"umask-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path, registry, f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\nnetwork = "none"\n'
    )
    caller = os.umask(0o077)
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        for pid in ("1", "self"):  # the container's own process, and one hp exec starts
            status = hp("exec", name, "--", "cat", f"/proc/{pid}/status", state=state, check=True).stdout
            assert "Umask:\t0022\n" in status, status
    finally:
        os.umask(caller)
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
