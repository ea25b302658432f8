"""The OCI runtime-spec config.json that hp emits, as immutable Structs.

Field order here is the key order in the file. Names that are not plain
snake→camel (`additionalGids`, `noNewPrivileges`, `cgroupsPath` ...) are
renamed explicitly, per Struct, never with a blanket rename="camel". Optional
fields default to None and are left out of the output.
"""

from __future__ import annotations

from typing import Union

import msgspec

OCI_VERSION = "1.1.0"


class _Oci(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    pass


class User(_Oci, rename={"additional_gids": "additionalGids"}):
    uid: int
    gid: int
    additional_gids: Union[tuple[int, ...], None] = None


class ProcessCapabilities(_Oci):
    """All five sets are always written, empty ones too, so a reader sees each choice."""

    bounding: tuple[str, ...]
    effective: tuple[str, ...]
    inheritable: tuple[str, ...]
    permitted: tuple[str, ...]
    ambient: tuple[str, ...]


class Rlimit(_Oci):
    type: str
    hard: int
    soft: int


class Process(_Oci, rename={"no_new_privileges": "noNewPrivileges"}):
    terminal: bool
    user: User
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    capabilities: Union[ProcessCapabilities, None] = None
    rlimits: Union[tuple[Rlimit, ...], None] = None
    no_new_privileges: Union[bool, None] = None


class Root(_Oci):
    path: str
    readonly: Union[bool, None] = None


class Mount(_Oci):
    destination: str
    type: Union[str, None] = None
    source: Union[str, None] = None
    options: Union[tuple[str, ...], None] = None


class Namespace(_Oci):
    type: str
    path: Union[str, None] = None


class DeviceRule(_Oci):
    allow: bool
    type: Union[str, None] = None
    major: Union[int, None] = None
    minor: Union[int, None] = None
    access: Union[str, None] = None


class LinuxDevice(_Oci, rename={"file_mode": "fileMode"}):
    """A device node the runtime makes in the container (linux.devices)."""

    path: str
    type: str
    major: int
    minor: int
    file_mode: Union[int, None] = None
    uid: Union[int, None] = None
    gid: Union[int, None] = None


class Memory(_Oci):
    limit: Union[int, None] = None
    swap: Union[int, None] = None


class Cpu(_Oci):
    quota: Union[int, None] = None
    period: Union[int, None] = None


class Pids(_Oci):
    limit: int


class Resources(_Oci):
    devices: Union[tuple[DeviceRule, ...], None] = None
    memory: Union[Memory, None] = None
    cpu: Union[Cpu, None] = None
    pids: Union[Pids, None] = None


class Linux(
    _Oci,
    rename={"cgroups_path": "cgroupsPath", "masked_paths": "maskedPaths", "readonly_paths": "readonlyPaths"},
):
    resources: Union[Resources, None] = None
    cgroups_path: Union[str, None] = None
    namespaces: tuple[Namespace, ...] = ()
    devices: Union[tuple[LinuxDevice, ...], None] = None
    masked_paths: Union[tuple[str, ...], None] = None
    readonly_paths: Union[tuple[str, ...], None] = None
    sysctl: Union[dict[str, str], None] = None


class RuntimeConfig(_Oci, rename={"oci_version": "ociVersion"}):
    oci_version: str
    process: Process
    root: Root
    hostname: Union[str, None] = None
    mounts: tuple[Mount, ...] = ()
    annotations: Union[dict[str, str], None] = None
    linux: Union[Linux, None] = None


def encode_config(config: RuntimeConfig) -> bytes:
    """The exact bytes of config.json: 2-space indent, fixed key order, trailing newline."""
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"
