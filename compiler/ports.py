"""Host ports, the pure part: which nat rules already take a host port, and the messages
for a port that is in use (the executor's checks are in executor/ports.py).

A port published through CNI's portmap (or podman's netavark, or Docker) has no listening
socket on the host: only a DNAT rule in the nat table, reached from PREROUTING and OUTPUT.
`nat_forwards` reads those rules from `iptables-save -t nat` output, with the CNI container
ID that owns each one when its comment (or the comment on the jump to its chain) names it:
portmap writes `dnat name: "NET" id: "ID"` on the jump to its CNI-DN-… chain.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable, Iterable

import msgspec

from .network import PortMapping

FORWARDING_TARGETS = ("DNAT", "REDIRECT")
BUILTIN_CHAINS = ("PREROUTING", "OUTPUT")
_OWNER = re.compile(r'\bid: "([^"]+)"')


class NatForward(msgspec.Struct, frozen=True):
    """A nat rule that sends traffic for some host ports elsewhere (DNAT or REDIRECT).
    ports: inclusive ranges; destination: a CIDR, None for any address."""

    chain: str
    protocol: str
    ports: tuple[tuple[int, int], ...]
    target: str
    to: str = ""
    destination: str | None = None
    destination_negated: bool = False
    ports_negated: bool = False
    owner: str = ""  # the CNI container ID its comment, or its chain's, names ("" if none)


class _Rule(msgspec.Struct, frozen=True):
    chain: str
    options: dict[str, tuple[str, bool]]  # option -> (value, negated)
    target: str
    owner: str


_ALIASES = {
    "--protocol": "-p",
    "--destination": "-d",
    "--jump": "-j",
    "--goto": "-g",
    "--destination-port": "--dport",
    "--destination-ports": "--dports",
}
_VALUED = frozenset(
    {
        "-p",
        "-d",
        "-s",
        "-i",
        "-o",
        "-j",
        "-g",
        "-m",
        "--dport",
        "--dports",
        "--sport",
        "--sports",
        "--comment",
        "--to-destination",
        "--to-ports",
        "--to-source",
        "--dst-type",
        "--src-type",
    }
)


def nat_forwards(iptables_save_nat: str) -> tuple[NatForward, ...]:
    """Every DNAT or REDIRECT rule with a destination port match that traffic can reach
    (in PREROUTING or OUTPUT, or in a chain they jump to, however deep)."""
    rules = [r for r in (_rule(line) for line in iptables_save_nat.splitlines()) if r is not None]
    owners = {r.target: r.owner for r in rules if r.owner and r.target not in FORWARDING_TARGETS}
    reachable = _reachable(rules)
    found = []
    for rule in rules:
        if rule.target not in FORWARDING_TARGETS or rule.chain not in reachable:
            continue
        ports = rule.options.get("--dport") or rule.options.get("--dports")
        protocol = rule.options.get("-p")
        if ports is None or protocol is None or protocol[1]:
            continue
        ranges = _port_ranges(ports[0])
        if ranges is None:
            continue
        destination = rule.options.get("-d")
        to = rule.options.get("--to-destination") or rule.options.get("--to-ports") or ("", False)
        found.append(
            NatForward(
                rule.chain,
                protocol[0],
                ranges,
                rule.target,
                to[0],
                destination[0] if destination else None,
                bool(destination and destination[1]),
                ports[1],
                rule.owner or owners.get(rule.chain, ""),
            )
        )
    return tuple(found)


def _rule(line: str) -> _Rule | None:
    if not line.startswith("-A "):
        return None
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    options: dict[str, tuple[str, bool]] = {}
    negated = False
    i = 2
    while i < len(words):
        word = _ALIASES.get(words[i], words[i])
        if word == "!":
            negated = True
            i += 1
            continue
        if word in _VALUED and i + 1 < len(words):
            if word not in options:  # "-m" repeats; the options that matter here do not
                options[word] = (words[i + 1], negated)
            i += 2
        else:
            i += 1
        negated = False
    target = options.get("-j") or options.get("-g")
    comment = _OWNER.search(options.get("--comment", ("", False))[0])
    return _Rule(words[1], options, target[0] if target else "", comment.group(1) if comment else "")


def _reachable(rules: list[_Rule]) -> set[str]:
    jumps: dict[str, set[str]] = {}
    for rule in rules:
        jumps.setdefault(rule.chain, set()).add(rule.target)
    seen = set()
    todo = list(BUILTIN_CHAINS)
    while todo:
        chain = todo.pop()
        if chain in seen:
            continue
        seen.add(chain)
        todo.extend(jumps.get(chain, ()))
    return seen


def _port_ranges(text: str) -> tuple[tuple[int, int], ...] | None:
    """ "8080", "8000:8100" or multiport's "80,443,8000:8100" as inclusive ranges (None if unreadable)."""
    out = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        out.append((int(low), int(high or low)))
    return tuple(out)


