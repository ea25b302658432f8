"""The security review of a plan: every way a container is less confined than hp's default,
read from its config.json, and what a replace adds or removes. Pure.

One definition serves both sides of a replace: the planned config.json and the recorded one are
read the same way, so an item that neither adds nor removes anything is equal on both sides. The
config cannot tell one thing: which seccomp profile a filter came from. That is hp.toml's `seccomp`,
known for the planned side only; a recorded filter equal to the planned one is the same profile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import msgspec

from .defaults import Defaults, defaults
from .volumes import volume_of_source

Kind = Literal["privileged", "capability", "seccomp", "device", "host-network", "bind-mount", "sysctl", "root"]
KINDS: tuple[str, ...] = (
    "privileged",
    "capability",
    "seccomp",
    "device",
    "host-network",
    "bind-mount",
    "sysctl",
    "root",
)
# what `privileged` grants by itself: listed under it, not one by one (a privileged container has every
# capability and device of the host); its seccomp is listed as any container's (a profile file still applies)
PRIVILEGED_GRANTS = frozenset({"capability", "device"})


class Escalation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One way a container is less confined than hp's default: kind and a detail that tells it from
    others of its kind (a capability's name, a mount's source and target ...). `line` is its text."""

    kind: Kind
    detail: str = ""

    @property
    def line(self) -> str:
        return _LINES[self.kind](self.detail)


_LINES: dict[Kind, Callable[[str], str]] = {
    "privileged": lambda _: (
        "privileged: every capability, the host's devices, no masked or read-only paths, /sys writable"
    ),
    "capability": lambda d: f"capability {d} (not in hp's default set)",
    "seccomp": lambda d: "seccomp unconfined: no syscall filter" if d == "unconfined" else f"seccomp profile {d}",
    "device": lambda d: f"device {d}",
    "host-network": lambda _: "host network: the host's interfaces and ports, no network namespace of its own",
    "bind-mount": lambda d: f"bind mount of host path {d}",
    "sysctl": lambda d: f"sysctl {d}",
    "root": lambda _: "runs as root (uid 0)",
}


def escalations(
    config_json: bytes, *, volumes_dir: str | None = None, seccomp: str | None = None, d: Defaults | None = None
) -> tuple[Escalation, ...]:
    """Every way the container of `config_json` is less confined than hp's default, sorted (KINDS order).

    volumes_dir: where hp's volumes live (Layout.volumes_dir): a bind of a volume's directory is hp's,
    as are the bundle's own files (relative sources); every other bind source is a host path.
    seccomp: hp.toml's value when known ("default", "unconfined" or a profile's path): a filter from a
    path is listed as that custom profile; None (a recorded container): only a missing filter is listed.
    What is not an hp config.json (not JSON, no process and linux objects, a field of another type) has none."""
    return _escalations(_decoded(config_json), volumes_dir, seccomp, d or defaults())


def _decoded(config_json: bytes) -> Any:
    try:
        return msgspec.json.decode(config_json)
    except msgspec.DecodeError:
        return None


def _escalations(config: Any, volumes_dir: str | None, seccomp: str | None, d: Defaults) -> tuple[Escalation, ...]:
    try:
        return _listed(config, volumes_dir, seccomp, d)
    except (AttributeError, TypeError):
        return ()


def _listed(config: Any, volumes_dir: str | None, seccomp: str | None, d: Defaults) -> tuple[Escalation, ...]:
    process, linux = config.get("process"), config.get("linux")
    if not isinstance(process, dict) or not isinstance(linux, dict):
        # without them a config would read as privileged and unconfined: nothing could be added to it
        raise TypeError("not an hp config.json: no process or linux object")
    privileged = not linux.get("maskedPaths") and not linux.get("readonlyPaths")
    found: list[Escalation] = [Escalation("privileged")] if privileged else []
    found += _capabilities(process, d)
    found += _seccomp(linux, seccomp)
    found += _devices(linux, d)
    if not any(ns.get("type") == "network" for ns in linux.get("namespaces") or ()):
        found.append(Escalation("host-network"))
    found += _bind_mounts(config.get("mounts") or (), volumes_dir)
    default_sysctls = dict(d.sysctls)  # what every container gets (podman's default_sysctls) is hp's default
    found += [
        Escalation("sysctl", f"{key}={value}")
        for key, value in (linux.get("sysctl") or {}).items()
        if default_sysctls.get(key) != value
    ]
    if (process.get("user") or {}).get("uid") == 0:
        found.append(Escalation("root"))
    if privileged:
        found = [e for e in found if e.kind not in PRIVILEGED_GRANTS]
    return tuple(sorted(set(found), key=_order))


def _order(e: Escalation) -> tuple[int, str]:
    return KINDS.index(e.kind), e.detail


def _capabilities(process: Mapping[str, Any], d: Defaults) -> list[Escalation]:
    """The final bounding set beyond the default set (a cap_add of a default capability adds nothing)."""
    bounding = (process.get("capabilities") or {}).get("bounding") or ()
    return [Escalation("capability", cap) for cap in set(bounding) - set(d.capabilities)]


