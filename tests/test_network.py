"""Networking, the pure part (compiler/network.py, compiler/cni.py) and the executor's
mountinfo parsing (executor/netns.py), against issue 5:

- ports "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]": IPv4 host address, 1-65535;
- [networks.NAME]: subnet a valid IPv4 CIDR (no host bits, /30 or larger), gateway inside it,
  dns addresses, bridge an interface name; "none", "host", "bridge" reserved;
- a file's problems, one HpError each at its field: overlapping subnets, shared bridges,
  unknown network names, a host port published twice, ports with network "none"/"host";
- the CNI configuration list, exactly, and each plugin's input as libcni builds it.
"""

from __future__ import annotations

import hashlib
import json

import msgspec
import pytest

from compiler import cni
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.network import (
    DEFAULT_BRIDGE,
    DEFAULT_NETWORK,
    DEFAULT_SUBNET,
    BridgeRecord,
    ContainerNetwork,
    Interface,
    Network,
    PortMapping,
    address_to_remove,
    bridge_fate,
    bridge_record_before_add,
    check_networks,
    container_hosts,
    container_network,
    container_resolv_conf,
    decode_bridge_record,
    default_bridge,
    encode_bridge_record,
    hosts_peers,
    namespaces,
    network_problems,
    networks,
    parse_addresses,
    parse_port,
    parse_routes,
    route_conflicts,
)
from compiler.spec import parse_hp_file
from executor.netns import parse_mountinfo

WHERE = "containers.web.ports[0]"


def hp(text: str):
    return parse_hp_file(text)


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8080:80", PortMapping(8080, 80)),
        ("8080:80/tcp", PortMapping(8080, 80, "tcp")),
        ("5353:53/udp", PortMapping(5353, 53, "udp")),
        ("127.0.0.1:8080:80", PortMapping(8080, 80, "tcp", "127.0.0.1")),
        ("192.0.2.2:1:65535/udp", PortMapping(1, 65535, "udp", "192.0.2.2")),
        ("0.0.0.0:8080:80", PortMapping(8080, 80)),
        ("65535:1", PortMapping(65535, 1)),
    ],
    ids=["plain", "tcp", "udp", "host-ip", "extremes-udp", "any-address-normalised", "max-host-port"],
)
def test_parse_port(text: str, expected: PortMapping) -> None:
    assert parse_port(text, WHERE) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("80", "expected"),
        ("", "expected"),
        ("a:80", "expected"),
        ("8080:80/sctp", "protocol"),
        ("8080:80/TCP", "protocol"),
        ("8080:80/", "protocol"),
        ("0:80", "out of range"),
        ("8080:0", "out of range"),
        ("65536:80", "out of range"),
        ("8080:99999999999999999999", "out of range"),
        ("1.2.3:8080:80", "IPv4 address"),
        ("localhost:8080:80", "IPv4 address"),
        ("127.000.0.1:8080:80", "IPv4 address"),
        ("[::1]:8080:80", "only IPv4"),
        ("8080-8090:80", "expected"),
        (" 8080:80", "expected"),
        ("+8080:80", "expected"),
        ("8080:80/tcp/udp", "expected"),
        ("١٢:80", "expected"),
    ],
    ids=[
        "single-port",
        "empty",
        "name-as-port",
        "sctp",
        "uppercase-proto",
        "empty-proto",
        "host-zero",
        "container-zero",
        "host-too-big",
        "huge",
        "short-ip",
        "hostname",
        "leading-zero-octet",
        "ipv6",
        "range",
        "space",
        "plus-sign",
        "two-protocols",
        "non-ascii-digits",
    ],
)
def test_parse_port_rejects(text: str, words: str) -> None:
    with pytest.raises(HpError) as info:
        parse_port(text, WHERE)
    assert info.value.where == WHERE
    assert words in info.value.problem, info.value.problem
    assert "\n" not in str(info.value)


def test_port_string_round_trips() -> None:
    for text in ("127.0.0.1:8080:80/tcp", "8080:80/udp"):
        assert str(parse_port(text, WHERE)) == text


# --------------------------------------------------------------------------- spec


def test_spec_fields_default_to_the_default_network() -> None:
    f = hp('[containers.web]\nimage = "x"\n')
    assert f.containers["web"].network is None and f.containers["web"].ports == ()
    assert f.networks == {}


def test_spec_parses_networks() -> None:
    f = hp(
        '[networks.lan]\nsubnet = "10.20.0.0/24"\ngateway = "10.20.0.254"\ndns = ["192.0.2.53"]\nbridge = "br-lan"\n'
    )
    spec = f.networks["lan"]
    assert (spec.subnet, spec.gateway, spec.dns, spec.bridge) == (
        "10.20.0.0/24",
        "10.20.0.254",
        ("192.0.2.53",),
        "br-lan",
    )


