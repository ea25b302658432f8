"""The one container-name rule (compiler/names.py): hp.toml's tables, the command line's NAME,
and Layout, which refuses to build a path from a bad name."""

from __future__ import annotations

import pytest

from compiler import HpError, parse_hp_file
from compiler.layout import layout
from compiler.names import check_container_name, is_container_name

GOOD = ["a", "web", "Web-1", "0", "a_b", "x" * 64]
BAD = [
    "",
    ".",
    "..",
    "../../x",
    "a/b",
    "/abs",
    "-f",
    "--force",
    "_a",
    "a b",
    "a\nb",
    "a.b",
    "é",
    "x" * 65,
    "web\n",
    "a\x00b",
    "a:b",
    "a,b",
]
PATHS = layout("/var/lib/hp")


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass(name: str) -> None:
    assert is_container_name(name)
    assert check_container_name(name) == name
    assert PATHS.container_dir(name) == f"/var/lib/hp/containers/{name}"


@pytest.mark.parametrize("name", BAD)
def test_bad_names_are_refused_everywhere(name: str) -> None:
    assert not is_container_name(name)
    with pytest.raises(HpError, match="invalid container name"):
        check_container_name(name)
    for path_of in (
        PATHS.container_dir,
        PATHS.bundle,
        PATHS.exit_file,
        PATHS.netns,
        PATHS.attachment,
        PATHS.cgroup_name,
    ):
        with pytest.raises(HpError, match="invalid container name"):
            path_of(name)


def test_the_message_is_one_line_and_short() -> None:
    for name in ("a\nb", "x" * 10000, "\x1b[31mred"):
        with pytest.raises(HpError) as e:
            check_container_name(name)
        assert "\n" not in str(e.value) and "\x1b" not in str(e.value)
        assert len(str(e.value)) < 200


def test_hp_toml_uses_the_same_rule() -> None:
    with pytest.raises(HpError, match="invalid container name: use 1-64"):
        parse_hp_file(b'[containers."../x"]\nimage = "busybox"\n')
