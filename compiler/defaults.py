"""hp's defaults, as one immutable value: what every container gets unless its
image or hp.toml says otherwise. Chosen to match runc/containerd/podman (see
docs/conversion.md for where each list comes from), and host-independent."""

from __future__ import annotations

import msgspec

from .layout import ETC_FILES, INIT_HELPER
from .oci import OCI_VERSION, DeviceRule, Mount, Rlimit
from .volumes import VOLUMES

DEFAULT_LOG_MAX_SIZE = 10 * 1024**2  # "10m", as the issue and podman's k8s-file users expect


class Defaults(msgspec.Struct, frozen=True):
    oci_version: str
    capabilities: tuple[str, ...]
    standard_mounts: tuple[Mount, ...]
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    namespaces: tuple[str, ...]
    devices: tuple[DeviceRule, ...]
    rlimits: tuple[Rlimit, ...]
    cgroup_parent: str
    etc_files: tuple[str, ...]
    volume_dir: str
    init_path: str
    init_source: str
    log_max_size: int  # bytes: conmon starts the log afresh past this (hp.toml's log_max_size)
    umask: int  # the container's process starts with it, whatever the caller's was (podman's 0022)
    pids_limit: int  # processes, unless hp.toml's pids_limit says otherwise (-1: none)
    sysctls: tuple[tuple[str, str], ...]  # in every container whose namespaces hold them (compiler/sysctls.py)
    seccomp_profile: str  # the host's default seccomp profile: containers-common's, as podman reads it


def _char(major: int, minor: int | None) -> DeviceRule:
    return DeviceRule(allow=True, type="c", major=major, minor=minor, access="rwm")


_DEFAULTS = Defaults(
    oci_version=OCI_VERSION,
    # podman's default_capabilities (containers.conf): Docker's 14 less MKNOD, NET_RAW, AUDIT_WRITE
    capabilities=(
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ),
    # runc / containerd / podman: the same options, in runc's order (and podman's noexec on /dev)
    standard_mounts=(
        Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "noexec", "strictatime", "mode=755", "size=65536k")),
        Mount(
            "/dev/pts", "devpts", "devpts", ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")
        ),
        Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
        Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")),
    ),
    # containerd's list (runc's + powercap) plus /proc/interrupts (moby, podman) plus /sys/dev/block and
    # /sys/fs/selinux (podman 4.3.1): never weaker than either peer
    masked_paths=(
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/dev/block",
        "/sys/devices/virtual/powercap",
        "/sys/firmware",
        "/sys/fs/selinux",
    ),
    readonly_paths=("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"),
    namespaces=("pid", "network", "ipc", "uts", "mount", "cgroup"),
    # deny everything, then the devices every container has (runc's allow-list)
    devices=(
        DeviceRule(allow=False, access="rwm"),
        _char(1, 3),  # /dev/null
        _char(1, 5),  # /dev/zero
        _char(1, 7),  # /dev/full
        _char(1, 8),  # /dev/random
        _char(1, 9),  # /dev/urandom
        _char(5, 0),  # /dev/tty
        _char(5, 1),  # /dev/console
        _char(5, 2),  # /dev/ptmx
        _char(136, None),  # /dev/pts/*
    ),
    rlimits=(Rlimit("RLIMIT_NOFILE", 1024, 1024),),
    cgroup_parent="/hp",
    etc_files=ETC_FILES,
    volume_dir=VOLUMES,
    init_path="/run/hp-init",
    init_source=INIT_HELPER,
    log_max_size=DEFAULT_LOG_MAX_SIZE,
    umask=0o022,
    pids_limit=2048,  # podman's default (containers.conf pids_limit): a fork bomb stays inside its container
    # podman's default_sysctls: root inside may ping (ICMP echo sockets) without CAP_NET_RAW
    sysctls=(("net.ipv4.ping_group_range", "0 0"),),
    seccomp_profile="/usr/share/containers/seccomp.json",
)


def defaults() -> Defaults:
    """The defaults. One shared immutable value; build a changed copy with msgspec.structs.replace."""
    return _DEFAULTS
