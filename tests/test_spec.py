"""hp.toml decoding (compiler/spec.py: parse_hp_file), against issue 2: unknown keys, wrong
types and invalid names are errors that name the field by path
(`containers.web.memory: expected …`), with a did-you-mean for a misspelt key
(docs/conversion.md); container names follow `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`;
TOML syntax errors are clean one-line errors too."""

from __future__ import annotations

import pytest

from compiler.errors import HpError
from compiler.spec import BindMount, ContainerSpec, HpFile, TmpfsMount, VolumeMount, parse_hp_file

HEAD = '[containers.web]\nimage = "127.0.0.1:5000/library/web:1"\n'


def error_of(text: str | bytes) -> HpError:
    with pytest.raises(HpError) as info:
        parse_hp_file(text)
    err = info.value
    line = str(err)
    assert line and "\n" not in line and "\r" not in line, repr(line)
    return err


# --------------------------------------------------------------------------- valid files


def test_full_example_from_the_issue() -> None:
    text = (
        HEAD
        + """
entrypoint = ["/bin/app"]
command = ["--port", "80"]
env = { MODE = "prod" }
workdir = "/srv"
user = "app:app"
hostname = "web"
terminal = false
read_only = false
keep_alive = false
labels_to_annotations = false
annotations = { "org.example.team" = "infra" }
memory = "256m"
memory_swap = "512m"
cpus = 0.5
pids_limit = 256
mounts = [
    { type = "bind", source = "/srv/data", target = "/data", readonly = true },
    { type = "tmpfs", target = "/scratch" },
]
cap_add = ["NET_ADMIN"]
cap_drop = ["CHOWN"]
ulimits = { nofile = [1024, 1024] }
"""
    )
    spec = parse_hp_file(text).containers["web"]
    assert spec == ContainerSpec(
        image="127.0.0.1:5000/library/web:1",
        entrypoint=("/bin/app",),
        command=("--port", "80"),
        env={"MODE": "prod"},
        workdir="/srv",
        user="app:app",
        hostname="web",
        annotations={"org.example.team": "infra"},
        memory="256m",
        memory_swap="512m",
        cpus=0.5,
        pids_limit=256,
        mounts=(BindMount(source="/srv/data", target="/data", readonly=True), TmpfsMount(target="/scratch")),
        cap_add=("NET_ADMIN",),
        cap_drop=("CHOWN",),
        ulimits={"nofile": (1024, 1024)},
    )


def test_minimal_container_has_unset_optionals() -> None:
    spec = parse_hp_file(HEAD).containers["web"]
    assert spec.entrypoint is None and spec.command is None and spec.env is None and spec.user is None
    assert spec.workdir is None and spec.hostname is None and spec.memory is None and spec.cpus is None
    assert (spec.terminal, spec.read_only, spec.keep_alive, spec.labels_to_annotations) == (False,) * 4
    assert spec.mounts == () and spec.cap_add == () and spec.cap_drop == ()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("# just a comment\n", {}),
        ("[containers]\n", {}),
        (HEAD + '[containers.db]\nimage = "db"\n', {"web": "127.0.0.1:5000/library/web:1", "db": "db"}),
        ('[containers."a-1"]\nimage = "x"\n', {"a-1": "x"}),
        ("[containers." + "a" * 64 + ']\nimage = "x"\n', {"a" * 64: "x"}),
        ('[containers.0]\nimage = "x"\n', {"0": "x"}),
        ('[containers.A_b-C]\nimage = "x"\n', {"A_b-C": "x"}),
        ('containers = { web = { image = "x" } }\n', {"web": "x"}),
    ],
    ids=[
        "empty-file",
        "comment-only",
        "empty-containers",
        "two-containers",
        "dash",
        "name-64-chars",
        "digit-name",
        "mixed-name",
        "inline-tables",
    ],
)
def test_valid_files(text: str, expected: dict[str, str]) -> None:
    hp = parse_hp_file(text)
    assert isinstance(hp, HpFile)
    assert {name: spec.image for name, spec in hp.containers.items()} == expected


