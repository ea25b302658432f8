"""Property tests of the whole compiler (issue 2, "Done means"):

(a) any plausible input (an hp.toml container table, an image config in either form,
    passwd/group texts) gives either a clean HpError (non-empty, one line) or a config
    that validates against the OCI runtime-spec schema (when HP_OCI_SCHEMA_DIR is set)
    and satisfies the rules the schema cannot check (oci-conversion.md §2.3 table,
    runtime-tools' checks). Never any other exception.
(b) determinism: same inputs → same bytes; the order of keys in every map-shaped input
    (TOML tables and inline tables, JSON objects) does not matter; nor does
    PYTHONHASHSEED (a subprocess run of `hp compile`).

Inputs are generated as Python values and serialised with a small TOML writer (below)
and json.dumps, so the parsers are exercised too. Generators draw valid values most of
the time (so most examples compile and reach the schema) and invalid ones now and then
(so every error path is exercised). A NUL in image metadata or in a passwd home
field has its own tests at the end of this file.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import HostDevice, HostFile, HpError, compile_config_json
from compiler.capabilities import ALL_CAPABILITIES

from .host_facts import TEST_HOST, this_host

ROOT = Path(__file__).resolve().parent.parent
MAX_ID = 2**31 - 1

# --------------------------------------------------------------------------- TOML writer


def toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{toml_str(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_file(containers: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, table in containers.items():
        parts.append(f"[containers.{toml_str(name)}]")
        parts.extend(f"{toml_str(k)} = {toml_value(v)}" for k, v in table.items())
        parts.append("")
    return "\n".join(parts)


def test_toml_writer_round_trips() -> None:
    import tomllib

    doc = {"web": {"a": 'q"\\\n\t\0é', "b": [1, -2, 0.5], "c": {"": True, "k y": {}}, "d": math.inf}}
    assert tomllib.loads(toml_file(doc)) == {"containers": doc}


# --------------------------------------------------------------------------- strategies


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy, one_in: int = 30) -> st.SearchStrategy:
    """`valid` most of the time, `invalid` about once in `one_in` draws, so that many
    generated inputs compile (and reach the schema) while every error path is still hit.
    (The invalid branch is the largest integer, so hypothesis' simplest examples are valid.)"""
    return st.integers(1, one_in).flatmap(lambda i: invalid if i == one_in else valid)


def pick(valid: list, invalid: list, one_in: int = 30) -> st.SearchStrategy:
    return mostly(st.sampled_from(valid), st.sampled_from(invalid), one_in)


SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # annotated: mypy reads a bare ("Cs",) as tuple[str], not a category
TEXT = st.text(alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="\n\r"), max_size=6)
SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=6)
# image metadata may carry a NUL: it must be a clean error, never reach the config
META_TEXT = st.text(alphabet=st.characters(blacklist_categories=SURROGATES), max_size=6)
NAMES = pick(["web", "db-1", "A_b", "x" * 64, "0"], ["-bad", "x" * 65, "web.app", "", "wéb"], 30)
WORD = mostly(
    st.sampled_from(["/bin/app", "sh", "-c", "echo $HOME; exit 0", "--port", "80", "a b", "'q'", ""]) | SAFE_TEXT, TEXT
)
COMMAND = mostly(st.lists(WORD, min_size=1, max_size=3).filter(lambda a: a[0] != ""), st.lists(WORD, max_size=3), 8)

IMAGES = pick(
    ["127.0.0.1:5000/library/web:1", "localhost/x", "[::1]:5000/a", "busybox", "busybox@sha256:" + "a" * 64],
    ["Library/Web", "web app", "web;x", "$(x)", "web:", "", "web@sha256:xyz"],
    60,
)
ENV_NAMES = pick(
    ["A", "MODE", "PATH", "HOME", "HOSTNAME", "TERM", "path", "my.var", "ü"], ["", "A=B", "X\0", "a\nb"], 15
) | SAFE_TEXT.filter(lambda t: t and "=" not in t)
ENV_VALUES = mostly(st.sampled_from(["", "1", "/opt/bin", "$HOME", "a=b"]) | SAFE_TEXT, st.just("v\0"), 20)
ENV_ENTRIES = pick(
    ["A=1", "MODE=prod", "PATH=/bin", "HOME=", "DEBUG", "PATH", "A=b=c", "TERM=dumb", "HOSTNAME=h"],
    ["=x", "Z\0=1", ""],
    15,
)
IMAGE_ENV = pick(
    ["A=1", "MODE=prod", "PATH=/usr/bin", "HOME=", "A=b=c", "LANG=C", "B=", "PATH="], ["DEBUG", "=x", "Z\0=1", ""], 20
) | st.builds("{}={}".format, SAFE_TEXT.filter(lambda t: t and "=" not in t), SAFE_TEXT)