@pytest.mark.parametrize(
    "text, where, words",
    [
        ('[networks.none]\nsubnet = "10.20.0.0/24"\n', "networks.none", "reserved"),
        ('[networks.host]\nsubnet = "10.20.0.0/24"\n', "networks.host", "reserved"),
        ('[networks.bridge]\nsubnet = "10.20.0.0/24"\n', "networks.bridge", "reserved"),
        ('[networks."a b"]\nsubnet = "10.20.0.0/24"\n', 'networks."a b"', "invalid network name"),
        ("[networks.lan]\n", "networks.lan.subnet", "required"),
        ('[networks.lan]\nsubnet = "10.20.0.0/24"\nsubnett = 1\n', "networks.lan.subnett", "did you mean"),
        ("[networks.lan]\nsubnet = 10\n", "networks.lan.subnet", "expected a string"),
        ("networks = 1\n", "networks", "expected a table"),
        ('[containers.web]\nimage = "x"\nports = "80:80"\n', "containers.web.ports", "expected a list"),
        ('[containers.web]\nimage = "x"\nnetwork = 1\n', "containers.web.network", "expected a string"),
    ],
    ids=[
        "none-reserved",
        "host-reserved",
        "bridge-reserved",
        "bad-name",
        "no-subnet",
        "typo",
        "subnet-not-string",
        "networks-not-table",
        "ports-not-list",
        "network-not-string",
    ],
)
def test_spec_rejects(text: str, where: str, words: str) -> None:
    with pytest.raises(HpError) as info:
        hp(text)
    assert info.value.where == where
    assert words in info.value.problem, info.value.problem


# --------------------------------------------------------------------------- a file's problems


def problems(text: str) -> list[tuple[str, str]]:
    return [(e.where, e.problem) for e in network_problems(hp(text))]