@pytest.mark.parametrize(
    "extra, field, value",
    [
        ('env = ["MODE=prod", "DEBUG"]', "env", ("MODE=prod", "DEBUG")),
        ("env = {}", "env", {}),
        ("env = []", "env", ()),
        ("memory = 268435456", "memory", 268435456),
        ("memory_swap = -1", "memory_swap", -1),
        (
            'mounts = [{ type = "tmpfs", target = "/t", size = 1024, mode = 0o1777 }]',
            "mounts",
            (TmpfsMount(target="/t", size=1024, mode=0o1777),),
        ),
        (
            'mounts = [{ type = "tmpfs", target = "/t", mode = "1777" }]',
            "mounts",
            (TmpfsMount(target="/t", mode="1777"),),
        ),
        ("ulimits = { nofile = 4096 }", "ulimits", {"nofile": 4096}),
        ('entrypoint = [""]', "entrypoint", ("",)),
        ("entrypoint = []", "entrypoint", ()),
        ('user = ""', "user", ""),
    ],
    ids=[
        "env-list",
        "env-empty-table",
        "env-empty-list",
        "memory-int",
        "swap-minus-1",
        "tmpfs-int-mode",
        "tmpfs-string-mode",
        "ulimit-single",
        "entrypoint-empty-string",
        "entrypoint-empty-list",
        "user-empty",
    ],
)
def test_valid_field_forms(extra: str, field: str, value) -> None:
    spec = parse_hp_file(HEAD + extra + "\n").containers["web"]
    assert getattr(spec, field) == value


def test_table_key_order_does_not_matter() -> None:
    a = parse_hp_file(HEAD + 'env = { B = "2", A = "1" }\nannotations = { "y" = "1", "x" = "2" }\n')
    b = parse_hp_file(
        '[containers.web]\nannotations = { "x" = "2", "y" = "1" }\nenv = { A = "1", B = "2" }\n'
        'image = "127.0.0.1:5000/library/web:1"\n'
    )
    assert a == b


def test_bytes_and_str_give_the_same_result() -> None:
    assert parse_hp_file(HEAD.encode()) == parse_hp_file(HEAD)


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    "extra, where",
    [
        ("memory = true", "containers.web.memory"),
        ("memory = 1.5", "containers.web.memory"),
        ("memory = [1]", "containers.web.memory"),
        ("memory_swap = { a = 1 }", "containers.web.memory_swap"),
        ('cpus = "0.5"', "containers.web.cpus"),
        ("cpus = true", "containers.web.cpus"),
        ("pids_limit = 1.5", "containers.web.pids_limit"),
        ('pids_limit = "256"', "containers.web.pids_limit"),
        ('terminal = "true"', "containers.web.terminal"),
        ("read_only = 1", "containers.web.read_only"),
        ("keep_alive = 0", "containers.web.keep_alive"),
        ('labels_to_annotations = "no"', "containers.web.labels_to_annotations"),
        ('entrypoint = "/bin/sh"', "containers.web.entrypoint"),
        ("entrypoint = [1]", "containers.web.entrypoint[0]"),
        ('command = ["a", 2]', "containers.web.command[1]"),
        ('command = "run"', "containers.web.command"),
        ("env = 5", "containers.web.env"),
        ('env = ["A=1", 5]', "containers.web.env[1]"),
        ("env = { A = 1 }", "containers.web.env.A"),
        ('env = { A = ["x"] }', "containers.web.env.A"),
        ('env = { "my var" = 1 }', 'containers.web.env."my var"'),
        ("workdir = 5", "containers.web.workdir"),
        ("user = 1000", "containers.web.user"),
        ("hostname = false", "containers.web.hostname"),
        ("annotations = { team = 1 }", "containers.web.annotations.team"),
        ('annotations = ["a=b"]', "containers.web.annotations"),
        ('cap_add = "NET_ADMIN"', "containers.web.cap_add"),
        ("cap_drop = [1]", "containers.web.cap_drop[0]"),
        ('ulimits = { nofile = "1024" }', "containers.web.ulimits.nofile"),
        ("ulimits = { nofile = [1, 2, 3] }", "containers.web.ulimits.nofile"),
        ("ulimits = { nofile = [1] }", "containers.web.ulimits.nofile"),
        ("ulimits = { nofile = [1.0, 2] }", "containers.web.ulimits.nofile"),
        ("ulimits = { nofile = true }", "containers.web.ulimits.nofile"),
        ("ulimits = [1024]", "containers.web.ulimits"),
        ('mounts = { type = "tmpfs", target = "/t" }', "containers.web.mounts"),
        ('mounts = ["/data"]', "containers.web.mounts[0]"),
        (
            'mounts = [{ type = "bind", source = "/s", target = "/t", readonly = "yes" }]',
            "containers.web.mounts[0].readonly",
        ),
        (
            'mounts = [{ type = "tmpfs", target = "/a" }, { type = "tmpfs", target = 5 }]',
            "containers.web.mounts[1].target",
        ),
        ('mounts = [{ type = "tmpfs", target = "/t", size = true }]', "containers.web.mounts[0].size"),
        ('mounts = [{ type = "bind", target = "/t" }]', "containers.web.mounts[0].source"),
        ('mounts = [{ type = "nfs", target = "/t" }]', "containers.web.mounts[0].type"),
        ('mounts = [{ target = "/t" }]', "containers.web.mounts[0].type"),
        ("image = 5", "containers.web.image"),
    ],
    ids=[
        "memory-bool",
        "memory-float",
        "memory-list",
        "swap-table",
        "cpus-string",
        "cpus-bool",
        "pids-float",
        "pids-string",
        "terminal-string",
        "read-only-int",
        "keep-alive-int",
        "labels-string",
        "entrypoint-string",
        "entrypoint-item",
        "command-item",
        "command-string",
        "env-int",
        "env-list-item",
        "env-table-value",
        "env-table-list-value",
        "env-quoted-key",
        "workdir-int",
        "user-int",
        "hostname-bool",
        "annotation-value",
        "annotations-list",
        "cap-add-string",
        "cap-drop-item",
        "ulimit-string",
        "ulimit-triple",
        "ulimit-single-item-list",
        "ulimit-float",
        "ulimit-bool",
        "ulimits-list",
        "mounts-table",
        "mounts-item-string",
        "mount-readonly-string",
        "mount-second-target",
        "mount-size-bool",
        "bind-without-source",
        "unknown-mount-type",
        "mount-without-type",
        "image-int",
    ],
)
def test_wrong_type_names_the_field_path(extra: str, where: str) -> None:
    text = "[containers.web]\n" + extra + "\n" if extra.startswith("image") else HEAD + extra + "\n"
    err = error_of(text)
    assert err.where == where, str(err)
    assert str(err).startswith(f"{where}: ")


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ("memory = true", "expected"),
        ('cpus = "0.5"', "expected"),
        ("pids_limit = 1.5", "expected"),
        ('terminal = "true"', "expected"),
        ('entrypoint = "/bin/sh"', "expected"),
    ],
    ids=["memory", "cpus", "pids", "terminal", "entrypoint"],
)
def test_wrong_type_message_says_expected(extra: str, fragment: str) -> None:
    assert error_of(HEAD + extra + "\n").problem.startswith(fragment)