ANNOTATION_KEYS = pick(
    ["org.example.team", "org.opencontainers.image.os", "run.oci.keep_original_groups", "k", "bundle"],
    ["", "a\nb", "x\0"],
    15,
) | SAFE_TEXT.filter(bool)
USERS = pick(
    [
        "",
        "0",
        "root",
        "app",
        "app:app",
        "1000",
        "1000:1000",
        "+5",
        "-0",
        "app:staff",
        "7456",
        "111",
        "root:0",
        "app:50",
        "4242",
        "4242:4242",
        "2147483647",
    ],
    ["١٢", " 5", "1_000", "-1", "2147483648", "nobody", "app:nogroup", ":", "app:"],
    15,
)
WORKDIRS = pick(["/srv", "/a/../b", "/", "//x/./y/", "/srv/", "/..", "/a b"], ["rel", "", "/x\0"])
HOSTNAMES = pick(["web", "db.local", "h_1", "a" * 64, "0"], ["-bad", "", "a" * 65, "wéb"])
SIZES = pick(["256m", "6m", "1G", 268435456, "1g", "6144K"], ["5m", "64k", "lots", 0, -1, "1.5g"])
SWAPS = pick(["2g", -1, "-1", "1073741824"], ["128m", 0, "x"])
CPUS = pick([0.5, 1.0, 2.5, 0.01, 4096.0, 1, 0.123456], [0.0, -1.0, 0.001, 4097.0, math.nan, math.inf])
PIDS = pick([256, -1, 1, 2**63 - 1], [0, -2])
CAPS = pick(["NET_ADMIN", "net_raw", "CAP_SYS_ADMIN", "ALL", "all", "CHOWN", "kill", "Setuid", "mknod"], ["bogus"], 100)
ULIMIT_NAMES = pick(["nofile", "NPROC", "rlimit_core", "RLIMIT_NOFILE", "stack", "Memlock"], ["bogus"])
ULIMIT_VALUES = mostly(
    st.sampled_from([1024, 0, 2**64 - 1])
    | st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)).map(sorted).map(list),
    st.sampled_from([-1, [5, 1], [0, -5]]),
)
TARGETS = pick(
    [
        "/data",
        "/dev",
        "/dev/shm",
        "/etc/hosts",
        "/etc",
        "/data/sub",
        "/run",
        "/proc/x",
        "/srv/data",
        "/sys",
        "/run/hp-init",
        "/var/lib/db",
        "/data/",
        "/a/../scratch",
        "/cache",
    ],
    ["rel", "/", ""],
)
MOUNTS = mostly(
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("bind"), "source": pick(["/srv/data", "/host", "/a/../b/"], ["rel"]), "target": TARGETS},
            optional={"readonly": st.booleans()},
        ),
        st.fixed_dictionaries(
            {"type": st.just("tmpfs"), "target": TARGETS},
            optional={
                "size": pick(["64m", 1024, "1g"], ["x", 0]),
                "mode": pick(["1777", 0o755, "700"], ["999"]),
                "readonly": st.booleans(),
            },
        ),
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["volume", "bind"]), "target": TARGETS}),
)

