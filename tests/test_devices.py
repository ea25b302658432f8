"""devices = [...] and privileged = true (compiler/devices.py, executor/devices.py), against podman 4.3.1's
config.json: --device HOST[:CONTAINER][:PERMISSIONS] becomes a linux.devices node with the host's type,
major, minor, fileMode (type bits | permissions), uid, gid and an allow rule with the permissions;
--privileged gets every /dev device, one allow-all rule, hp's bounding set, no masked or read-only
paths, /sys and /sys/fs/cgroup read-write."""

from __future__ import annotations

import json
import os
import stat

import msgspec
import pytest

from compiler import (
    HostDevice,
    HostFacts,
    ImageFacts,
    compile_container,
    defaults,
    parse_image_config,
)
from compiler.capabilities import ALL_CAPABILITIES
from compiler.devices import (
    DeviceRequest,
    device_nodes,
    parse_device,
    parse_devices,
    privileged_capabilities,
    privileged_defaults,
)
from compiler.errors import HpError
from compiler.oci import DeviceRule, LinuxDevice
from compiler.spec import ContainerSpec
from executor.devices import all_devices, bounding_set, device_at

from .host_facts import TEST_HOST

W = "containers.app.devices"
FUSE = HostDevice(path="/dev/fuse", type="c", major=10, minor=229, file_mode=0o600, uid=0, gid=0)
TUN = HostDevice(path="/dev/net/tun", type="c", major=10, minor=200, file_mode=0o666, uid=0, gid=0)
SDA = HostDevice(path="/dev/sda", type="b", major=8, minor=0, file_mode=0o660, uid=0, gid=6)
HOST = msgspec.structs.replace(TEST_HOST, devices={d.path: d for d in (FUSE, TUN, SDA)}, all_devices=(FUSE, TUN, SDA))
IMAGE = parse_image_config(json.dumps({"os": "linux", "config": {"Cmd": ["sleep", "60"]}}))

PARSED = [
    ("host-only", "/dev/fuse", DeviceRequest("/dev/fuse", "/dev/fuse", "rwm")),
    ("host-and-container", "/dev/sda:/dev/xvda", DeviceRequest("/dev/sda", "/dev/xvda", "rwm")),
    ("host-and-permissions", "/dev/sda:r", DeviceRequest("/dev/sda", "/dev/sda", "r")),
    ("all-three", "/dev/sda:/dev/xvda:rw", DeviceRequest("/dev/sda", "/dev/xvda", "rw")),
    ("permissions-as-written", "/dev/net/tun:/dev/net/tun:mwr", DeviceRequest("/dev/net/tun", "/dev/net/tun", "mwr")),
    ("outside-dev", "/dev/fuse:/run/fuse:m", DeviceRequest("/dev/fuse", "/run/fuse", "m")),
]


@pytest.mark.parametrize("name,text,expected", PARSED, ids=[p[0] for p in PARSED])
def test_podmans_device_syntax(name, text, expected) -> None:
    assert parse_device(text, W) == expected


BAD = [
    ("empty", "", "empty host path"),
    ("relative-host", "dev/fuse", 'host path "dev/fuse" is not absolute'),
    ("relative-container", "/dev/fuse:dev/fuse:r", 'container path "dev/fuse" is not absolute'),
    ("dotdot-host", "/dev/../etc/shadow", "contains '..'"),
    ("dotdot-container", "/dev/fuse:/dev/..", "contains '..'"),
    ("not-normalised", "/dev//fuse", 'not normalised (write "/dev/fuse")'),
    ("trailing-slash", "/dev/fuse/", "not normalised"),
    ("nul", "/dev/fu\0se", "contains a NUL byte"),
    ("unknown-permission", "/dev/fuse:rx", 'invalid permissions "rx"'),
    ("repeated-permission", "/dev/fuse:rr", 'invalid permissions "rr"'),
    ("empty-permissions", "/dev/fuse:/dev/fuse:", 'invalid permissions ""'),
    ("empty-middle", "/dev/fuse::r", "empty container path"),
    ("permissions-then-path", "/dev/fuse:r:/dev/x", 'container path "r" is not absolute'),
    ("too-many-parts", "/dev/a:/dev/b:r:w", "too many ':'"),
    ("over-dev", "/dev/fuse:/dev", "where the runtime mounts a filesystem"),
    ("over-root", "/dev/fuse:/", "where the runtime mounts a filesystem"),
    ("callers-stdin", "/dev/stdin", "hp's own file descriptors or terminal"),
    ("callers-fd", "/dev/fd/0:/dev/x", "hp's own file descriptors or terminal"),
    ("callers-tty", "/dev/tty", "hp's own file descriptors or terminal"),
    ("proc-self", "/proc/self/fd/1", "hp's own file descriptors or terminal"),
]


