"""seccomp profiles compiled as podman 4.3.1 does (compiler/seccomp.py): table-driven."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from compiler import oci
from compiler.capabilities import ALL_CAPABILITIES
from compiler.defaults import defaults
from compiler.errors import HpError
from compiler.host import HostFacts, HostFile
from compiler.seccomp import (
    compile_profile,
    container_seccomp,
    kernel_version,
    machine_arch,
    parse_profile,
)

from .host_facts import DEFAULT_PROFILE

DEFAULT_CAPS = tuple(sorted(defaults().capabilities))


def profile(**fields) -> HostFile:
    return HostFile("p.json", json.dumps(fields))


def compiled(
    text: HostFile, arch: str = "x86_64", kernel: str = "6.1.0-18-amd64", caps: tuple[str, ...] = DEFAULT_CAPS
) -> oci.LinuxSeccomp | None:
    return compile_profile(parse_profile(text), arch, kernel, caps)


def names(s: oci.LinuxSeccomp | None) -> list[tuple[str, ...]]:
    return [r.names for r in (s.syscalls or ())] if s else []


# ------------------------------------------------------------------ host facts


@pytest.mark.parametrize(
    "machine,arch",
    [
        ("x86_64", "amd64"),
        ("aarch64", "arm64"),
        ("armv7l", "arm"),
        ("i686", "x86"),
        ("s390x", "s390x"),
        ("ppc64le", "ppc64le"),
        ("riscv64", "riscv64"),
        ("amd64", "amd64"),
        ("arm64", "arm64"),
    ],
)
def test_uname_machine_maps_to_libseccomp_names(machine, arch) -> None:
    assert machine_arch(machine) == arch


@pytest.mark.parametrize("machine", ["", "vax", "X86_64"])
def test_unknown_machine_is_an_error(machine) -> None:
    with pytest.raises(HpError, match="architecture"):
        machine_arch(machine)


@pytest.mark.parametrize(
    "release,version",
    [
        ("6.1.0-18-amd64", (6, 1)),
        ("3.12-1-amd64", (3, 12)),
        ("3.12.25-gentoo", (3, 12)),
        ("5.15", (5, 15)),
        ("6.18.44-fc-v857", (6, 18)),
    ],
)
def test_kernel_release_keeps_kernel_and_major(release, version) -> None:
    assert kernel_version(release) == version


@pytest.mark.parametrize("release", ["", "6", "linux-6.1", "x.y"])
def test_bad_kernel_release_is_an_error(release) -> None:
    with pytest.raises(HpError, match="not a kernel version"):
        kernel_version(release)


# ------------------------------------------------------------------ the rules podman keeps

RULES: list[dict[str, Any]] = [
    {"names": ["always"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["if_admin"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["unless_admin"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {
        "names": ["if_admin_and_boot"],
        "action": "SCMP_ACT_ALLOW",
        "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_BOOT"]},
    },
    {
        "names": ["unless_admin_or_boot"],
        "action": "SCMP_ACT_ERRNO",
        "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_BOOT"]},
    },
    {"names": ["on_amd64"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
    {"names": ["not_on_amd64"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
    {"names": ["since_4_8"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
    {"names": ["before_4_8"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
    {"name": "old_spelling", "action": "SCMP_ACT_ALLOW", "comment": "name, not names", "args": None},
]
FILTERED = profile(defaultAction="SCMP_ACT_ERRNO", syscalls=RULES)

KEPT = [
    (
        "no caps, amd64",
        (),
        "x86_64",
        "6.1",
        {"always", "unless_admin", "unless_admin_or_boot", "on_amd64", "since_4_8", "old_spelling"},
    ),
    ("admin", ("CAP_SYS_ADMIN",), "x86_64", "6.1", {"always", "if_admin", "on_amd64", "since_4_8", "old_spelling"}),
    (
        "boot only",
        ("CAP_SYS_BOOT",),
        "x86_64",
        "6.1",
        {"always", "unless_admin", "on_amd64", "since_4_8", "old_spelling"},
    ),
    (
        "admin and boot",
        ("CAP_SYS_ADMIN", "CAP_SYS_BOOT"),
        "x86_64",
        "6.1",
        {"always", "if_admin", "if_admin_and_boot", "on_amd64", "since_4_8", "old_spelling"},
    ),
    (
        "arm64",
        (),
        "aarch64",
        "6.1",
        {"always", "unless_admin", "unless_admin_or_boot", "not_on_amd64", "since_4_8", "old_spelling"},
    ),
    (
        "kernel 4.8 exactly",
        (),
        "x86_64",
        "4.8.0-1",
        {"always", "unless_admin", "unless_admin_or_boot", "on_amd64", "since_4_8", "old_spelling"},
    ),
    (
        "kernel 4.7 (before)",
        (),
        "x86_64",
        "4.7.10",
        {"always", "unless_admin", "unless_admin_or_boot", "on_amd64", "before_4_8", "old_spelling"},
    ),
    (
        "4.14 is after 4.8 (numbers, not text)",
        (),
        "x86_64",
        "4.14.3",
        {"always", "unless_admin", "unless_admin_or_boot", "on_amd64", "since_4_8", "old_spelling"},
    ),
    (
        "3.20 is before 4.8",
        (),
        "x86_64",
        "3.20",
        {"always", "unless_admin", "unless_admin_or_boot", "on_amd64", "before_4_8", "old_spelling"},
    ),
]


@pytest.mark.parametrize("label,caps,machine,kernel,kept", KEPT, ids=[k[0] for k in KEPT])
def test_rules_kept_by_caps_arch_and_kernel(label, caps, machine, kernel, kept) -> None:
    result = compiled(FILTERED, machine, kernel, caps)
    got = [n for rule in names(result) for n in rule]
    assert set(got) == kept
    assert got == [n for r in RULES for n in r.get("names", [r.get("name")]) if n in kept]  # the file's order


def test_a_rule_without_min_kernel_needs_no_kernel_fact() -> None:
    plain = profile(defaultAction="SCMP_ACT_ERRNO", syscalls=RULES[:7])
    assert compiled(plain, kernel="") is not None
    with pytest.raises(HpError, match="no kernel version was given"):
        compiled(FILTERED, kernel="")


# ------------------------------------------------------------------ architectures and errno

ARCH_MAP = [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
]
ARCHES = [
    ("x86_64", ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")),
    ("aarch64", ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")),
    ("s390x", ("SCMP_ARCH_S390X", "SCMP_ARCH_S390")),
    ("armv7l", None),  # podman maps no archMap entry for arm: the runtime's native one only
    ("ppc64le", None),
]


@pytest.mark.parametrize("machine,architectures", ARCHES)
def test_architectures_from_the_arch_map(machine, architectures) -> None:
    result = compiled(profile(defaultAction="SCMP_ACT_ERRNO", archMap=ARCH_MAP), machine)
    assert result is not None and result.architectures == architectures


def test_the_old_architectures_list_is_kept_as_it_is() -> None:
    result = compiled(profile(defaultAction="SCMP_ACT_ALLOW", architectures=["SCMP_ARCH_X86"]), "aarch64")
    assert result is not None and result.architectures == ("SCMP_ARCH_X86",)


ERRNOS = [
    ("name wins over errnoRet", {"errno": "EPERM", "errnoRet": 38}, 1),
    ("errnoRet alone", {"errnoRet": 22}, 22),
    ("a number as errno", {"errno": "95"}, 95),
    ("neither: the runtime's default", {}, None),
    ("an alias", {"errno": "EWOULDBLOCK"}, 11),
]


@pytest.mark.parametrize("label,fields,errno", ERRNOS, ids=[e[0] for e in ERRNOS])
def test_errno_of_a_rule_and_of_the_default(label, fields, errno) -> None:
    rule = {"names": ["x"], "action": "SCMP_ACT_ERRNO", **fields}
    default = {("defaultErrno" if k == "errno" else "defaultErrnoRet"): v for k, v in fields.items()}
    result = compiled(profile(defaultAction="SCMP_ACT_ERRNO", archMap=[], syscalls=[rule], **default))
    assert result is not None and result.syscalls is not None
    assert result.syscalls[0].errno_ret == errno and result.default_errno_ret == errno


def test_errno_names_on_an_architecture_that_numbers_them_otherwise() -> None:
    p = profile(defaultAction="SCMP_ACT_ERRNO", defaultErrno="ENOSYS")
    with pytest.raises(HpError, match='give "ENOSYS" as a number'):
        compiled(p, "mips64")
    base = compiled(profile(defaultAction="SCMP_ACT_ERRNO", defaultErrno="EPERM"), "mips64")
    assert base is not None and base.default_errno_ret == 1  # errno-base.h's names are the same everywhere


def test_no_default_action_and_no_rules_is_no_filter() -> None:
    assert compiled(profile(archMap=ARCH_MAP)) is None


# ------------------------------------------------------------------ containers-common's own profile


def test_default_profile_as_podman_compiles_it_for_default_caps() -> None:
    """What podman 4.3.1 wrote to config.json on this kind of host (tests/integration/test_podman_peer.py
    checks it against podman itself): 22 rules for hp's default capabilities, ENOSYS by default."""
    result = compiled(DEFAULT_PROFILE)
    assert result is not None and result.syscalls is not None
    assert (result.default_action, result.default_errno_ret) == ("SCMP_ACT_ERRNO", 38)
    assert result.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
    assert len(result.syscalls) == 22
    allowed = {n for r in result.syscalls if r.action == "SCMP_ACT_ALLOW" and not r.args for n in r.names}
    assert {"chroot", "arch_prctl", "modify_ldt", "keyctl"} <= allowed
    assert not {"bpf", "ptrace_madvise", "reboot_if_boot", "acct", "kcmp", "sync_file_range2"} & allowed
    socket = [r for r in result.syscalls if r.names == ("socket",)]
    assert [r.action for r in socket] == ["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_ALLOW", "SCMP_ACT_ALLOW"]
    assert socket[0].errno_ret == 22  # EINVAL for audit sockets without CAP_AUDIT_WRITE


