"""process.env (compiler/env.py: merge_env), against issue 2's pinned env rule and
oci-conversion.md §5 F4-F6 / §6 pitfalls 1-4 and 12:

split on the first '='; an image entry without '=', with an empty name, or with a
NUL byte is an error naming the entry; duplicates: last value wins at the first
position; the container's env replaces in place or appends, a bare name (list form)
unsets; then PATH (only if none remains), HOSTNAME, TERM (terminal only), HOME
(from passwd, when unset or empty); case-sensitive; no $VAR expansion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from compiler.env import DEFAULT_PATH, merge_env
from compiler.errors import HpError

IMAGE_WHERE = "Config.Env"
OWN_WHERE = "containers.web.env"
PATH = f"PATH={DEFAULT_PATH}"


def merge(
    image: Sequence[str],
    own: Mapping[str, str] | Sequence[str] | None = None,
    *,
    hostname: str = "web",
    terminal: bool = False,
    home: str = "/root",
) -> tuple[str, ...]:
    return merge_env(image, IMAGE_WHERE, own, OWN_WHERE, hostname=hostname, terminal=terminal, home=home)


def test_default_path_is_the_pinned_one() -> None:
    """The pin: the value stated here and nowhere else; other tests import DEFAULT_PATH."""
    assert DEFAULT_PATH == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.mark.parametrize(
    "image, own, terminal, expected",
    [
        ([], None, False, (PATH, "HOSTNAME=web", "HOME=/root")),
        ([], None, True, (PATH, "HOSTNAME=web", "TERM=xterm", "HOME=/root")),
        (["PATH=/bin"], None, False, ("PATH=/bin", "HOSTNAME=web", "HOME=/root")),
        (["LANG=C"], None, False, ("LANG=C", PATH, "HOSTNAME=web", "HOME=/root")),
        (["A=1", "B=2", "A=3"], None, False, ("A=3", "B=2", PATH, "HOSTNAME=web", "HOME=/root")),
        (["A=b=c"], None, False, ("A=b=c", PATH, "HOSTNAME=web", "HOME=/root")),
        (["A="], None, False, ("A=", PATH, "HOSTNAME=web", "HOME=/root")),
        (["A=$HOME", "B=${PATH}"], None, False, ("A=$HOME", "B=${PATH}", PATH, "HOSTNAME=web", "HOME=/root")),
        (["path=/x"], None, False, ("path=/x", PATH, "HOSTNAME=web", "HOME=/root")),
        (["PATH="], None, False, ("PATH=", "HOSTNAME=web", "HOME=/root")),
        (["HOSTNAME=img", "TERM=vt100", "HOME=/srv"], None, True, ("HOSTNAME=img", "TERM=vt100", "HOME=/srv", PATH)),
        (["A= spaced "], None, False, ("A= spaced ", PATH, "HOSTNAME=web", "HOME=/root")),
        (["MY.VAR=1", "über=2"], None, False, ("MY.VAR=1", "über=2", PATH, "HOSTNAME=web", "HOME=/root")),
    ],
    ids=[
        "empty-image-gets-defaults",
        "terminal-adds-term",
        "image-path-never-overridden",
        "env-without-path-gets-default-path-containerd-3597",
        "duplicate-last-wins-at-first-position",
        "split-on-first-equals",
        "empty-value-stays-empty",
        "no-variable-expansion",
        "keys-are-case-sensitive",
        "empty-path-is-still-a-path",
        "image-hostname-term-home-kept",
        "value-whitespace-kept",
        "names-beyond-posix-charset-kept",
    ],
)
def test_image_env(image: list[str], own: None, terminal: bool, expected: tuple[str, ...]) -> None:
    assert merge(image, own, terminal=terminal) == expected


@pytest.mark.parametrize(
    "image, own, expected",
    [
        (["A=1", "B=2"], {"A": "9"}, ("A=9", "B=2")),
        (["A=1"], {"C": "3", "B": "2"}, ("A=1", "B=2", "C=3")),
        (["A=1"], {"A": ""}, ("A=",)),
        (["PATH=/bin"], {"PATH": "/opt/bin"}, ("PATH=/opt/bin",)),
        (["A=1"], {"a": "2"}, ("A=1", "a=2")),
        ([], {"X": "$A ${B} `c`"}, ("X=$A ${B} `c`",)),
        ([], {"X": "a=b"}, ("X=a=b",)),
    ],
    ids=[
        "table-replaces-in-place",
        "table-appends-in-sorted-key-order",
        "table-empty-value",
        "table-overrides-image-path",
        "table-case-sensitive",
        "table-no-expansion",
        "table-value-with-equals",
    ],
)
def test_table_overrides(image: list[str], own: dict[str, str], expected: tuple[str, ...]) -> None:
    env = merge(image, own)
    assert env[: len(expected)] == expected


def test_table_key_order_does_not_matter() -> None:
    forward = {"ZED": "1", "ALPHA": "2", "MID": "3"}
    backward = dict(reversed(list(forward.items())))
    assert merge(["A=0"], forward) == merge(["A=0"], backward)


@pytest.mark.parametrize(
    "image, own, expected",
    [
        (["A=1", "B=2"], ["A=9"], ("A=9", "B=2")),
        (["A=1"], ["C=3", "B=2"], ("A=1", "C=3", "B=2")),
        (["A=1", "B=2"], ["A"], ("B=2",)),
        (["A=1"], ["NOPE"], ("A=1",)),
        (["A=1", "B=2"], ["A", "A=3"], ("B=2", "A=3")),
        (["A=1"], ["A=2", "A=3"], ("A=3",)),
        (["A=1"], ["A="], ("A=",)),
        (["A=1"], ["B=x=y"], ("A=1", "B=x=y")),
        (["A=1"], [], ("A=1",)),
    ],
    ids=[
        "list-replaces-in-place",
        "list-appends-in-order",
        "bare-name-unsets",
        "unsetting-absent-is-fine",
        "unset-then-set-appends",
        "list-last-wins",
        "list-empty-value-is-not-unset",
        "list-split-on-first-equals",
        "empty-list",
    ],
)
def test_list_overrides(image: list[str], own: list[str], expected: tuple[str, ...]) -> None:
    env = merge(image, own)
    assert env[: len(expected)] == expected
    # what follows are only the defaults hp adds
    assert {e.split("=", 1)[0] for e in env[len(expected) :]} <= {"PATH", "HOSTNAME", "TERM", "HOME"}


@pytest.mark.parametrize(
    "image, own, terminal, home, expected",
    [
        (["PATH=/bin"], ["PATH"], False, "/root", ("HOSTNAME=web", "HOME=/root", PATH)),
        ([], ["HOSTNAME"], False, "/root", (PATH, "HOSTNAME=web", "HOME=/root")),
        ([], {"HOSTNAME": "custom"}, False, "/root", ("HOSTNAME=custom", PATH, "HOME=/root")),
        ([], {"TERM": "dumb"}, True, "/root", ("TERM=dumb", PATH, "HOSTNAME=web", "HOME=/root")),
        ([], {"TERM": "dumb"}, False, "/root", ("TERM=dumb", PATH, "HOSTNAME=web", "HOME=/root")),
        ([], None, False, "/home/app", (PATH, "HOSTNAME=web", "HOME=/home/app")),
        ([], None, False, "/", (PATH, "HOSTNAME=web", "HOME=/")),
        (["HOME=/img"], None, False, "/home/app", ("HOME=/img", PATH, "HOSTNAME=web")),
        ([], {"HOME": "/mine"}, False, "/home/app", ("HOME=/mine", PATH, "HOSTNAME=web")),
        ([], {"HOME": ""}, False, "/home/app", ("HOME=/home/app", PATH, "HOSTNAME=web")),
        (["HOME="], None, False, "/root", ("HOME=/root", PATH, "HOSTNAME=web")),
    ],
    ids=[
        "unset-path-gets-default",
        "unset-hostname-gets-default",
        "own-hostname-kept",
        "own-term-kept-with-terminal",
        "no-terminal-term-kept-but-not-added",
        "home-from-passwd",
        "home-root-when-no-entry",
        "image-home-wins-over-passwd",
        "own-home-wins",
        "own-empty-home-is-unset",
        "image-empty-home-is-unset-runc-4704",
    ],
)
def test_defaults_only_where_unset(image: list[str], own, terminal: bool, home: str, expected: tuple[str, ...]) -> None:
    env = merge(image, own, terminal=terminal, home=home)
    assert sorted(env) == sorted(expected)
    names = [e.split("=", 1)[0] for e in env]
    assert len(names) == len(set(names))
    if not terminal and not any(e.startswith("TERM=") for e in expected):
        assert "TERM" not in names


def test_hostname_follows_the_argument() -> None:
    assert "HOSTNAME=db-1" in merge([], hostname="db-1")


@pytest.mark.parametrize(
    "image, index, fragment",
    [
        (["A=1", "NOEQUALS"], 1, "'='"),
        (["=value"], 0, "empty variable name"),
        (["A=1", "B=2", "=x"], 2, "empty variable name"),
        (["A=1\0"], 0, "NUL"),
        (["A\0B=1"], 0, "NUL"),
        ([""], 0, "'='"),
    ],
    ids=["no-equals", "empty-name", "empty-name-third-entry", "nul-in-value", "nul-in-name", "empty-entry"],
)
def test_bad_image_entries(image: list[str], index: int, fragment: str) -> None:
    with pytest.raises(HpError) as info:
        merge(image)
    assert info.value.where == f"{IMAGE_WHERE}[{index}]"
    assert fragment in info.value.problem
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "own, where",
    [
        (["=x"], f"{OWN_WHERE}[0]"),
        (["A=1", "="], f"{OWN_WHERE}[1]"),
        ([""], f"{OWN_WHERE}[0]"),
        (["A=1\0"], f"{OWN_WHERE}[0]"),
        ({"": "x"}, OWN_WHERE),
        ({"A=B": "x"}, None),
        ({"A": "x\0"}, f"{OWN_WHERE}.A"),
        ({"A\0": "x"}, None),
    ],
    ids=[
        "list-empty-name",
        "list-empty-name-second",
        "list-empty-entry",
        "list-nul",
        "table-empty-key",
        "table-key-with-equals",
        "table-nul-in-value",
        "table-nul-in-key",
    ],
)
def test_bad_overrides(own, where: str | None) -> None:
    with pytest.raises(HpError) as info:
        merge(["A=0"], own)
    assert str(info.value).startswith(OWN_WHERE)
    if where is not None:
        assert info.value.where == where


def test_image_entries_may_not_be_bare_even_though_overrides_may() -> None:
    """pitfall 1: a bare name in the image is an error, in the container's list an unset."""
    with pytest.raises(HpError):
        merge(["DEBUG"])
    assert not any(e.startswith("DEBUG") for e in merge(["DEBUG=1"], ["DEBUG"]))


def test_every_entry_is_name_equals_value_and_names_are_unique() -> None:
    env = merge(["A=1", "B=2", "A=3", "PATH=/x"], ["C=4", "B", "D="], terminal=True, home="/h")
    names = [e.split("=", 1)[0] for e in env]
    assert all("=" in e and e.split("=", 1)[0] for e in env)
    assert len(names) == len(set(names))
    assert names == ["A", "PATH", "C", "D", "HOSTNAME", "TERM", "HOME"]


def test_error_for_a_strange_table_key_is_one_line() -> None:
    with pytest.raises(HpError) as info:
        merge([], {"A\nB": "x\0"})
    assert "\n" not in str(info.value)
