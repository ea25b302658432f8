"""hp against its peer: for the same image and the same overrides, the parts of config.json that
issue 13 is about must be what podman 4.3.1 itself writes (`podman create` + `podman init`, then
its storage's userdata/config.json), compared as sets where order means nothing.

Adding a case is one row of CASES: podman's arguments, the same thing in hp.toml, and which parts
to compare (COMPARE's keys; "seccomp" is always compared). podman needs the rlimits it can set here
(see /work/shared/notes/environment.md); every container it made is removed in a finally.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from compiler import compile_config_json, parse_hp_file
from executor.host import host_facts

from .registry import pull_image, run

pytestmark = pytest.mark.integration

PODMAN_CREATE = (
    "podman",
    "create",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
    "--network",
    "none",
    "--user",
    "0:0",
)


@dataclass(frozen=True)
class Case:
    id: str
    podman: tuple[str, ...]  # podman create's options
    toml: str = ""  # the same, as lines of the container's [containers.NAME] table
    compare: tuple[str, ...] = ()  # more of COMPARE's keys than "seccomp"


def _rule(rule: dict) -> str:
    """A seccomp rule as one canonical string: names as a set, args with runtime-spec's defaults."""
    args = [
        {"index": a["index"], "value": a["value"], "valueTwo": a.get("valueTwo", 0), "op": a["op"]}
        for a in rule.get("args") or ()
    ]
    return json.dumps(
        {"names": sorted(rule["names"]), "action": rule["action"], "errnoRet": rule.get("errnoRet"), "args": args},
        sort_keys=True,
    )


def seccomp(config: dict) -> Any:
    """linux.seccomp as sets: architectures, flags, and the rules as a multiset (sorted)."""
    s = (config.get("linux") or {}).get("seccomp")
    if s is None:
        return None
    return {
        "defaultAction": s["defaultAction"],
        "defaultErrnoRet": s.get("defaultErrnoRet"),
        "architectures": sorted(s.get("architectures") or ()),
        "flags": sorted(s.get("flags") or ()),
        "syscalls": sorted(_rule(r) for r in s.get("syscalls") or ()),
    }


def capabilities(config: dict) -> Any:
    """The five sets, sorted (podman leaves an empty set out, hp writes it)."""
    caps = config["process"].get("capabilities") or {}
    return {k: sorted(caps.get(k) or ()) for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}


def sysctl_hp_sets(podman: dict, hp: dict) -> tuple[Any, Any]:
    """The sysctls hp writes, as podman has them (podman adds containers.conf's default_sysctls too)."""
    ours = (hp.get("linux") or {}).get("sysctl") or {}
    theirs = (podman.get("linux") or {}).get("sysctl") or {}
    return {k: theirs.get(k) for k in ours}, ours


def devices(config: dict) -> Any:
    """linux.devices in order, fileMode as its permission bits (podman writes st_mode whole, which the
    runtime-spec schema refuses; hp the permission bits: docs/devices.md)."""
    return [{**d, "fileMode": d.get("fileMode", 0) & 0o777} for d in (config.get("linux") or {}).get("devices") or ()]


def device_rules_hp_sets(podman: dict, hp: dict) -> tuple[Any, Any]:
    """linux.resources.devices; hp also lists runc's default allow-list, which crun adds by itself for podman."""
    from compiler.defaults import defaults

    implicit = [msgspec.to_builtins(r) for r in defaults().devices[1:]]

    def rules(config: dict) -> list:
        return ((config.get("linux") or {}).get("resources") or {}).get("devices") or []

    return rules(podman), [r for r in rules(hp) if r not in implicit]


def masks_hp_sets(podman: dict, hp: dict) -> tuple[Any, Any]:
    """What podman masks or makes read-only, and how much of it hp hides at least as well (masked or
    read-only): equal when hp is never weaker. hp masks /proc/asound, which podman makes read-only."""

    def hidden(config: dict) -> set[str]:
        linux = config.get("linux") or {}
        return set(linux.get("maskedPaths") or ()) | set(linux.get("readonlyPaths") or ())

    return sorted(hidden(podman)), sorted(hidden(podman) & hidden(hp))


def sys_mounts(config: dict) -> Any:
    """/sys and /sys/fs/cgroup: read-only or read-write."""
    return {
        m["destination"]: "rw" if "rw" in (m.get("options") or ()) else "ro"
        for m in config.get("mounts") or ()
        if m["destination"] in ("/sys", "/sys/fs/cgroup")
    }


