"""Container networking, the pure part: networks, published ports, and who joins what.

A container's `network` is one of
    None or "bridge"  the default network (DEFAULT_NETWORK, unless hp.toml declares one by that name)
    "NAME"            the network declared by `[networks.NAME]`
    "none"            its own network namespace with only loopback, up
    "host"            no network namespace of its own: the host's network

The default network is `hp`: bridge `hp0` on 10.10.0.0/24, as heropods' `heropods0`. The subnet
is not on this project's hosts' routes (they use 192.0.2.0/24); a host where it is in use
redefines it with a `[networks.hp]` table (`route_conflicts` finds such a clash from `ip route`).

Checks (`network_problems`) give one HpError per problem, each naming its field; what the
executor does with a resolved network is in compiler/cni.py and docs/networking.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

from . import oci
from .digests import sha256_hex
from .errors import HpError, key_path, quote
from .etc_files import hosts_file, resolv_conf
from .spec import HpFile, NetworkSpec

DEFAULT_NETWORK = "hp"
DEFAULT_BRIDGE = "hp0"
DEFAULT_SUBNET = "10.10.0.0/24"

Mode = Literal["bridge", "none", "host"]

# Linux interface names: at most 15 bytes (IFNAMSIZ 16 with the NUL); no '/', ':' or space
_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}", re.ASCII)
IFNAME_RULE = "use 1-15 letters, digits, '_', '.' or '-'"
_PORT = re.compile(
    r"(?:(?P<ip>[^:/]*|\[[^\]]*\]):)?(?P<host>[0-9]+):(?P<container>[0-9]+)(?:/(?P<proto>[^/]*))?",
    re.ASCII,
)


class PortMapping(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One published port. host_ip None: every host address (0.0.0.0 is normalised to None)."""

    host_port: int
    container_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    host_ip: str | None = None

    def __str__(self) -> str:
        ip = f"{self.host_ip}:" if self.host_ip else ""
        return f"{ip}{self.host_port}:{self.container_port}/{self.protocol}"


