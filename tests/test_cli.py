"""The real `hp` command, run as a process: `hp compile` on good and bad input, help, usage, version.

Every test writes its inputs into its own tmp_path and runs `hp` there. A good
run prints exactly compiler.compile_config_json's bytes; a bad one exits 1 with
exactly one line on stderr, "hp: error: …", naming the file and/or the field;
neither leaves anything behind.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest

from compiler import compile_config_json

from .host_facts import this_host

HP = Path(sys.executable).parent / "hp"
TIMEOUT = 60  # seconds; only a guard against a hang, never a speed check

# ---------------------------------------------------------------- inputs

TWO_CONTAINERS = b"""\
[containers.web]
image = "127.0.0.1:5000/library/web:1"
command = ["httpd", "-f", "-p", "8080"]
env = { MODE = "prod" }
user = "app"
memory = "256m"
cpus = 0.5
pids_limit = 256
mounts = [{ type = "tmpfs", target = "/scratch", size = "64m" }]
cap_drop = ["CHOWN"]
ulimits = { nofile = [4096, 8192] }
annotations = { "org.example.team" = "infra" }

[containers.worker]
image = "127.0.0.1:5000/library/web:1"
command = ["sh", "-c", "echo working; exit 0"]
keep_alive = true
read_only = true
"""

ONE_CONTAINER = b"""\
[containers.solo]
image = "docker.io/library/busybox:1.36"
user = "app:www"
workdir = "/tmp"
"""

INSPECT = b"""\
[
  {
    "Id": "6f1e0a2d4b8c",
    "RepoTags": ["127.0.0.1:5000/library/web:1"],
    "Created": "2026-11-01T10:00:00Z",
    "Author": "hp tests",
    "Architecture": "amd64",
    "Os": "linux",
    "Config": {
      "User": "app",
      "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
      "Entrypoint": ["/bin/busybox"],
      "Cmd": ["httpd", "-f", "-p", "80"],
      "WorkingDir": "/srv/www",
      "Labels": {"org.opencontainers.image.title": "web"},
      "StopSignal": "SIGQUIT",
      "ExposedPorts": {"8080/tcp": {}},
      "Volumes": {"/srv/data": {}}
    }
  }
]
"""

OCI_IMAGE = b"""\
{"architecture": "arm64", "os": "linux",
 "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "User": "0"},
 "rootfs": {"type": "layers", "diff_ids": []}}
