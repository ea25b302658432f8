"""The state dir's own directories (compiler.layout.Layout.subdirs): hp makes each of them and
creates and deletes in them, so one that is a symlink is refused by every command that uses the
state dir, in one error line, before anything is touched: hp touches only what it made."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.layout import Layout

HP = Path(sys.executable).parent / "hp"
TIMEOUT = 60  # a guard against a hang, never a speed check
FILES = {"apply_log", "lock", "serial"}  # what hp keeps directly in the state dir besides its directories


def test_every_directory_directly_in_the_state_dir_is_a_subdir() -> None:
    """A path Layout gives directly under the state dir is one of its subdirs, or one of its files:
    a new directory (as volumes/ once was) cannot be left out of the check."""
    layout = Layout("/state")
    direct = {
        name
        for name, value in vars(Layout).items()
        if isinstance(value, property) and os.path.dirname(str(getattr(layout, name))) == layout.state_dir
    }
    subdirs = {name for name in direct if getattr(layout, name) in layout.subdirs}
    assert direct - subdirs == FILES
    assert len(subdirs) == len(layout.subdirs) == len(set(layout.subdirs))


def tree(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every path under root (symlinks not followed) with its type, mode, size and link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            link = os.readlink(path) if path.is_symlink() else ""
            out[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, link)
    return out


def hp(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HP), *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT
    )


def assert_refused(proc: subprocess.CompletedProcess[str], link: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1 and proc.stdout == "", (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr == f"hp: error: {link}: a symlink in the state dir (hp makes none): remove it\n"


@pytest.fixture
def linked(tmp_path: Path):
    """A state dir (0700, ours) in tmp_path, and elsewhere/: a directory a symlink may point to,
    holding what looks like a volume named `data`."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data" / "_data").mkdir(parents=True)
    (elsewhere / "data" / "_data" / "keep").write_text("not hp's\n")
    (tmp_path / "hp.toml").write_text("")
    return state, elsewhere


VOLUME_COMMANDS = [
    ["volume", "ls"],
    ["volume", "inspect", "data"],
    ["volume", "rm", "data"],
    ["destroy", "hp.toml", "--volumes", "--yes"],
    ["apply", "hp.toml", "--yes"],
    ["plan", "hp.toml"],
    ["ps"],
]


@pytest.mark.parametrize("command", VOLUME_COMMANDS, ids=["-".join(c[:2]) for c in VOLUME_COMMANDS])
def test_a_symlinked_volumes_dir_is_refused_and_nothing_changes(tmp_path: Path, linked, command) -> None:
    state, elsewhere = linked
    volumes = Layout(str(state)).volumes_dir
    os.symlink(elsewhere, volumes)
    before = tree(tmp_path)
    assert_refused(hp([*command, "--state-dir", str(state)], tmp_path), volumes)
    assert tree(tmp_path) == before  # the volume out there kept, no lock file, nothing made


@pytest.mark.parametrize("subdir", [os.path.basename(d) for d in Layout("/state").subdirs])
def test_each_state_subdir_as_a_symlink_is_refused(tmp_path: Path, linked, subdir: str) -> None:
    state, elsewhere = linked
    os.symlink(elsewhere, state / subdir)
    before = tree(tmp_path)
    assert_refused(hp(["ps", "--state-dir", str(state)], tmp_path), str(state / subdir))
    assert tree(tmp_path) == before