# podman's --device syntax: HOST[:CONTAINER][:PERMISSIONS]; /dev/nope is not among the host facts (HOST below)
DEVICES = pick(
    ["/dev/fuse", "/dev/net/tun:/dev/net/tun:rwm", "/dev/sda:/dev/xvda:r", "/dev/fuse:m", "/dev/fuse:/x"],
    ["/dev/nope", "dev/fuse", "/dev/fuse:rx", "/dev/fuse:/dev", "/dev/../fuse", "/dev/a:/b:r:w", ""],
    10,
)
CONTAINER = st.fixed_dictionaries(
    {"image": IMAGES, "command": mostly(COMMAND, st.none(), 5)},  # None: dropped in inputs()
    optional={
        "entrypoint": mostly(st.lists(WORD, max_size=3), st.sampled_from([[""], [], ["", "x"]]), 6),
        "env": st.dictionaries(ENV_NAMES, ENV_VALUES, max_size=4) | st.lists(ENV_ENTRIES, max_size=4),
        "workdir": WORKDIRS,
        "user": USERS,
        "hostname": HOSTNAMES,
        "terminal": st.booleans(),
        "read_only": st.booleans(),
        "keep_alive": st.booleans(),
        "labels_to_annotations": st.booleans(),
        "annotations": st.dictionaries(ANNOTATION_KEYS, mostly(TEXT, st.just("v\0"), 15), max_size=3),
        "memory": SIZES,
        "memory_swap": SWAPS,
        "cpus": CPUS,
        "pids_limit": PIDS,
        "mounts": mostly(
            st.lists(MOUNTS, max_size=3, unique_by=lambda m: m["target"].rstrip("/")), st.lists(MOUNTS, max_size=3), 10
        ),
        "cap_add": st.lists(CAPS, max_size=3),
        "cap_drop": st.lists(CAPS, max_size=2),
        "ulimits": st.dictionaries(ULIMIT_NAMES, ULIMIT_VALUES, max_size=3),
        "seccomp": st.sampled_from(["default", "unconfined", "moby.json", "oci.json", "bad.json", "missing.json", ""]),
        "privileged": st.booleans(),
        "devices": st.lists(DEVICES, max_size=3),
    },
)
# now and then: a misspelt key, or a value of the wrong type
ODDITIES = st.sampled_from(
    [
        {"memry": "1g"},
        {"read_onyl": True},
        {"memory": True},
        {"env": 5},
        {"mounts": "/data"},
        {"cpus": "1"},
        {"ulimits": {"nofile": [1, 2, 3]}},
        {"command": "run"},
        {"user": 1000},
        {"ulimits": {"nofile": "x"}},
    ]
)

STOP_SIGNALS = pick(["SIGTERM", "15", "SIGRTMIN+3", "quit", "", "rtmax-2"], ["0", "SIG", "bogus", "65"])
PORTS: st.SearchStrategy[dict[str, dict[str, Any]]] = st.dictionaries(
    st.sampled_from(["80/tcp", "8080/tcp", "443", "53/udp", "1234/tcp"]), st.just({}), max_size=3
)
VOLUMES: st.SearchStrategy[dict[str, dict[str, Any]]] = st.dictionaries(
    pick(["/data", "/var/lib/db", "/data/", "/a/../b", "/", "/srv/data/x", "/run", "/a b/%2F"], ["rel", ""]),
    st.just({}),
    max_size=3,
)
LABELS = st.dictionaries(
    st.sampled_from(
        [
            "org.opencontainers.image.title",
            "run.oci.hooks.stdout",
            "bundle",
            "maintainer",
            "org.opencontainers.image.os",
            "",
            "org.systemd.property.ExecStartPre",
        ]
    )
    | META_TEXT,
    META_TEXT,
    max_size=3,
)
RUN_CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "User": st.sampled_from(["", "app", "1000", "root:staff", "0:0", "4242"]) | st.none(),
        "Env": st.lists(IMAGE_ENV, max_size=4) | st.none(),
        "Entrypoint": mostly(
            st.lists(WORD, min_size=1, max_size=2).filter(lambda a: a[0] != ""), st.sampled_from([[""], [], None])
        ),
        "Cmd": mostly(COMMAND, st.sampled_from([[], None, [""]]), 6),
        "WorkingDir": pick(["/srv/www", "", "/a/./b/"], ["rel"]) | st.none(),
        "Labels": LABELS | st.none(),
        "StopSignal": STOP_SIGNALS | st.none(),
        "ExposedPorts": PORTS | st.none(),
        "Volumes": VOLUMES | st.none(),
        "Healthcheck": st.just({"Test": ["NONE"]}),
    },
)
PLATFORM = {
    "os": pick(["linux", "", None], ["windows"], 60),
    "architecture": st.sampled_from(["amd64", "arm64", ""]),
    "variant": st.sampled_from(["v8", ""]),
    "author": META_TEXT,
    "created": st.sampled_from(["2026-11-01T10:00:00Z", ""]),
}


