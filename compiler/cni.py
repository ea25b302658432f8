"""CNI, the pure part: a network's configuration list, and every plugin call as data.

The executor (executor/cni.py) runs the calls the way libcni does (podman 4's CNI backend,
containerd): ADD runs the list's plugins in order, each given the network's name and
cniVersion, the previous plugin's result as `prevResult`, and its capability arguments as
`runtimeConfig`; DEL runs them in reverse, with the last result as `prevResult`.

Everything a DEL needs is in an Attachment, recorded before the first ADD: DEL never reads
hp.toml, so it undoes exactly what ADD did even after hp.toml changed (portmap removes its
rules only if given the same port mappings; firewall finds its rules by the result's IPs).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any, Literal

import msgspec

from .errors import HpError
from .layout import Layout
from .network import ContainerNetwork, Network, PortMapping

CNI_VERSION = "1.0.0"
IFNAME = "eth0"
# where distributions put the plugins (Debian: /usr/lib/cni); podman searches the same
CNI_PATH = ("/usr/lib/cni", "/usr/libexec/cni", "/usr/local/libexec/cni", "/usr/local/lib/cni", "/opt/cni/bin")

Command = Literal["ADD", "DEL", "CHECK"]


def container_id(state_dir: str, name: str) -> str:
    """The CNI container ID of container `name`: unique per state directory, because the
    plugins key host-wide things by it (portmap's and ipMasq's iptables chains). "hp-<state tag>-<name>":
    same_state_dir tells the IDs of one state dir by the part before the name."""
    return f"hp-{Layout(state_dir).cgroup_name(name)}"


class IpamRange(msgspec.Struct, frozen=True):
    subnet: str
    gateway: str


class IpamRoute(msgspec.Struct, frozen=True):
    dst: str


class Ipam(msgspec.Struct, frozen=True, rename="camel"):
    type: str
    data_dir: str
    ranges: tuple[tuple[IpamRange, ...], ...]
    routes: tuple[IpamRoute, ...] = ()


class Capabilities(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    port_mappings: bool = False


class Plugin(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """One plugin of a list: its type and, of the settings hp gives any plugin, those it has (the
    bridge plugin's, portmap's capabilities); fields are in the order podman writes them."""

    type: str
    bridge: str | None = None
    is_gateway: bool | None = None
    ip_masq: bool | None = None
    hairpin_mode: bool | None = None
    ipam: Ipam | None = None
    capabilities: Capabilities | None = None


class Conflist(msgspec.Struct, frozen=True, rename={"cni_version": "cniVersion"}):
    """A network's CNI configuration list. hp's always starts with the bridge plugin, which
    holds the bridge's name and host-local's one range (the subnet and gateway)."""

    cni_version: str
    name: str
    plugins: tuple[Plugin, ...]

    def __post_init__(self) -> None:
        first = self.plugins[0] if self.plugins else None
        if (
            first is None
            or first.type != "bridge"
            or first.bridge is None
            or first.ipam is None
            or not first.ipam.ranges
            or not first.ipam.ranges[0]
        ):
            raise ValueError("the first plugin must be a bridge with a host-local range")

    @property
    def bridge(self) -> str:
        return self.plugins[0].bridge or ""

    @property
    def range(self) -> IpamRange:
        ipam = self.plugins[0].ipam
        assert ipam is not None  # __post_init__
        return ipam.ranges[0][0]


def conflist(net: Network, ipam_dir: str) -> Conflist:
    """The network's CNI configuration list (as podman 4 writes one: bridge, portmap, firewall)."""
    ipam = Ipam("host-local", ipam_dir, ((IpamRange(net.subnet, net.gateway),),), (IpamRoute("0.0.0.0/0"),))
    return Conflist(
        CNI_VERSION,
        net.name,
        (
            Plugin("bridge", bridge=net.bridge, is_gateway=True, ip_masq=True, hairpin_mode=True, ipam=ipam),
            Plugin("portmap", capabilities=Capabilities(port_mappings=True)),
            Plugin("firewall"),
        ),
    )