@pytest.mark.parametrize(
    "text",
    [
        '[containers.web]\nimage = "x"\n',
        '[containers.web]\nimage = "x"\nnetwork = "bridge"\nports = ["8080:80", "8080:80/udp"]\n',
        '[containers.web]\nimage = "x"\nnetwork = "none"\n',
        '[containers.web]\nimage = "x"\nnetwork = "host"\n',
        '[networks.lan]\nsubnet = "10.20.0.0/24"\n[containers.web]\nimage = "x"\nnetwork = "lan"\n',
        '[networks.hp]\nsubnet = "10.30.0.0/16"\n[containers.web]\nimage = "x"\n',
        # the default network is not in use here, so a declared one may overlap its subnet
        '[networks.lan]\nsubnet = "10.10.0.0/16"\n[containers.web]\nimage = "x"\nnetwork = "lan"\n',
        '[containers.a]\nimage = "x"\nports = ["127.0.0.1:80:80"]\n[containers.b]\nimage = "x"\n'
        'ports = ["127.0.0.2:80:80"]\n',
        '[containers.a]\nimage = "x"\nports = ["8080:80", "8081:80"]\n',
    ],
    ids=[
        "default",
        "same-port-two-protocols",
        "none",
        "host",
        "declared",
        "default-redefined",
        "overlap-with-unused-default",
        "same-port-two-host-ips",
        "two-host-ports-one-container-port",
    ],
)
def test_no_problems(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            '[networks.lan]\nsubnet = "10.20.0.0/33"\n',
            [("networks.lan.subnet", 'invalid subnet "10.20.0.0/33": expected an IPv4 CIDR like "10.20.0.0/24"')],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.1/24"\n',
            [("networks.lan.subnet", '"10.20.0.1/24" has host bits set: did you mean "10.20.0.0/24"?')],
        ),
        (
            '[networks.lan]\nsubnet = "lan"\n',
            [("networks.lan.subnet", 'invalid subnet "lan": expected an IPv4 CIDR like "10.20.0.0/24"')],
        ),
        (
            '[networks.lan]\nsubnet = "fd00:1::/64"\n',
            [("networks.lan.subnet", '"fd00:1::/64": only IPv4 subnets are supported')],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/31"\n',
            [
                (
                    "networks.lan.subnet",
                    '"10.20.0.0/31" is too small: use a prefix of /30 or shorter '
                    "(room for the gateway and a container)",
                )
            ],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\ngateway = "10.21.0.1"\n',
            [("networks.lan.gateway", "10.21.0.1 is outside the subnet 10.20.0.0/24")],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\ngateway = "10.20.0.255"\n',
            [("networks.lan.gateway", "10.20.0.255 is the subnet's broadcast address")],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\ngateway = "10.20.0.0"\n',
            [("networks.lan.gateway", "10.20.0.0 is the subnet's network address")],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\ngateway = "gw"\n',
            [("networks.lan.gateway", 'invalid IPv4 address "gw"')],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\ndns = ["192.0.2.53", "dns.example"]\n',
            [("networks.lan.dns[1]", 'invalid nameserver address "dns.example"')],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\nbridge = "a-much-too-long-name"\n',
            [
                (
                    "networks.lan.bridge",
                    "invalid interface name \"a-much-too-long-name\": use 1-15 letters, digits, '_', '.' or '-'",
                )
            ],
        ),
        (
            '[networks.lan]\nsubnet = "10.20.0.0/24"\nbridge = "br/0"\n',
            [("networks.lan.bridge", "invalid interface name \"br/0\": use 1-15 letters, digits, '_', '.' or '-'")],
        ),
        (
            '[networks.a]\nsubnet = "10.20.0.0/16"\n[networks.b]\nsubnet = "10.20.5.0/24"\n',
            [("networks.b.subnet", "10.20.5.0/24 overlaps networks.a's subnet 10.20.0.0/16")],
        ),
        (
            '[networks.lan]\nsubnet = "10.10.0.0/16"\n[containers.web]\nimage = "x"\n',
            [("networks.lan.subnet", '10.10.0.0/16 overlaps the default network "hp"\'s subnet 10.10.0.0/24')],
        ),
        (
            '[networks.a]\nsubnet = "10.20.0.0/24"\nbridge = "br0"\n[networks.b]\nsubnet = "10.21.0.0/24"\n'
            'bridge = "br0"\n',
            [("networks.b.bridge", 'bridge "br0" is also networks.a\'s: give each network its own')],
        ),
        (
            '[containers.web]\nimage = "x"\nnetwork = "lan"\n',
            [
                (
                    "containers.web.network",
                    'no network named "lan": declare [networks.lan], or use "bridge" '
                    '(the default network), "none" or "host"',
                )
            ],
        ),
        (
            '[networks.wan]\nsubnet = "10.20.0.0/24"\n[containers.web]\nimage = "x"\nnetwork = "lan"\n',
            [
                (
                    "containers.web.network",
                    'no network named "lan" (declared: "wan"): declare [networks.lan], or use '
                    '"bridge" (the default network), "none" or "host"',
                )
            ],
        ),
        (
            '[containers.web]\nimage = "x"\nnetwork = ""\n',
            [
                (
                    "containers.web.network",
                    'empty network name: use "bridge" (the default network), "none", "host" or a declared network',
                )
            ],
        ),
        (
            '[containers.web]\nimage = "x"\nnetwork = "none"\nports = ["80:80"]\n',
            [
                (
                    "containers.web.ports",
                    'ports cannot be published with network = "none" (the container has no network to forward to)',
                )
            ],
        ),
        (
            '[containers.web]\nimage = "x"\nnetwork = "host"\nports = ["80:80"]\n',
            [
                (
                    "containers.web.ports",
                    'ports cannot be published with network = "host" (the container already uses the host\'s ports)',
                )
            ],
        ),
        (
            '[containers.a]\nimage = "x"\nports = ["8080:80"]\n[containers.b]\nimage = "x"\nports = ["8080:81"]\n',
            [
                (
                    "containers.b.ports[0]",
                    'host port 8080/tcp is already published by containers.a.ports[0] ("8080:80/tcp")',
                )
            ],
        ),
        (
            '[containers.a]\nimage = "x"\nports = ["8080:80", "8080:81"]\n',
            [
                (
                    "containers.a.ports[1]",
                    'host port 8080/tcp is already published by containers.a.ports[0] ("8080:80/tcp")',
                )
            ],
        ),
        (
            '[containers.a]\nimage = "x"\nports = ["8080:80"]\n[containers.b]\nimage = "x"\n'
            'ports = ["127.0.0.1:8080:80"]\n',
            [
                (
                    "containers.b.ports[0]",
                    'host port 127.0.0.1:8080/tcp is already published by containers.a.ports[0] ("8080:80/tcp")',
                )
            ],
        ),
        (
            '[containers.a]\nimage = "x"\nports = ["127.0.0.1:53:53/udp"]\n[containers.b]\nimage = "x"\n'
            'ports = ["0.0.0.0:53:53/udp"]\n',
            [
                (
                    "containers.b.ports[0]",
                    'host port 53/udp is already published by containers.a.ports[0] ("127.0.0.1:53:53/udp")',
                )
            ],
        ),
        (
            '[containers.a]\nimage = "x"\nports = ["80:80", "x", "90:90/sctp"]\n',
            [
                (
                    "containers.a.ports[1]",
                    'invalid port "x": expected "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]", '
                    'e.g. "8080:80" or "127.0.0.1:5353:53/udp"',
                ),
                ("containers.a.ports[2]", 'invalid protocol "sctp" in "90:90/sctp": expected "tcp" or "udp"'),
            ],
        ),
        (
            '[networks.a]\nsubnet = "10.20.0.0/16"\n[networks.b]\nsubnet = "10.20.0.0/24"\n[networks.c]\n'
            'subnet = "bad"\n[containers.web]\nimage = "x"\nnetwork = "d"\nports = ["1:1", "1:1"]\n',
            [
                ("networks.c.subnet", 'invalid subnet "bad": expected an IPv4 CIDR like "10.20.0.0/24"'),
                ("networks.b.subnet", "10.20.0.0/24 overlaps networks.a's subnet 10.20.0.0/16"),
                (
                    "containers.web.network",
                    'no network named "d" (declared: "a", "b", "c"): declare [networks.d], or use '
                    '"bridge" (the default network), "none" or "host"',
                ),
                (
                    "containers.web.ports[1]",
                    'host port 1/tcp is already published by containers.web.ports[0] ("1:1/tcp")',
                ),
            ],
        ),
    ],
    ids=[
        "bad-prefix",
        "host-bits",
        "not-cidr",
        "ipv6",
        "too-small",
        "gateway-outside",
        "gateway-broadcast",
        "gateway-network-address",
        "gateway-not-ip",
        "bad-dns",
        "bridge-too-long",
        "bridge-slash",
        "overlap",
        "overlap-default-in-use",
        "shared-bridge",
        "unknown-network",
        "unknown-network-lists-declared",
        "empty-network-name",
        "ports-on-none",
        "ports-on-host",
        "duplicate-across-containers",
        "duplicate-in-one-container",
        "specific-ip-under-wildcard",
        "wildcard-over-specific-ip",
        "each-bad-port",
        "one-error-per-problem",
    ],
)
def test_problems(text: str, expected: list[tuple[str, str]]) -> None:
    assert problems(text) == expected


# --------------------------------------------------------------------------- resolution