@st.composite
def image_docs(draw) -> Any:
    run = draw(mostly(RUN_CONFIG, st.none(), 20))
    platform = {k: draw(v) for k, v in PLATFORM.items() if k == "os" or draw(st.booleans())}
    if draw(st.booleans()):
        doc = {"config": run, **platform}
        if draw(st.booleans()):
            doc["rootfs"] = {"type": "layers", "diff_ids": []}
        return doc
    doc = {"Config": run, "Id": "abc", **{k.capitalize(): v for k, v in platform.items()}}
    return [doc] if draw(st.booleans()) else doc


PASSWD_LINES = st.sampled_from(
    [
        "root:x:0:0:root:/root:/bin/sh",
        "app:x:1000:1000:app:/home/app:/bin/sh",
        "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin",
        "111:x:222:333::/h:/bin/sh",
        "app:x:2000:2000::/second:/bin/sh",
        "user7456:x:7456:100:Vasya:/home/user7456",
        " 5:x:55:55::/s:/bin/sh",
        "garbage",
        "",
        "#app:x:5:5::/x:/bin/sh",
        "bad:x:-1:0::/:/bin/sh",
        "empty:x:3:3:::/bin/sh",
        "big:x:99999999999:0::/:/bin/sh",
        "wide:x:5:2147483648::/:/bin/sh",
        "app:x:1000:1000::/home/app:/bin/sh\r",
        "short:x:6:6::/home/short",
        "odd:x:111:112::/home/odd:::::",
    ]
)
GROUP_LINES = st.sampled_from(
    [
        "root:x:0:root",
        "app:x:1000:",
        "staff:x:50:app,root",
        "dup:x:50:app",
        "users:x:100:user7456,app",
        "garbage",
        "",
        "#x:x:1:",
        "bad:x:abc:app",
        "toolarge:x:2147483648:app",
        "crlf:x:60:app\r",
    ]
)
PASSWD = mostly(
    st.lists(PASSWD_LINES, max_size=6).map(
        lambda ls: "\n".join(["root:x:0:0:root:/root:/bin/sh", "app:x:1000:1000::/home/app:/bin/sh", *ls])
    ),
    st.none() | st.lists(PASSWD_LINES, max_size=6).map("\n".join),
    5,
)
GROUP = mostly(
    st.lists(GROUP_LINES, max_size=6).map(lambda ls: "\n".join(["staff:x:50:app", *ls])),
    st.none() | st.lists(GROUP_LINES, max_size=6).map("\n".join),
    5,
)


@st.composite
def inputs(draw) -> tuple[dict[str, dict[str, Any]], str, Any, str | None, str | None]:
    name = draw(NAMES)
    table = draw(CONTAINER)
    if table["command"] is None:
        del table["command"]
    if "memory_swap" in table and "memory" not in table and draw(st.integers(0, 9)) < 9:
        table["memory"] = "256m"  # swap needs memory; leave it out only now and then
    if draw(st.integers(0, 30)) == 30:
        table.update(draw(ODDITIES))
    containers = {name: table}
    if draw(st.integers(0, 4)) == 4:
        other = draw(NAMES.filter(lambda n: n != name))
        containers[other] = {k: v for k, v in draw(CONTAINER).items() if v is not None}
    return containers, name, draw(image_docs()), draw(PASSWD), draw(GROUP)


# --------------------------------------------------------------------------- checks


