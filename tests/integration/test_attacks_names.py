"""Attacks through names and the state dir (issue 9, items 2, 5, 9a-c), against the real hp:

- a hostile NAME on the command line (`../../victim`, `.`, `a/b`, ...) is one line, exit 1, and
  nothing outside the state dir (nor the container that is there) is touched;
- a state dir that another user could change (owned by them, writable by group or others, below
  a directory they own or may write to without the sticky bit, a foreign or writable bin/) is
  refused by every command, one line, and `hp doctor` reports it; nothing is created in it;
- a helper planted in STATE/bin is never run, and never deleted either;
- `hp plan --emit` writes 0600 files in 0700 directories, and never through a symlink.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from compiler.layout import Layout

from ..needs import missing
from .hprun import HP, hp, leftovers, ps, write_file

pytestmark = pytest.mark.integration

NOBODY = 65534
HOSTILE = [
    "../../victim",
    "../victim",
    ".",
    "..",
    "a/b",
    "../../victim/",
    "-victim",
    "victim\n",
    "vic tim",
    "x" * 65,
    "_victim",
    "ví",
]


def _require_root() -> None:
    if os.geteuid() != 0:
        missing("root")


def snapshot(root: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every path under root (and root) with its mode, owner and content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for path in [Path(dirpath)] + [Path(dirpath, n) for n in dirnames + filenames]:
            info = path.lstat()
            content = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
            out[str(path)] = (info.st_mode, info.st_uid, info.st_size, content)
    return out


def run_hp(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([HP, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("hp: error: ") and result.stderr.count("\n") == 1, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


def assert_ends_in_one_error(result: subprocess.CompletedProcess, *parts: str) -> None:
    """apply says what it does on stderr, then its one error line."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hp: error: ")]
    assert len(errors) == 1 and result.stderr.endswith(errors[0] + "\n"), result.stderr
    for part in parts:
        assert part in errors[0], errors[0]


def one_container(tmp_path: Path, registry, name: str, image: str, extra: str = "") -> Path:
    """hp.toml with one container, on no network (tests of other parts may hold the default bridge)."""
    return write_file(tmp_path, registry, f'[containers.{name}]\nimage = "{image}"\nnetwork = "none"\n{extra}')


def make_victim(path: Path) -> None:
    """A directory that looks like a container's to anything that would build paths from a name."""
    (path / "bundle").mkdir(parents=True)
    for name, text in (
        ("exit", "0\n"),
        ("pid", "1\n"),
        ("container.json", "{}"),
        ("log", "mine\n"),
        ("bundle/config.json", "{}"),
    ):
        (path / name).write_text(text)


# ---------------------------------------------------------------- hostile names


def test_hostile_names_touch_nothing(tmp_path, state, registry, test_images) -> None:
    name = f"keep-{uuid.uuid4().hex[:6]}"
    file = one_container(tmp_path, registry, name, test_images["sleeper"])
    victim = tmp_path / "victim"  # STATE/containers/../../victim and STATE/crun/../../victim
    make_victim(victim)
    before = snapshot(victim)
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        pid = ps(state)[name]["pid"]
        containers = Layout(str(state)).containers_dir
        entries = sorted(os.listdir(containers))
        for command in (["rm"], ["rm", "--force"], ["start"], ["stop", "--time", "0"], ["logs"], ["exec"]):
            for bad in HOSTILE:
                tail = ["--", "true"] if command == ["exec"] else []
                result = run_hp([*command, "--state-dir", str(state), "--", bad, *tail])
                assert_one_line(result, "invalid container name")
                assert snapshot(victim) == before, (command, bad)
                assert sorted(os.listdir(containers)) == entries, (command, bad)
        row = ps(state)[name]
        assert (row["status"], row["pid"]) == ("running", pid)
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []
    assert snapshot(victim) == before


# ---------------------------------------------------------------- the state dir's owner and mode


def _owned_by_nobody(state: Path) -> None:
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)


def _world_writable(state: Path) -> None:
    state.mkdir()
    state.chmod(0o777)


