"""env_file: docker's env-file format (compiler.env.parse_env_file), the merge order image Env <
env files (in list order) < env, and the errors naming file:line."""

from __future__ import annotations

import json

import pytest

from compiler import HpError, compile_config_json
from compiler.env import EnvFile, file_env, merge_env, parse_env_file
from compiler.errors import error_line

from .host_facts import TEST_HOST

PARSED = [
    ("one", "A=1\n", (("A", "1"),)),
    ("no final newline", "A=1", (("A", "1"),)),
    ("comments and blank lines", "# c\n\n   \nA=1\n  # indented comment\n", (("A", "1"),)),
    ("leading blanks dropped", "  \tA=1\n", (("A", "1"),)),
    (
        "value kept as it is",
        "A= spaced value  \nB=\"quoted\"\nC='q'\n",
        (("A", " spaced value  "), ("B", '"quoted"'), ("C", "'q'")),
    ),
    ("no expansion", "A=$HOME ${B}\n", (("A", "$HOME ${B}"),)),
    ("first = splits", "A=b=c\n", (("A", "b=c"),)),
    ("empty value", "A=\n", (("A", ""),)),
    ("CRLF", "A=1\r\nB=2\r\n", (("A", "1"), ("B", "2"))),
    ("BOM", "\ufeffA=1\n", (("A", "1"),)),
    ("# inside a value", "A=x # not a comment\n", (("A", "x # not a comment"),)),
    ("repeated: both, in order", "A=1\nA=2\n", (("A", "1"), ("A", "2"))),
    ("lower case and dots", "a.b-c=1\n", (("a.b-c", "1"),)),
    ("empty file", "", ()),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parse(text: str, expected: tuple) -> None:
    assert parse_env_file(EnvFile("app.env", text)) == expected


BAD = [
    ("bare name", "A=1\n\nSECRET_FROM_ENV\n", "app.env:3", "no '='"),
    ("no name", "=x\n", "app.env:1", "no variable name"),
    ("blank in the name", "A B=1\n", "app.env:1", "contains blanks"),
    ("tab in the name", "A\tB=1\n", "app.env:1", "contains blanks"),
    ("NUL", "A=x\0y\n", "app.env:1", "NUL"),
]


@pytest.mark.parametrize("text, where, expected", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_line_names_file_and_line(text: str, where: str, expected: str) -> None:
    with pytest.raises(HpError) as e:
        parse_env_file(EnvFile("app.env", text))
    assert (e.value.where, e.value.source) == (where, "env_file") and expected in e.value.problem


def test_a_bad_line_is_never_shown() -> None:
    """A file named by mistake (root can read /etc/shadow) must not end up in an error message."""
    with pytest.raises(HpError) as e:
        parse_env_file(EnvFile("/etc/shadow", "root:$y$secrethash:19000:0:99999:7:::\n"))
    assert "secrethash" not in str(e.value)


def test_files_in_list_order() -> None:
    texts = {"a.env": EnvFile("a.env", "X=a\nY=a\n"), "b.env": EnvFile("b.env", "Y=b\n")}
    assert file_env(("a.env", "b.env"), texts, "w") == (("X", "a"), ("Y", "a"), ("Y", "b"))
    with pytest.raises(HpError) as e:
        file_env(("c.env",), texts, "containers.web.env_file")
    assert e.value.where == "containers.web.env_file[0]"


MERGED = [
    ("files override the image in place", ["A=img", "B=img"], (("B", "file"),), None, ("A=img", "B=file")),
    ("env overrides the files", [], (("A", "file"), ("B", "file")), {"A": "env"}, ("A=env", "B=file")),
    ("a later file wins", [], (("A", "1"), ("A", "2")), None, ("A=2",)),
    ("the list form's bare NAME unsets a file's", [], (("A", "file"),), ["A"], ()),
    ("a file's PATH and HOME are kept", [], (("PATH", "/x"), ("HOME", "/h")), None, ("PATH=/x", "HOME=/h")),
]


@pytest.mark.parametrize("image, files, own, expected", [c[1:] for c in MERGED], ids=[c[0] for c in MERGED])
def test_merge(image, files, own, expected) -> None:
    got = merge_env(
        image, "Config.Env", own, "containers.web.env", hostname="web", terminal=False, home="/root", file_env=files
    )
    defaults = {"PATH", "HOSTNAME", "HOME"} - {e.split("=")[0] for e in expected}
    assert tuple(e for e in got if e.split("=")[0] not in defaults) == expected


IMAGE = json.dumps({"Config": {"Env": ["FROM=image", "LEVEL=image"], "Cmd": ["sh"]}})


def compile_env(hp_toml: str, files: dict[str, str]) -> list[str]:
    texts = {path: EnvFile(path, text) for path, text in files.items()}
    config = compile_config_json(hp_toml, None, IMAGE, env_files=texts, host=TEST_HOST)
    return json.loads(config)["process"]["env"]


def test_compile_precedence() -> None:
    env = compile_env(
        '[containers.web]\nimage = "x"\nenv_file = ["a.env", "b.env"]\nenv = { TOP = "env" }\n',
        {"a.env": "LEVEL=a\nTOP=a\nA=1\n", "b.env": "LEVEL=b\n"},
    )
    assert [e for e in env if e.split("=")[0] in ("FROM", "LEVEL", "TOP", "A")] == [
        "FROM=image",
        "LEVEL=b",
        "TOP=env",
        "A=1",
    ]


def test_compile_error_names_the_file_and_line() -> None:
    with pytest.raises(HpError) as e:
        compile_env('[containers.web]\nimage = "x"\nenv_file = ["a.env"]\n', {"a.env": "OK=1\nBARE\n"})
    assert (
        error_line(e.value, {"spec": "hp.toml"})
        == "hp: error: a.env:2: no '=': write NAME=VALUE (a bare NAME would take its value from the environment "
        "hp runs in, which a plan must not depend on)"
    )


@pytest.mark.parametrize("value, expected", [('"a.env"', "expected a list"), ("[1]", "expected a string")])
def test_env_file_must_be_a_list_of_strings(value: str, expected: str) -> None:
    with pytest.raises(HpError) as e:
        compile_env(f'[containers.web]\nimage = "x"\nenv_file = {value}\n', {})
    assert e.value.where.startswith("containers.web.env_file") and expected in e.value.problem


# ---------------------------------------------------------------- reading them (executor), hp compile


def test_read_relative_to_hp_toml(tmp_path, monkeypatch) -> None:
    from compiler import parse_hp_file
    from executor.planning import read_env_files

    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "app.env").write_text("A=1\n")
    hp_file = parse_hp_file('[containers.web]\nimage = "x"\nenv_file = ["app.env"]\n')
    monkeypatch.chdir(tmp_path)
    assert read_env_files("stack/hp.toml", hp_file) == {"app.env": EnvFile("stack/app.env", "A=1\n")}
    with pytest.raises(HpError) as e:
        read_env_files("hp.toml", hp_file)  # ./app.env: there is none
    assert str(e.value) == "app.env: cannot read: No such file or directory"
    (tmp_path / "stack" / "app.env").write_text("A=1\nB\n")
    with pytest.raises(HpError) as e:  # a bad line is found when the file is read, before any pull
        read_env_files("stack/hp.toml", hp_file)
    assert e.value.where == "stack/app.env:2"


def test_hp_compile_reads_them_next_to_the_file(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    hp = Path(sys.executable).with_name("hp")
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "hp.toml").write_text('[containers.web]\nimage = "x"\nenv_file = ["app.env"]\n')
    (tmp_path / "image.json").write_text(IMAGE)
    (tmp_path / "stack" / "app.env").write_text("LEVEL=file\n")
    proc = subprocess.run(
        [hp, "compile", "stack/hp.toml", "-i", "image.json"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "LEVEL=file" in json.loads(proc.stdout)["process"]["env"]
    (tmp_path / "stack" / "app.env").unlink()
    proc = subprocess.run(
        [hp, "compile", "stack/hp.toml", "-i", "image.json"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "",
        "hp: error: stack/app.env: cannot read: No such file or directory\n",
    )