@pytest.mark.parametrize(
    "cap,allows",
    [
        ("CAP_SYS_ADMIN", "bpf"),
        ("CAP_SYS_PTRACE", "kcmp"),
        ("CAP_SYS_MODULE", "init_module"),
        ("CAP_SYS_TIME", "settimeofday"),
        ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    ],
)
def test_a_capability_in_bounding_allows_its_syscalls(cap, allows) -> None:
    before, after = compiled(DEFAULT_PROFILE), compiled(DEFAULT_PROFILE, caps=DEFAULT_CAPS + (cap,))
    assert before is not None and after is not None  # the default profile is a filter with or without the cap
    denied = {n for r in before.syscalls or () if r.action == "SCMP_ACT_ERRNO" for n in r.names or ()}
    allowed = {n for r in after.syscalls or () if r.action == "SCMP_ACT_ALLOW" for n in r.names or ()}
    assert allows in denied and allows in allowed


def test_parsing_and_compiling_are_cached() -> None:
    host = HostFacts(arch="x86_64", kernel="6.1", default_seccomp=DEFAULT_PROFILE)
    one = container_seccomp("default", privileged=False, bounding=DEFAULT_CAPS, host=host, where="w")
    two = container_seccomp("default", privileged=False, bounding=DEFAULT_CAPS, host=host, where="w")
    assert one is two and parse_profile(DEFAULT_PROFILE) is parse_profile(DEFAULT_PROFILE)