def _group_writable(state: Path) -> None:
    state.mkdir()
    state.chmod(0o770)


def _parent_owned_by_nobody(state: Path) -> None:
    os.chown(state.parent, NOBODY, NOBODY)
    state.mkdir(mode=0o700)


def _parent_writable_not_sticky(state: Path) -> None:
    state.parent.chmod(0o777)


def _parent_a_foreign_symlink(state: Path) -> None:
    state.parent.rmdir()
    (state.parent.parent / "real").mkdir()
    state.parent.symlink_to(state.parent.parent / "real")
    os.lchown(state.parent, NOBODY, NOBODY)  # in a sticky /tmp, its owner could point it elsewhere


def _bin(state: Path) -> Path:
    return Path(Layout(str(state)).bin_dir)


def _bin_world_writable(state: Path) -> None:
    state.mkdir(mode=0o700)
    _bin(state).mkdir()
    _bin(state).chmod(0o777)


def _bin_owned_by_nobody(state: Path) -> None:
    state.mkdir(mode=0o700)
    _bin(state).mkdir(mode=0o700)
    os.chown(_bin(state), NOBODY, NOBODY)


def _containers_a_symlink(state: Path) -> None:
    state.mkdir(mode=0o700)
    (state.parent / "elsewhere").mkdir()
    Path(Layout(str(state)).containers_dir).symlink_to(state.parent / "elsewhere")


UNSAFE = [
    (_owned_by_nobody, "state", "owned by uid 65534"),
    (_world_writable, "state", "writable by group or others"),
    (_group_writable, "state", "writable by group or others"),
    (_parent_owned_by_nobody, "parent", "owned by uid 65534"),
    (_parent_writable_not_sticky, "parent", "writable by group or others and not sticky"),
    (_parent_a_foreign_symlink, "parent", "owned by uid 65534"),
    (_bin_world_writable, "state/bin", "writable by group or others"),
    (_bin_owned_by_nobody, "state/bin", "owned by uid 65534"),
    (_containers_a_symlink, "state/containers", "a symlink"),
]
COMMANDS = [
    ["plan", "FILE"],
    ["plan", "FILE", "--destroy"],
    ["apply", "FILE", "--yes"],
    ["destroy", "FILE", "--yes"],
    ["start", "web"],
    ["stop", "web"],
    ["rm", "--force", "web"],
    ["logs", "web"],
    ["exec", "web", "--", "true"],
    ["ps"],
    ["show"],
]


@pytest.mark.parametrize("case", UNSAFE, ids=[c[0].__name__.strip("_") for c in UNSAFE])
def test_an_unsafe_state_dir_is_refused_by_every_command(tmp_path, case) -> None:
    _require_root()
    make, culprit, problem = case
    base = tmp_path / "sticky"  # like /tmp: world-writable and sticky, which is fine
    base.mkdir()
    base.chmod(0o1777)
    state = base / "parent" / "state"
    state.parent.mkdir()
    make(state)
    culprit_path = {"state": state, "parent": state.parent}.get(culprit, base / "parent" / culprit)
    file = tmp_path / "hp.toml"
    file.write_text("")
    before = snapshot(base)
    for command in COMMANDS:
        args = [str(file) if word == "FILE" else word for word in command]
        result = run_hp([args[0], "--state-dir", str(state), *args[1:]])
        assert_one_line(result, str(culprit_path), problem)
        assert snapshot(base) == before, command  # no lock file, no directory
    doctor = run_hp(["doctor", "--state-dir", str(state)])
    assert doctor.returncode == 1
    [line] = [line for line in doctor.stdout.splitlines() if "state dir:" in line]
    assert line.startswith(f"FIX  state dir: {culprit_path}") and problem in line, line
    assert snapshot(base) == before


def test_a_state_dir_in_a_sticky_directory_is_fine_and_made_private(tmp_path) -> None:
    _require_root()
    base = tmp_path / "sticky"
    base.mkdir()
    base.chmod(0o1777)
    state = base / "state"
    file = tmp_path / "hp.toml"
    file.write_text("")
    result = run_hp(["plan", str(file), "--state-dir", str(state)])
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    doctor = run_hp(["doctor", "--state-dir", str(state)])
    assert f"ok   state dir: {state}\n" in doctor.stdout