def encode_conflist(data: Conflist) -> bytes:
    """A configuration list as the file's bytes: indented JSON, keys in the order built."""
    return msgspec.json.format(msgspec.json.encode(data), indent=2) + b"\n"


def decode_conflist(data: bytes) -> Conflist:
    try:
        return msgspec.json.decode(data, type=Conflist)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise HpError("CNI configuration list", f"unreadable: {e}") from None


class Attachment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One container on one network: everything the plugins are called with, ADD and DEL."""

    container: str
    container_id: str
    netns: str
    conflist: Conflist
    port_mappings: tuple[PortMapping, ...] = ()
    ifname: str = IFNAME

    @property
    def network(self) -> str:
        return self.conflist.name

    @property
    def plugins(self) -> tuple[str, ...]:
        return tuple(p.type for p in self.conflist.plugins)

    @property
    def bridge(self) -> str:
        return self.conflist.bridge

    @property
    def subnet(self) -> str:
        return self.conflist.range.subnet

    @property
    def gateway(self) -> str:
        return self.conflist.range.gateway

    @property
    def gateway_cidr(self) -> str:
        """The gateway with the subnet's prefix length ("10.10.0.1/24"): the address the bridge
        plugin (isGateway) puts on the bridge."""
        return f"{self.gateway}/{self.subnet.split('/')[1]}"


def attachment(paths: Layout, name: str, net: ContainerNetwork) -> Attachment:
    """Container `name`'s attachment to its (bridge) network."""
    if net.mode != "bridge" or net.network is None:
        raise ValueError(f"container {name} has network mode {net.mode!r}: no CNI attachment")
    return Attachment(
        container=name,
        container_id=container_id(paths.state_dir, name),
        netns=paths.netns(name),
        conflist=conflist(net.network, paths.ipam_dir),
        port_mappings=net.ports,
    )


def same_state_dir(att: Attachment, other_id: str) -> bool:
    """Whether CNI container ID `other_id` (say, a nat rule's owner) is of a container of the same
    state dir as `att`'s: it starts as container_id starts att's, "hp-<state tag>-"."""
    return other_id.startswith(att.container_id.removesuffix(att.container))


class AttachmentRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """STATE/networks/attachments/NAME.json: the attachment, how many plugins' ADD
    succeeded, and the last result. Written before the first ADD and after each one."""

    attachment: Attachment
    added: int = 0
    # the last plugin's result as it printed it: the next plugin's prevResult, passed on whole (a
    # plugin may read fields hp does not know); hp reads it through CniResult (`parsed`)
    result: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        """Every plugin's ADD succeeded."""
        return self.result is not None and self.added >= len(self.attachment.plugins)

    @property
    def address(self) -> str | None:
        """The container's IPv4 address from the last result, if there is one."""
        return parse_result(self.result).address if self.result is not None else None


def encode_record(record: AttachmentRecord) -> bytes:
    return msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"


def decode_record(data: bytes) -> AttachmentRecord:
    try:
        return msgspec.json.decode(data, type=AttachmentRecord)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise HpError("attachment record", f"unreadable: {e}") from None


class CniCall(msgspec.Struct, frozen=True):
    """One plugin execution: run the binary `plugin` (found on CNI_PATH) with `env` added to
    the environment and `stdin` as its standard input."""

    plugin: str
    env: dict[str, str]
    stdin: bytes


