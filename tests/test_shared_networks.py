"""compiler/shared_networks.py: what a file cannot see by itself (other files' containers, the host's
routes), decided from facts alone. The real `hp plan` of two files is in
tests/integration/test_hp_network.py::test_network_mistakes_are_plan_time_errors."""

from __future__ import annotations

import pytest

from compiler.cni import network_setup
from compiler.layout import Layout
from compiler.network import container_network
from compiler.shared_networks import (
    bridge_of_another_network,
    network_defined_elsewhere,
    port_published_elsewhere,
    shared_network_problem,
    subnet_on_host_route,
)
from compiler.spec import parse_hp_file

STATE = Layout("/var/lib/hp")


def setups(text: str) -> dict:
    """Each container of hp.toml `text` as the other file's network.json records it."""
    hp = parse_hp_file(text)
    return {name: network_setup(STATE, name, name, container_network(hp, name)) for name in sorted(hp.containers)}


def mine(text: str):
    hp = parse_hp_file(text)
    nets = {name: container_network(hp, name) for name in hp.containers}
    atts = {name: network_setup(STATE, name, name, nets[name]).attachment for name in hp.containers}
    return hp, nets, atts


LAN = '[networks.lan]\nsubnet = "10.30.0.0/24"\nbridge = "hplan"\n'
THEIRS = setups(
    LAN + '[containers.a]\nimage = "x"\nnetwork = "lan"\nports = ["127.0.0.1:8080:80"]\n'
    '[containers.b]\nimage = "x"\nnetwork = "none"\n'
)


@pytest.mark.parametrize(
    "ports, clash",
    [
        ('["8080:80"]', True),  # all addresses include 127.0.0.1
        ('["127.0.0.1:8080:80"]', True),
        ('["127.0.0.2:8080:80"]', False),  # another address
        ('["8080:80/udp"]', False),  # another protocol
        ('["8081:80"]', False),
    ],
    ids=["any-address", "same-address", "other-address", "other-protocol", "other-port"],
)
def test_a_port_another_file_publishes(ports, clash) -> None:
    _, _, atts = mine(f'[containers.web]\nimage = "x"\nports = {ports}\n')
    problem = port_published_elsewhere("web", atts["web"], THEIRS)
    assert (problem is not None) == clash
    if clash:
        assert problem is not None
        assert (problem.where, problem.problem) == (
            "containers.web.ports[0]",
            "host port 8080/tcp is already published by container a (another file's)",
        )


def test_a_network_another_file_uses_with_other_settings() -> None:
    _, _, same = mine(LAN + '[containers.web]\nimage = "x"\nnetwork = "lan"\n')
    assert network_defined_elsewhere("web", same["web"], THEIRS) is None
    _, _, other = mine(
        '[networks.lan]\nsubnet = "10.31.0.0/24"\nbridge = "hplan"\n[containers.web]\nimage = "x"\nnetwork = "lan"\n'
    )
    problem = network_defined_elsewhere("web", other["web"], THEIRS)
    assert problem is not None and problem.where == "containers.web.network"
    assert "network lan is already in use by container a (another file's) with other settings" == problem.problem


def test_a_bridge_another_network_has() -> None:
    hp, nets, _ = mine(
        '[networks.wan]\nsubnet = "10.32.0.0/24"\nbridge = "hplan"\n[containers.web]\nimage = "x"\nnetwork = "wan"\n'
    )
    problem = bridge_of_another_network(hp, nets["web"].network, THEIRS)
    assert problem is not None and problem.where == "networks.wan.bridge"
    assert problem.problem.startswith('bridge "hplan" is also network lan\'s, used by container a')
    hp, nets, _ = mine(LAN + '[containers.web]\nimage = "x"\nnetwork = "lan"\n')
    assert bridge_of_another_network(hp, nets["web"].network, THEIRS) is None


@pytest.mark.parametrize(
    "route, clash",
    [
        (("10.10.0.0/16", "eth0"), "10.10.0.0/16 dev eth0"),
        (("10.10.0.0/24", "hp0"), None),  # the network's own bridge
        (("192.168.1.0/24", "eth0"), None),
    ],
)
def test_the_default_network_on_a_host_route(route, clash) -> None:
    hp, nets, _ = mine('[containers.web]\nimage = "x"\n')
    problem = subnet_on_host_route(hp, nets["web"].network, (route,))
    assert (problem.problem if problem else None) == (
        f"10.10.0.0/24 overlaps the host's route {clash} (the default network hp: redefine it with [networks.hp])"
        if clash
        else None
    )
    assert problem is None or problem.where == "networks"


def test_problems_come_container_by_container_then_network_by_network() -> None:
    hp, nets, atts = mine(
        '[containers.web]\nimage = "x"\nports = ["8080:80"]\n[containers.alone]\nimage = "x"\nnetwork = "none"\n'
    )
    routes = (("10.10.0.0/16", "eth0"),)
    first = shared_network_problem(hp, nets, atts, THEIRS, routes)
    assert first is not None and first.where == "containers.web.ports[0]"
    network = shared_network_problem(hp, nets, atts, {}, routes)
    assert network is not None and network.where == "networks"
    assert shared_network_problem(hp, nets, atts, {}, ()) is None
