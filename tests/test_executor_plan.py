"""The pure parts of running containers: layout, argv, /etc files, exec's process."""

from __future__ import annotations

import pytest

from compiler import commands, oci
from compiler.errors import HpError
from compiler.etc_files import hosts_file, resolv_conf
from compiler.exec_process import exec_process
from compiler.layout import bridge_of_record, layout


@pytest.mark.parametrize(
    "state, problem",
    [
        ("relative/dir", "not an absolute path"),
        ("/var/lib/hp,x", "may not contain"),
        ("/var/lib/hp:x", "may not contain"),
    ],
    ids=["relative", "comma", "colon"],
)
def test_bad_state_dirs(state: str, problem: str) -> None:
    with pytest.raises(HpError, match=problem):
        layout(state)


def test_layout_paths() -> None:
    lay = layout("/var/lib/hp/")
    assert lay.crun_root == "/var/lib/hp/crun"
    assert lay.rootfs("web") == "/var/lib/hp/containers/web/bundle/rootfs"
    assert lay.image_rootfs("abc") == "/var/lib/hp/images/abc/rootfs"


# a file name in STATE/networks/bridges -> the bridge whose record it is (None: not a record, left alone)
BRIDGE_RECORD_FILES = [
    ("a-record", "hp0.json", "hp0"),
    ("a-temporary", ".hp0.json.tmp", None),
    ("no-suffix", "hp0", None),
    ("not-an-interface-name", "a-name-too-long-for-linux.json", None),
    ("only-the-suffix", ".json", None),
]


@pytest.mark.parametrize("name,file,bridge", BRIDGE_RECORD_FILES, ids=[c[0] for c in BRIDGE_RECORD_FILES])
def test_bridge_of_record(name: str, file: str, bridge: str | None) -> None:
    assert bridge_of_record(file) == bridge
    if bridge is not None:  # the inverse of Layout.bridge_record
        assert layout("/s").bridge_record(bridge) == f"/s/networks/bridges/{file}"


@pytest.mark.parametrize(
    "argv",
    [
        lambda lay, name: commands.crun_kill(lay, name, 15),
        lambda lay, name: commands.crun_delete(lay, name, force=True),
        lambda lay, name: commands.crun_start(lay, name),
        lambda lay, name: commands.crun_state(lay, name),
    ],
    ids=["kill", "delete", "start", "state"],
)
def test_crun_commands_use_hps_own_root_and_the_name_as_one_argument(argv) -> None:
    lay = layout("/s")
    name = "we;b $(x)"  # never valid as a name, but even so: one argument, no shell
    got = argv(lay, name)
    assert got[:3] == ("crun", "--root", lay.crun_root)  # never crun's global root, never podman's
    assert got.count(name) == 1


def _conmon_options(argv: tuple[str, ...]) -> tuple[dict[str, list[str]], set[str]]:
    """conmon's argv as {option: [values]} and the set of bare flags (its --help's grammar)."""
    flags = {"--full-attach", "--terminal"}
    values: dict[str, list[str]] = {}
    seen = set()
    i = 1
    while i < len(argv):
        if argv[i] in flags:
            seen.add(argv[i])
            i += 1
            continue
        values.setdefault(argv[i], []).append(argv[i + 1])
        i += 2
    return values, seen


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "terminal"])
def test_conmon_creates_the_container_with_hps_crun_root_log_and_exit_command(terminal: bool) -> None:
    lay = layout("/s")
    exit_command = commands.exit_command("/venv/bin/python", lay, "web", 7)
    argv = commands.conmon_argv(
        lay,
        "web",
        conmon="/usr/bin/conmon",
        runtime="/usr/bin/crun",
        terminal=terminal,
        log_max_size=1024**2,
        exit_command=exit_command,
    )
    options, flags = _conmon_options(argv)
    assert argv[0] == "/usr/bin/conmon"
    assert options["--cid"] == ["web"] and options["--runtime"] == ["/usr/bin/crun"]
    assert options["--bundle"] == [lay.bundle("web")]
    assert options["--runtime-arg"][:2] == ["--root", lay.crun_root]  # never crun's global root
    assert options["--log-path"] == [f"k8s-file:{lay.log('web')}"] and options["--log-size-max"] == ["1048576"]
    assert f"{options['--exit-dir'][0]}/web" == lay.exit_file("web")
    assert (options["--exit-command"] + options["--exit-command-arg"]) == list(exit_command)
    assert exit_command[-2:] == ("web", "7") and ("--terminal" in flags) == terminal


RESOLV = [
    (
        "loopback-dropped",
        "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example\n",
        None,
        "nameserver 10.0.0.2\nsearch example\n",
    ),
    ("ipv6-loopback-dropped", "nameserver ::1\nnameserver fd00::1\n", None, "nameserver fd00::1\n"),
    (
        "comments-ignored",
        "# x\n; y\nnameserver 1.1.1.1\noptions ndots:2\n",
        None,
        "nameserver 1.1.1.1\noptions ndots:2\n",
    ),
    ("explicit-servers-win", "nameserver 10.0.0.2\n", ("9.9.9.9",), "nameserver 9.9.9.9\n"),
    ("empty", "", None, ""),
]


@pytest.mark.parametrize("host, servers, expected", [c[1:] for c in RESOLV], ids=[c[0] for c in RESOLV])
def test_resolv_conf(host, servers, expected) -> None:
    assert resolv_conf(host, servers) == expected


def test_hosts_file_names_the_container_and_its_peers() -> None:
    text = hosts_file("web", (("10.10.0.3", "db"),))
    assert "127.0.1.1\tweb\n" in text and text.endswith("10.10.0.3\tdb\n")
    assert text.startswith("127.0.0.1\tlocalhost\n")


def test_exec_process_keeps_user_cwd_env_and_caps() -> None:
    process = oci.Process(
        terminal=False,
        user=oci.User(uid=1000, gid=1000, additional_gids=(1000, 33)),
        args=("/run/hp-init", "--keep-alive", "--", "app"),
        env=("A=1",),
        cwd="/srv",
        capabilities=oci.ProcessCapabilities((), (), (), (), ()),
        no_new_privileges=True,
    )
    got = exec_process(process, ("id", "-u"), tty=True)
    assert got.args == ("id", "-u") and got.terminal is True
    assert (got.user, got.env, got.cwd, got.capabilities) == (
        process.user,
        process.env,
        process.cwd,
        process.capabilities,
    )


@pytest.mark.parametrize("argv", [(), ("",), ("a\0b",)], ids=["none", "empty", "nul"])
def test_exec_needs_a_command(argv) -> None:
    process = oci.Process(terminal=False, user=oci.User(uid=0, gid=0), args=("x",), env=(), cwd="/")
    with pytest.raises(HpError):
        exec_process(process, argv, tty=False)


@pytest.mark.parametrize("insecure", [False, True], ids=["tls", "insecure-registry"])
def test_only_an_insecure_registry_is_pulled_from_without_tls(insecure: bool) -> None:
    # the pulls themselves run in tests/integration (an insecure local registry)
    argv = commands.pull_argv("127.0.0.1:5000/a/b:1", insecure)
    assert ("--tls-verify=false" in argv) == insecure and argv[-1] == "127.0.0.1:5000/a/b:1"


def test_rootfs_copies_keep_owners_modes_and_xattrs() -> None:
    assert commands.copy_tree_argv("/m", "/d")[-2:] == ("/m/.", "/d")
    assert "--preserve=all" in commands.copy_volume_argv("/a", "/b")