@lru_cache(maxsize=1)
def schema_validator():
    directory = os.environ.get("HP_OCI_SCHEMA_DIR", "")
    if not directory or not os.path.isfile(os.path.join(directory, "config-schema.json")):
        return None
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    root = Path(directory)
    resources = [
        (p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
        for p in sorted(root.glob("*.json"))
    ]
    return Draft4Validator(
        json.loads((root / "config-schema.json").read_text()), registry=Registry().with_resources(resources)
    )


# seccomp = PATH: a profile in containers-common's format, an OCI LinuxSeccomp, and an invalid one
PROFILES = {
    "moby.json": '{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "EPERM", "archMap": [], "syscalls": '
    '[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}',
    "oci.json": '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_LOG"}]}',
    "bad.json": '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "LOG"}]}',
}
_NODES = (
    HostDevice("/dev/fuse", "c", 10, 229, 0o600, 0, 0),
    HostDevice("/dev/net/tun", "c", 10, 200, 0o666, 0, 0),
    HostDevice("/dev/sda", "b", 8, 0, 0o660, 0, 6),
)
HOST = msgspec.structs.replace(
    TEST_HOST,
    seccomp_files={p: HostFile(p, t) for p, t in PROFILES.items()},
    devices={d.path: d for d in _NODES},
    all_devices=_NODES,
)


def compile_text(containers, name, image, passwd, group) -> bytes:
    return compile_config_json(toml_file(containers), name, json.dumps(image), passwd, group, host=HOST)


def compile_or_error(*args) -> bytes | HpError:
    try:
        return compile_text(*args)
    except HpError as e:
        return e


def check_error(err: HpError) -> None:
    line = str(err)
    assert line.strip(), "empty error message"
    assert "\n" not in line and "\r" not in line, f"error is not one line: {line!r}"


def ancestors(path: str) -> list[str]:
    out = []
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


def check_config(raw: bytes) -> None:
    assert raw.endswith(b"\n") and not raw.endswith(b"\n\n")
    config = json.loads(raw)

    validator = schema_validator()
    if validator is not None:
        problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(config)]
        assert problems == [], problems

    assert re.fullmatch(r"\d+\.\d+\.\d+", config["ociVersion"])
    process = config["process"]
    args = process["args"]
    assert args and args[0] != "", args
    assert process["cwd"].startswith("/"), process["cwd"]

    names = []
    for entry in process["env"]:
        name, eq, _ = entry.partition("=")
        assert eq and name, entry
        assert "\0" not in entry
        names.append(name)
    assert len(names) == len(set(names)), names

    user = process["user"]
    assert 0 <= user["uid"] <= MAX_ID and 0 <= user["gid"] <= MAX_ID, user
    gids = user.get("additionalGids", [])
    assert gids and gids[0] == user["gid"], user
    assert all(0 <= g <= MAX_ID for g in gids)
    assert len(gids) == len(set(gids)), gids

    types = [r["type"] for r in process.get("rlimits", [])]
    assert len(types) == len(set(types)), types
    assert all(0 <= r["soft"] <= r["hard"] for r in process.get("rlimits", []))

    assert all(key for key in config.get("annotations", {})), config.get("annotations")

    destinations = [m["destination"] for m in config.get("mounts", [])]
    present = set(destinations)
    seen: set[str] = set()
    for d in destinations:
        assert d.startswith("/"), d
        for parent in ancestors(d):
            if parent in present:
                assert parent in seen, f"{d} is listed before its parent {parent}: {destinations}"
        seen.add(d)

    caps = process["capabilities"]
    known = set(ALL_CAPABILITIES)
    for kind in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        assert all(c.startswith("CAP_") and c in known for c in caps[kind]), caps[kind]
    assert set(caps["ambient"]) <= set(caps["permitted"]) & set(caps["inheritable"])
    assert set(caps["effective"]) <= set(caps["permitted"])

    def strings(value: Any):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    # the runtime reads every string as a C string: a NUL would silently cut it short
    assert not [s for s in strings(config) if "\0" in s]

    # each device node is at its own path and some allow rule covers it (a node the cgroup refuses is useless)
    nodes = config["linux"].get("devices", [])
    assert len({d["path"] for d in nodes}) == len(nodes)
    rules = (config["linux"].get("resources") or {}).get("devices", [])
    for d in nodes:
        assert any(r["allow"] and all(r.get(k) in (None, d[k]) for k in ("type", "major", "minor")) for r in rules), d

    assert config["root"]["path"] == "rootfs"
    namespaces = [n["type"] for n in config["linux"]["namespaces"]]
    assert len(namespaces) == len(set(namespaces))
    if "hostname" in config:
        assert "uts" in namespaces


