"""The OCI runtime-spec config.json that hp emits, as immutable Structs.

Field order here is the key order in the file. Names that are not plain
snake→camel (`additionalGids`, `noNewPrivileges`, `cgroupsPath` ...) are
renamed explicitly, per Struct, never with a blanket rename="camel". Optional
fields default to None and are left out of the output.
"""

from __future__ import annotations

import msgspec

OCI_VERSION = "1.1.0"


class _Oci(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    pass


class User(_Oci, frozen=True, rename={"additional_gids": "additionalGids"}):
    uid: int
    gid: int
    additional_gids: tuple[int, ...] | None = None
    umask: int | None = None


class ProcessCapabilities(_Oci, frozen=True):
    """All five sets are always written, empty ones too, so a reader sees each choice."""

    bounding: tuple[str, ...]
    effective: tuple[str, ...]
    inheritable: tuple[str, ...]
    permitted: tuple[str, ...]
    ambient: tuple[str, ...]


class Rlimit(_Oci, frozen=True):
    type: str
    hard: int
    soft: int


class Process(_Oci, frozen=True, rename={"no_new_privileges": "noNewPrivileges"}):
    terminal: bool
    user: User
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    capabilities: ProcessCapabilities | None = None
    rlimits: tuple[Rlimit, ...] | None = None
    no_new_privileges: bool | None = None


class Root(_Oci, frozen=True):
    path: str
    readonly: bool | None = None


class Mount(_Oci, frozen=True):
    destination: str
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] | None = None


class Namespace(_Oci, frozen=True):
    type: str
    path: str | None = None


class DeviceRule(_Oci, frozen=True):
    allow: bool
    type: str | None = None
    major: int | None = None
    minor: int | None = None
    access: str | None = None


class LinuxDevice(_Oci, frozen=True, rename={"file_mode": "fileMode"}):
    """A device node the runtime makes in the container (linux.devices)."""

    path: str
    type: str
    major: int
    minor: int
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class Memory(_Oci, frozen=True):
    limit: int | None = None
    swap: int | None = None


class Cpu(_Oci, frozen=True):
    quota: int | None = None
    period: int | None = None


class Pids(_Oci, frozen=True):
    limit: int


class Resources(_Oci, frozen=True):
    devices: tuple[DeviceRule, ...] | None = None
    memory: Memory | None = None
    cpu: Cpu | None = None
    pids: Pids | None = None


class LinuxSeccompArg(_Oci, frozen=True, kw_only=True, rename={"value_two": "valueTwo"}):
    index: int
    value: int
    value_two: int = 0  # left out when 0, as runtime-spec's Go types (and so podman) write it
    op: str


class LinuxSyscall(_Oci, frozen=True, rename={"errno_ret": "errnoRet"}):
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[LinuxSeccompArg, ...] | None = None


class LinuxSeccomp(
    _Oci, frozen=True, rename={"default_action": "defaultAction", "default_errno_ret": "defaultErrnoRet"}
):
    """linux.seccomp (compiler/seccomp.py makes it from a profile)."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] | None = None
    flags: tuple[str, ...] | None = None
    syscalls: tuple[LinuxSyscall, ...] | None = None


class Linux(
    _Oci,
    frozen=True,
    rename={"cgroups_path": "cgroupsPath", "masked_paths": "maskedPaths", "readonly_paths": "readonlyPaths"},
):
    resources: Resources | None = None
    cgroups_path: str | None = None
    namespaces: tuple[Namespace, ...] = ()
    devices: tuple[LinuxDevice, ...] | None = None
    seccomp: LinuxSeccomp | None = None
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    sysctl: dict[str, str] | None = None


class RuntimeConfig(_Oci, frozen=True, rename={"oci_version": "ociVersion"}):
    oci_version: str
    process: Process
    root: Root
    hostname: str | None = None
    mounts: tuple[Mount, ...] = ()
    annotations: dict[str, str] | None = None
    linux: Linux | None = None


def encode_config(config: RuntimeConfig) -> bytes:
    """The exact bytes of config.json: 2-space indent, fixed key order, trailing newline."""
    linux = config.linux
    seccomp = linux.seccomp if linux is not None else None
    if linux is None or seccomp is None:
        return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"
    # Indenting the seccomp filter (~12 KB) would take most of the time: it is indented once per
    # filter and put in place of a marker, the same bytes as indenting it all.
    marked = msgspec.structs.replace(config, linux=msgspec.structs.replace(linux, seccomp=_MARK))
    head, _, tail = msgspec.json.format(msgspec.json.encode(marked), indent=2).rpartition(_MARK_TEXT)
    return head + _indented(seccomp) + tail + b"\n"


_MARK_TEXT = b'"\\u0000hp-seccomp"'
_MARK = msgspec.Raw(_MARK_TEXT)
_INDENTED: dict[int, tuple[LinuxSeccomp, bytes]] = {}  # id -> (the filter, kept so its id stays its own; text)


def _indented(seccomp: LinuxSeccomp) -> bytes:
    """linux.seccomp's text, indented as it stands in config.json (two levels deep)."""
    known = _INDENTED.get(id(seccomp))
    if known is not None and known[0] is seccomp:
        return known[1]
    text = msgspec.json.format(msgspec.json.encode(seccomp), indent=2).replace(b"\n", b"\n    ")
    if len(_INDENTED) >= 64:
        _INDENTED.clear()
    _INDENTED[id(seccomp)] = (seccomp, text)
    return text