# ------------------------------------------------------------------ the container's setting

OCI = HostFile(
    "oci.json",
    json.dumps(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
        }
    ),
)
HOST = HostFacts(
    arch="x86_64", kernel="6.1.0-18-amd64", default_seccomp=DEFAULT_PROFILE, seccomp_files={"oci.json": OCI}
)
SETTINGS = [
    ("default", "default", False, "SCMP_ACT_ERRNO"),
    ("unconfined", "unconfined", False, None),
    ("privileged: none", "default", True, None),
    ("privileged with a profile file", "oci.json", True, "SCMP_ACT_ALLOW"),
    ("an OCI LinuxSeccomp file, as it is", "oci.json", False, "SCMP_ACT_ALLOW"),
]


@pytest.mark.parametrize("label,setting,privileged,default_action", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_container_setting(label, setting, privileged, default_action) -> None:
    result = container_seccomp(setting, privileged=privileged, bounding=DEFAULT_CAPS, host=HOST, where="w")
    assert (result.default_action if result else None) == default_action


def test_privileged_with_the_default_profile_named_by_path_applies_it() -> None:
    host = msgspec.structs.replace(HOST, seccomp_files={"d.json": DEFAULT_PROFILE})
    result = container_seccomp("d.json", privileged=True, bounding=ALL_CAPABILITIES, host=host, where="w")
    assert result is not None and any(
        r.names[0] == "bpf" and r.action == "SCMP_ACT_ALLOW" for r in result.syscalls or ()
    )


MISSING = [
    ("no default profile", "default", HostFacts(arch="x86_64"), "no default profile given"),
    ("a file not read", "x.json", HOST, 'the profile file "x.json" was not given'),
    ("empty", "", HOST, 'expected "default", "unconfined" or the path'),
    ("no architecture", "default", HostFacts(default_seccomp=DEFAULT_PROFILE), "no architecture given"),
]


@pytest.mark.parametrize("label,setting,host,problem", MISSING, ids=[m[0] for m in MISSING])
def test_missing_facts_are_errors(label, setting, host, problem) -> None:
    with pytest.raises(HpError) as e:
        container_seccomp(setting, privileged=False, bounding=DEFAULT_CAPS, host=host, where="containers.a.seccomp")
    assert problem in str(e.value)


# ------------------------------------------------------------------ bad profiles: one line, file and problem

BAD = [
    ("invalid JSON", "{", "p.json: invalid JSON"),
    ("not an object", "[]", "p.json: not a seccomp profile: expected a JSON object"),
    (
        "unknown action",
        {"defaultAction": "SCMP_ACT_ERRNO", "archMap": [], "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOPE"}]},
        'p.json: syscalls[0].action: unknown action "SCMP_ACT_NOPE"',
    ),
    (
        "unknown default action in OCI form",
        {"defaultAction": "ALLOW"},
        'p.json: defaultAction: unknown action "ALLOW" (expected one of SCMP_ACT_KILL',
    ),
    ("notify", {"defaultAction": "SCMP_ACT_NOTIFY"}, "needs a seccomp agent"),
    (
        "unknown field",
        {"defaultAction": "SCMP_ACT_ALLOW", "archMap": [], "defualtErrno": "EPERM"},
        "p.json: defualtErrno: unknown field (a profile in containers-common format)",
    ),
    (
        "OCI listener",
        {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x"},
        "p.json: listenerPath: unknown field (a profile in OCI LinuxSeccomp format)",
    ),
    (
        "wrong type",
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {"names": ["x"]}},
        "p.json: syscalls: expected a list, got an object (a profile in OCI LinuxSeccomp format)",
    ),
    (
        "name and names",
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]},
        "p.json: syscalls[0]: both name and names are given",
    ),
    (
        "unknown capability",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["SYS_ADMIN"]}}],
        },
        'p.json: syscalls[0].includes.caps[0]: unknown capability "SYS_ADMIN"',
    ),
    (
        "unknown arch in a rule",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["b"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["x86_64"]}}],
        },
        'p.json: syscalls[0].excludes.arches[0]: unknown architecture "x86_64"',
    ),
    (
        "unknown arch in archMap",
        {"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "X86_64", "subArchitectures": []}]},
        'p.json: archMap[0].architecture: unknown architecture "X86_64"',
    ),
    (
        "both arch lists",
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": ARCH_MAP},
        "p.json: archMap: both architectures and archMap are given",
    ),
    (
        "bad minKernel",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}],
        },
        'p.json: syscalls[0].includes.minKernel: invalid minKernel "4"',
    ),
    (
        "minKernel 0.0",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["b"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "0.0"}}],
        },
        "invalid minKernel",
    ),
    (
        "unknown errno",
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "EWHATEVER"},
        'p.json: defaultErrno: unknown errno "EWHATEVER"',
    ),
    (
        "negative errnoRet",
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1},
        "p.json: defaultErrnoRet: -1 is out of range (0 to 4294967295)",
    ),
    (
        "unknown operator",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["b"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "EQ"}]}],
        },
        'p.json: syscalls[0].args[0].op: unknown operator "EQ"',
    ),
    (
        "value past 64 bits",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["b"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}],
                }
            ],
        },
        "p.json: syscalls[0].args[0].value",
    ),
    (
        "unknown flag",
        {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]},
        'p.json: flags[0]: unknown flag "SECCOMP_FILTER_FLAG_X"',
    ),
    (
        "no names",
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]},
        "p.json: syscalls[0].names: no syscall named",
    ),
]