@pytest.mark.parametrize("name,text,problem", BAD, ids=[b[0] for b in BAD])
def test_bad_entries_name_the_entry(name, text, problem) -> None:
    with pytest.raises(HpError) as e:
        parse_devices(["/dev/null", text], W)
    assert e.value.where == f"{W}[1]" and problem in e.value.problem


def test_two_devices_at_one_container_path() -> None:
    with pytest.raises(HpError) as e:
        parse_devices(["/dev/fuse:/dev/x", "/dev/sda:/dev/x:r"], W)
    assert (e.value.where, e.value.problem) == (f"{W}[1]", f'"/dev/x" is already the container path of {W}[0]')


def test_one_host_device_at_two_paths_is_fine() -> None:
    assert len(parse_devices(["/dev/fuse", "/dev/fuse:/dev/fuse2"], W)) == 2


def test_nodes_and_rules_carry_the_hosts_numbers_as_podman_writes_them() -> None:
    nodes, rules = device_nodes(parse_devices(["/dev/fuse", "/dev/sda:/dev/xvda:r"], W), HOST, W)
    # podman 4.3.1 writes fileMode 8576 (st_mode with its type bits); the schema allows 0-511
    assert nodes == (
        LinuxDevice("/dev/fuse", "c", 10, 229, 0o600, 0, 0),
        LinuxDevice("/dev/xvda", "b", 8, 0, 0o660, 0, 6),
    )
    assert rules == (DeviceRule(True, "c", 10, 229, "rwm"), DeviceRule(True, "b", 8, 0, "r"))


def test_a_device_the_host_lacks_is_an_error_naming_it() -> None:
    with pytest.raises(HpError) as e:
        device_nodes(parse_devices(["/dev/fuse", "/dev/nope:/dev/x"], W), HOST, W)
    assert (e.value.where, e.value.problem) == (f"{W}[1]", "/dev/nope does not exist on the host")


def compile_app(host: HostFacts = HOST, user: str = "0", **fields):
    spec = msgspec.convert({"image": "busybox", "user": user, **fields}, ContainerSpec)
    return compile_container("app", spec, ImageFacts(IMAGE), host=host)


def test_a_container_with_devices_gets_nodes_and_rules_after_the_defaults() -> None:
    config = compile_app(devices=["/dev/net/tun:/dev/net/tun:rw"])
    assert config.linux.devices == (LinuxDevice("/dev/net/tun", "c", 10, 200, 0o666, 0, 0),)
    assert config.linux.resources.devices == defaults().devices + (DeviceRule(True, "c", 10, 200, "rw"),)
    assert config.linux.masked_paths == defaults().masked_paths


def test_a_container_without_devices_has_no_linux_devices() -> None:
    assert compile_app().linux.devices is None


# --- privileged


def test_privileged_turns_off_what_podman_turns_off() -> None:
    config = compile_app(privileged=True)
    linux = config.linux
    assert linux.masked_paths is None and linux.readonly_paths is None
    assert linux.resources.devices == (DeviceRule(allow=True, access="rwm"),)
    assert linux.devices == (
        LinuxDevice("/dev/fuse", "c", 10, 229, 0o600, 0, 0),
        LinuxDevice("/dev/net/tun", "c", 10, 200, 0o666, 0, 0),
        LinuxDevice("/dev/sda", "b", 8, 0, 0o660, 0, 6),
    )
    sys_mounts = {m.destination: m.options for m in config.mounts if m.destination.startswith("/sys")}
    assert sys_mounts == {
        "/sys": ("nosuid", "noexec", "nodev", "rw"),
        "/sys/fs/cgroup": ("nosuid", "noexec", "nodev", "relatime", "rw"),
    }
    caps = config.process.capabilities
    assert caps.bounding == caps.effective == caps.permitted == tuple(sorted(ALL_CAPABILITIES))
    assert caps.inheritable == caps.ambient == ()
    # hp keeps no_new_privileges for every container (podman leaves it off for all); see docs/devices.md
    assert config.process.no_new_privileges is True


def test_privileged_gets_hps_own_bounding_set_when_known() -> None:
    host = msgspec.structs.replace(HOST, capabilities=("CAP_SYS_ADMIN", "CAP_CHOWN"))
    caps = compile_app(host, privileged=True).process.capabilities
    assert caps.bounding == caps.effective == caps.permitted == ("CAP_CHOWN", "CAP_SYS_ADMIN")


