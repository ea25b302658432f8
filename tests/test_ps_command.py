"""`hp ps`'s quick path (executor/ps_command.py) reads a command line exactly as the typer CLI
does, or leaves it to the CLI: never a different reading. The reference is click's own parse of
the command typer builds from executor/cli.py. tests/integration/test_ps.py compares the two
paths' output on real containers."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executor.ps_command import FLAG, VALUE_OPTION, parse_args

from .quick_paths import click_params as click_params_of
from .quick_paths import declared_options, run_hp


@pytest.fixture(autouse=True)
def no_state_dir_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """click reads $HP_STATE_DIR into state_dir; the quick path leaves that to state_layout."""
    monkeypatch.delenv("HP_STATE_DIR", raising=False)


def click_params(args: list[str]) -> dict[str, object] | None:
    """click's parameters for `hp ps ARGS`, or None when click refuses the line."""
    return click_params_of("ps", args)


ORDINARY = {
    "nothing": ([], {"json_output": False, "state_dir": None}),
    "json": (["--json"], {"json_output": True, "state_dir": None}),
    "state-dir": (["--state-dir", "/srv/hp"], {"json_output": False, "state_dir": "/srv/hp"}),
    "equals": (["--state-dir=/srv/hp", "--json"], {"json_output": True, "state_dir": "/srv/hp"}),
    "empty-value": (["--state-dir", ""], {"json_output": False, "state_dir": ""}),
    "last-one-wins": (["--state-dir", "/a", "--state-dir=/b"], {"json_output": False, "state_dir": "/b"}),
    "json-twice": (["--json", "--json"], {"json_output": True, "state_dir": None}),
}

LEFT_TO_TYPER = {
    "help": ["--help"],
    "short-help": ["-h"],
    "value-missing": ["--state-dir"],
    "dash-value": ["--state-dir", "-x"],
    "unknown-option": ["--all"],
    "an-argument": ["web"],
    "double-dash": ["--"],
    "flag-with-value": ["--json=yes"],
    "abbreviated": ["--state", "/srv/hp"],
}


@pytest.mark.parametrize("args,expected", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_command_lines_are_read_as_click_reads_them(args, expected):
    assert parse_args(args) == expected
    assert click_params(args) == expected


@pytest.mark.parametrize("args", LEFT_TO_TYPER.values(), ids=LEFT_TO_TYPER.keys())
def test_anything_else_is_left_to_typer(args):
    assert parse_args(args) is None


def test_the_quick_path_knows_every_option_the_cli_declares() -> None:
    assert declared_options("ps") == {FLAG, VALUE_OPTION}


TOKENS = st.sampled_from(["--json", "--state-dir", "--state-dir=", "--state-dir=/x", "/x", "", "-", "--", "-h", "-x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=6))
def test_the_quick_path_never_reads_a_line_differently(args):
    quick = parse_args(args)
    if quick is not None:
        assert click_params(args) == quick


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["table", "json"])
def test_an_ordinary_ps_starts_without_typer_and_prints_what_the_cli_prints(tmp_path, json_flag):
    state = str(tmp_path / "state")  # none yet: hp ps makes nothing
    quick = run_hp("ps", "--state-dir", state, *json_flag)
    full = run_hp("ps", "--state-dir", state, *json_flag, "--")  # `--` is left to typer
    assert quick.returncode == full.returncode == 0, quick.stderr + full.stderr
    assert quick.stderr.split()[-2:] == [b"TYPER", b"False"]
    assert full.stderr.split()[-2:] == [b"TYPER", b"True"]
    assert quick.stdout == full.stdout
    assert quick.stdout.split()[0] == (b"[]" if json_flag else b"NAME")
    assert not (tmp_path / "state").exists()


def test_a_refused_state_dir_is_one_line_and_exit_1_as_in_the_cli():
    quick = run_hp("ps", env={**os.environ, "HP_STATE_DIR": "/proc/1"})
    full = run_hp("ps", "--", env={**os.environ, "HP_STATE_DIR": "/proc/1"})
    assert quick.returncode == full.returncode == 1
    assert quick.stdout == full.stdout == b""
    assert quick.stderr.splitlines()[0] == full.stderr.splitlines()[0]
    assert quick.stderr.splitlines()[0].startswith(b"hp: error: /proc/1")
    assert quick.stderr.split()[-2:] == [b"TYPER", b"False"]
