"""hp exec's words (compiler.exec_process.parse_exec_words) and the process it runs (exec_process)."""

from __future__ import annotations

import pytest

from compiler import oci
from compiler.errors import HpError
from compiler.exec_process import ExecOptions, ExecUsageError, exec_process, parse_exec_words
from compiler.users import ResolvedUser

ENVIRON = {"FROM_HP": "hp's value", "EMPTY": ""}

PARSED = [
    ("command only", ["ls", "-l"], ExecOptions(argv=("ls", "-l"))),
    ("after --", ["--", "-x"], ExecOptions(argv=("-x",))),
    ("tty", ["-t", "sh"], ExecOptions(argv=("sh",), tty=True)),
    ("interactive long", ["--interactive", "sh"], ExecOptions(argv=("sh",), interactive=True)),
    ("-it together", ["-it", "--", "sh"], ExecOptions(argv=("sh",), tty=True, interactive=True)),
    ("-u NAME", ["-u", "app", "id"], ExecOptions(argv=("id",), user="app")),
    ("-uNAME", ["-uapp:extra", "id"], ExecOptions(argv=("id",), user="app:extra")),
    ("--user=", ["--user=1000:1000", "id"], ExecOptions(argv=("id",), user="1000:1000")),
    ("-iu cluster", ["-iu", "0", "id"], ExecOptions(argv=("id",), interactive=True, user="0")),
    (
        "-e K=V repeated",
        ["-e", "A=1", "--env", "B=x=y", "-e", "A=2", "env"],
        ExecOptions(argv=("env",), env=("A=1", "B=x=y", "A=2")),
    ),
    ("-e K from hp", ["-e", "FROM_HP", "env"], ExecOptions(argv=("env",), env=("FROM_HP=hp's value",))),
    ("-e K empty in hp", ["-e", "EMPTY", "env"], ExecOptions(argv=("env",), env=("EMPTY=",))),
    ("-e K not in hp", ["-e", "ABSENT", "env"], ExecOptions(argv=("env",))),
    ("-e K= empty value", ["-e", "A=", "env"], ExecOptions(argv=("env",), env=("A=",))),
    ("-w", ["-w", "/srv/./www/", "pwd"], ExecOptions(argv=("pwd",), workdir="/srv/www")),
    ("--workdir=", ["--workdir=/", "pwd"], ExecOptions(argv=("pwd",), workdir="/")),
    ("state dir", ["--state-dir", "/s", "true"], ExecOptions(argv=("true",), state_dir="/s")),
    ("options after the command are its own", ["true", "-u", "x"], ExecOptions(argv=("true", "-u", "x"))),
    ("help", ["-h", "--bogus"], ExecOptions(help=True)),
]