def _seccomp(linux: Mapping[str, Any], source: str | None) -> list[Escalation]:
    if not linux.get("seccomp"):
        return [Escalation("seccomp", "unconfined")]
    if source is not None and source not in ("default", "unconfined"):
        return [Escalation("seccomp", source)]
    return []


def _devices(linux: Mapping[str, Any], d: Defaults) -> list[Escalation]:
    """Each device node the container gets (linux.devices), with the access its cgroup rules allow, and
    any other device access allowed beyond hp's default rules."""
    default_rules = {(r.allow, r.type, r.major, r.minor, r.access) for r in d.devices}
    allowed = [rule for rule in (linux.get("resources") or {}).get("devices") or () if rule.get("allow")]
    rules = [rule for rule in allowed if _rule_key(rule) not in default_rules]
    out = []
    for node in linux.get("devices") or ():
        kind, major, minor = node.get("type"), node.get("major"), node.get("minor")
        access = "".join(
            sorted(
                {c for r in allowed if _covers(r, kind, major, minor) for c in r.get("access") or ""}, key="rwm".index
            )
        )
        out.append(Escalation("device", f"{node.get('path')} ({kind} {major}:{minor} {access or 'no access'})"))
    for rule in rules:
        if not any(_covers(rule, n.get("type"), n.get("major"), n.get("minor")) for n in linux.get("devices") or ()):
            out.append(Escalation("device", f"access {_rule_text(rule)}"))
    return out


def _rule_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(rule.get(field) for field in ("allow", "type", "major", "minor", "access"))


def _covers(rule: Mapping[str, Any], kind: str | None, major: int | None, minor: int | None) -> bool:
    return (
        rule.get("type") in (None, "a", kind)
        and rule.get("major") in (None, -1, major)
        and rule.get("minor") in (None, -1, minor)
    )


def _rule_text(rule: Mapping[str, Any]) -> str:
    def number(n: int | None) -> str:
        return "*" if n is None or n == -1 else str(n)

    numbers = f"{number(rule.get('major'))}:{number(rule.get('minor'))}"
    return f"{rule.get('type') or 'a'} {numbers} {rule.get('access') or ''}".rstrip()


def _bind_mounts(mounts: Any, volumes_dir: str | None) -> list[Escalation]:
    out = []
    for m in mounts:
        options = m.get("options") or ()
        source = m.get("source") or ""
        if m.get("type") != "bind" and "bind" not in options and "rbind" not in options:
            continue
        if not source.startswith("/") or (volumes_dir and volume_of_source(volumes_dir, source)):
            continue  # the bundle's own files, hp's volumes
        how = "read-only" if "ro" in options else "read-write"
        out.append(Escalation("bind-mount", f"{source} at {m.get('destination')} ({how})"))
    return out


class SecurityChange(msgspec.Struct, frozen=True):
    """A change's review: what the container will have, and what that adds and removes (a create adds it all)."""

    security: tuple[Escalation, ...]
    added: tuple[Escalation, ...]
    removed: tuple[Escalation, ...]


def review_create(config_json: bytes, *, volumes_dir: str | None = None, seccomp: str | None = None) -> SecurityChange:
    after = escalations(config_json, volumes_dir=volumes_dir, seccomp=seccomp)
    return SecurityChange(after, after, ())


def review_replace(
    before_json: bytes, after_json: bytes, *, volumes_dir: str | None = None, seccomp: str | None = None
) -> SecurityChange:
    """The planned container's escalations, and which the replace adds or removes compared with the
    recorded container. What privileged grants by itself is neither added nor removed by adding or
    removing the same one by one (cap_add = ["ALL"] to privileged adds privileged only).
    A recorded config.json that cannot be read counts as having none: all are added."""
    d = defaults()
    planned, recorded = _decoded(after_json), _decoded(before_json)
    after = _escalations(planned, volumes_dir, seccomp, d)
    same_filter = _seccomp_section(recorded) == _seccomp_section(planned)
    before = _escalations(recorded, volumes_dir, seccomp if same_filter else None, d)
    added = _beyond(after, before)
    removed = _beyond(before, after)
    return SecurityChange(after, added, removed)


def _seccomp_section(config: Any) -> object:
    linux = config.get("linux") if isinstance(config, dict) else None
    return linux.get("seccomp") if isinstance(linux, dict) else None


def _beyond(these: tuple[Escalation, ...], others: tuple[Escalation, ...]) -> tuple[Escalation, ...]:
    """`these` not in `others`; when `others` is privileged, what privileged grants is not beyond it."""
    privileged = Escalation("privileged") in others
    return tuple(e for e in these if e not in others and not (privileged and e.kind in PRIVILEGED_GRANTS))


def counts_against(change_action: str, e: Escalation) -> bool:
    """Whether `hp plan --deny-escalation` fails on `e` added by a change: every added item counts, but
    a create's root user (most images run as root, as under podman and Docker: it is the image's choice,
    not the file's); a replace that makes a container root counts."""
    return not (change_action == "create" and e.kind == "root")
