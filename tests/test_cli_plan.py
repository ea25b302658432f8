"""`hp plan`, `hp apply`, `hp destroy`, `hp show` on bad input, run as real processes: one
error line naming the file and field, the documented exit status, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .needs import missing

HP = Path(sys.executable).parent / "hp"
TIMEOUT = 60  # a guard against a hang, never a speed check


def hp(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    state = () if "--state-dir" in args else ("--state-dir", str(tmp_path / "state"))
    return subprocess.run(
        [str(HP), *args, *state],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(autouse=True)
def as_root() -> None:
    if os.geteuid() != 0:
        missing("root")


BAD = [
    # (name, files to write, argv, exit status, the error line after "hp: error: ")
    ("no-file", {}, ["plan"], 1, "hp.toml: cannot read: No such file or directory"),
    ("bad-toml", {"hp.toml": "[containers.web\n"}, ["plan"], 1, "hp.toml: invalid TOML: "),
    (
        "bad-field",
        {"hp.toml": '[containers.web]\nimage = "a:1"\nmemry = "1g"\n'},
        ["plan"],
        1,
        'hp.toml: containers.web.memry: unknown field (did you mean "memory"?)',
    ),
    (
        "bad-image",
        {"hp.toml": '[containers.web]\nimage = "Bad Image"\n'},
        ["plan"],
        1,
        "hp.toml: containers.web.image: ",
    ),
    (
        "bad-name",
        {"hp.toml": '[containers."a b"]\nimage = "a:1"\n'},
        ["plan"],
        1,
        'hp.toml: containers."a b": invalid container name',
    ),
    ("out-dir-missing", {"hp.toml": ""}, ["plan", "--out", "nowhere/x.plan"], 1, "--out: "),
    ("emit-onto-a-file", {"hp.toml": "", "taken": "x"}, ["plan", "--emit", "taken/dir"], 1, "--emit: "),
    ("apply-no-file", {}, ["apply", "--yes", "other.toml"], 1, "other.toml: cannot read"),
    ("apply-not-a-plan", {"p.plan": '{"format": "hp-plan/1"}'}, ["apply", "p.plan"], 3, "p.plan: not an hp plan file"),
    (
        "apply-other-format",
        {"p.plan": '{"format": "hp-plan/9", "x": 1}'},
        ["apply", "p.plan"],
        3,
        "p.plan: a plan of format 'hp-plan/9'",
    ),
    ("show-edited", {"p.plan": '{"format": "hp-plan/1", "plan": {}}'}, ["show", "p.plan"], 3, "p.plan: "),
    ("destroy-nothing-there", {}, ["destroy", "gone.toml", "--yes"], 0, None),
    ("bad-state-dir", {"hp.toml": ""}, ["plan", "--state-dir", "st,ate"], 1, "--state-dir: "),
]


@pytest.mark.parametrize("name, files, argv, code, line", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, name, files, argv, code, line) -> None:
    for path, text in files.items():
        (tmp_path / path).write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = hp(tmp_path, *argv)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if line is not None:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("hp: error: " + line), result.stderr
    # nothing written; a bad hp.toml is refused before the state dir is even made
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "state") == before
    if name.startswith("bad-") and name != "bad-state-dir":
        assert not (tmp_path / "state").exists()


def test_empty_file_plans_no_changes(tmp_path: Path) -> None:
    (tmp_path / "hp.toml").write_text("")
    result = hp(tmp_path, "plan", "--detailed-exitcode")
    assert result.returncode == 0 and result.stdout == "No changes. The host matches the file.\n"


def test_saved_plan_of_nothing_round_trips(tmp_path: Path) -> None:
    (tmp_path / "hp.toml").write_text("")
    assert hp(tmp_path, "plan", "--out", "p.plan").returncode == 0
    assert oct((tmp_path / "p.plan").stat().st_mode & 0o777) == "0o600"
    shown = hp(tmp_path, "show", "p.plan")
    assert shown.returncode == 0 and shown.stdout.startswith(f"Saved plan for {tmp_path / 'hp.toml'}\n")
    applied = hp(tmp_path, "apply", "p.plan")
    assert applied.returncode == 0 and applied.stderr == "hp: nothing to do\n"