def test_default_network() -> None:
    nets = networks(hp(""))
    assert nets == {DEFAULT_NETWORK: Network("hp", DEFAULT_SUBNET, "10.10.0.1", DEFAULT_BRIDGE)}
    assert (DEFAULT_NETWORK, DEFAULT_BRIDGE, DEFAULT_SUBNET) == ("hp", "hp0", "10.10.0.0/24")


def test_default_network_redefined() -> None:
    f = hp('[networks.hp]\nsubnet = "10.99.0.0/16"\n[containers.web]\nimage = "x"\n')
    assert container_network(f, "web") == ContainerNetwork("bridge", Network("hp", "10.99.0.0/16", "10.99.0.1", "hp0"))


@pytest.mark.parametrize(
    "value, mode, network",
    [
        (None, "bridge", "hp"),
        ('"bridge"', "bridge", "hp"),
        ('"lan"', "bridge", "lan"),
        ('"none"', "none", None),
        ('"host"', "host", None),
    ],
    ids=["unset", "bridge", "declared", "none", "host"],
)
def test_container_network(value, mode, network) -> None:
    line = f"network = {value}\n" if value else ""
    f = hp(f'[networks.lan]\nsubnet = "10.20.0.0/24"\n[containers.web]\nimage = "x"\n{line}')
    net = container_network(f, "web")
    assert net.mode == mode
    assert (net.network.name if net.network else None) == network


def test_container_network_ports_and_unknown() -> None:
    f = hp(
        '[containers.web]\nimage = "x"\nports = ["127.0.0.1:8080:80", "53:53/udp"]\n'
        '[containers.bad]\nimage = "x"\nnetwork = "nope"\n'
    )
    assert container_network(f, "web").ports == (PortMapping(8080, 80, "tcp", "127.0.0.1"), PortMapping(53, 53, "udp"))
    with pytest.raises(HpError) as info:
        container_network(f, "bad")
    assert info.value.where == "containers.bad.network"


@pytest.mark.parametrize(
    "name, bridge",
    [
        ("hp", "hp0"),
        ("lan", "hp-lan"),
        ("abcdefghijkl", "hp-abcdefghijkl"),
        ("abcdefghijklm", "hp-" + hashlib.sha256(b"abcdefghijklm").hexdigest()[:12]),
    ],
    ids=["default", "short", "longest-verbatim", "hashed"],
)
def test_default_bridge(name: str, bridge: str) -> None:
    assert default_bridge(name) == bridge
    assert len(bridge) <= 15


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("bridge", [{"type": "pid"}, {"type": "network", "path": "/s/netns/web"}, {"type": "mount"}]),
        ("none", [{"type": "pid"}, {"type": "network", "path": "/s/netns/web"}, {"type": "mount"}]),
        ("host", [{"type": "pid"}, {"type": "mount"}]),
    ],
    ids=["bridge", "none", "host"],
)
def test_namespaces(mode, expected) -> None:
    got = list(msgspec.to_builtins(namespaces(("pid", "network", "mount"), mode, "/s/netns/web")))
    assert got == expected


# --------------------------------------------------------------------------- /etc files

# what CNI recorded for the state dir's containers (another file's "theirs" among them)
KNOWN = {
    "web": ("hp", "10.10.0.2"),
    "db": ("hp", "10.10.0.3"),
    "theirs": ("hp", "10.10.0.4"),
    "other": ("lan", "10.20.0.2"),
}


@pytest.mark.parametrize(
    "name, network, peers",
    [
        ("web", "hp", (("10.10.0.3", "db"), ("10.10.0.4", "theirs"))),
        ("new", "hp", (("10.10.0.3", "db"), ("10.10.0.4", "theirs"), ("10.10.0.2", "web"))),
        ("other", "lan", ()),
        ("alone", None, ()),
    ],
    ids=["same-network-by-name-any-file", "without-own-address", "alone-on-its-network", "no-bridge-network"],
)
def test_hosts_peers(name, network, peers) -> None:
    assert hosts_peers(KNOWN, network, name) == peers


def test_container_hosts() -> None:
    text = container_hosts("web", "web", "10.10.0.2", (("10.10.0.3", "db"),))
    assert text.splitlines()[-2:] == ["10.10.0.2\tweb", "10.10.0.3\tdb"]
    assert "127.0.1.1\tweb" in text


HOST_RESOLV = "nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\n"


@pytest.mark.parametrize(
    "net, expected",
    [
        (
            ContainerNetwork("bridge", Network("hp", DEFAULT_SUBNET, "10.10.0.1", "hp0")),
            "nameserver 192.0.2.53\nsearch example.org\n",
        ),
        (
            ContainerNetwork("bridge", Network("lan", "10.20.0.0/24", "10.20.0.1", "hp-lan", ("10.20.0.53",))),
            "nameserver 10.20.0.53\nsearch example.org\n",
        ),
        (ContainerNetwork("none"), "nameserver 192.0.2.53\nsearch example.org\n"),
        (ContainerNetwork("host"), HOST_RESOLV),
    ],
    ids=["host-servers-without-loopback", "network-dns", "none", "host-verbatim"],
)
def test_container_resolv_conf(net, expected) -> None:
    assert container_resolv_conf(net, HOST_RESOLV) == expected