@pytest.mark.parametrize("words, expected", [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_words(words: list[str], expected: ExecOptions) -> None:
    assert parse_exec_words(words, ExecOptions(), ENVIRON) == expected


def test_options_before_name_come_first_and_words_after_win() -> None:
    given = ExecOptions(state_dir="/before")
    got = parse_exec_words(["-e", "A=1", "--state-dir=/after", "true"], given, ENVIRON)
    assert got == ExecOptions(argv=("true",), state_dir="/after", env=("A=1",))


USAGE = [
    ("unknown long", ["--bogus", "--", "true"], "no such option: --bogus"),
    ("unknown short", ["-x", "true"], "no such option: -x"),
    ("unknown in a cluster", ["-itz", "true"], "no such option: -z"),
    ("flag with a value", ["--tty=yes", "true"], "no such option: --tty=yes"),
    ("no value", ["-u"], "option '-u' requires an argument"),
    ("no value long", ["--state-dir"], "option '--state-dir' requires an argument"),
    ("no command", ["-t"], "missing the command to run"),
    ("nothing after --", ["--"], "missing the command to run"),
]


@pytest.mark.parametrize("words, expected", [c[1:] for c in USAGE], ids=[c[0] for c in USAGE])
def test_usage_errors(words: list[str], expected: str) -> None:
    with pytest.raises(ExecUsageError) as e:
        parse_exec_words(words, ExecOptions(), ENVIRON)
    assert expected in e.value.problem


BAD_VALUES = [
    ("relative -w", ["-w", "srv", "pwd"], "-w", "is not absolute"),
    ("empty -w", ["--workdir=", "pwd"], "--workdir", "is not absolute"),
    ("empty -u", ["--user=", "id"], "--user", "empty user"),
    ("-u NUL", ["-u", "a\0b", "id"], "-u", "NUL"),
    ("-e empty name", ["-e", "=v", "env"], "-e", "empty variable name"),
    ("-e NUL", ["-e", "A=\0", "env"], "-e", "NUL"),
]


@pytest.mark.parametrize("words, option, expected", [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES])
def test_a_bad_value_names_the_option(words: list[str], option: str, expected: str) -> None:
    with pytest.raises(HpError) as e:
        parse_exec_words(words, ExecOptions(), ENVIRON)
    assert not isinstance(e.value, ExecUsageError)
    assert e.value.where == option and expected in e.value.problem


ALL = ("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE")


def container(uid: int = 0, caps: tuple[str, ...] = ALL) -> oci.Process:
    root = uid == 0
    return oci.Process(
        terminal=False,
        user=oci.User(uid=uid, gid=uid, additional_gids=(uid,)),
        args=("sleep", "1d"),
        env=("PATH=/bin", "HOSTNAME=web", "HOME=/root" if root else "HOME=/home/app", "A=image"),
        cwd="/srv",
        capabilities=oci.ProcessCapabilities(
            bounding=caps, effective=caps if root else (), inheritable=(), permitted=caps if root else (), ambient=()
        ),
        no_new_privileges=True,
    )


APP = ResolvedUser(1000, 1000, (1000, 2000), "/home/app")
ROOT = ResolvedUser(0, 0, (0,), "/root")


def fields(process: oci.Process, **changes) -> oci.Process:
    import msgspec

    return msgspec.structs.replace(process, **changes)


CASES = [
    ("as the container runs", container(), {}, {}),
    (
        "-e replaces in place and appends",
        container(),
        dict(env=("A=cli", "B=new", "A=last")),
        dict(env=("PATH=/bin", "HOSTNAME=web", "HOME=/root", "A=last", "B=new")),
    ),
    ("-w", container(), dict(cwd="/tmp"), dict(cwd="/tmp")),
    (
        "-u app from root: its ids, HOME, bounding set only",
        container(),
        dict(user=APP),
        dict(
            user=oci.User(uid=1000, gid=1000, additional_gids=(1000, 2000)),
            env=("PATH=/bin", "HOSTNAME=web", "HOME=/home/app", "A=image"),
            capabilities=oci.ProcessCapabilities(bounding=ALL, effective=(), inheritable=(), permitted=(), ambient=()),
        ),
    ),
    (
        "-u 0 from app: root's sets",
        container(1000),
        dict(user=ROOT),
        dict(
            user=oci.User(uid=0, gid=0, additional_gids=(0,)),
            env=("PATH=/bin", "HOSTNAME=web", "HOME=/root", "A=image"),
            capabilities=oci.ProcessCapabilities(
                bounding=ALL, effective=ALL, inheritable=(), permitted=ALL, ambient=()
            ),
        ),
    ),
    (
        "-e HOME wins over -u's",
        container(),
        dict(user=APP, env=("HOME=/x",)),
        dict(
            user=oci.User(uid=1000, gid=1000, additional_gids=(1000, 2000)),
            env=("PATH=/bin", "HOSTNAME=web", "HOME=/x", "A=image"),
            capabilities=oci.ProcessCapabilities(bounding=ALL, effective=(), inheritable=(), permitted=(), ambient=()),
        ),
    ),
]


@pytest.mark.parametrize("base, options, changes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_process(base: oci.Process, options: dict, changes: dict) -> None:
    got = exec_process(base, ("id",), tty=True, **options)
    assert got == fields(base, args=("id",), terminal=True, **changes)


@pytest.mark.parametrize("argv", [(), ("",), ("a\0b",), ("ls", "\0")])
def test_a_bad_command(argv: tuple[str, ...]) -> None:
    with pytest.raises(HpError) as e:
        exec_process(container(), argv, tty=False)
    assert e.value.where == "COMMAND"
