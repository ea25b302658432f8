"""`hp ps` asks crun once for every container (`crun list`), and still answers, as `hp plan` does,
when crun's list fails whole because one state under hp's crun root cannot be read; its quick path
prints what the typer CLI prints."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from compiler import commands
from compiler.layout import Layout

from .hprun import HP, eventually, hp, leftovers, ps, write_file

pytestmark = pytest.mark.integration


def test_ps_shows_each_status_from_one_list_and_survives_a_broken_crun_state(
    tmp_path: Path, state: Path, registry, test_images: dict[str, str]
) -> None:
    up, down = f"psup-{uuid.uuid4().hex[:6]}", f"psdown-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        f'[containers.{up}]\nimage = "{test_images["sleeper"]}"\nnetwork = "none"\n'
        f'[containers.{down}]\nimage = "{test_images["exiter"]}"\nnetwork = "none"\nmust_run = false\n',
    )
    hp("apply", str(file), "--yes", state=state, check=True)
    eventually(lambda: ps(state)[down]["status"] == "stopped", f"{down} to exit")
    expected = {up: ("running", None), down: ("stopped", 3)}
    assert {n: (r["status"], r["exit_code"]) for n, r in ps(state).items()} == expected
    for flag in ([], ["--json"]):  # the quick path (executor/ps_command.py) prints what typer's does
        quick = subprocess.run([HP, "ps", "--state-dir", str(state), *flag], capture_output=True, timeout=60)
        full = subprocess.run([HP, "ps", "--state-dir", str(state), *flag, "--"], capture_output=True, timeout=60)
        assert quick.returncode == full.returncode == 0, quick.stderr + full.stderr
        assert quick.stdout == full.stdout and up.encode() in quick.stdout

    layout = Layout(str(state))
    broken = Path(layout.crun_root) / "broken"  # not a name hp gives: only crun reads it
    broken.mkdir()
    try:
        (broken / "status").write_text("not json")
        listing = subprocess.run(commands.crun_list(layout), capture_output=True, timeout=30)
        assert listing.returncode != 0, "crun list no longer fails on an unreadable state: this test tests nothing"
        assert {n: (r["status"], r["exit_code"]) for n, r in ps(state).items()} == expected
        assert ps(state)[up]["pid"] is not None
        assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0
    finally:
        shutil.rmtree(broken)
    hp("destroy", str(file), "--yes", state=state, check=True)
    assert leftovers(state, [up, down]) == []