# ---------------------------------------------------------------- planted helpers


def helper_path(state: Path, program: str) -> Path:
    """Where an older hp built its helpers, in the state dir: hp runs nothing from there now."""
    return _bin(state) / f"{program}-{hashlib.sha256(program.encode()).hexdigest()[:16]}"


def plant(path: Path, marker: Path, how: str) -> None:
    script = f"#!/bin/sh\necho planted >> {marker}\n"
    if how == "symlink":
        real = path.parent.parent.parent / f"real-{path.name}"
        real.write_text(script)
        real.chmod(0o755)
        path.symlink_to(real)
        return
    path.write_text(script)
    if how == "nobody":
        path.chmod(0o755)
        os.chown(path, NOBODY, NOBODY)
    else:
        path.chmod(0o777)  # root's, but anyone could have rewritten it


@pytest.mark.parametrize("how", ["nobody", "writable", "symlink"])
def test_a_planted_helper_is_never_run(tmp_path, state, registry, test_images, how) -> None:
    """Programs planted in the state dir's bin/ (where an older hp built its helpers) are never
    run: conmon is the system's, hp-init comes from hp's install; bin/ is left as it was."""
    name = f"plant-{uuid.uuid4().hex[:6]}"
    file = one_container(tmp_path, registry, name, test_images["sleeper"], "keep_alive = true\n")
    marker = tmp_path / "marker"
    state.mkdir(mode=0o700)
    _bin(state).mkdir(mode=0o700)
    planted = [helper_path(state, p) for p in ("hp-init", "hp-monitor")]
    for path in planted:
        plant(path, marker, how)
    before = snapshot(_bin(state))
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        assert ps(state)[name]["status"] == "running"
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert not marker.exists()
    assert snapshot(_bin(state)) == before  # neither run nor removed
    assert leftovers(state, [name]) == []


def test_a_state_dir_made_by_another_user_never_runs_their_helper(tmp_path, registry, test_images) -> None:
    """The issue's case: another user made STATE in a world-writable directory and put a
    monitor in bin/; root's hp apply must refuse the state dir, not run the monitor."""
    _require_root()
    name = f"foreign-{uuid.uuid4().hex[:6]}"
    file = one_container(tmp_path, registry, name, test_images["sleeper"])
    marker = tmp_path / "marker"
    base = tmp_path / "shared"
    base.mkdir()
    base.chmod(0o1777)
    state = base / "state"
    state.mkdir()
    _bin(state).mkdir()
    for path in [helper_path(state, p) for p in ("hp-init", "hp-monitor")]:
        plant(path, marker, "nobody")
    for path in (state, _bin(state)):
        os.chown(path, NOBODY, NOBODY)
    result = hp("apply", str(file), "--yes", state=state)
    assert_one_line(result, str(state), "owned by uid 65534")
    assert not marker.exists()
    assert sorted(os.listdir(state)) == [_bin(state).name]


# ---------------------------------------------------------------- plan --emit


def test_emit_writes_private_files(tmp_path, state, registry, test_images) -> None:
    name = f"emit-{uuid.uuid4().hex[:6]}"
    file = one_container(tmp_path, registry, name, test_images["sleeper"], 'env = { TOKEN = "secret" }\n')
    out = tmp_path / "review"
    hp("plan", str(file), "--emit", str(out), state=state, check=True)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / name).stat().st_mode) == 0o700
    files = sorted(os.listdir(out / name))
    assert "config.json" in files and b"TOKEN=secret" in (out / name / "config.json").read_bytes()
    for entry in files:
        assert stat.S_IMODE((out / name / entry).stat().st_mode) == 0o600, entry

    # DIR/NAME a symlink: refused, and nothing written where it points
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / name).symlink_to(elsewhere)
    result = hp("plan", str(file), "--emit", str(other), state=state)
    assert_one_line(result, "--emit", "not a directory")
    assert os.listdir(elsewhere) == []