def test_memory_message_matches_the_issue_example() -> None:
    err = error_of(HEAD + "memory = true\n")
    assert str(err).startswith("containers.web.memory: expected ")


def test_missing_image() -> None:
    err = error_of('[containers.web]\nuser = "app"\n')
    assert err.where == "containers.web.image"
    assert "missing" in err.problem


# --------------------------------------------------------------------------- unknown fields


@pytest.mark.parametrize(
    "text, where, suggestion",
    [
        (HEAD + 'memry = "1g"\n', "containers.web.memry", "memory"),
        (HEAD + "readonly = true\n", "containers.web.readonly", "read_only"),
        (HEAD + 'workingdir = "/x"\n', "containers.web.workingdir", "workdir"),
        (HEAD + 'commands = ["x"]\n', "containers.web.commands", "command"),
        (HEAD + 'cap_adds = ["x"]\n', "containers.web.cap_adds", "cap_add"),
        ('[contianers.web]\nimage = "x"\n', "contianers", "containers"),
        (
            HEAD + 'mounts = [{ type = "bind", source = "/s", target = "/t", readonly = true, ro = true }]\n',
            "containers.web.mounts[0].ro",
            None,
        ),
        (
            HEAD + 'mounts = [{ type = "bind", source = "/s", target = "/t", readnly = true }]\n',
            "containers.web.mounts[0].readnly",
            "readonly",
        ),
        (
            HEAD + 'mounts = [{ type = "tmpfs", target = "/t", source = "/s" }]\n',
            "containers.web.mounts[0].source",
            None,
        ),
        (HEAD + "zzzzqqqq = 1\n", "containers.web.zzzzqqqq", None),
    ],
    ids=[
        "memry",
        "readonly",
        "workingdir",
        "commands",
        "cap-adds",
        "top-level-contianers",
        "mount-ro",
        "mount-readnly",
        "tmpfs-has-no-source",
        "nothing-close",
    ],
)
def test_unknown_field(text: str, where: str, suggestion: str | None) -> None:
    err = error_of(text)
    assert err.where == where, str(err)
    assert err.problem.startswith("unknown field")
    if suggestion is not None:
        assert f'did you mean "{suggestion}"?' in err.problem
    if where.endswith("zzzzqqqq"):
        assert "did you mean" not in err.problem