# name -> (podman's config.json, hp's) -> (what podman has, what hp has)
COMPARE: dict[str, Callable[[dict, dict], tuple[Any, Any]]] = {
    "seccomp": lambda p, h: (seccomp(p), seccomp(h)),
    "capabilities": lambda p, h: (capabilities(p), capabilities(h)),
    "sysctl": sysctl_hp_sets,
    "devices": lambda p, h: (devices(p), devices(h)),
    "device_rules": device_rules_hp_sets,
    "masks": masks_hp_sets,
    "sys_mounts": lambda p, h: (sys_mounts(p), sys_mounts(h)),
}
DEVICE_PARTS = ("capabilities", "devices", "device_rules", "masks", "sys_mounts")

CASES = [
    Case("default", ()),
    Case("cap-add-sys-admin", ("--cap-add", "SYS_ADMIN"), 'cap_add = ["SYS_ADMIN"]', ("capabilities",)),
    Case(
        "cap-add-conditional-rules",
        ("--cap-add", "SYS_PTRACE", "--cap-add", "SYS_BOOT", "--cap-add", "SYS_TIME"),
        'cap_add = ["SYS_PTRACE", "SYS_BOOT", "SYS_TIME"]',
        ("capabilities",),
    ),
    Case("cap-drop-chroot", ("--cap-drop", "SYS_CHROOT"), 'cap_drop = ["SYS_CHROOT"]', ("capabilities",)),
    Case("seccomp-unconfined", ("--security-opt", "seccomp=unconfined"), 'seccomp = "unconfined"'),
    Case("sysctl", ("--sysctl", "net.ipv4.ip_forward=1"), 'sysctls = { "net.ipv4.ip_forward" = "1" }', ("sysctl",)),
    Case("devices-none", (), "", DEVICE_PARTS),
    Case("device-fuse", ("--device", "/dev/fuse"), 'devices = ["/dev/fuse"]', DEVICE_PARTS),
    Case(
        "device-tun-elsewhere-read-only",
        ("--device", "/dev/net/tun:/dev/xtun:r"),
        'devices = ["/dev/net/tun:/dev/xtun:r"]',
        DEVICE_PARTS,
    ),
    Case("privileged", ("--privileged",), "privileged = true", DEVICE_PARTS),
]


def podman_config(image: str, options: tuple[str, ...]) -> dict:
    """The config.json podman writes for `podman create OPTIONS IMAGE` once `podman init` ran."""
    cid = run([*PODMAN_CREATE, "--name", f"hp-peer-{uuid.uuid4().hex[:8]}", *options, image]).stdout.strip()
    try:
        # init may fail on this host for reasons of its own (rlimits, cgroups): the file is written first
        subprocess.run(["podman", "init", cid], check=False, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        userdata = Path(run(["podman", "inspect", "--format", "{{.StaticDir}}", cid]).stdout.strip())
        return json.loads((userdata / "config.json").read_text())
    finally:
        subprocess.run(
            ["podman", "rm", "-f", cid], check=False, capture_output=True, timeout=60, stdin=subprocess.DEVNULL
        )


def hp_config(tmp_path: Path, image: str, toml: str) -> dict:
    """hp's config.json for the same image and settings, compiled with the facts hp plan gathers here."""
    text = f'[containers.peer]\nimage = "{image}"\nnetwork = "none"\nuser = "0:0"\n{toml}\n'
    inspect = run(["podman", "image", "inspect", image]).stdout
    host = host_facts(parse_hp_file(text), str(tmp_path))
    return json.loads(compile_config_json(text, "peer", inspect, None, None, host=host))


@pytest.fixture(scope="module")
def peer_image(test_images: dict[str, str]) -> str:
    """The sleeper image in podman's local storage (test_images removes it at the session's end)."""
    pull_image(test_images["sleeper"])
    return test_images["sleeper"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_config_matches_podmans(case: Case, peer_image: str, tmp_path: Path) -> None:
    theirs = podman_config(peer_image, case.podman)
    ours = hp_config(tmp_path, peer_image, case.toml)
    for part in ("seccomp", *case.compare):
        podman_has, hp_has = COMPARE[part](theirs, ours)
        assert hp_has == podman_has, f"{part} differs from podman's"