PRIVILEGED_CAPS = [
    # name, cap_add, root, (effective = permitted = inheritable = ambient for non-root)
    ("root", (), True, ("CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN")),
    ("root-cap_add-changes-nothing", ("NET_ADMIN",), True, ("CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN")),
    ("non-root", (), False, ()),
    ("non-root-cap_add", ("net_admin",), False, ("CAP_NET_ADMIN",)),
    ("non-root-cap_add-all", ("ALL",), False, ("CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN")),
    ("non-root-cap_add-outside-bounding", ("SYS_TIME",), False, ()),
]


@pytest.mark.parametrize("name,cap_add,root,explicit", PRIVILEGED_CAPS, ids=[p[0] for p in PRIVILEGED_CAPS])
def test_privileged_capabilities_as_podman(name, cap_add, root, explicit) -> None:
    host = HostFacts(capabilities=("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"))
    caps = privileged_capabilities(host, cap_add, root=root, where="containers.app")
    assert caps.bounding == ("CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN")
    assert caps.effective == caps.permitted == explicit
    assert (caps.inheritable, caps.ambient) == (((), ()) if root else (explicit, explicit))


PRIVILEGED_REFUSED = [
    ("cap_drop", {"cap_drop": ["NET_RAW"]}, "containers.app.cap_drop", "cap_drop would be ignored"),
    ("devices", {"devices": ["/dev/fuse"]}, "containers.app.devices", "devices would be ignored"),
    ("unknown-cap_add", {"cap_add": ["BOGUS"]}, "containers.app.cap_add[0]", "unknown capability"),
]


@pytest.mark.parametrize("name,fields,where,problem", PRIVILEGED_REFUSED, ids=[p[0] for p in PRIVILEGED_REFUSED])
def test_what_privileged_would_silently_ignore_is_refused(name, fields, where, problem) -> None:
    with pytest.raises(HpError) as e:
        compile_app(privileged=True, **fields)
    assert e.value.where == where and problem in e.value.problem and e.value.source == "spec"


def test_privileged_defaults_only_touch_sys_and_cgroup_mounts() -> None:
    d = defaults()
    changed = privileged_defaults(d)
    assert [m.destination for m in changed.standard_mounts] == [m.destination for m in d.standard_mounts]
    differing = [m.destination for m, n in zip(d.standard_mounts, changed.standard_mounts, strict=True) if m != n]
    assert differing == ["/sys", "/sys/fs/cgroup"]
    assert (
        msgspec.structs.replace(
            changed,
            standard_mounts=d.standard_mounts,
            masked_paths=d.masked_paths,
            readonly_paths=d.readonly_paths,
            devices=d.devices,
        )
        == d
    )


# --- the executor's facts

STATUS = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n"


def test_bounding_set_decodes_capbnd() -> None:
    caps = bounding_set(STATUS)
    assert len(caps) == 40 and "CAP_SYS_RESOURCE" not in caps and list(caps) == sorted(caps)
    assert bounding_set("CapBnd:\t" + "f" * 16) == tuple(sorted(ALL_CAPABILITIES))
    assert bounding_set("Name: x\n") == ()


def test_device_at_stats_a_node_and_names_what_is_not_one(tmp_path) -> None:
    null = os.stat("/dev/null")
    assert device_at("/dev/null", W) == HostDevice(
        "/dev/null", "c", 1, 3, stat.S_IMODE(null.st_mode), null.st_uid, null.st_gid
    )
    assert device_at(str(tmp_path / "nope"), W) is None
    (tmp_path / "file").write_text("x")
    with pytest.raises(HpError) as e:
        device_at(str(tmp_path / "file"), f"{W}[0]")
    assert e.value.where == f"{W}[0]" and e.value.problem.endswith("is not a device (a regular file)")
    os.symlink("/dev/null", tmp_path / "link")
    link = device_at(str(tmp_path / "link"), W)
    assert link is not None and link.path == str(tmp_path / "link")  # followed, as podman does


def test_the_walk_follows_podmans_order_and_skips(tmp_path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    rdev = os.stat("/dev/null").st_rdev
    for path in ("b", "a/z", "a/y", "pts/0", "sub/pts/1", "console", "shm/x", "mqueue/m", "c/console"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        os.mknod(tmp_path / path, 0o600 | stat.S_IFCHR, rdev)
    os.symlink(tmp_path / "b", tmp_path / "alink")
    (tmp_path / "regular").write_text("")
    os.mkfifo(tmp_path / "fifo")
    found = [os.path.relpath(d.path, tmp_path) for d in all_devices(str(tmp_path))]
    assert found == ["a/y", "a/z", "b"]
    with pytest.raises(HpError, match="too many entries"):
        all_devices(str(tmp_path), limit=5)


def test_the_hosts_dev_has_null_and_no_pts() -> None:
    paths = [d.path for d in all_devices()]
    assert "/dev/null" in paths and not any(p.startswith("/dev/pts/") for p in paths)