def test_unknown_field_with_a_newline_in_its_name_is_one_line_and_named() -> None:
    err = error_of(HEAD + '"a\\nb" = 1\n')
    assert err.where.startswith("containers.web.")
    assert err.problem.startswith("unknown field")


# --------------------------------------------------------------------------- container names


@pytest.mark.parametrize(
    "name",
    ["-web", "_web", "web.app", "web app", "wéb", "a" * 65, "", "web/1", "web:1", "\u0661", "web\n"],
    ids=[
        "leading-dash",
        "leading-underscore",
        "dot",
        "space",
        "non-ascii",
        "65-chars",
        "empty",
        "slash",
        "colon",
        "arabic-indic-digit",
        "newline",
    ],
)
def test_bad_container_names(name: str) -> None:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    err = error_of(f'[containers."{escaped}"]\nimage = "x"\n')
    assert err.where.startswith("containers.")
    assert "invalid container name" in err.problem


def test_bad_container_name_is_quoted_in_the_path() -> None:
    err = error_of('[containers."my app"]\nimage = "x"\n')
    assert err.where == 'containers."my app"'


def test_containers_must_be_a_table() -> None:
    err = error_of("containers = 5\n")
    assert err.where == "containers"
    assert "expected" in err.problem


def test_container_must_be_a_table() -> None:
    err = error_of("[containers]\nweb = 5\n")
    assert err.where == "containers.web"


def test_errors_in_the_second_container_name_it() -> None:
    err = error_of(HEAD + '[containers.db]\nimage = "db"\nmemory = false\n')
    assert err.where == "containers.db.memory"


# --------------------------------------------------------------------------- syntax and encoding


@pytest.mark.parametrize(
    "text",
    [
        "x = [\n",
        "[containers.web\nimage = 'x'\n",
        HEAD + "memory = \n",
        HEAD + 'image = "again"\n',
        "[containers.web]\n[containers.web]\n",
        HEAD + 'env = { A = "1", A = "2" }\n',
        HEAD + 'user = "unterminated\n',
        "= 1\n",
        "a = 1 b = 2\n",
        HEAD + "cpus = 0.5.1\n",
        "\x00",
    ],
    ids=[
        "unclosed-list",
        "unclosed-header",
        "missing-value",
        "duplicate-key",
        "duplicate-table",
        "duplicate-inline-key",
        "unterminated-string",
        "missing-key",
        "two-pairs-one-line",
        "bad-float",
        "nul-byte",
    ],
)
def test_toml_syntax_errors(text: str) -> None:
    err = error_of(text)
    assert "TOML" in str(err)


def test_not_utf8() -> None:
    err = error_of(b'[containers.web]\nimage = "\xff"\n')
    assert "UTF-8" in str(err)


# --------------------------------------------------------------------------- [registries."HOST"]


@pytest.mark.parametrize(
    "table, expected",
    [
        ("", (False, None)),
        ("insecure = true\n", (True, None)),
        ('timeout = "5m"\n', (False, "5m")),
        ("timeout = 90\n", (False, 90)),
        ("timeout = 2.5\n", (False, 2.5)),
        ('insecure = true\ntimeout = "3s"\n', (True, "3s")),
    ],
    ids=["defaults", "insecure", "timeout-string", "timeout-integer", "timeout-float", "both"],
)
def test_registry_settings(table: str, expected) -> None:
    hp_file = parse_hp_file(f'[registries."127.0.0.1:5000"]\n{table}')
    settings = hp_file.registries["127.0.0.1:5000"]
    assert (settings.insecure, settings.timeout) == expected


@pytest.mark.parametrize(
    "table, where",
    [
        ("timeout = true\n", 'registries."127.0.0.1:5000".timeout'),
        ("timeout = [60]\n", 'registries."127.0.0.1:5000".timeout'),
        ("timout = 60\n", 'registries."127.0.0.1:5000".timout'),
    ],
    ids=["boolean", "list", "misspelt"],
)
def test_registry_settings_wrong_type(table: str, where: str) -> None:
    assert error_of(f'[registries."127.0.0.1:5000"]\n{table}').where == where


