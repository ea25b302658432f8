"""`hp compile`'s quick path (executor/compile_command.py) reads a command line exactly as the
typer CLI does, or leaves it to the CLI: never a different reading.

The reference is click's own parse of the command typer builds from executor/cli.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executor.compile_command import OPTIONS, SHORT_OPTIONS, parse_args

from .quick_paths import click_params as click_params_of
from .quick_paths import declared_options
from .quick_paths import run_hp as run_hp_in

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def click_params(args: list[str]) -> dict[str, object] | None:
    """click's parameters for `hp compile ARGS` (those given), or None when click refuses the line."""
    params = click_params_of("compile", args)
    return None if params is None else {k: v for k, v in params.items() if v is not None}


ORDINARY = {
    "long-options": (
        ["hp.toml", "--container", "web", "--image-config", "i.json"],
        {"file": "hp.toml", "container": "web", "image_config": "i.json"},
    ),
    "short-options": (
        ["-c", "web", "-i", "i.json", "hp.toml"],
        {"file": "hp.toml", "container": "web", "image_config": "i.json"},
    ),
    "joined-short": (
        ["-cweb", "-ii.json", "hp.toml"],
        {"file": "hp.toml", "container": "web", "image_config": "i.json"},
    ),
    "equals": (
        ["--image-config=i.json", "hp.toml", "--arch=aarch64", "--kernel=6.1.0"],
        {"file": "hp.toml", "image_config": "i.json", "arch": "aarch64", "kernel": "6.1.0"},
    ),
    "last-one-wins": (["-i", "a.json", "-i", "b.json", "f"], {"file": "f", "image_config": "b.json"}),
    "stdin-file": (["-", "-i", "i.json"], {"file": "-", "image_config": "i.json"}),
    "stdin-value": (["f", "-i", "-"], {"file": "f", "image_config": "-"}),
    "empty-value": (["f", "-i", "i.json", "--passwd", ""], {"file": "f", "image_config": "i.json", "passwd": ""}),
    "every-option": (
        [
            "f",
            "-i",
            "i",
            "-c",
            "c",
            "--passwd",
            "p",
            "--group",
            "g",
            "--netns",
            "/n",
            "--seccomp-profile",
            "s",
            "--kernel",
            "k",
            "--arch",
            "a",
        ],
        {
            "file": "f",
            "image_config": "i",
            "container": "c",
            "passwd": "p",
            "group": "g",
            "netns": "/n",
            "seccomp_profile": "s",
            "kernel": "k",
            "arch": "a",
        },
    ),
}

LEFT_TO_TYPER = {
    "help": ["--help"],
    "short-help": ["f", "-i", "i.json", "-h"],
    "no-file": ["-i", "i.json"],
    "no-image-config": ["hp.toml"],
    "value-missing": ["hp.toml", "-i"],
    "two-files": ["a.toml", "b.toml", "-i", "i.json"],
    "unknown-option": ["f", "-i", "i.json", "--verbose"],
    "double-dash": ["-i", "i.json", "--", "f"],
    "dash-value": ["f", "-i", "i.json", "-c", "-web"],
    "abbreviated": ["f", "--image", "i.json"],
}


@pytest.mark.parametrize("args,expected", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_command_lines_are_read_as_click_reads_them(args, expected):
    assert parse_args(args) == expected
    assert click_params(args) == expected


@pytest.mark.parametrize("args", LEFT_TO_TYPER.values(), ids=LEFT_TO_TYPER.keys())
def test_anything_else_is_left_to_typer(args):
    assert parse_args(args) is None


def test_the_quick_path_knows_every_option_the_cli_declares() -> None:
    assert declared_options("compile") == set(OPTIONS) | set(SHORT_OPTIONS)


TOKENS = st.sampled_from(
    [
        "hp.toml",
        "web",
        "-",
        "",
        "-c",
        "-i",
        "--container",
        "--image-config",
        "--passwd",
        "--netns",
        "--arch=x86_64",
        "--kernel=",
        "-cweb",
        "-c=web",
        "-h",
        "--help",
        "--",
        "--nope",
        "-x",
        "-ci",
        "--image-config=-",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=8))
def test_the_quick_path_never_reads_a_line_differently(args):
    quick = parse_args(args)
    if quick is not None:
        assert click_params(args) == quick


def run_hp(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_hp_in(*args, cwd=EXAMPLES)


INPUTS = ["-c", "web", "-i", "web-image.json", "--passwd", "passwd", "--group", "group"]


def test_an_ordinary_compile_starts_without_typer_and_prints_what_the_cli_prints():
    quick = run_hp("compile", "hp.toml", *INPUTS)
    full = run_hp("compile", *INPUTS, "--", "hp.toml")  # `--` is left to typer
    assert quick.returncode == full.returncode == 0, quick.stderr + full.stderr
    assert quick.stderr.split()[-2:] == [b"TYPER", b"False"]
    assert full.stderr.split()[-2:] == [b"TYPER", b"True"]
    assert quick.stdout == full.stdout
    assert json.loads(quick.stdout)["hostname"] == "web"


def test_a_failing_quick_compile_is_one_line_and_exit_1_as_in_the_cli():
    quick = run_hp("compile", "hp.toml", *INPUTS, "-c", "nope")
    full = run_hp("compile", *INPUTS, "-c", "nope", "--", "hp.toml")
    assert quick.returncode == full.returncode == 1
    assert quick.stdout == full.stdout == b""
    assert quick.stderr.splitlines()[0] == full.stderr.splitlines()[0]
    assert quick.stderr.splitlines()[0].startswith(b"hp: error: ")
    assert quick.stderr.split()[-2:] == [b"TYPER", b"False"]
