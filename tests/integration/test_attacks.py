"""The standing attack-and-fault suite (issue 9): hostile images, and hp killed during apply and
destroy by its whole process group, as Ctrl-C on a terminal or a service manager's stop does.
After every kill the next hp run converges and `leaks.leaks` counts nothing of any kind.

Its siblings cover the other attacks: test_attacks_names.py (hostile names and paths,
foreign-owned state dirs), test_attacks_network.py (foreign interfaces, interrupted
teardown), test_attacks_ports.py (host ports in use), test_attacks_runtime.py (failed
creates, registries that hang, containers that die at exec)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .hprun import HP, container_dirs, hp, mounts_under, ps, write_file
from .leaks import host_snapshot, leaks
from .registry import APPLETS, BUSYBOX, _entry, podman_rmi, require_podman
from .test_hp_network import free_subnet, network_toml

pytestmark = pytest.mark.integration


def hp_in_own_group(*args: str, state: Path, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run hp as the leader of a process group of its own (so a group signal reaches only hp
    and its children, never pytest); returns (exit status, stderr)."""
    process = subprocess.Popen(
        [HP, *args, "--state-dir", str(state)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **env},
    )
    try:
        _, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, err


def stack_toml(image: str, name: str, network: str, bridge: str, extra: str = "") -> str:
    return network_toml(network, free_subnet(), bridge) + (
        f'[containers.{name}]\nimage = "{image}"\nnetwork = "{network}"\n{extra}\n'
    )


# ---- killed during apply and destroy --------------------------------------------------------