# --------------------------------------------------------------------------- (a) outcome


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_compile_gives_a_valid_config_or_a_clean_error(case) -> None:
    outcome = compile_or_error(*case)
    if isinstance(outcome, HpError):
        check_error(outcome)
    else:
        check_config(outcome)


# Hand-picked inputs that must compile, so (a) is known to reach its success branch
# (and the schema) whatever hypothesis draws.
GOOD_CASES = [
    ({"web": {"image": "busybox", "command": ["true"]}}, "web", {"os": "linux", "architecture": "amd64"}, None, None),
    (
        {
            "web": {
                "image": "127.0.0.1:5000/library/web:1",
                "user": "app",
                "env": {"MODE": "prod"},
                "memory": "256m",
                "memory_swap": -1,
                "cpus": 0.5,
                "pids_limit": 256,
                "keep_alive": True,
                "read_only": True,
                "labels_to_annotations": True,
                "annotations": {"org.example.team": "infra"},
                "mounts": [
                    {"type": "tmpfs", "target": "/dev"},
                    {"type": "bind", "source": "/srv", "target": "/data/x"},
                ],
                "cap_add": ["NET_ADMIN"],
                "ulimits": {"nofile": [10, 20], "NPROC": 5},
            }
        },
        "web",
        [
            {
                "Os": "linux",
                "Architecture": "arm64",
                "Config": {
                    "Env": ["PATH=/bin", "A=1"],
                    "Entrypoint": ["/init"],
                    "Cmd": ["run"],
                    "Labels": {"x": "y", "bundle": "z"},
                    "Volumes": {"/data": {}, "/var/lib/db": {}},
                    "ExposedPorts": {"80/tcp": {}},
                    "StopSignal": "SIGQUIT",
                },
            }
        ],
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh",
        "staff:x:50:app\napp:x:1000:",
    ),
]


@pytest.mark.parametrize("case", GOOD_CASES, ids=["minimal", "everything"])
def test_known_good_inputs_compile_to_valid_configs(case) -> None:
    check_config(compile_text(*case))


# --------------------------------------------------------------------------- (b) determinism


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every dict's key order permuted (recursively)."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs(), st.randoms(use_true_random=False))
def test_key_order_does_not_change_the_output(case, rng: random.Random) -> None:
    containers, name, image, passwd, group = case
    first = compile_or_error(containers, name, image, passwd, group)
    again = compile_or_error(containers, name, image, passwd, group)
    permuted = compile_or_error(shuffled(containers, rng), name, shuffled(image, rng), passwd, group)
    if isinstance(first, HpError):
        # the same input fails the same way every time; a permutation still fails
        assert isinstance(again, HpError) and str(again) == str(first)
        assert isinstance(permuted, HpError), "a key permutation made a failing input compile"
    else:
        assert again == first
        assert permuted == first


def test_compile_is_deterministic_across_calls_with_other_inputs_in_between() -> None:
    """The compiler memoises some steps; an interleaved compile must not leak into another."""
    a, b = GOOD_CASES
    out_a = compile_text(*a)
    out_b = compile_text(*b)
    assert compile_text(*a) == out_a
    assert compile_text(*b) == out_b
    assert out_a != out_b


# --------------------------------------------------------------------------- (b) PYTHONHASHSEED

