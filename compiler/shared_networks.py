"""What one hp.toml cannot see by itself: the other files' containers of the same state dir, and
the host's routes. One predicate each, pure: executor/planning.py reads the facts (the other
containers' network setups, `ip route`) and every plan, the one `hp apply` makes too, asks them.

`theirs`: container name -> its compiler.cni.NetworkSetup (None if unreadable), for the state
dir's containers that another file manages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .cni import Attachment, NetworkSetup
from .errors import HpError, key_path, quote
from .network import ContainerNetwork, Network, ports_overlap, route_conflicts
from .spec import HpFile


def _attachments(theirs: Mapping[str, NetworkSetup | None]) -> list[tuple[str, Attachment]]:
    return [
        (name, setup.attachment)
        for name, setup in sorted(theirs.items())
        if setup is not None and setup.attachment is not None
    ]


def network_defined_elsewhere(name: str, att: Attachment, theirs: Mapping[str, NetworkSetup | None]) -> HpError | None:
    """Container `name`'s network is one another file's container uses with other settings."""
    for holder, other in _attachments(theirs):
        if other.network == att.network:  # the first by name holds it: it was made with its settings
            if other.conflist == att.conflist:
                return None
            return HpError(
                f"{key_path('containers', name)}.network",
                f"network {att.network} is already in use by container {holder} (another file's) with other settings",
                source="spec",
            )
    return None


def port_published_elsewhere(name: str, att: Attachment, theirs: Mapping[str, NetworkSetup | None]) -> HpError | None:
    """The first host port of container `name` that another file's container publishes too."""
    for i, port in enumerate(att.port_mappings):
        for holder, other in _attachments(theirs):
            if any(ports_overlap(theirs_port, port) for theirs_port in other.port_mappings):
                return HpError(
                    f"{key_path('containers', name)}.ports[{i}]",
                    f"host port {port.host_port}/{port.protocol} is already published by container "
                    f"{holder} (another file's)",
                    source="spec",
                )
    return None


def subnet_on_host_route(hp_file: HpFile, net: Network, routes: Iterable[tuple[str, str]]) -> HpError | None:
    """Network `net`'s subnet overlaps one of the host's routes (compiler.network.parse_routes)
    that is not through its own bridge."""
    clash = route_conflicts(net, routes)
    if not clash:
        return None
    declared = net.name in hp_file.networks
    return HpError(
        f"{key_path('networks', net.name)}.subnet" if declared else "networks",
        f"{net.subnet} overlaps the host's route {clash[0]}"
        + ("" if declared else f" (the default network {net.name}: redefine it with [networks.{net.name}])"),
        source="spec",
    )


def bridge_of_another_network(
    hp_file: HpFile, net: Network, theirs: Mapping[str, NetworkSetup | None]
) -> HpError | None:
    """Network `net`'s bridge is another network's, one another file's container uses: each
    network has its own address store, so one bridge would get the same address twice."""
    declared = hp_file.networks.get(net.name)
    for holder, other in _attachments(theirs):
        if other.bridge != net.bridge:
            continue
        if other.network == net.name:  # the first container by name on the bridge decides
            return None
        where = key_path("networks", net.name) if declared is not None else "networks"
        where += ".bridge" if declared is not None and declared.bridge else ""
        return HpError(
            where,
            f"bridge {quote(net.bridge)} is also network {other.network}'s, used by container "
            f"{holder} (another file's): give each network its own" + default_hint(hp_file, net),
            source="spec",
        )
    return None


def default_hint(hp_file: HpFile, net: Network) -> str:
    """For an error about a network the file does not declare: which one it is, and how to change it."""
    if net.name in hp_file.networks:
        return ""
    return f" (the default network {net.name}: redefine it with [networks.{net.name}])"


def shared_network_problem(
    hp_file: HpFile,
    networks: Mapping[str, ContainerNetwork],
    attachments: Mapping[str, Attachment | None],
    theirs: Mapping[str, NetworkSetup | None],
    routes: Iterable[tuple[str, str]],
) -> HpError | None:
    """The first of these problems, container by container (by name), then network by network:
    a network another file uses with other settings, a host port another file publishes, a
    subnet on one of the host's routes. `networks`: each container's, resolved; `attachments`:
    each container's compiled one (None: not bridged)."""
    used: dict[str, Network] = {}
    for name in sorted(attachments):
        att = attachments[name]
        if att is None:
            continue
        problem = network_defined_elsewhere(name, att, theirs) or port_published_elsewhere(name, att, theirs)
        if problem is not None:
            return problem
        net = networks[name].network
        if net is not None:
            used[net.name] = net
    routes = tuple(routes)
    for net_name in sorted(used):
        problem = subnet_on_host_route(hp_file, used[net_name], routes)
        if problem is not None:
            return problem
    return None