APPLY_POINTS = ["after-mount", "after-netns", "after-cni-add", "after-crun-create", "after-start"]
DESTROY_POINTS = ["removing", "after-stop", "after-gone"]
SIGNALS = ["KILL", "INT"]


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("point", APPLY_POINTS)
def test_apply_killed_by_group_signal_converges_and_leaks_nothing(
    point, sig, tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    name, bridge = f"k-{s}", f"hpk{s}"
    file = write_file(tmp_path, registry, stack_toml(test_images["sleeper"], name, "killnet", bridge))
    before = host_snapshot()
    try:
        code, err = hp_in_own_group(
            "apply",
            str(file),
            "--yes",
            state=state,
            env={"HP_KILL_AT": point, "HP_KILL_SIGNAL": sig, "HP_KILL_GROUP": "1"},
        )
        if sig == "KILL":
            assert code == -signal.SIGKILL, (code, err)
        else:  # unwound: one line, the shell's status for SIGINT, never success
            assert code == 128 + signal.SIGINT, (code, err)
            assert err.splitlines()[-1] == "hp: interrupted by SIGINT", err
        finished = hp("apply", str(file), "--yes", state=state)
        assert finished.returncode == 0, finished.stderr
        assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0
        assert ps(state)[name]["status"] == "running"
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr
    assert leaks(state, before) == {}
    assert not os.path.exists(f"/sys/class/net/{bridge}")  # hp made it, hp removed it


@contextlib.contextmanager
def published_container(tmp_path: Path, state: Path, registry, test_images) -> Iterator[Path]:
    """A container on its own network with a published port, applied; at the end (even on a
    failure) one more destroy, which must succeed and leave nothing."""
    s = uuid.uuid4().hex[:6]
    bridge = f"hpx{s}"
    file = write_file(
        tmp_path,
        registry,
        stack_toml(test_images["stopsig"], f"d-{s}", "killnet", bridge, f'ports = ["127.0.0.1:{_free_port()}:8080"]'),
    )
    before = host_snapshot()
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        yield file
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr
    assert leaks(state, before) == {}
    assert not os.path.exists(f"/sys/class/net/{bridge}")  # hp made it, hp removed it
    assert hp("plan", str(file), "--destroy", "--detailed-exitcode", state=state).returncode == 0


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("point", DESTROY_POINTS)
def test_destroy_killed_by_group_signal_is_finished_by_the_next(
    point, sig, tmp_path, state, registry, test_images
) -> None:
    with published_container(tmp_path, state, registry, test_images) as file:
        code, err = hp_in_own_group(
            "destroy",
            str(file),
            "--yes",
            state=state,
            env={"HP_KILL_AT": point, "HP_KILL_SIGNAL": sig, "HP_KILL_GROUP": "1"},
        )
        assert code in (-signal.SIGKILL, 128 + signal.SIGINT), (code, err)


@pytest.mark.parametrize("delay", [0.15, 0.4, 0.8])
def test_destroy_interrupted_at_any_moment_is_finished_by_the_next(
    delay, tmp_path, state, registry, test_images
) -> None:
    """Ctrl-C of the process group at a moment chosen by the clock, not by a checkpoint: wherever
    it lands (a CNI plugin's DEL, an umount, crun), the next destroy leaves nothing."""
    with published_container(tmp_path, state, registry, test_images) as file:
        process = subprocess.Popen(
            [HP, "destroy", str(file), "--yes", "--state-dir", str(state)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert process.returncode in (0, 128 + signal.SIGINT), (process.returncode, err)


def _free_port() -> int:
    from .test_hp_network import free_port

    return free_port()


# ---- hostile images ----------------------------------------------------------------------------


def hostile_tar(path: Path, entries: list[tarfile.TarInfo]) -> Path:
    """busybox and its applets, then `entries` (the hostile part)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_entry("bin", tarfile.DIRTYPE, 0o755))
        data = BUSYBOX.read_bytes()
        tar.addfile(_entry("bin/busybox", tarfile.REGTYPE, 0o755, size=len(data)), io.BytesIO(data))
        for applet in APPLETS:
            tar.addfile(_entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox"))
        for d in ("etc", "tmp", "proc", "sys", "dev", "root"):
            tar.addfile(_entry(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755))
        for entry in entries:
            tar.addfile(entry)
    return path


@pytest.fixture
def local_image(tmp_path) -> Iterator:
    """build(name, entries, changes) -> a local image reference (podman import); removed at the end."""
    require_podman()
    made: list[str] = []

    def build(name: str, entries: list[tarfile.TarInfo], changes: tuple[str, ...] = ()) -> str:
        ref = f"localhost/hp-attack-{uuid.uuid4().hex[:8]}/{name}:1"
        tar = hostile_tar(tmp_path / f"{name}.tar", entries)
        argv = ["podman", "import", "--quiet"]
        for change in ('CMD ["/bin/sleep", "3600"]', *changes):
            argv += ["--change", change]
        made.append(ref)
        subprocess.run([*argv, str(tar), ref], check=True, capture_output=True, timeout=60)
        return ref

    yield build
    podman_rmi(*made)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("hp: error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[-1]


@pytest.fixture
def victim(tmp_path) -> Iterator[Path]:
    """A host directory with a file, at a path an image may name in a symlink."""
    path = Path(f"/root/hp-attack-victim-{uuid.uuid4().hex[:8]}")
    path.mkdir()
    (path / "precious").write_text("host data\n")
    yield path
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def _intact(victim: Path) -> None:
    assert sorted(os.listdir(victim)) == ["precious"]
    assert (victim / "precious").read_text() == "host data\n"
    assert not any(m.startswith(str(victim)) for m in mounts_under(Path("/")))


@pytest.mark.parametrize("etc_file", ["passwd", "group"])
@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_an_etc_file_that_is_a_fifo_or_device_is_refused_without_blocking(
    etc_file, kind, tmp_path, state, local_image
) -> None:
    entry = _entry(f"etc/{etc_file}", tarfile.FIFOTYPE if kind == "fifo" else tarfile.CHRTYPE, 0o644)
    if kind == "chardev":
        entry.devmajor, entry.devminor = 1, 5  # /dev/zero: endless if read
    image = local_image(f"{kind}-{etc_file}", [entry], ("USER 0:0",))
    file = tmp_path / "hp.toml"
    file.write_text(f'[containers.hostile]\nimage = "{image}"\nnetwork = "none"\n')
    line = _one_line_error(hp("apply", str(file), "--yes", state=state, timeout=60))
    assert f"/etc/{etc_file}" in line
    assert container_dirs(state) == []


def test_symlinks_in_an_image_never_reach_the_host(tmp_path, state, local_image, victim) -> None:
    """A VOLUME, the WorkingDir and /etc/hosts that are symlinks to a host path: hp copies
    nothing from the host, mounts nothing onto it, and the container writes inside itself."""
    entries = [
        _entry("data", tarfile.SYMTYPE, 0o777, linkname=str(victim)),
        _entry("w", tarfile.SYMTYPE, 0o777, linkname=str(victim)),
        _entry("etc/hosts", tarfile.SYMTYPE, 0o777, linkname=f"{victim}/precious"),
    ]
    image = local_image("symlinks", entries, ("VOLUME /data", "WORKDIR /w", "USER 0:0"))
    file = tmp_path / "hp.toml"
    file.write_text(
        f'[containers.hostile]\nimage = "{image}"\nnetwork = "none"\n'
        'command = ["/bin/sh", "-c", "echo pwned > x; echo pwned > /data/y; sleep 3600"]\n'
    )
    try:
        result = hp("apply", str(file), "--yes", state=state, timeout=60)
        if result.returncode != 0:
            _one_line_error(result)
        else:
            assert ps(state)["hostile"]["status"] in ("running", "stopped")
        _intact(victim)
    finally:
        hp("destroy", str(file), "--yes", state=state)
    _intact(victim)