@pytest.mark.parametrize("label,text,problem", BAD, ids=[b[0] for b in BAD])
def test_bad_profiles_are_one_line_naming_the_file(label, text, problem) -> None:
    file = HostFile("p.json", text if isinstance(text, str) else json.dumps(text))
    with pytest.raises(HpError) as e:
        compiled(file)
    line = str(e.value)
    assert problem in line and "\n" not in line and e.value.source == "seccomp"


# ------------------------------------------------------------------ config.json's bytes


def test_encoding_puts_the_filter_where_the_runtime_spec_does() -> None:
    seccomp = compiled(DEFAULT_PROFILE)
    config = oci.RuntimeConfig(
        oci_version="1.1.0",
        root=oci.Root(path="rootfs"),
        process=oci.Process(terminal=False, user=oci.User(0, 0), args=("sh",), env=(), cwd="/"),
        linux=oci.Linux(namespaces=(oci.Namespace("pid"),), seccomp=seccomp, masked_paths=("/proc/kcore",)),
    )
    fast = oci.encode_config(config)
    assert fast == msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"
    assert list(json.loads(fast)["linux"]) == ["namespaces", "seccomp", "maskedPaths"]
    assert oci.encode_config(config) == fast  # the second time from the cache


def test_value_two_is_left_out_when_zero_as_podman_writes_it() -> None:
    arg = oci.LinuxSeccompArg(index=0, value=8, op="SCMP_CMP_EQ")
    assert msgspec.json.encode(arg) == b'{"index":0,"value":8,"op":"SCMP_CMP_EQ"}'


