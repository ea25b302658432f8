"""`devices = ["/dev/fuse", "/dev/sda:/dev/xvda:r"]` and `privileged = true`, as podman 4.3.1 does them. Pure:
the host's device nodes and bounding set arrive as facts (compiler/host.HostFacts).

    devices      each HOST[:CONTAINER][:PERMISSIONS] becomes a linux.devices node (the host's type, major,
                 minor, mode and owner) and an allow rule after hp's deny-all rule (PERMISSIONS: r, w, m)
    privileged   every device under the host's /dev and one allow-all rule; hp's bounding set as the
                 capabilities; no masked or read-only paths; /sys and /sys/fs/cgroup read-write
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .capabilities import ALL_CAPABILITIES, Capabilities, canonical
from .defaults import Defaults
from .errors import HpError, quote
from .host import HostDevice, HostFacts
from .oci import DeviceRule, LinuxDevice, Mount
from .paths import normalise

DEFAULT_ACCESS = "rwm"
MAX_DEVICES = 256
# where the runtime mounts a filesystem of its own: a device node there would be hidden or refused
_RESERVED = ("/", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/proc", "/sys")


class DeviceRequest(msgspec.Struct, frozen=True):
    """One `devices` entry, checked: the host's node, where the container sees it, and the access allowed."""

    host: str
    container: str
    access: str


def parse_device(text: str, where: str) -> DeviceRequest:
    """podman's --device syntax: HOST, HOST:CONTAINER, HOST:PERMISSIONS or HOST:CONTAINER:PERMISSIONS."""
    parts = text.split(":")
    if len(parts) > 3:
        raise HpError(where, f"{quote(text)} is not HOST[:CONTAINER][:PERMISSIONS] (too many ':')")
    host = _device_path(parts[0], where, "host path")
    if host in _CALLERS_OWN or host.startswith(("/dev/fd/", "/proc/")):
        raise HpError(
            where,
            f"{quote(host)} is whatever hp's own file descriptors or terminal are when it runs, "
            "not a device of the host: name the device itself",
        )
    container, access = host, DEFAULT_ACCESS
    if len(parts) == 3:
        container = _device_path(parts[1], where, "container path")
        access = _access(parts[2], where)
    elif len(parts) == 2:
        if parts[1].startswith("/"):
            container = _device_path(parts[1], where, "container path")
        else:
            access = _access(parts[1], where)
    if container in _RESERVED:
        raise HpError(where, f"container path {quote(container)} is where the runtime mounts a filesystem")
    return DeviceRequest(host, container, access)


def parse_devices(devices: Sequence[str], where: str) -> tuple[DeviceRequest, ...]:
    """Every entry checked, no two at the same container path. `where`: containers.NAME.devices."""
    if len(devices) > MAX_DEVICES:
        raise HpError(where, f"{len(devices)} devices; at most {MAX_DEVICES}")
    out: list[DeviceRequest] = []
    seen: dict[str, int] = {}
    for i, text in enumerate(devices):
        request = parse_device(text, f"{where}[{i}]")
        if request.container in seen:
            raise HpError(
                f"{where}[{i}]",
                f"{quote(request.container)} is already the container path of {where}[{seen[request.container]}]",
            )
        seen[request.container] = i
        out.append(request)
    return tuple(out)


def check_with_privileged(cap_drop: Sequence[str], devices: Sequence[str], where: str) -> None:
    """privileged takes every capability and every host device: podman and Docker then ignore cap_drop and
    devices without a word; hp refuses them, so nothing asked for is silently left undone."""
    if cap_drop:
        raise HpError(
            f"{where}.cap_drop",
            "privileged = true gives every capability: cap_drop would be ignored "
            "(as podman and Docker do); remove one of them",
        )
    if devices:
        raise HpError(
            f"{where}.devices",
            "privileged = true gives every host device at its own path: devices "
            "would be ignored (as podman and Docker do); remove one of them",
        )


