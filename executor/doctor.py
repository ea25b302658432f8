"""`hp doctor`: is this host ready for hp? Each check says what is wrong and how to fix it."""

from __future__ import annotations

import os
import shutil

import msgspec

from compiler.layout import Layout


class Check(msgspec.Struct, frozen=True):
    name: str
    ok: bool
    detail: str


def checks(layout: Layout) -> list[Check]:
    out = [
        Check(
            "root",
            os.geteuid() == 0,
            "running as root" if os.geteuid() == 0 else "hp runs rootful containers: run it as root",
        ),
    ]
    for program, package in (
        ("crun", "crun"),
        ("conmon", "conmon"),
        ("podman", "podman"),
        ("mount", "mount"),
        ("cp", "coreutils"),
    ):
        found = shutil.which(program)
        out.append(Check(program, bool(found), found or f"not found: apt-get install {package}"))
    out.append(_hp_init())
    try:
        with open("/proc/filesystems") as f:
            overlay = any(line.split()[-1] == "overlay" for line in f if line.strip())
    except OSError:
        overlay = False
    out.append(
        Check(
            "overlayfs", overlay, "supported" if overlay else "the kernel has no overlay filesystem: modprobe overlay"
        )
    )
    out.append(_cgroups())
    out.append(_state_dir(layout))
    out.append(_cni_plugins())
    for program, package in (("unshare", "util-linux"), ("ip", "iproute2"), ("iptables", "iptables")):
        found = shutil.which(program)
        out.append(Check(program, bool(found), found or f"not found: apt-get install {package}"))
    out.append(_default_network())
    return out


def _hp_init() -> Check:
    from compiler.errors import HpError

    from .helpers import init_program

    try:
        return Check("hp-init", True, f"{init_program()} (keep_alive)")
    except HpError as e:
        return Check("hp-init", False, f"{e.problem} (needed by keep_alive containers only)")


def _cni_plugins() -> Check:
    from compiler.cni import CNI_PATH

    from .cni import find_plugin

    needed = _plugins_called()
    missing = []
    for plugin in needed:
        try:
            find_plugin(plugin)
        except Exception:
            missing.append(plugin)
    if missing:
        return Check(
            "CNI plugins",
            False,
            f"{', '.join(missing)} not in {':'.join(CNI_PATH)}: apt-get install containernetworking-plugins",
        )
    return Check("CNI plugins", True, ", ".join(needed))


def _plugins_called() -> tuple[str, ...]:
    """The CNI plugins hp calls, in order: the types in a network's configuration list (the same
    for every network: compiler.cni.conflist), each plugin's IPAM plugin after it."""
    from compiler.cni import conflist
    from compiler.network import default_network

    types: dict[str, None] = {}
    for plugin in conflist(default_network(), "").plugins:
        types[plugin.type] = None
        if plugin.ipam is not None:
            types[plugin.ipam.type] = None
    return tuple(types)


def _default_network() -> Check:
    from compiler.commands import route_list_argv
    from compiler.network import default_network, parse_routes, route_conflicts

    from .run import run_status

    net = default_network()
    code, out, _ = run_status(route_list_argv())
    clash = route_conflicts(net, parse_routes(out)) if code == 0 else ()
    if clash:
        return Check(
            "default network",
            False,
            f"{net.subnet} overlaps the host's route {clash[0]}: declare "
            f"[networks.{net.name}] with another subnet in hp.toml",
        )
    return Check("default network", True, f"{net.name}: bridge {net.bridge}, {net.subnet}, free on this host")


def _cgroups() -> Check:
    from compiler.cgroups import CGROUP_ROOT

    unified = f"{CGROUP_ROOT}/unified/cgroup.controllers"
    if os.path.exists(f"{CGROUP_ROOT}/cgroup.controllers"):
        return Check("cgroups", True, "cgroup v2 (unified)")
    try:
        with open(unified) as f:
            controllers = f.read().split()
    except FileNotFoundError:
        return Check("cgroups", True, "cgroup v1")
    if controllers:
        fix = "; ".join(
            f"mkdir -p {CGROUP_ROOT}/{c} && mount -t cgroup -o {c} cgroup {CGROUP_ROOT}/{c}" for c in controllers
        )
        return Check(
            "cgroups",
            False,
            f"hybrid layout with {', '.join(controllers)} on cgroup v2: crun refuses to run; "
            f"fix: {fix} (scripts/prepare-host does this)",
        )
    return Check("cgroups", True, "hybrid layout, no controllers on v2")


def _state_dir(layout: Layout) -> Check:
    from compiler.errors import HpError

    from .session import check_state_dir

    try:
        check_state_dir(layout)
    except HpError as e:
        return Check("state dir", False, str(e))
    path = layout.state_dir
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if os.access(probe, os.W_OK):
        return Check("state dir", True, path)
    return Check("state dir", False, f"{path} is not writable")