def test_errno_names_match_this_hosts_numbering() -> None:
    """The table is asm-generic's; on an x86_64 or arm64 host Python's errno module agrees."""
    import errno
    import platform

    from compiler.seccomp import ERRNO

    if platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("asm-generic numbering is checked on x86_64 and aarch64 hosts")
    known = {n: getattr(errno, n) for n in ERRNO if hasattr(errno, n)}
    assert known and all(ERRNO[n] == v for n, v in known.items())


def test_check_profiles_parses_every_file_the_facts_hold() -> None:
    from compiler.seccomp import check_profiles

    check_profiles(HOST)
    bad = msgspec.structs.replace(HOST, seccomp_files={"b.json": HostFile("b.json", "[]")})
    with pytest.raises(HpError, match="b.json: not a seccomp profile"):
        check_profiles(bad)


# ------------------------------------------------------------------ hp compile's options


def test_hp_compile_takes_the_profile_arch_and_kernel(tmp_path) -> None:
    """--seccomp-profile, --arch and --kernel reproduce a compile made for another host."""
    import subprocess
    import sys
    from pathlib import Path

    from compiler import compile_config_json

    hp = Path(sys.executable).with_name("hp")
    toml = b'[containers.app]\nimage = "x"\ncommand = ["/bin/true"]\n'
    (tmp_path / "hp.toml").write_bytes(toml)
    (tmp_path / "image.json").write_text('{"os": "linux", "config": {}}')
    (tmp_path / "profile.json").write_text(DEFAULT_PROFILE.text)
    argv = [
        str(hp),
        "compile",
        "hp.toml",
        "-i",
        "image.json",
        "--seccomp-profile",
        "profile.json",
        "--arch",
        "aarch64",
        "--kernel",
        "5.10.0-9-arm64",
    ]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, b"")
    host = HostFacts(
        arch="aarch64", kernel="5.10.0-9-arm64", default_seccomp=HostFile("profile.json", DEFAULT_PROFILE.text)
    )
    assert proc.stdout == compile_config_json(toml, None, '{"os": "linux", "config": {}}', host=host)
    assert json.loads(proc.stdout)["linux"]["seccomp"]["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    for option, value, line in (
        ("--arch", "vax", 'hp: error: --arch: unknown architecture "vax"'),
        ("--kernel", "six", 'hp: error: --kernel: "six" is not a kernel version'),
        ("--seccomp-profile", "nope.json", "hp: error: nope.json: cannot read: No such file or directory"),
        ("--seccomp-profile", "hp.toml", "hp: error: hp.toml: invalid JSON"),
    ):
        bad = subprocess.run([*argv, option, value], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1 and bad.stderr.startswith(line) and bad.stderr.count("\n") == 1, bad.stderr


# ------------------------------------------------------------------ plans: a changed profile


@pytest.mark.parametrize(
    "before,after,changed",
    [
        ("/p.json sha256:1", "/p.json sha256:2", "/p.json"),
        ("/p.json sha256:1", "/p.json sha256:1", None),
        ("/a b.json sha256:1", "/a b.json sha256:2", "/a b.json"),
        ("/p.json sha256:1", "/q.json sha256:2", None),  # another file: hp.toml changed, not the profile
        ("", "/p.json sha256:2", None),  # from unconfined, or a record older than the field
        ("/p.json sha256:1", "", None),
    ],
)
def test_changed_profile(before, after, changed) -> None:
    from compiler.seccomp import changed_profile

    assert changed_profile(before, after) == changed


def test_a_replace_caused_by_a_changed_profile_says_so() -> None:
    from compiler import ImageFacts, compile_container, encode_config, parse_hp_file, parse_image_config
    from compiler.plan import Current, Desired, plan
    from compiler.seccomp import profile_identity

    spec = parse_hp_file('[containers.app]\nimage = "x"\nseccomp = "p.json"\n').containers["app"]
    image = ImageFacts(parse_image_config('{"os": "linux", "config": {"Cmd": ["sh"]}}'))
    old = HostFile("/srv/p.json", OCI.text)
    new = HostFile("/srv/p.json", OCI.text.replace('"errnoRet": 1', '"errnoRet": 2'))

    def made(file: HostFile) -> bytes:
        host = msgspec.structs.replace(HOST, seccomp_files={"p.json": file})
        return encode_config(compile_container("app", spec, image, host=host))

    want = Desired("x", "sha256:1", made(new), seccomp="p.json", seccomp_profile=profile_identity(new))
    have = Current("x", "sha256:1", made(old), "running", seccomp_profile=profile_identity(old))
    change = plan({"app": want}, {"app": have}).changes[0]
    assert change.action == "replace" and "seccomp profile /srv/p.json changed" in change.reasons
    assert change.changed_fields == ("linux.seccomp.syscalls",)


def test_a_saved_plan_is_stale_once_a_profile_changed() -> None:
    from compiler.plan import plan
    from compiler.saved_plan import Fingerprint, open_saved, seal, stale_reasons

    fp = Fingerprint(
        "0.1.0",
        "/srv/hp.toml",
        "sha256:" + "1" * 64,
        "/var/lib/hp",
        3,
        {},
        profiles={"/usr/share/containers/seccomp.json": "sha256:a"},
    )
    saved = open_saved(seal(fp, plan({}, {})), "plan.json")
    now = msgspec.structs.replace(fp, profiles={"/usr/share/containers/seccomp.json": "sha256:b"})
    assert stale_reasons(saved, now, plan({}, {})) == [
        "seccomp profile /usr/share/containers/seccomp.json changed since the plan was made"
    ]
    assert stale_reasons(saved, fp, plan({}, {})) == []


def test_the_executor_names_a_missing_default_profile(tmp_path) -> None:
    from compiler import parse_hp_file
    from executor.host import host_facts

    one = parse_hp_file('[containers.app]\nimage = "x"\n')
    missing = str(tmp_path / "seccomp.json")
    with pytest.raises(HpError) as e:
        host_facts(one, str(tmp_path), default_profile=missing)
    assert str(e.value) == f"{missing}: cannot read: No such file or directory"
    assert defaults().seccomp_profile == "/usr/share/containers/seccomp.json"
    # a container that needs no default profile does not read it
    unconfined = parse_hp_file('[containers.app]\nimage = "x"\nseccomp = "unconfined"\n')
    assert host_facts(unconfined, str(tmp_path), default_profile=missing).default_seccomp is None