@pytest.mark.parametrize(
    "timeout",
    ['"0s"', "0", "-5", '"5 m"', '"1d"', '"1.5m"', '"25h"', "86401", "nan", "inf", '""'],
    ids=[
        "zero-string",
        "zero",
        "negative",
        "inner-space",
        "days",
        "fraction-string",
        "above-a-day-hours",
        "above-a-day-seconds",
        "nan",
        "inf",
        "empty",
    ],
)
def test_registry_timeout_out_of_range_is_refused_by_check_file(timeout: str) -> None:
    from compiler import check_file

    hp_file = parse_hp_file(f'[registries."127.0.0.1:5000"]\ntimeout = {timeout}\n')
    with pytest.raises(HpError) as info:
        check_file(hp_file)
    assert info.value.where == 'registries."127.0.0.1:5000".timeout'
    assert "\n" not in str(info.value)


def test_stop_timeout_and_prevent_destroy_default_as_docker_and_terraform() -> None:
    spec = parse_hp_file(HEAD).containers["web"]
    assert (spec.stop_timeout, spec.prevent_destroy) == (10, False)
    spec = parse_hp_file(HEAD + "stop_timeout = 0\nprevent_destroy = true\n").containers["web"]
    assert (spec.stop_timeout, spec.prevent_destroy) == (0, True)


@pytest.mark.parametrize(
    "value, fragment",
    [("-1", ">= 0"), ("3601", "<= 3600"), ("1.5", "integer"), ('"10s"', "integer"), ("true", "integer")],
)
def test_bad_stop_timeout_names_the_field(value: str, fragment: str) -> None:
    err = error_of(HEAD + f"stop_timeout = {value}\n")
    assert err.where == "containers.web.stop_timeout" and fragment in err.problem, str(err)


def test_prevent_destroy_must_be_a_boolean() -> None:
    assert error_of(HEAD + 'prevent_destroy = "yes"\n').where == "containers.web.prevent_destroy"


# --------------------------------------------------------------------------- [volumes.NAME] and volume mounts


def test_volumes_and_volume_mounts() -> None:
    hp = parse_hp_file(
        '[volumes.db]\n[volumes."cache.v2"]\n\n[containers.web]\nimage = "x"\n'
        'mounts = [{ type = "volume", source = "db", target = "/db", readonly = true }]\n'
    )
    assert sorted(hp.volumes) == ["cache.v2", "db"]
    assert hp.containers["web"].mounts == (VolumeMount(source="db", target="/db", readonly=True),)


@pytest.mark.parametrize(
    "name",
    ["-db", ".db", "a" * 65, "", "d/b", "d b", "wéb", "web.0123456789ab"],
    ids=["leading-dash", "leading-dot", "65-chars", "empty", "slash", "space", "non-ascii", "image-volume-name"],
)
def test_bad_volume_names(name: str) -> None:
    err = error_of(f'[volumes."{name}"]\n')
    assert err.where.startswith("volumes.")


@pytest.mark.parametrize(
    "table, where",
    [
        ("[volumes]\ndb = 1\n", "volumes.db"),
        ("[volumes.db]\ndriver = 1\n", "volumes.db.driver"),
        (
            '[containers.web]\nimage = "x"\nmounts = [{ type = "volume", source = "db" }]\n',
            "containers.web.mounts[0].target",
        ),
        (
            '[containers.web]\nimage = "x"\n'
            'mounts = [{ type = "volume", source = "db", target = "/x", readonly = 1 }]\n',
            "containers.web.mounts[0].readonly",
        ),
        ("[volumes.db]\nsize = true\n", "volumes.db.size"),
    ],
    ids=["not-a-table", "unknown-field", "no-target", "readonly-not-bool", "size-not-a-size"],
)
def test_volume_errors_name_the_field(table: str, where: str) -> None:
    assert error_of(table).where == where


def test_undeclared_and_badly_named_volume_mounts_are_refused_by_check_file() -> None:
    from compiler import check_file

    for source, problem in (("db", "is not declared"), ("../db", "invalid volume name")):
        hp = parse_hp_file(
            f'[containers.web]\nimage = "x"\nmounts = [{{ type = "volume", source = "{source}", target = "/x" }}]\n'
        )
        with pytest.raises(HpError) as info:
            check_file(hp)
        assert info.value.where == "containers.web.mounts[0].source" and problem in info.value.problem