def forwards_port(rule: NatForward, port: PortMapping) -> bool:
    """Whether traffic for `port` (on its host address; every address if None) can meet `rule`."""
    if rule.protocol != port.protocol:
        return False
    if any(low <= port.host_port <= high for low, high in rule.ports) == rule.ports_negated:
        return False
    if rule.destination is None or port.host_ip is None:
        return True  # a rule for any address, or a port on every address: they meet somewhere
    try:
        inside = ipaddress.IPv4Address(port.host_ip) in ipaddress.ip_network(rule.destination, strict=False)
    except ValueError:
        return True  # an address hp cannot read: assume the worst
    return inside != rule.destination_negated


def first_forward(
    rules: Iterable[NatForward], port: PortMapping, ignored: Callable[[str], bool] = lambda owner: False
) -> NatForward | None:
    """The first rule that takes `port`, skipping those whose owner `ignored` says are to be freed."""
    for rule in rules:
        if forwards_port(rule, port) and not (rule.owner and ignored(rule.owner)):
            return rule
    return None


# ---- messages


def port_shown(port: PortMapping) -> str:
    """127.0.0.1:8080/tcp, or 8080/tcp for every address."""
    return f"{port.host_ip + ':' if port.host_ip else ''}{port.host_port}/{port.protocol}"


def listening_ports(proc_net_tcp: str) -> frozenset[int]:
    """The local ports of the LISTEN sockets in /proc/net/tcp or /proc/net/tcp6 text."""
    found = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:
            try:
                found.add(int(fields[1].rsplit(":", 1)[1], 16))
            except ValueError:
                continue
    return frozenset(found)


def bound_already(port: PortMapping, listening: bool) -> str:
    """A bind refused with EADDRINUSE. listening: a tcp listener on the port was seen; else
    (tcp) a connection still holds it, e.g. in TIME_WAIT after a server without SO_REUSEADDR."""
    if port.protocol == "udp":
        holder = "a process is bound to it"
    elif listening:
        holder = "a process listens there"
    else:
        holder = "a connection of a process still holds it, possibly in TIME_WAIT for up to a minute"
    return f"host port {port_shown(port)} is in use on this host ({holder})"


def forwarded(port: PortMapping, rule: NatForward) -> str:
    to = f" to {rule.to}" if rule.to else ""
    if rule.owner:
        return (
            f"host port {port_shown(port)} is in use on this host (published by another container: "
            f"CNI container {rule.owner}, {rule.target} rule in chain {rule.chain}{to})"
        )
    return f"host port {port_shown(port)} is in use on this host ({rule.target} rule in nat chain {rule.chain}{to})"


def not_bindable(port: PortMapping, errno_name: str, reason: str) -> str:
    if errno_name == "EADDRNOTAVAIL":
        return f"host port {port_shown(port)}: {port.host_ip} is not an address of this host"
    return f"host port {port_shown(port)} cannot be reserved on this host: {reason}"