def plugin_call(
    att: Attachment,
    command: Command,
    index: int,
    prev_result: dict[str, Any] | None,
    cni_path: str,
    netns: str | None = None,
    address: str | None = None,
) -> CniCall:
    """The call of plugin number `index` of the list: libcni's buildOneConfig (name,
    cniVersion and prevResult injected; runtimeConfig from the capabilities the plugin asks
    for) and its CNI_* variables. `netns` overrides the attachment's ("" when it is gone).
    `address`: the IPv4 address host-local is to give the container (CNI_ARGS `IP`)."""
    config = att.conflist.plugins[index]
    plugin: dict[str, Any] = msgspec.to_builtins(config)
    plugin["name"] = att.conflist.name
    plugin["cniVersion"] = att.conflist.cni_version
    if prev_result is not None:
        plugin["prevResult"] = prev_result
    runtime: dict[str, Any] = {}
    if config.capabilities is not None and config.capabilities.port_mappings and att.port_mappings:
        runtime["portMappings"] = [_port_entry(p) for p in att.port_mappings]
    if runtime:
        plugin["runtimeConfig"] = runtime
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": att.container_id,
        "CNI_NETNS": att.netns if netns is None else netns,
        "CNI_IFNAME": att.ifname,
        "CNI_ARGS": address_args(address) if address else "",
        "CNI_PATH": cni_path,
    }
    return CniCall(config.type, env, msgspec.json.encode(plugin))


def address_args(address: str) -> str:
    """CNI_ARGS asking host-local for `address` (checked: nothing else can get into the list).
    IgnoreUnknown: the other plugins, which get the same variable, know no `IP`."""
    return f"IgnoreUnknown=1;IP={ipaddress.IPv4Address(address)}"


def _port_entry(port: PortMapping) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "hostPort": port.host_port,
        "containerPort": port.container_port,
        "protocol": port.protocol,
    }
    if port.host_ip:
        entry["hostIP"] = port.host_ip
    return entry


# ---- results


class _Lenient(msgspec.Struct, frozen=True):
    pass


class CniInterface(_Lenient, frozen=True):
    name: str
    mac: str | None = None
    sandbox: str | None = None


class CniIP(_Lenient, frozen=True):
    address: str  # CIDR: "10.10.0.2/24"
    gateway: str | None = None
    interface: int | None = None


class CniRoute(_Lenient, frozen=True):
    dst: str
    gw: str | None = None


class CniResult(_Lenient, frozen=True, rename={"cni_version": "cniVersion"}):
    """A plugin's success result (the parts hp uses)."""

    cni_version: str = ""
    interfaces: tuple[CniInterface, ...] = ()
    ips: tuple[CniIP, ...] = ()
    routes: tuple[CniRoute, ...] = ()

    def sandbox_ip(self, ifname: str = IFNAME) -> CniIP | None:
        """The first IPv4 address on the container's interface `ifname`."""
        for ip in self.ips:
            iface = (
                self.interfaces[ip.interface]
                if ip.interface is not None and 0 <= ip.interface < len(self.interfaces)
                else None
            )
            if iface is not None and (iface.name != ifname or not iface.sandbox):
                continue
            if ":" not in ip.address:
                return ip
        return None

    @property
    def address(self) -> str | None:
        """The container's IPv4 address, without the prefix length."""
        ip = self.sandbox_ip()
        return ip.address.split("/")[0] if ip else None

    @property
    def gateway(self) -> str | None:
        ip = self.sandbox_ip()
        return ip.gateway if ip else None


def parse_result(data: bytes | str | dict[str, Any]) -> CniResult:
    """A CNI result (a plugin's stdout, or its decoded JSON) as a CniResult."""
    try:
        if isinstance(data, dict):
            return msgspec.convert(data, CniResult)
        return msgspec.json.decode(data, type=CniResult)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise HpError("CNI result", f"not a CNI result: {e}") from None


def error_message(stdout: str, stderr: str, code: int) -> str:
    """A failed plugin's message: its CNI error's msg (and details), else its stderr."""
    try:
        err = msgspec.json.decode(stdout.strip() or b"null")
    except msgspec.DecodeError:
        err = None
    if isinstance(err, dict) and err.get("msg"):
        details = err.get("details")
        return f"{err['msg']}" + (f" ({details})" if details else "")
    text = " ".join(line.strip() for line in (stderr or stdout).strip().splitlines()[-3:] if line.strip())
    return text or f"exited {code} without a message"