def test_route_conflicts() -> None:
    routes = parse_routes(
        "default via 192.0.2.1 dev eth0 \n192.0.2.0/24 dev eth0 proto kernel scope link src "
        "192.0.2.2 \n10.10.0.0/24 dev hp0 proto kernel scope link src 10.10.0.1 \n"
        "10.0.0.0/8 via 192.0.2.9 dev eth0 \n"
    )
    assert routes == (("192.0.2.0/24", "eth0"), ("10.10.0.0/24", "hp0"), ("10.0.0.0/8", "eth0"))
    hp0 = Network("hp", DEFAULT_SUBNET, "10.10.0.1", "hp0")
    assert route_conflicts(hp0, routes) == ("10.0.0.0/8 dev eth0",)
    assert route_conflicts(Network("x", "172.30.0.0/24", "172.30.0.1", "hp-x"), routes) == ()


# --------------------------------------------------------------------------- CNI

DEFAULT_CONFLIST = b"""{
  "cniVersion": "1.0.0",
  "name": "hp",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "hp0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "/var/lib/hp/networks/ipam",
        "ranges": [
          [
            {
              "subnet": "10.10.0.0/24",
              "gateway": "10.10.0.1"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    },
    {
      "type": "firewall"
    }
  ]
}
"""

PATHS = Layout("/var/lib/hp")


def test_default_conflist_bytes() -> None:
    net = networks(hp(""))["hp"]
    assert cni.encode_conflist(cni.conflist(net, PATHS.ipam_dir)) == DEFAULT_CONFLIST


def test_a_conflist_file_reads_back_as_the_conflist_it_was_written_from() -> None:
    written = cni.conflist(networks(hp(""))["hp"], PATHS.ipam_dir)
    read = cni.decode_conflist(DEFAULT_CONFLIST)  # a file an older hp wrote: the same bytes
    assert read == written
    assert (read.bridge, read.range.subnet, read.range.gateway) == ("hp0", "10.10.0.0/24", "10.10.0.1")


@pytest.mark.parametrize(
    "data",
    [
        b'{"cniVersion": "1.0.0", "name": "hp", "plugins": [{"type": "portmap"}]}',
        b'{"cniVersion": "1.0.0", "name": "hp", "plugins": [{"type": "bridge", "bridge": "hp0"}]}',
        b'{"cniVersion": "1.0.0", "name": "hp", "plugins": []}',
        b'{"name": "hp"}',
        b"not json",
    ],
    ids=["no-bridge-first", "no-range", "no-plugins", "no-plugins-key", "not-json"],
)
def test_a_conflist_hp_cannot_have_written_is_one_error(data) -> None:
    with pytest.raises(HpError, match="^CNI configuration list: unreadable: "):
        cni.decode_conflist(data)


def test_conflist_is_deterministic() -> None:
    text = '[networks.b]\nsubnet = "10.21.0.0/24"\n[networks.a]\nsubnet = "10.20.0.0/24"\ndns = ["1.1.1.1"]\n'
    first = {n: cni.encode_conflist(cni.conflist(net, PATHS.ipam_dir)) for n, net in networks(hp(text)).items()}
    for _ in range(3):
        again = {n: cni.encode_conflist(cni.conflist(net, PATHS.ipam_dir)) for n, net in networks(hp(text)).items()}
        assert again == first
    assert json.loads(first["a"])["plugins"][0]["ipam"]["ranges"] == [
        [{"subnet": "10.20.0.0/24", "gateway": "10.20.0.1"}]
    ]


def test_paths() -> None:
    assert (PATHS.netns("web"), PATHS.conflist("hp"), PATHS.ipam_dir, PATHS.attachment("web")) == (
        "/var/lib/hp/netns/web",
        "/var/lib/hp/networks/hp.conflist",
        "/var/lib/hp/networks/ipam",
        "/var/lib/hp/networks/attachments/web.json",
    )


def test_container_id_is_per_state_dir() -> None:
    a, b = cni.container_id("/var/lib/hp", "web"), cni.container_id("/srv/hp", "web")
    assert a != b and a.startswith("hp-") and a.endswith("-web")
    assert cni.container_id("/var/lib/hp", "web") == a


def web_attachment():
    f = hp('[containers.web]\nimage = "x"\nports = ["127.0.0.1:8080:80", "53:53/udp"]\n')
    return cni.attachment(PATHS, "web", container_network(f, "web"))


def test_attachment() -> None:
    att = web_attachment()
    assert att.plugins == ("bridge", "portmap", "firewall")
    assert att.network == "hp" and att.netns == "/var/lib/hp/netns/web" and att.ifname == "eth0"
    with pytest.raises(ValueError):
        cni.attachment(PATHS, "x", ContainerNetwork("none"))


