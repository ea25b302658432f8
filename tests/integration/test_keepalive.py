"""keep_alive for real: hp-init built static, a busybox rootfs without a shell
in PATH for hp-init's own sake, and crun running the compiled config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from compiler import ImageFacts, compile_container, encode_config, parse_hp_file, parse_image_config
from executor.init import build_argv

from ..host_facts import TEST_HOST
from ..needs import missing

pytestmark = pytest.mark.integration

IMAGE = {
    "os": "linux",
    "architecture": "amd64",
    "config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["true"], "WorkingDir": "/"},
}


@pytest.fixture(scope="module")
def hp_init(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        missing("root")
    if not shutil.which("cc"):
        missing("cc (gcc) to build hp-init")
    out = tmp_path_factory.mktemp("init") / "hp-init"
    subprocess.run(build_argv(str(out)), check=True)
    return out


@pytest.fixture
def crun_root(tmp_path):
    if not shutil.which("crun"):
        missing("crun")
    if not Path("/bin/busybox").is_file():
        missing("busybox-static (/bin/busybox)")
    root = tmp_path / "crun"
    created: list[str] = []
    yield root, created
    for name in created:
        subprocess.run(["crun", "--root", str(root), "delete", "--force", name], capture_output=True)


def make_bundle(tmp_path: Path, hp_init: Path, name: str, command: list[str]) -> Path:
    bundle = tmp_path / name
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
    (bundle / "rootfs" / "etc").mkdir()
    (bundle / "rootfs" / "tmp").mkdir(mode=0o1777)
    for file in ("hostname", "hosts", "resolv.conf"):
        (bundle / file).write_text("")
    shutil.copy(hp_init, bundle / "hp-init")
    toml = f'[containers.{name}]\nimage = "localhost/ka:1"\nkeep_alive = true\ncommand = {json.dumps(command)}\n'
    spec = parse_hp_file(toml).containers[name]
    config = compile_container(name, spec, ImageFacts(parse_image_config(json.dumps(IMAGE))), host=TEST_HOST)
    (bundle / "config.json").write_bytes(encode_config(config))
    return bundle


def state(root: Path, name: str) -> str:
    out = subprocess.run(["crun", "--root", str(root), "state", name], capture_output=True, text=True)
    return json.loads(out.stdout)["status"] if out.returncode == 0 else "absent"


def wait_for(root: Path, name: str, status: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while (now := state(root, name)) != status and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_exit_nonzero_stops_the_container_with_that_status(tmp_path, hp_init, crun_root) -> None:
    root, created = crun_root
    name = f"hp-ka-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path, hp_init, name, ["sh", "-c", "echo failing; exit 3"])
    created.append(name)
    run = subprocess.run(
        ["crun", "--root", str(root), "run", "--bundle", str(bundle), name], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 3, run.stderr
    assert run.stdout == "failing\n"


def test_exit_zero_keeps_the_container_running_until_stopped(tmp_path, hp_init, crun_root) -> None:
    root, created = crun_root
    name = f"hp-ka-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path, hp_init, name, ["sh", "-c", "echo done > /tmp/marker; exit 0"])
    created.append(name)
    # the container inherits crun's stdio: a pipe here would never reach EOF
    with open(tmp_path / "output", "wb") as output:
        subprocess.run(
            ["crun", "--root", str(root), "run", "--detach", "--bundle", str(bundle), name],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            timeout=30,
        )
    assert wait_for(root, name, "running") == "running"
    # the real command ran and finished: its marker exists and it is no longer a process
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = subprocess.run(
            ["crun", "--root", str(root), "exec", name, "/bin/busybox", "cat", "/tmp/marker"],
            capture_output=True,
            text=True,
        )
        if probe.stdout == "done\n":
            break
        time.sleep(0.05)
    assert probe.stdout == "done\n"
    ps = subprocess.run(
        ["crun", "--root", str(root), "exec", name, "/bin/busybox", "ps", "-o", "pid,args"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    processes = [line.split(None, 1) for line in ps.splitlines()[1:]]
    others = [p for p in processes if not p[1].startswith("/bin/busybox ps")]
    assert [pid for pid, _ in others] == ["1"] and others[0][1].startswith("/run/hp-init --keep-alive -- ")
    time.sleep(0.3)
    assert state(root, name) == "running"
    subprocess.run(["crun", "--root", str(root), "kill", name, "TERM"], check=True)
    assert wait_for(root, name, "stopped") == "stopped"


def test_an_image_without_a_shell_still_works(tmp_path, hp_init, crun_root) -> None:
    """hp-init needs nothing from the image: the command is busybox itself, no /bin/sh."""
    root, created = crun_root
    name = f"hp-ka-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path, hp_init, name, ["false"])
    assert not (bundle / "rootfs" / "bin" / "sh").exists()
    created.append(name)
    run = subprocess.run(
        ["crun", "--root", str(root), "run", "--bundle", str(bundle), name], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 1, run.stderr


def test_a_missing_command_is_a_clear_error(tmp_path, hp_init, crun_root) -> None:
    root, created = crun_root
    name = f"hp-ka-{uuid.uuid4().hex[:8]}"
    bundle = make_bundle(tmp_path, hp_init, name, ["true"])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["/run/hp-init", "--keep-alive", "--", "/no/such/program"]
    (bundle / "config.json").write_text(json.dumps(config))
    created.append(name)
    run = subprocess.run(
        ["crun", "--root", str(root), "run", "--bundle", str(bundle), name], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 127
    assert "hp-init: cannot run /no/such/program: No such file or directory" in run.stderr