"""

PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app user:/home/app:/bin/sh\n"
GROUP = b"root:x:0:\napp:x:1000:\nwww:x:33:app\n"

BASE = {"hp.toml": TWO_CONTAINERS, "image.json": INSPECT, "passwd": PASSWD, "group": GROUP}
WEB = ["compile", "hp.toml", "-c", "web", "-i", "image.json", "--passwd", "passwd", "--group", "group"]

DIR = "<a directory>"  # in a files table: make a directory there
FIFO = "<a named pipe>"  # ... a FIFO with no writer


def spec(text: str) -> bytes:
    """hp.toml with one container "web" whose table is `text` (plus a valid image)."""
    return b'[containers.web]\nimage = "127.0.0.1:5000/library/web:1"\n' + text.encode()


def image(config: str, os_: str = "linux") -> bytes:
    return f'{{"architecture": "amd64", "os": "{os_}", "config": {config}}}'.encode()


# ---------------------------------------------------------------- helpers


def write(root: Path, files: Mapping[str, bytes | str]) -> None:
    for name, content in files.items():
        path = root / name
        if content is DIR:
            path.mkdir()
        elif content is FIFO:
            os.mkfifo(path)
        else:
            assert isinstance(content, bytes)  # the only str contents are DIR and FIFO
            path.write_bytes(content)


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with its type, size and mtime: to see that a run changed nothing."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            out[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


def hp(args: list[str], cwd: Path, *, timeout: float = TIMEOUT, **kwargs) -> subprocess.CompletedProcess[bytes]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [str(HP), *args], cwd=cwd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, **kwargs
    )


def assert_one_error_line(proc: subprocess.CompletedProcess[bytes], expect: tuple[str, ...]) -> str:
    err = proc.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in err, err
    assert proc.returncode == 1, err
    assert proc.stdout == b""
    assert err.endswith("\n") and err.count("\n") == 1, f"expected exactly one line on stderr, got {err!r}"
    assert err.startswith("hp: error: "), err
    for part in expect:
        assert part in err, f"{part!r} not in {err!r}"
    return err


@pytest.fixture(autouse=True)
def _hp_exists() -> None:
    if not HP.is_file():
        pytest.fail(f"no hp script next to {sys.executable}: install the project (pip install -e .)", pytrace=False)


# ---------------------------------------------------------------- hp compile: success


@dataclass
class Good:
    id: str
    args: list[str]
    # compile_config_json(files[spec], container, files[image], files[passwd], files[group])
    expect: tuple[str, str | None, str, str | None, str | None]
    files: dict[str, bytes] = field(default_factory=lambda: dict(BASE))


GOOD = [
    Good("web-short-options", WEB, ("hp.toml", "web", "image.json", "passwd", "group")),
    Good(
        "worker-long-options",
        [
            "compile",
            "hp.toml",
            "--container",
            "worker",
            "--image-config",
            "image.json",
            "--passwd",
            "passwd",
            "--group",
            "group",
        ],
        ("hp.toml", "worker", "image.json", "passwd", "group"),
    ),
    Good(
        "options-before-file",
        ["compile", "-i", "image.json", "--group", "group", "--passwd", "passwd", "-c", "web", "hp.toml"],
        ("hp.toml", "web", "image.json", "passwd", "group"),
    ),
    Good(
        "one-container-without-container-option",
        ["compile", "one.toml", "-i", "image.json", "--passwd", "passwd", "--group", "group"],
        ("one.toml", None, "image.json", "passwd", "group"),
        {**BASE, "one.toml": ONE_CONTAINER},
    ),
    Good(
        "one-container-named-explicitly",
        ["compile", "one.toml", "-c", "solo", "-i", "image.json", "--passwd", "passwd", "--group", "group"],
        ("one.toml", "solo", "image.json", "passwd", "group"),
        {**BASE, "one.toml": ONE_CONTAINER},
    ),
    Good(
        "oci-image-config-without-passwd",
        ["compile", "w.toml", "-i", "oci.json"],
        ("w.toml", None, "oci.json", None, None),
        {"w.toml": spec('command = ["/bin/true"]\n'), "oci.json": OCI_IMAGE},
    ),
    Good(
        "file-names-with-spaces",
        ["compile", "my hp.toml", "-c", "web", "-i", "my image.json", "--passwd", "my passwd"],
        ("my hp.toml", "web", "my image.json", "my passwd", None),
        {"my hp.toml": TWO_CONTAINERS, "my image.json": INSPECT, "my passwd": PASSWD},
    ),
]


@pytest.mark.parametrize("case", GOOD, ids=[c.id for c in GOOD])
def test_compile_prints_exactly_the_compilers_bytes(tmp_path: Path, case: Good) -> None:
    write(tmp_path, case.files)
    before = tree(tmp_path)
    proc = hp(case.args, tmp_path)
    assert proc.stderr == b""
    assert proc.returncode == 0
    spec_name, container, image_name, passwd_name, group_name = case.expect
    want = compile_config_json(
        case.files[spec_name],
        container,
        case.files[image_name],
        case.files[passwd_name].decode() if passwd_name else None,
        case.files[group_name].decode() if group_name else None,
        host=this_host(),
    )
    assert proc.stdout == want
    assert tree(tmp_path) == before


def test_compile_with_absolute_paths_from_another_directory(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(inputs, BASE)
    before = tree(tmp_path)
    proc = hp(
        [
            "compile",
            str(inputs / "hp.toml"),
            "-c",
            "web",
            "-i",
            str(inputs / "image.json"),
            "--passwd",
            str(inputs / "passwd"),
            "--group",
            str(inputs / "group"),
        ],
        elsewhere,
    )
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert proc.stdout == compile_config_json(
        TWO_CONTAINERS, "web", INSPECT, PASSWD.decode(), GROUP.decode(), host=this_host()
    )
    assert tree(tmp_path) == before


def test_compile_is_deterministic_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    outs = {hp(WEB, tmp_path, env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("0", "1", "4242")}
    assert len(outs) == 1 and outs != {b""}


# ---------------------------------------------------------------- hp compile: bad input


@dataclass
class Bad:
    id: str
    files: Mapping[str, bytes | str]
    expect: tuple[str, ...]  # parts of the error line: the file and/or the field path, and the gist
    args: list[str] = field(default_factory=lambda: list(WEB))
    bug: str | None = None  # the CLI gets this wrong today: xfail(strict) with this reason
    timeout: float = TIMEOUT


def with_(**files: bytes | str) -> dict[str, bytes | str]:
    """BASE with some files replaced; keyword names use _ for . (hp_toml → hp.toml)."""
    return {**BASE, **{k.replace("_", "."): v for k, v in files.items()}}


def without(name: str) -> dict[str, bytes | str]:
    return {k: v for k, v in BASE.items() if k != name}


BAD = [
    # --- FILE (hp.toml) as a file
    Bad("spec-missing-file", without("hp.toml"), ("hp.toml", "No such file")),
    Bad("spec-is-a-directory", with_(hp_toml=DIR), ("hp.toml",)),
    Bad("spec-is-a-fifo", with_(hp_toml=FIFO), ("hp.toml", "not a regular file"), timeout=10),  # must not block
    Bad(
        "spec-is-dev-null",
        BASE,
        ("/dev/null", "not a regular file"),
        args=["compile", "/dev/null", "-c", "web", "-i", "image.json"],
    ),
    Bad("spec-not-utf8", with_(hp_toml=b'[containers.web]\nimage = "web\xff"\n'), ("hp.toml", "UTF-8")),
    Bad("spec-invalid-toml-syntax", with_(hp_toml=b'[containers.web\nimage = "x"\n'), ("hp.toml", "TOML", "line 1")),
    Bad("spec-duplicate-key", with_(hp_toml=spec('user = "a"\nuser = "b"\n')), ("hp.toml", "TOML")),
    # --- FILE (hp.toml) content
    Bad("spec-unknown-field", with_(hp_toml=spec("bogus = 1\n")), ("hp.toml", "containers.web.bogus", "unknown")),
    Bad(
        "spec-unknown-field-with-newline-in-key",
        with_(hp_toml=spec('"bo\\ngus" = 1\n')),
        ("hp.toml", "containers.web.", "unknown"),
    ),
    Bad("spec-unknown-top-level-table", with_(hp_toml=b"[networks.a]\n" + TWO_CONTAINERS), ("hp.toml", "networks")),
    Bad(
        "spec-unknown-field-in-mount",
        with_(hp_toml=spec('mounts = [{ type = "tmpfs", target = "/t", sise = "1m" }]\n')),
        ("hp.toml", "containers.web.mounts[0].sise"),
    ),
    Bad(
        "spec-wrong-type-integer",
        with_(hp_toml=spec('pids_limit = "many"\n')),
        ("hp.toml", "containers.web.pids_limit", "expected an integer"),
    ),
    Bad("spec-wrong-type-boolean", with_(hp_toml=spec('terminal = "yes"\n')), ("hp.toml", "containers.web.terminal")),
    Bad(
        "spec-wrong-type-env-value", with_(hp_toml=spec("env = { MODE = 1 }\n")), ("hp.toml", "containers.web.env.MODE")
    ),
    Bad("spec-wrong-type-list", with_(hp_toml=spec('command = "httpd -f"\n')), ("hp.toml", "containers.web.command")),
    Bad("spec-wrong-type-container-table", with_(hp_toml=b"[containers]\nweb = 1\n"), ("hp.toml", "containers.web")),
    Bad("spec-wrong-type-containers", with_(hp_toml=b"containers = 1\n"), ("hp.toml", "containers")),
    Bad("spec-missing-image", with_(hp_toml=b'[containers.web]\nuser = "app"\n'), ("hp.toml", "containers.web.image")),
    Bad("spec-bad-memory", with_(hp_toml=spec('memory = "lots"\n')), ("hp.toml", "containers.web.memory")),
    Bad("spec-relative-workdir", with_(hp_toml=spec('workdir = "srv"\n')), ("hp.toml", "containers.web.workdir")),
    Bad(
        "spec-bad-image-reference",
        with_(hp_toml=b'[containers.web]\nimage = "UPPER CASE"\n'),
        ("hp.toml", "containers.web.image"),
    ),
    Bad(
        "spec-no-command-to-run",
        with_(hp_toml=spec('entrypoint = [""]\n')),
        ("hp.toml", "containers.web", "no command"),
    ),
    Bad(
        "spec-bad-container-name",
        with_(hp_toml=b'[containers."bad name"]\nimage = "x"\n'),
        ("hp.toml", 'containers."bad name"', "container name"),
    ),
    Bad(
        "spec-container-name-too-long",
        with_(hp_toml=b"[containers." + b"a" * 65 + b']\nimage = "x"\n'),
        ("hp.toml", "containers." + "a" * 65),
    ),
    Bad(
        "spec-no-containers",
        with_(hp_toml=b""),
        ("hp.toml", "containers"),
        args=["compile", "hp.toml", "-i", "image.json"],
    ),
    # --- --container
    Bad(
        "container-unknown",
        BASE,
        ("--container", "'nope'", "web, worker"),
        args=["compile", "hp.toml", "-c", "nope", "-i", "image.json"],
    ),
    Bad(
        "container-needed-with-several",
        BASE,
        ("--container", "web, worker"),
        args=["compile", "hp.toml", "-i", "image.json", "--passwd", "passwd"],
    ),
    # --- --image-config
    Bad("image-missing-file", without("image.json"), ("image.json", "No such file")),
    Bad("image-is-a-directory", with_(image_json=DIR), ("image.json",)),
    Bad("image-invalid-json", with_(image_json=b'{"os": "linux", '), ("image.json", "JSON")),
    Bad("image-not-utf8-at-start", with_(image_json=b'\xff{"os": "linux"}'), ("image.json", "UTF-8")),
    Bad("image-not-utf8-in-a-string", with_(image_json=b'{"os": "lin\xffux", "config": {}}'), ("image.json", "UTF-8")),
    Bad(
        "image-array-of-two",
        with_(image_json=b"[" + INSPECT.strip()[1:-1] + b"," + INSPECT.strip()[1:-1] + b"]"),
        ("image.json", "2"),
    ),
    Bad("image-empty-array", with_(image_json=b"[]"), ("image.json",)),
    Bad("image-not-an-object", with_(image_json=b"42"), ("image.json",)),
    Bad(
        "image-not-linux",
        with_(image_json=image('{"Cmd": ["/bin/sh"]}', os_="windows")),
        ("image.json", "os", "windows"),
    ),
    Bad("image-wrong-type-env", with_(image_json=image('{"Env": "A=1"}')), ("image.json", "config.Env")),
    Bad(
        "image-env-without-equals",
        with_(image_json=image('{"Env": ["JUSTNAME"], "Cmd": ["/bin/sh"]}')),
        ("image.json", "config.Env", "JUSTNAME"),
    ),
    Bad(
        "image-bad-stop-signal",
        with_(image_json=image('{"StopSignal": "SIGNOPE", "Cmd": ["/bin/sh"]}')),
        ("image.json", "config.StopSignal"),
    ),
    Bad(
        "image-user-not-found",
        with_(image_json=image('{"User": "ghost", "Cmd": ["/bin/sh"]}'), hp_toml=spec('command = ["x"]\n')),
        ("image.json", "config.User", "ghost"),
    ),
    # --- --passwd / --group
    Bad("passwd-missing-file", without("passwd"), ("passwd", "No such file")),
    Bad("passwd-is-a-directory", with_(passwd=DIR), ("passwd",)),
    Bad("passwd-not-utf8", with_(passwd=b"app:x:1000:1000::/home/\xff:/bin/sh\n"), ("passwd", "UTF-8")),
    Bad(
        "user-not-found", with_(passwd=b"root:x:0:0:root:/root:/bin/sh\n"), ("hp.toml", "containers.web.user", '"app"')
    ),
    Bad(
        "user-name-without-passwd",
        BASE,
        ("hp.toml", "containers.web.user", "passwd"),
        args=["compile", "hp.toml", "-c", "web", "-i", "image.json"],
    ),
    Bad(
        "uid-out-of-range",
        with_(hp_toml=spec('user = "2147483648"\ncommand = ["x"]\n')),
        ("hp.toml", "containers.web.user"),
    ),
    Bad("group-missing-file", without("group"), ("group", "No such file")),
    Bad("group-is-a-directory", with_(group=DIR), ("group",)),
    Bad(
        "group-not-found",
        with_(hp_toml=spec('user = "app:ghosts"\ncommand = ["x"]\n')),
        ("hp.toml", "containers.web.user", '"ghosts"'),
    ),
    # --- odd names and pathological nesting
    Bad(
        "spec-file-name-with-newline",
        without("hp.toml"),
        ("No such file", '"new\\nline.toml"'),
        args=["compile", "new\nline.toml", "-c", "web", "-i", "image.json"],
    ),
    Bad("image-deeply-nested", with_(image_json=b"[" * 100_000), ("image.json", "nested too deeply")),
    Bad(
        "spec-deeply-nested",
        with_(hp_toml=b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n"),
        ("hp.toml", "nested too deeply"),
    ),
    Bad(
        "stdin-twice",
        with_(),
        ("--passwd", "stdin (-) is already read for --image-config"),
        args=["compile", "hp.toml", "-c", "web", "-i", "-", "--passwd", "-"],
    ),
]


def _bad_param(case: Bad):
    marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_bad_param(c) for c in BAD])
def test_compile_bad_input_is_one_clean_error_line(tmp_path: Path, case: Bad) -> None:
    write(tmp_path, case.files)
    before = tree(tmp_path)
    try:
        proc = hp(case.args, tmp_path, timeout=case.timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hp did not finish within {case.timeout} s")
    assert_one_error_line(proc, case.expect)
    assert tree(tmp_path) == before


def test_compile_write_error_is_one_clean_error_line(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    write(tmp_path, BASE)
    with open("/dev/full", "wb") as full:
        proc = hp(WEB, tmp_path, stdout=full)
    proc.stdout = b""  # went to /dev/full
    assert_one_error_line(proc, ("stdout",))


# ---------------------------------------------------------------- help, usage, version


@dataclass
class Usage:
    id: str
    args: list[str]
    code: int
    stdout_has: tuple[str, ...] = ()
    stderr_has: tuple[str, ...] = ()


USAGE = [
    Usage("help", ["--help"], 0, stdout_has=("compile", "--version")),
    Usage("help-short", ["-h"], 0, stdout_has=("compile",)),
    Usage(
        "compile-help", ["compile", "--help"], 0, stdout_has=("--image-config", "--container", "--passwd", "--group")
    ),
    Usage("missing-image-config", ["compile", "hp.toml", "-c", "web"], 2, stderr_has=("--image-config",)),
    Usage("missing-file-argument", ["compile", "-i", "image.json"], 2, stderr_has=("FILE",)),
    Usage("unknown-option", ["compile", "hp.toml", "-i", "image.json", "--bogus"], 2, stderr_has=("--bogus",)),
    Usage("unknown-command", ["frobnicate"], 2, stderr_has=("frobnicate",)),
    Usage("option-without-value", ["compile", "hp.toml", "-i"], 2, stderr_has=("-i",)),
]


@pytest.mark.parametrize("case", USAGE, ids=[c.id for c in USAGE])
def test_help_and_usage_errors(tmp_path: Path, case: Usage) -> None:
    write(tmp_path, BASE)
    before = tree(tmp_path)
    proc = hp(case.args, tmp_path)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == case.code, (out, err)
    assert "Traceback" not in out + err
    if case.code == 0:
        assert err == ""
    else:
        assert out == ""
    for part in case.stdout_has:
        assert part in out, out
    for part in case.stderr_has:
        assert part in err, err
    assert tree(tmp_path) == before


def test_version(tmp_path: Path) -> None:
    proc = hp(["--version"], tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert proc.stdout.decode() == f"hp {version('heropods')}\n"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- NAME, --state-dir, hp exec's options

HOSTILE_NAMES = [
    "../../victim",
    "../victim",
    ".",
    "..",
    "a/b",
    "/etc",
    "vic tim",
    "victim\n",
    "ví",
    "x" * 65,
    "-victim",
    "_x",
]


@pytest.mark.parametrize(
    "command", [["rm"], ["rm", "--force"], ["start"], ["stop"], ["logs"], ["exec"]], ids=lambda c: "-".join(c)
)
def test_a_bad_name_is_one_line_before_anything_is_touched(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "pid").write_text("1\n")
    before = tree(tmp_path)
    for name in HOSTILE_NAMES:
        tail = ["--", "true"] if command == ["exec"] else []
        proc = hp([*command, "--state-dir", str(tmp_path / "state"), "--", name, *tail], tmp_path)
        assert_one_error_line(proc, ("invalid container name",))
        assert tree(tmp_path) == before  # not even the state dir was made


STATE_DIRS = [
    ("a-file", lambda tmp: str(tmp / "file"), "not a directory"),
    ("below-a-file", lambda tmp: str(tmp / "file" / "state"), "not a directory"),
    ("under-proc", lambda tmp: "/proc/1", "may not be under /proc"),
    ("under-proc-self", lambda tmp: "/proc/self/cwd/state", "may not be under /proc"),
    ("under-sys", lambda tmp: "/sys/fs/hp", "may not be under /sys"),
    ("under-dev", lambda tmp: "/dev/null/hp", "may not be under /dev"),
    ("overlay-unsafe", lambda tmp: str(tmp / "a:b"), "may not contain"),
]
STATE_COMMANDS = [
    ["plan", "hp.toml"],
    ["apply", "hp.toml", "--yes"],
    ["destroy", "hp.toml", "--yes"],
    ["ps"],
    ["show"],
    ["rm", "web"],
    ["start", "web"],
    ["stop", "web"],
    ["logs", "web"],
    ["exec", "web", "--", "true"],
]


@pytest.mark.parametrize("case", STATE_DIRS, ids=[c[0] for c in STATE_DIRS])
def test_an_unusable_state_dir_is_one_line(tmp_path: Path, case) -> None:
    _, state_dir, expect = case
    write(tmp_path, {"file": b"not a directory\n", "hp.toml": b""})
    before = tree(tmp_path)
    for command in STATE_COMMANDS:
        proc = hp([command[0], "--state-dir", state_dir(tmp_path), *command[1:]], tmp_path)
        assert_one_error_line(proc, (expect,))
    doctor = hp(["doctor", "--state-dir", state_dir(tmp_path)], tmp_path)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr.decode()
    if expect != "may not contain":  # that one is refused before there is a state dir to report on
        [line] = [line for line in doctor.stdout.decode().splitlines() if "state dir:" in line]
        assert line.startswith("FIX  state dir: ") and expect in line, line
    assert tree(tmp_path) == before


def test_exec_takes_hps_options_between_name_and_the_command(tmp_path: Path) -> None:
    """`hp exec NAME --state-dir S -- cmd` uses S (here a file, so the error names it) instead of
    ignoring it; any other option there is a usage error, never part of the command."""
    write(tmp_path, {"file": b""})
    state = str(tmp_path / "file")
    for words in (
        ["--state-dir", state, "--", "true"],
        [f"--state-dir={state}", "-t", "--", "true"],
        ["--tty", "--state-dir", state, "true", "--state-dir", "/elsewhere"],
    ):
        proc = hp(["exec", "web", *words], tmp_path, env={**os.environ, "HP_STATE_DIR": str(tmp_path / "unused")})
        assert_one_error_line(proc, (state, "not a directory"))
    for words, expect in (
        (["--bogus", "--", "true"], "no such option: --bogus"),
        (["--state-dir"], "'--state-dir' requires an argument"),
        (["--"], "missing the command"),
        (["-t"], "missing the command"),
    ):
        proc = hp(["exec", "web", *words], tmp_path)
        said = " ".join(re.sub("[│╭╮╰╯─]", " ", proc.stderr.decode()).split())  # unboxed, unwrapped
        assert proc.returncode == 2 and expect in said, said
    assert sorted(os.listdir(tmp_path)) == ["file"]
