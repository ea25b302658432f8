"""The capability sets: a default list, cap_add / cap_drop, and the root / non-root split."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import msgspec

from .errors import HpError, quote

# Every capability Linux defines (include/uapi/linux/capability.h, up to 6.x), in number order.
ALL_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
_KNOWN = frozenset(ALL_CAPABILITIES)


class Capabilities(msgspec.Struct, frozen=True):
    bounding: tuple[str, ...]
    effective: tuple[str, ...]
    inheritable: tuple[str, ...]
    permitted: tuple[str, ...]
    ambient: tuple[str, ...]


def canonical(name: str, where: str) -> str:
    """ "net_admin", "CAP_NET_ADMIN", "Net_Admin" → "CAP_NET_ADMIN"; "all" → "ALL"."""
    upper = name.upper()
    if upper == "ALL":
        return "ALL"
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in _KNOWN:
        raise HpError(where, f"unknown capability {quote(name)}")
    return full


def capability_sets(
    default: Sequence[str], cap_add: Sequence[str], cap_drop: Sequence[str], *, root: bool, where: str
) -> Capabilities:
    """Docker/podman semantics: drop ALL empties the default, add ALL takes every capability;
    naming one capability in both lists is an error. Root gets the set in bounding,
    effective and permitted; any other uid gets it in bounding only, plus what cap_add
    names explicitly in every set (so it really has those)."""
    return _capability_sets(tuple(default), tuple(cap_add), tuple(cap_drop), root, where)


@lru_cache(maxsize=256)  # pure, and most containers share a few combinations
def _capability_sets(
    default: tuple[str, ...], cap_add: tuple[str, ...], cap_drop: tuple[str, ...], root: bool, where: str
) -> Capabilities:
    adds = [canonical(n, f"{where}.cap_add[{i}]") for i, n in enumerate(cap_add)]
    drops = [canonical(n, f"{where}.cap_drop[{i}]") for i, n in enumerate(cap_drop)]
    both = sorted(set(adds) & set(drops) - {"ALL"})
    if both:
        raise HpError(f"{where}.cap_add", f"{both[0]} is in both cap_add and cap_drop")
    if "ALL" in adds and "ALL" in drops:
        raise HpError(f"{where}.cap_add", "ALL is in both cap_add and cap_drop")
    if "ALL" in adds:
        chosen = set(ALL_CAPABILITIES) - set(drops)
    elif "ALL" in drops:
        chosen = set(adds)
    else:
        chosen = (set(default) | set(adds)) - set(drops)
    bounding = tuple(sorted(chosen))
    if root:
        return Capabilities(bounding, bounding, (), bounding, ())
    explicit = tuple(sorted(set(ALL_CAPABILITIES) - set(drops) if "ALL" in adds else set(adds) - {"ALL"}))
    return Capabilities(bounding, explicit, explicit, explicit, explicit)