HASHSEED_TOML = """\
[containers.web]
image = "127.0.0.1:5000/library/web:1"
user = "app"
env = { ZED = "1", ALPHA = "2", MODE = "prod", "my.var" = "x" }
labels_to_annotations = true
annotations = { "org.example.z" = "1", "org.example.a" = "2", "com.example.m" = "3" }
ulimits = { nproc = [10, 20], nofile = [100, 200], core = 0, stack = 8192 }
cap_add = ["NET_ADMIN", "sys_time", "MKNOD"]
cap_drop = ["chown", "KILL"]
mounts = [{ type = "tmpfs", target = "/scratch", size = "64m" }, { type = "bind", source = "/srv", target = "/data/x" }]
memory = "256m"
cpus = 1.5
"""
HASHSEED_IMAGE = {
    "os": "linux",
    "architecture": "amd64",
    "config": {
        "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LANG=C"],
        "Entrypoint": ["/init"],
        "Cmd": ["serve"],
        "Labels": {"z.label": "1", "a.label": "2", "m.label": "3", "run.oci.hooks.stdout": "/x", "bundle": "b"},
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}, "1234/tcp": {}, "2000": {}},
        "Volumes": {"/var/lib/db": {}, "/data": {}, "/cache": {}, "/a_b": {}, "/a/b": {}},
        "StopSignal": "SIGRTMIN+3",
    },
}
HASHSEED_PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
HASHSEED_GROUP = "root:x:0:root\nzeta:x:300:app\nalpha:x:100:app\nstaff:x:200:app,root\n"


def hp_command() -> list[str]:
    hp = Path(sys.executable).parent / "hp"
    if hp.exists():
        return [str(hp)]
    return [sys.executable, "-m", "executor.main"]


def test_output_is_the_same_under_any_pythonhashseed(tmp_path: Path) -> None:
    spec = tmp_path / "hp.toml"
    image = tmp_path / "image.json"
    passwd = tmp_path / "passwd"
    group = tmp_path / "group"
    spec.write_text(HASHSEED_TOML)
    image.write_text(json.dumps(HASHSEED_IMAGE))
    passwd.write_text(HASHSEED_PASSWD)
    group.write_text(HASHSEED_GROUP)

    expected = compile_config_json(
        HASHSEED_TOML, None, json.dumps(HASHSEED_IMAGE), HASHSEED_PASSWD, HASHSEED_GROUP, host=this_host()
    )
    check_config(expected)

    outputs = []
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        run = subprocess.run(
            [*hp_command(), "compile", str(spec), "-i", str(image), "--passwd", str(passwd), "--group", str(group)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr.decode()
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0] == expected

    # and the JSON input's key order does not matter either
    image.write_text(json.dumps(shuffled(HASHSEED_IMAGE, random.Random(7))))
    run = subprocess.run(
        [*hp_command(), "compile", str(spec), "-i", str(image), "--passwd", str(passwd), "--group", str(group)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONHASHSEED="99"),
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout == expected


# --------------------------------------------------------------------------- one-line errors


def test_annotation_error_with_a_strange_key_is_one_line() -> None:
    containers = {"web": {"image": "busybox", "command": ["true"], "annotations": {"a\nb": "v\0"}}}
    with pytest.raises(HpError) as info:
        compile_text(containers, "web", {"os": "linux"}, None, None)
    check_error(info.value)


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize(
    "config, top",
    [
        ({"Labels": {"team": "in\0fra"}}, {}),
        ({"Labels": {"bundle\0x": "/tmp/evil"}}, {}),
        ({}, {"author": "me\0"}),
        ({}, {"architecture": "amd64\0"}),
        ({"ExposedPorts": {"80/tcp\0": {}}}, {}),
    ],
    ids=["label-value", "label-key-read-as-bundle", "author", "architecture", "exposed-port"],
)
def test_nul_in_image_metadata_never_reaches_the_config(config, top) -> None:
    containers = {"web": {"image": "busybox", "command": ["true"], "labels_to_annotations": True}}
    image = {"os": "linux", "config": config, **top}
    try:
        out = compile_text(containers, "web", image, None, None)
    except HpError as e:
        check_error(e)
        return
    assert b"\\u0000" not in out


def test_nul_in_a_passwd_home_never_reaches_the_env() -> None:
    containers = {"web": {"image": "busybox", "command": ["true"], "user": "app"}}
    try:
        out = compile_text(containers, "web", {"os": "linux"}, "app:x:1000:1000::/ho\0me:/bin/sh\n", None)
    except HpError as e:
        check_error(e)
        return
    assert all("\0" not in e for e in json.loads(out)["process"]["env"])