class Network(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A checked bridge network: subnet in canonical form, gateway and bridge always set.
    dns None: the host's non-loopback nameservers."""

    name: str
    subnet: str
    gateway: str
    bridge: str
    dns: tuple[str, ...] | None = None


class ContainerNetwork(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one container is networked. `network` is set exactly when mode is "bridge"."""

    mode: Mode
    network: Network | None = None
    ports: tuple[PortMapping, ...] = ()


def default_network() -> Network:
    return Network(DEFAULT_NETWORK, DEFAULT_SUBNET, _first_host(DEFAULT_SUBNET), DEFAULT_BRIDGE)


def is_interface_name(name: object) -> bool:
    return isinstance(name, str) and _IFNAME.fullmatch(name) is not None and name not in (".", "..")


def check_interface_name(name: str) -> str:
    """`name` itself if it can be a Linux interface's (and so a file's) name, else HpError."""
    if is_interface_name(name):
        return name
    raise HpError(quote(str(name)[:40]), f"invalid interface name: {IFNAME_RULE}")


def default_bridge(name: str) -> str:
    """The bridge of a network that names none: hp0 for `hp`, hp-NAME when that fits in an
    interface name, else hp- and a hash of NAME."""
    if name == DEFAULT_NETWORK:
        return DEFAULT_BRIDGE
    short = f"hp-{name}"
    return short if _IFNAME.fullmatch(short) else "hp-" + sha256_hex(name.encode())[:12]


# ---- ports


def parse_port(text: str, where: str) -> PortMapping:
    """`[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`, IPv4 host address, ports 1-65535."""
    m = _PORT.fullmatch(text)
    if m is None:
        raise HpError(
            where,
            f'invalid port {quote(text)}: expected "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]", '
            'e.g. "8080:80" or "127.0.0.1:5353:53/udp"',
        )
    proto = m["proto"] if m["proto"] is not None else "tcp"
    if proto not in ("tcp", "udp"):
        raise HpError(where, f'invalid protocol {quote(proto)} in {quote(text)}: expected "tcp" or "udp"')
    ports = []
    for part, label in ((m["host"], "host"), (m["container"], "container")):
        number = int(part)
        if not 1 <= number <= 65535:
            raise HpError(where, f"{label} port {part} in {quote(text)} is out of range (1-65535)")
        ports.append(number)
    host_ip = m["ip"]
    if host_ip is not None:
        try:
            address = ipaddress.IPv4Address(host_ip)
        except ValueError:
            if _is_ipv6(host_ip.strip("[]")):
                raise HpError(
                    where, f"host address {quote(host_ip)} in {quote(text)}: only IPv4 is supported"
                ) from None
            raise HpError(
                where, f"invalid host address {quote(host_ip)} in {quote(text)}: expected an IPv4 address"
            ) from None
        host_ip = None if address.is_unspecified else str(address)
    return PortMapping(ports[0], ports[1], proto, host_ip)  # type: ignore[arg-type]  # proto: "tcp" or "udp", checked


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
        return True
    except ValueError:
        return False


# ---- networks


def networks(hp: HpFile) -> dict[str, Network]:
    """Every network the file may use, by name: the declared ones and the default. Raises the
    first problem of a declared network (`network_problems` lists them all)."""
    found = {DEFAULT_NETWORK: default_network()}
    for name in sorted(hp.networks):
        found[name] = _network(name, hp.networks[name])
    return found


def _network(name: str, spec: NetworkSpec) -> Network:
    where = key_path("networks", name)
    try:
        subnet = ipaddress.ip_network(spec.subnet, strict=True)
    except ValueError:
        raise HpError(f"{where}.subnet", _bad_cidr(spec.subnet)) from None
    if subnet.version != 4:
        raise HpError(f"{where}.subnet", f"{quote(spec.subnet)}: only IPv4 subnets are supported")
    if subnet.prefixlen > 30:
        raise HpError(
            f"{where}.subnet",
            f"{quote(spec.subnet)} is too small: use a prefix of /30 or shorter (room for the gateway and a container)",
        )
    gateway = str(subnet.network_address + 1)
    if spec.gateway is not None:
        try:
            address = ipaddress.IPv4Address(spec.gateway)
        except ValueError:
            raise HpError(f"{where}.gateway", f"invalid IPv4 address {quote(spec.gateway)}") from None
        if address not in subnet:
            raise HpError(f"{where}.gateway", f"{address} is outside the subnet {subnet}")
        if address in (subnet.network_address, subnet.broadcast_address):
            which = "network" if address == subnet.network_address else "broadcast"
            raise HpError(f"{where}.gateway", f"{address} is the subnet's {which} address")
        gateway = str(address)
    for i, server in enumerate(spec.dns or ()):
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise HpError(f"{where}.dns[{i}]", f"invalid nameserver address {quote(server)}") from None
    bridge = spec.bridge if spec.bridge is not None else default_bridge(name)
    if not is_interface_name(bridge):
        raise HpError(f"{where}.bridge", f"invalid interface name {quote(bridge)}: {IFNAME_RULE}")
    return Network(name, str(subnet), gateway, bridge, spec.dns)


def _bad_cidr(text: str) -> str:
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f'invalid subnet {quote(text)}: expected an IPv4 CIDR like "10.20.0.0/24"'
    return f'{quote(text)} has host bits set: did you mean "{loose}"?'


def _first_host(subnet: str) -> str:
    return str(ipaddress.ip_network(subnet).network_address + 1)


def mode_and_name(value: str | None) -> tuple[Mode, str | None]:
    """A container's `network` value as (mode, network name): the name only for "bridge"."""
    if value is None or value == "bridge":
        return "bridge", DEFAULT_NETWORK
    if value in ("none", "host"):
        return value, None  # type: ignore[return-value]  # value: "none" or "host", a Mode
    return "bridge", value


def network_problems(hp: HpFile) -> tuple[HpError, ...]:
    """Every networking problem in the file, one HpError each at its field: bad networks,
    then overlapping subnets and shared bridges, then (by container name) unknown network
    names and bad or clashing ports."""
    problems: list[HpError] = []
    good: dict[str, Network] = {}
    for name in sorted(hp.networks):
        try:
            good[name] = _network(name, hp.networks[name])
        except HpError as e:
            problems.append(e)
    used = {mode_and_name(spec.network)[1] for spec in hp.containers.values()}
    if DEFAULT_NETWORK not in good and DEFAULT_NETWORK in used:
        good = {DEFAULT_NETWORK: default_network(), **good}
    problems += _clashes(good, declared=hp.networks)
    declared = set(hp.networks) | {DEFAULT_NETWORK}
    published: dict[tuple[str, int], list[tuple[PortMapping, str]]] = {}
    for cname in sorted(hp.containers):
        spec = hp.containers[cname]
        where = key_path("containers", cname)
        mode, net = mode_and_name(spec.network)
        if net is not None and net not in declared:
            problems.append(HpError(f"{where}.network", _unknown_network(net, hp)))
        if spec.ports and mode != "bridge":
            why = (
                "(the container already uses the host's ports)"
                if mode == "host"
                else "(the container has no network to forward to)"
            )
            problems.append(HpError(f"{where}.ports", f"ports cannot be published with network = {quote(mode)} {why}"))
            continue
        for i, text in enumerate(spec.ports):
            port_where = f"{where}.ports[{i}]"
            try:
                port = parse_port(text, port_where)
            except HpError as e:
                problems.append(e)
                continue
            key = (port.protocol, port.host_port)
            for other, other_where in published.get(key, ()):
                if ports_overlap(other, port):
                    problems.append(
                        HpError(
                            port_where,
                            f"host port {_shown(port)} is already published by {other_where} ({quote(str(other))})",
                        )
                    )
                    break
            else:
                published.setdefault(key, []).append((port, port_where))
    return tuple(problems)


def ports_overlap(a: PortMapping, b: PortMapping) -> bool:
    """Both would bind one host port: the same protocol and port, on the same address or either on all."""
    return (a.protocol, a.host_port) == (b.protocol, b.host_port) and (
        a.host_ip is None or b.host_ip is None or a.host_ip == b.host_ip
    )


def _shown(port: PortMapping) -> str:
    return f"{port.host_ip + ':' if port.host_ip else ''}{port.host_port}/{port.protocol}"


def _clashes(good: Mapping[str, Network], declared: Mapping[str, NetworkSpec]) -> list[HpError]:
    """Overlapping subnets and shared bridges between networks, reported on the later name."""
    problems = []
    seen: list[Network] = []
    for name in sorted(good, key=lambda n: (n != DEFAULT_NETWORK or n in declared, n)):
        net = good[name]
        where = key_path("networks", name)
        for other in seen:
            label = _label(other, declared)
            if ipaddress.ip_network(net.subnet).overlaps(ipaddress.ip_network(other.subnet)):
                problems.append(HpError(f"{where}.subnet", f"{net.subnet} overlaps {label}'s subnet {other.subnet}"))
            if net.bridge == other.bridge:
                problems.append(
                    HpError(
                        f"{where}.bridge" if name in declared and declared[name].bridge else where,
                        f"bridge {quote(net.bridge)} is also {label}'s: give each network its own",
                    )
                )
        seen.append(net)
    return problems


def _label(net: Network, declared: Mapping[str, NetworkSpec]) -> str:
    if net.name == DEFAULT_NETWORK and net.name not in declared:
        return f"the default network {quote(net.name)}"
    return key_path("networks", net.name)


def _unknown_network(name: str, hp: HpFile) -> str:
    if not name:
        return 'empty network name: use "bridge" (the default network), "none", "host" or a declared network'
    names = ", ".join(quote(n) for n in sorted(hp.networks))
    known = f" (declared: {names})" if names else ""
    return (
        f'no network named {quote(name)}{known}: declare [networks.{name}], or use "bridge" '
        '(the default network), "none" or "host"'
    )


def check_networks(hp: HpFile) -> None:
    """Raise the first of `network_problems(hp)`, if any."""
    problems = network_problems(hp)
    if problems:
        raise problems[0]


def container_network(hp: HpFile, name: str) -> ContainerNetwork:
    """Container `name`'s network, resolved (call check_networks first for all-at-once errors)."""
    spec = hp.containers[name]
    where = key_path("containers", name)
    mode, net = mode_and_name(spec.network)
    if mode != "bridge":
        if spec.ports:
            raise HpError(f"{where}.ports", f"ports cannot be published with network = {quote(mode)}")
        return ContainerNetwork(mode)
    known = networks(hp)
    if net not in known:
        raise HpError(f"{where}.network", _unknown_network(net or "", hp))
    ports = tuple(parse_port(text, f"{where}.ports[{i}]") for i, text in enumerate(spec.ports))
    return ContainerNetwork("bridge", known[net], ports)


def namespaces(kinds: Iterable[str], mode: Mode, netns_path: str) -> tuple[oci.Namespace, ...]:
    """config.json's linux.namespaces for `kinds` (defaults' list): the network one joins the
    namespace at `netns_path` that the executor made, or is left out for mode "host"."""
    out = []
    for kind in kinds:
        if kind == "network":
            if mode != "host":
                out.append(oci.Namespace(type="network", path=netns_path))
        else:
            out.append(oci.Namespace(type=kind))
    return tuple(out)


# ---- a container's address


def lowest_free_address(network: str, subnet: str, gateway: str, taken: Iterable[str]) -> str:
    """The lowest address of `subnet` for a container: not the network or broadcast address,
    not `gateway`, not one of `taken` (the network's other containers'). HpError if none is left."""
    used = {gateway, *taken}
    for host in ipaddress.IPv4Network(subnet).hosts():
        if str(host) not in used:
            return str(host)
    raise HpError(f"network {network}", f"no free address in {subnet}")


def address_problem(text: str, subnet: str, gateway: str) -> str | None:
    """Why `text` (a kept address, as read from its file) cannot be a container's address on
    `subnet`, or None if it can."""
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return f"{quote(text[:40])} is not an IPv4 address"
    net = ipaddress.IPv4Network(subnet)
    if address not in net:
        return f"{address} is outside the network's subnet {subnet}"
    if address in (net.network_address, net.broadcast_address) or str(address) == gateway:
        which = "gateway" if str(address) == gateway else "network" if address == net.network_address else "broadcast"
        return f"{address} is the subnet's {which} address"
    return None


# ---- bridges: the ones hp made, and the ones it found


class Interface(msgspec.Struct, frozen=True):
    """A host interface as /sys/class/net shows it: its index, whether it is a bridge, and the
    interfaces attached to it (a bridge's ports)."""

    name: str
    ifindex: int
    bridge: bool
    ports: tuple[str, ...] = ()


class BridgeRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """STATE/networks/bridges/BRIDGE.json, written before the first CNI ADD that may make the
    bridge. made: it did not exist, so the bridge plugin makes it and hp may delete it; False:
    it existed (another tool's, or the host's), and hp only uses it. ifindex: the interface's
    index, once known. floor: for a bridge hp is about to make, the highest index on the host
    when the record was written; the kernel hands out indexes in increasing order, so an
    interface of that name with a higher index was made after (by the ADD that hp was killed in
    before it could write down the index). address: for a found bridge, the gateway address
    (CIDR) the bridge plugin is about to add because the bridge lacks it; hp removes it again
    when it releases the bridge."""

    bridge: str
    made: bool
    ifindex: int | None = None
    floor: int = 0
    address: str | None = None


BridgeFate = Literal["delete", "keep", "forget"]


def bridge_record_before_add(
    bridge: str,
    record: BridgeRecord | None,
    now: Interface | None,
    floor: int,
    gateway: str = "",
    addresses: tuple[str, ...] = (),
) -> BridgeRecord:
    """The record to hold before a CNI ADD on `bridge`, given the one held (if any) and the
    interface of that name now (not a bridge: refused before this). None there: the ADD makes
    it, so hp did, `floor` being the highest index on the host now. The interface the record
    is about: the record as it is. Any other: found, never to be deleted; `gateway` (the
    network's, as CIDR) is noted for removal unless it is among the bridge's `addresses`
    already (needed only then: see is_recorded_interface)."""
    if now is None:
        return BridgeRecord(bridge, made=True, floor=floor)
    if record is not None and is_recorded_interface(record, now):
        return record
    return BridgeRecord(
        bridge, made=False, ifindex=now.ifindex, address=gateway if gateway and gateway not in addresses else None
    )


def bridge_fate(record: BridgeRecord, now: Interface | None) -> BridgeFate:
    """What to do with a bridge no container of the state dir uses any more, `now` being the
    interface of its name on the host (None: there is none). "delete" it only if hp made it,
    it is still that interface (same index, or above the floor if the index was never
    written), still a bridge, and nothing is attached to it; "keep" the record (and try again
    later) if it is hp's but something is still attached; else "forget" it: the record goes, the
    interface is left as it is (found, gone, replaced by another, or not a bridge)."""
    if not record.made or now is None or not now.bridge or not is_recorded_interface(record, now):
        return "forget"
    return "keep" if now.ports else "delete"


def is_recorded_interface(record: BridgeRecord, now: Interface) -> bool:
    """Whether `now` is the interface `record` is about: the same index, or (hp made it and was
    killed before it wrote the index down) one above the floor."""
    return now.ifindex == record.ifindex if record.ifindex is not None else record.made and now.ifindex > record.floor


def address_to_remove(record: BridgeRecord, now: Interface | None) -> str | None:
    """The gateway address hp had the bridge plugin add to a found bridge, if that bridge is
    still there (the same interface) when hp releases it."""
    if record.made or record.address is None or now is None or not is_recorded_interface(record, now):
        return None
    return record.address


def parse_addresses(ip_address_output: str) -> tuple[str, ...]:
    """The IPv4 addresses (CIDR) in `ip -o -4 address show` output."""
    out = []
    for line in ip_address_output.splitlines():
        words = line.split()
        if "inet" in words[:-1]:
            out.append(words[words.index("inet") + 1])
    return tuple(out)


def encode_bridge_record(record: BridgeRecord) -> bytes:
    return msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"


def decode_bridge_record(data: bytes) -> BridgeRecord:
    try:
        return msgspec.json.decode(data, type=BridgeRecord)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise HpError("bridge record", f"unreadable: {e}") from None


# ---- /etc/hosts and /etc/resolv.conf


def hosts_peers(known: Mapping[str, tuple[str, str]], network: str | None, name: str) -> tuple[tuple[str, str], ...]:
    """(address, name), by name, of every container but `name` on `network` (None: it has no bridge
    network, so no peers). `known`: container name -> (network, IPv4 address), as CNI recorded them
    for every container of the state dir, whichever file manages it."""
    if network is None:
        return ()
    return tuple(
        (address, other) for other, (net, address) in sorted(known.items()) if other != name and net == network
    )


def container_hosts(hostname: str, name: str, own_address: str | None, peers: tuple[tuple[str, str], ...]) -> str:
    """A container's /etc/hosts: itself on loopback, its own address under its name (if it has
    one), then its peers."""
    own = ((own_address, name),) if own_address else ()
    return hosts_file(hostname, own + peers)


def container_resolv_conf(net: ContainerNetwork, host_resolv_conf: str) -> str:
    """The network's dns if set; else the host's nameservers, minus loopback ones except with
    network = "host" (there the host's 127.0.0.53 and the like are reachable)."""
    if net.mode == "host":
        return host_resolv_conf if host_resolv_conf.endswith("\n") or not host_resolv_conf else host_resolv_conf + "\n"
    return resolv_conf(host_resolv_conf, net.network.dns if net.network else None)


# ---- the host's routes


def parse_routes(ip_route_output: str) -> tuple[tuple[str, str], ...]:
    """(destination CIDR, device) of each line of `ip -o -4 route show` (the default route skipped)."""
    out = []
    for line in ip_route_output.splitlines():
        words = line.split()
        if not words or words[0] in ("default", "broadcast", "local", "unreachable", "blackhole", "prohibit"):
            continue
        dev = words[words.index("dev") + 1] if "dev" in words[:-1] else ""
        try:
            out.append((str(ipaddress.ip_network(words[0], strict=False)), dev))
        except ValueError:
            continue
    return tuple(out)


def route_conflicts(net: Network, routes: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The host routes (other than via the network's own bridge) that overlap its subnet."""
    subnet = ipaddress.ip_network(net.subnet)
    return tuple(
        f"{dst} dev {dev}" for dst, dev in routes if dev != net.bridge and ipaddress.ip_network(dst).overlaps(subnet)
    )