def device_nodes(
    requests: Sequence[DeviceRequest], host: HostFacts, where: str
) -> tuple[tuple[LinuxDevice, ...], tuple[DeviceRule, ...]]:
    """The linux.devices nodes and the allow rules for `requests`; a host path absent from the facts
    (it does not exist or is not a device: the executor said which when it looked) is an error."""
    nodes: list[LinuxDevice] = []
    rules: list[DeviceRule] = []
    for i, request in enumerate(requests):
        device = host.devices.get(request.host)
        if device is None:
            raise HpError(f"{where}[{i}]", f"{request.host} does not exist on the host")
        nodes.append(_node(device, request.container))
        rules.append(
            DeviceRule(allow=True, type=device.type, major=device.major, minor=device.minor, access=request.access)
        )
    return tuple(nodes), tuple(rules)


def privileged_nodes(host: HostFacts) -> tuple[LinuxDevice, ...]:
    """Every device node under the host's /dev (the executor's walk, in its order), at its own path."""
    return tuple(_node(device, device.path) for device in host.all_devices)


PRIVILEGED_RULES = (DeviceRule(allow=True, access="rwm"),)


def privileged_defaults(d: Defaults) -> Defaults:
    """hp's defaults with what privileged turns off: no masked or read-only paths, /sys and
    /sys/fs/cgroup read-write, every device allowed (the nodes come from privileged_nodes)."""
    return msgspec.structs.replace(
        d,
        masked_paths=(),
        readonly_paths=(),
        devices=PRIVILEGED_RULES,
        standard_mounts=tuple(_read_write(m) if m.type in ("sysfs", "cgroup") else m for m in d.standard_mounts),
    )


def privileged_capabilities(host: HostFacts, cap_add: Sequence[str], *, root: bool, where: str) -> Capabilities:
    """A privileged container's capabilities: hp's own bounding set (every capability when not known) in
    bounding; root has it in effective and permitted too, any other uid only what cap_add names ("ALL":
    the whole set) in effective, permitted, inheritable and ambient, as podman does."""
    bounding = tuple(sorted(set(host.capabilities or ALL_CAPABILITIES)))
    adds = {canonical(name, f"{where}.cap_add[{i}]") for i, name in enumerate(cap_add)}
    if root:
        return Capabilities(bounding, bounding, (), bounding, ())
    explicit = bounding if "ALL" in adds else tuple(sorted(adds & set(bounding)))
    return Capabilities(bounding, explicit, explicit, explicit, explicit)


def _node(device: HostDevice, path: str) -> LinuxDevice:
    # the permission bits: the runtime-spec's schema allows no more (podman writes st_mode whole, 8576
    # for a 0600 char device, which the schema refuses); the runtime adds the type from `type`
    return LinuxDevice(
        path=path,
        type=device.type,
        major=device.major,
        minor=device.minor,
        file_mode=device.file_mode & 0o777,
        uid=device.uid,
        gid=device.gid,
    )


def _read_write(mount: Mount) -> Mount:
    return msgspec.structs.replace(mount, options=tuple("rw" if o == "ro" else o for o in mount.options or ()))


# names that resolve through the calling process (/proc/self/fd, its controlling terminal): a plan with them
# would depend on how hp was started, and could hand the operator's own terminal to the container
_CALLERS_OWN = frozenset({"/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd", "/dev/tty", "/proc"})


def _device_path(path: str, where: str, what: str) -> str:
    if not path:
        raise HpError(where, f"empty {what}")
    if "\0" in path:
        raise HpError(where, f"{what} contains a NUL byte")
    if not path.startswith("/"):
        raise HpError(where, f"{what} {quote(path)} is not absolute (it must start with /)")
    if "/../" in path + "/":
        raise HpError(where, f"{what} {quote(path)} contains '..'")
    if normalise(path) != path:
        raise HpError(where, f"{what} {quote(path)} is not normalised (write {quote(normalise(path))})")
    return path


def _access(text: str, where: str) -> str:
    if not text or any(c not in DEFAULT_ACCESS for c in text) or len(set(text)) != len(text):
        raise HpError(
            where, f"invalid permissions {quote(text)}: one or more of r (read), w (write), m (mknod), each once"
        )
    return text
