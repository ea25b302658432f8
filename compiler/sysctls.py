"""`sysctls = { "net.ipv4.ip_forward" = "1" }`: kernel parameters set inside the container
(config.json's linux.sysctl), with podman's rule: only those the container's own namespaces
hold, so a container can never change the host's kernel. Pure.

    kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*   the IPC namespace (every container has one)
    net.*                                              the network namespace: not with network = "host"

Defaults (compiler/defaults.py, podman's default_sysctls): net.ipv4.ping_group_range = "0 0" in every
container with a network namespace of its own, so root inside can ping without CAP_NET_RAW (docs/conversion.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import HpError, key_path, quote

_KEY = re.compile(r"[a-z0-9_]+(?:[./][a-z0-9_-]+)+")
_IPC = re.compile(r"kernel\.(?:msg[a-z_]*|sem|shm[a-z_]*)|fs\.mqueue\.[a-z0-9_.]+")


def sysctls(
    value: Mapping[str, str] | None, network_mode: str, where: str, default: Mapping[str, str] | None = None
) -> dict[str, str] | None:
    """The checked sysctls over `default` (net.* ones only with a network namespace of the
    container's own), keys sorted (None for none), or an HpError naming the key."""
    out = {k: v for k, v in (default or {}).items() if not (network_mode == "host" and k.startswith("net."))}
    if not value:
        return dict(sorted(out.items())) or None
    for key in sorted(value):
        at = key_path(where, key)
        text = value[key]
        name = key.replace("/", ".")  # sysctl(8) takes both spellings
        if not _KEY.fullmatch(key):
            raise HpError(at, f"{quote(key)} is not a sysctl name (like net.ipv4.ip_forward)")
        if name.startswith("net."):
            if network_mode == "host":
                raise HpError(
                    at,
                    "net.* sysctls need a network namespace of the container's own; "
                    'with network = "host" they would change the host',
                )
        elif not _IPC.fullmatch(name):
            raise HpError(
                at,
                f"{quote(key)} is not namespaced: only kernel.msg*, kernel.sem, kernel.shm*, "
                "fs.mqueue.* and net.* can be set per container",
            )
        if not text or any(c in text for c in "\n\r\0") or len(text) > 4096:
            raise HpError(at, f"{quote(text)} is not a value a sysctl takes (one line, 1-4096 characters)")
        out[name] = text
    return dict(sorted(out.items()))