def test_plugin_calls_like_libcni() -> None:
    att = web_attachment()
    first = cni.plugin_call(att, "ADD", 0, None, "/usr/lib/cni")
    assert first.plugin == "bridge"
    assert first.env == {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": att.container_id,
        "CNI_NETNS": att.netns,
        "CNI_IFNAME": "eth0",
        "CNI_ARGS": "",
        "CNI_PATH": "/usr/lib/cni",
    }
    bridge = json.loads(first.stdin)
    assert bridge["name"] == "hp" and bridge["cniVersion"] == "1.0.0"
    assert "prevResult" not in bridge and "runtimeConfig" not in bridge
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.10.0.2/24"}]}
    portmap = json.loads(cni.plugin_call(att, "ADD", 1, prev, "/usr/lib/cni").stdin)
    assert portmap == {
        "type": "portmap",
        "capabilities": {"portMappings": True},
        "name": "hp",
        "cniVersion": "1.0.0",
        "prevResult": prev,
        "runtimeConfig": {
            "portMappings": [
                {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"},
                {"hostPort": 53, "containerPort": 53, "protocol": "udp"},
            ]
        },
    }
    firewall = json.loads(cni.plugin_call(att, "DEL", 2, prev, "/usr/lib/cni", netns="").stdin)
    assert "runtimeConfig" not in firewall and firewall["prevResult"] == prev
    assert cni.plugin_call(att, "DEL", 2, prev, "/usr/lib/cni", netns="").env["CNI_NETNS"] == ""


def test_attachment_record_round_trips() -> None:
    record = cni.AttachmentRecord(web_attachment(), 2, {"cniVersion": "1.0.0", "ips": []})
    assert cni.decode_record(cni.encode_record(record)) == record
    with pytest.raises(HpError):
        cni.decode_record(b'{"attachment": 1}')


RESULT = b"""{"cniVersion":"1.0.0","interfaces":[{"name":"hp0","mac":"aa:bb:cc:dd:ee:01"},
{"name":"veth1","mac":"aa:bb:cc:dd:ee:02"},{"name":"eth0","mac":"aa:bb:cc:dd:ee:03","sandbox":"/s/netns/web"}],
"ips":[{"interface":2,"address":"10.10.0.7/24","gateway":"10.10.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"""


def test_parse_result() -> None:
    result = cni.parse_result(RESULT)
    assert (result.address, result.gateway) == ("10.10.0.7", "10.10.0.1")
    assert result.interfaces[2].sandbox == "/s/netns/web"
    assert cni.parse_result(json.loads(RESULT)) == result
    assert cni.parse_result(b'{"cniVersion":"1.0.0"}').address is None
    with pytest.raises(HpError):
        cni.parse_result(b"not json")


@pytest.mark.parametrize(
    "stdout, stderr, expected",
    [
        ('{"code":11,"msg":"failed to allocate","details":"range is full"}', "", "failed to allocate (range is full)"),
        ('{"code":7,"msg":"bad config"}', "", "bad config"),
        ("", "panic: oops\n", "panic: oops"),
        ("", "", "exited 1 without a message"),
    ],
    ids=["msg-and-details", "msg", "stderr", "nothing"],
)
def test_error_message(stdout, stderr, expected) -> None:
    assert cni.error_message(stdout, stderr, 1) == expected


# --------------------------------------------------------------------------- mountinfo

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
43 27 254:0 /var/lib/hp/netns /var/lib/hp/netns rw,relatime shared:7 - ext4 /dev/vda rw
68 43 0:4 net:[4026532245] /var/lib/hp/netns/web rw shared:8 - nsfs nsfs rw
69 43 0:4 net:[4026532246] /var/lib/hp/netns/a\\040b rw master:3 - nsfs nsfs rw
70 27 0:50 / /mnt rw - tmpfs tmpfs rw
71 70 0:51 / /mnt rw shared:9 master:2 - ext4 /dev/vdb rw
"""


def test_parse_mountinfo() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts["/proc"] == ("proc", "private")
    assert mounts["/var/lib/hp/netns"] == ("ext4", "shared")
    assert mounts["/var/lib/hp/netns/web"] == ("nsfs", "shared")
    assert mounts["/var/lib/hp/netns/a b"] == ("nsfs", "slave")
    assert mounts["/mnt"] == ("ext4", "shared,slave")  # the upper of two stacked mounts


# --------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PORT_TEXT = st.one_of(
    st.text(alphabet="0123456789.:/tcpudx[] ", max_size=30),
    st.builds(
        lambda ip, h, c, p: f"{ip}{h}:{c}{p}",
        st.sampled_from(["", "127.0.0.1:", "0.0.0.0:", "10.1.2.3:", "::1:", "[::1]:", "300.1.1.1:"]),
        st.integers(0, 70000),
        st.integers(0, 70000),
        st.sampled_from(["", "/tcp", "/udp", "/sctp"]),
    ),
)


@settings(max_examples=400, deadline=None)
@given(_PORT_TEXT)
def test_any_port_text_is_a_clean_error_or_a_mapping_that_reads_back(text: str) -> None:
    try:
        port = parse_port(text, "ports[0]")
    except HpError as e:
        assert e.where == "ports[0]" and e.problem and "\n" not in e.problem
        return
    assert 1 <= port.host_port <= 65535 and 1 <= port.container_port <= 65535
    assert parse_port(str(port), "again") == port


_SUBNETS = st.sampled_from(
    [
        "10.20.0.0/24",
        "10.20.0.0/16",
        "10.20.5.0/24",
        "10.10.0.0/24",
        "10.20.0.1/24",
        "192.168.1.0/30",
        "192.168.1.0/31",
        "fd00::/64",
        "banana",
        "10.30.0.0/24",
    ]
)


@st.composite
def _files(draw) -> str:
    lines = []
    nets = draw(st.lists(st.sampled_from(["a", "b", "hp", "c"]), max_size=3, unique=True))
    for net in nets:
        lines.append(f'[networks.{net}]\nsubnet = "{draw(_SUBNETS)}"\n')
        if draw(st.booleans()):
            lines.append(f'gateway = "{draw(st.sampled_from(["10.20.0.1", "10.20.0.0", "1.2.3.4", "x"]))}"\n')
    for i in range(draw(st.integers(0, 4))):
        lines.append(f'[containers.c{i}]\nimage = "x"\n')
        choice = draw(st.sampled_from([None, "bridge", "none", "host", "a", "b", "zzz"]))
        if choice:
            lines.append(f'network = "{choice}"\n')
        ports = draw(st.lists(_PORT_TEXT, max_size=2))
        if ports:
            lines.append("ports = [" + ", ".join(json.dumps(p) for p in ports) + "]\n")
    return "".join(lines)


@settings(max_examples=300, deadline=None)
@given(_files())
def test_any_file_gives_clean_network_errors_or_a_deterministic_conflist(text: str) -> None:
    try:
        hp = parse_hp_file(text)
        check_networks(hp)
    except HpError as e:
        assert e.where and e.problem and "\n" not in str(e)
        return
    paths = Layout("/var/lib/hp")
    for name in sorted(hp.containers):
        net = container_network(hp, name)
        if net.mode == "bridge":
            assert net.network is not None  # set exactly when mode is "bridge"
            att = cni.attachment(paths, name, net)
            data = cni.encode_conflist(att.conflist)
            assert data == cni.encode_conflist(cni.attachment(paths, name, container_network(hp, name)).conflist)
            assert json.loads(data)["plugins"][0]["ipam"]["ranges"][0][0]["subnet"] == net.network.subnet


def test_container_chains_are_named_as_the_plugins_name_them() -> None:
    # seen on this project's host (plugins 1.1.1): network "probe", ID "hp-7cd703132fb5-c1"
    assert cni.container_chains("probe", "hp-7cd703132fb5-c1") == (
        "CNI-fd3ea31196f3481d1133d2c5",
        "CNI-DN-fd3ea31196f3481d1133d",
        "CNI-SN-fd3ea31196f3481d1133d",
    )
    assert all(len(c) == 28 for c in cni.container_chains("hp", "hp-0123456789ab-web"))


MASQ, DNAT, _ = cni.container_chains("hp", "hp-0123456789ab-web")
MASQ2, _, _ = cni.container_chains("hp", "hp-0123456789ab-web2")
WEB_DNAT_COMMENT = r'"dnat name: \"hp\" id: \"hp-0123456789ab-web\""'
SAVE = rf"""# Generated by iptables-save
*nat
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:{MASQ} - [0:0]
:{DNAT} - [0:0]
:{MASQ2} - [0:0]
-A POSTROUTING -s 10.10.0.2/32 -m comment --comment "name: \"hp\" id: \"hp-0123456789ab-web\"" -j {MASQ}
-A POSTROUTING -s 10.10.0.2/32 -m comment --comment "name: \"hp\" id: \"hp-0123456789ab-web\"" -j {MASQ}
-A POSTROUTING -s 10.10.0.3/32 -m comment --comment "name: \"hp\" id: \"hp-0123456789ab-web2\"" -j {MASQ2}
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment {WEB_DNAT_COMMENT} -m multiport --dports 8080 -j {DNAT}
-A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 8081 -j {DNAT}
-A {MASQ} -d 10.10.0.0/24 -m comment --comment "name: \"hp\" id: \"hp-0123456789ab-web\"" -j ACCEPT
-A {DNAT} -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.10.0.2:80
COMMIT
"""
WEB_MASQ = (
    "POSTROUTING",
    "-s",
    "10.10.0.2/32",
    "-m",
    "comment",
    "--comment",
    'name: "hp" id: "hp-0123456789ab-web"',
    "-j",
    MASQ,
)


def test_leftover_rules_are_found_by_chain_name_and_comment() -> None:
    found = cni.leftover_rules(SAVE, "hp", "hp-0123456789ab-web")
    assert found.rules == (
        WEB_MASQ,
        WEB_MASQ,  # a duplicate (a leak re-added) goes too: each -D removes one
        (
            "CNI-HOSTPORT-DNAT",
            "-p",
            "tcp",
            "-m",
            "comment",
            "--comment",
            'dnat name: "hp" id: "hp-0123456789ab-web"',
            "-m",
            "multiport",
            "--dports",
            "8080",
            "-j",
            DNAT,
        ),
        ("CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "multiport", "--dports", "8081", "-j", DNAT),  # jumps to its chain
    )
    assert found.chains == (MASQ, DNAT)  # the rules inside go with them
    assert str(found).endswith(f"chain {MASQ}; chain {DNAT}") and bool(found)


@pytest.mark.parametrize(
    "network, cid",
    [
        ("hp", "hp-0123456789ab-we"),  # a prefix of a name is not the name
        ("hp", "hp-ffffffffffff-web"),  # another state dir's
        ("other", "hp-0123456789ab-web3"),
    ],
    ids=["prefix-is-not-a-match", "other-state-dir", "nothing"],
)
def test_leftover_rules_of_others_are_never_matched(network: str, cid: str) -> None:
    assert not cni.leftover_rules(SAVE, network, cid)


def test_leftover_rules_of_a_longer_name_are_its_own() -> None:
    found = cni.leftover_rules(SAVE, "hp", "hp-0123456789ab-web2")
    assert found.chains == (MASQ2,) and [r[-1] for r in found.rules] == [MASQ2]


# ---- bridges: which ones hp made (compiler.network.bridge_fate, bridge_record_before_add)


def test_bridge_paths_are_checked_interface_names() -> None:
    from compiler.layout import bridge_claim

    assert PATHS.bridge_record("hp0") == "/var/lib/hp/networks/bridges/hp0.json"
    assert bridge_claim("hp0") == "/run/hp/bridges/hp0"
    for bad in ("..", ".", "a/b", "", "x" * 16, "a b"):
        with pytest.raises(HpError, match="invalid interface name"):
            PATHS.bridge_record(bad)
        with pytest.raises(HpError, match="invalid interface name"):
            bridge_claim(bad)
    assert web_attachment().bridge == "hp0"


def iface(ifindex: int, bridge: bool = True, ports: tuple[str, ...] = ()) -> Interface:
    return Interface("br0", ifindex, bridge, ports)


MADE = BridgeRecord("br0", made=True, ifindex=40, floor=30)
MADE_UNKNOWN = BridgeRecord("br0", made=True, floor=30)  # hp was killed between the ADD and writing the index
FOUND = BridgeRecord("br0", made=False, ifindex=7)


@pytest.mark.parametrize(
    "record, now, fate",
    [
        (MADE, iface(40), "delete"),
        (MADE, iface(40, ports=("veth1",)), "keep"),  # something still on it: tried again later
        (MADE, None, "forget"),  # gone already
        (MADE, iface(41), "forget"),  # another interface of the same name since
        (MADE, iface(40, bridge=False), "forget"),  # never delete what is not a bridge
        (MADE_UNKNOWN, iface(31), "delete"),  # made after the record was written
        (MADE_UNKNOWN, iface(30), "forget"),  # existed when the record was written
        (MADE_UNKNOWN, iface(12), "forget"),
        (FOUND, iface(7), "forget"),  # found: never deleted
        (FOUND, iface(50), "forget"),
    ],
    ids=[
        "made",
        "made-with-ports",
        "made-gone",
        "made-replaced",
        "made-not-a-bridge",
        "unknown-index-above-floor",
        "unknown-index-at-floor",
        "unknown-index-below-floor",
        "found",
        "found-replaced",
    ],
)
def test_bridge_fate(record: BridgeRecord, now: Interface | None, fate: str) -> None:
    assert bridge_fate(record, now) == fate


@pytest.mark.parametrize(
    "held, now, expected",
    [
        (None, None, BridgeRecord("br0", made=True, floor=99)),  # the ADD makes it
        (None, iface(7), FOUND),  # there before: found
        (MADE, iface(40), MADE),  # hp's own, from an earlier container
        (MADE_UNKNOWN, iface(31), MADE_UNKNOWN),
        (MADE, iface(41), BridgeRecord("br0", made=False, ifindex=41)),  # someone else's since: found
        (FOUND, None, BridgeRecord("br0", made=True, floor=99)),  # the found one went: the ADD makes a new one
        (FOUND, iface(7), FOUND),
    ],
    ids=["new", "existing", "own", "own-unknown-index", "replaced", "found-gone", "found"],
)
def test_bridge_record_before_add(held: BridgeRecord | None, now: Interface | None, expected: BridgeRecord) -> None:
    assert bridge_record_before_add("br0", held, now, 99) == expected


def test_a_found_bridge_notes_the_gateway_address_the_plugin_will_add() -> None:
    added = BridgeRecord("br0", made=False, ifindex=7, address="10.20.0.1/24")
    assert bridge_record_before_add("br0", None, iface(7), 0, "10.20.0.1/24", ("192.0.2.1/24",)) == added
    assert bridge_record_before_add("br0", None, iface(7), 0, "10.20.0.1/24", ("10.20.0.1/24",)) == FOUND  # had it
    assert bridge_record_before_add("br0", added, iface(7), 0, "10.20.0.1/24", ("10.20.0.1/24",)) == added  # kept
    assert bridge_record_before_add("br0", None, None, 5, "10.20.0.1/24") == BridgeRecord("br0", made=True, floor=5)
    assert address_to_remove(added, iface(7)) == "10.20.0.1/24"
    assert address_to_remove(added, iface(7, ports=("eth9",))) == "10.20.0.1/24"
    assert address_to_remove(added, iface(8)) is None  # another interface of the name since
    assert address_to_remove(added, None) is None and address_to_remove(FOUND, iface(7)) is None
    assert address_to_remove(MADE, iface(40)) is None  # a bridge hp made goes whole


def test_parse_addresses() -> None:
    tail = r"\       valid_lft forever preferred_lft forever"  # `ip -o` writes a backslash for a line break
    out = (
        f"5: br0    inet 10.20.0.1/24 brd 10.20.0.255 scope global br0{tail}\n"
        f"5: br0    inet 192.0.2.7/32 scope global br0{tail}\n"
    )
    assert parse_addresses(out) == ("10.20.0.1/24", "192.0.2.7/32") and parse_addresses("") == ()


def test_gateway_cidr() -> None:
    assert web_attachment().gateway_cidr == "10.10.0.1/24"


def test_bridge_record_round_trips() -> None:
    for record in (MADE, MADE_UNKNOWN, FOUND, BridgeRecord("br0", made=False, ifindex=7, address="10.20.0.1/24")):
        assert decode_bridge_record(encode_bridge_record(record)) == record
    with pytest.raises(HpError, match="bridge record: unreadable"):
        decode_bridge_record(b'{"bridge": "br0"}')