class NetworkSetup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one container is wired, decided at plan time and kept in its directory
    (STATE/containers/NAME/network.json): for mode "bridge" the executor makes the
    namespace at `netns` and runs `attachment` through CNI; for "none" the runtime makes a
    fresh namespace; "host" has none."""

    mode: str
    hostname: str
    netns: str | None = None
    attachment: Attachment | None = None

    @property
    def network(self) -> str | None:
        return self.attachment.network if self.attachment else None


def network_setup(paths: Layout, name: str, hostname: str, net: ContainerNetwork) -> NetworkSetup:
    if net.mode == "host":
        return NetworkSetup("host", hostname)
    if net.mode == "none":
        return NetworkSetup("none", hostname)  # crun makes the namespace and brings lo up
    return NetworkSetup("bridge", hostname, paths.netns(name), attachment(paths, name, net))


def describe(setup: NetworkSetup) -> str:
    """One line for a plan: "network hp (10.10.0.0/24), ports 127.0.0.1:8080:80/tcp"."""
    if setup.attachment is None:
        return f"network {setup.mode}"
    subnet = setup.attachment.subnet
    ports = ", ".join(str(p) for p in setup.attachment.port_mappings)
    return f"network {setup.network} ({subnet})" + (f", ports {ports}" if ports else "")


def encode_setup(setup: NetworkSetup) -> bytes:
    return msgspec.json.format(msgspec.json.encode(setup), indent=2) + b"\n"


def decode_setup(data: bytes) -> NetworkSetup:
    return msgspec.json.decode(data, type=NetworkSetup)


def container_chains(network: str, container_id: str) -> tuple[str, ...]:
    """The nat chains the plugins name after `container_id` on `network` (their
    utils.FormatChainName: "CNI-" and a prefix, then sha512(NETWORK + ID) in hex, 28 characters
    in all): the bridge plugin's ipMasq chain, portmap's DNAT and SNAT chains."""
    digest = hashlib.sha512((network + container_id).encode()).hexdigest()
    return tuple((f"CNI-{prefix}{digest}")[:28] for prefix in ("", "DN-", "SN-"))


class Leftovers(msgspec.Struct, frozen=True):
    """A container's rules still in `iptables-save -t nat`: `rules` (each as `-D` arguments:
    the chain, then the rule) live in chains other than its own and go first; then its own
    `chains` are flushed and deleted."""

    rules: tuple[tuple[str, ...], ...] = ()
    chains: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules or self.chains)

    def __str__(self) -> str:
        return "; ".join([f"{r[0]} rule" for r in self.rules] + [f"chain {c}" for c in self.chains])


def leftover_rules(iptables_save_nat: str, network: str, container_id: str) -> Leftovers:
    """What the plugins made in nat for `container_id` on `network` and is still there: the
    chains named after it (container_chains), every rule jumping to one of them, and every rule
    whose comment ends in `id: "ID"` (ipMasq's POSTROUTING rule, portmap's jump in
    CNI-HOSTPORT-DNAT). The ID holds the state dir's tag, so nothing of another state dir's
    or another tool's matches; a longer ID that starts with this one does not match either."""
    import shlex

    own = set(container_chains(network, container_id))
    declared = []
    rules = []
    for line in iptables_save_nat.splitlines():
        if line.startswith(":") and line[1:].split(" ", 1)[0] in own:
            declared.append(line[1:].split(" ", 1)[0])
            continue
        if not line.startswith("-A ") or (container_id not in line and not any(c in line for c in own)):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if len(words) < 2 or words[1] in own:
            continue  # a rule in one of its own chains goes with the chain
        comment = _after(words, "--comment")
        target = _after(words, "-j") or _after(words, "-g")
        if target in own or re.search(rf'(^|\s)id: "{re.escape(container_id)}"$', comment):
            rules.append(tuple(words[1:]))
    return Leftovers(tuple(rules), tuple(declared))


def _after(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1] if flag in words[:-1] else ""
