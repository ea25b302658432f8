"""A container's address, the pure part: hp chooses the lowest free one and asks host-local for it."""

from __future__ import annotations

import pytest

from compiler import cni
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.network import ContainerNetwork, Network, address_problem, lowest_free_address

CHOICES = {
    "empty network: the first after the gateway": ("10.10.0.0/24", "10.10.0.1", [], "10.10.0.2"),
    "the lowest gap": ("10.10.0.0/24", "10.10.0.1", ["10.10.0.2", "10.10.0.4"], "10.10.0.3"),
    "a stopped container's kept address is not handed out": (
        "10.10.0.0/24",
        "10.10.0.1",
        ["10.10.0.2", "10.10.0.3"],
        "10.10.0.4",
    ),
    "a gateway that is not the first address": ("10.10.0.0/24", "10.10.0.9", [], "10.10.0.1"),
    "skips the gateway in the middle": ("10.10.0.0/24", "10.10.0.2", ["10.10.0.1"], "10.10.0.3"),
    "taken addresses of other networks do not matter": ("10.20.0.0/24", "10.20.0.1", ["10.10.0.2"], "10.20.0.2"),
    "garbage among the taken is ignored": ("10.10.0.0/24", "10.10.0.1", ["", "x", "10.10.0.2"], "10.10.0.3"),
    "a /30: the one host left after the gateway": ("10.10.0.0/30", "10.10.0.1", [], "10.10.0.2"),
    "the last address before the broadcast": (
        "10.10.0.0/29",
        "10.10.0.1",
        [f"10.10.0.{i}" for i in range(2, 6)],
        "10.10.0.6",
    ),
}


@pytest.mark.parametrize("subnet, gateway, taken, expected", CHOICES.values(), ids=CHOICES.keys())
def test_lowest_free_address(subnet: str, gateway: str, taken: list[str], expected: str) -> None:
    assert lowest_free_address("net", subnet, gateway, taken) == expected


FULL = {
    "a /30 with its one host taken": ("10.10.0.0/30", "10.10.0.1", ["10.10.0.2"]),
    "a /29 full": ("10.10.0.0/29", "10.10.0.1", [f"10.10.0.{i}" for i in range(2, 7)]),
    "a /24 full": ("10.10.0.0/24", "10.10.0.1", [f"10.10.0.{i}" for i in range(2, 255)]),
}


@pytest.mark.parametrize("subnet, gateway, taken", FULL.values(), ids=FULL.keys())
def test_a_full_subnet_is_an_error_naming_the_network(subnet: str, gateway: str, taken: list[str]) -> None:
    with pytest.raises(HpError) as e:
        lowest_free_address("backend", subnet, gateway, taken)
    assert str(e.value) == f"network backend: no free address in {subnet}"


PROBLEMS = {
    "a good one": ("10.10.0.7", None),
    "not an address": ("10.10.0.x", '"10.10.0.x" is not an IPv4 address'),
    "an injection into CNI_ARGS": ("10.10.0.7;IP=10.10.0.8", "is not an IPv4 address"),
    "IPv6": ("fd00::7", "is not an IPv4 address"),
    "empty": ("", "is not an IPv4 address"),
    "outside the subnet": ("10.10.1.7", "10.10.1.7 is outside the network's subnet 10.10.0.0/24"),
    "the gateway": ("10.10.0.1", "10.10.0.1 is the subnet's gateway address"),
    "the network address": ("10.10.0.0", "10.10.0.0 is the subnet's network address"),
    "the broadcast address": ("10.10.0.255", "10.10.0.255 is the subnet's broadcast address"),
}


@pytest.mark.parametrize("text, problem", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_a_kept_address_is_checked(text: str, problem: str | None) -> None:
    found = address_problem(text, "10.10.0.0/24", "10.10.0.1")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def _attachment() -> cni.Attachment:
    net = Network("hp", "10.10.0.0/24", "10.10.0.1", "hp0")
    return cni.attachment(Layout("/var/lib/hp"), "web", ContainerNetwork("bridge", net))


def test_add_asks_host_local_for_the_address_and_every_plugin_ignores_what_it_does_not_know() -> None:
    att = _attachment()
    assert (att.subnet, att.gateway, att.gateway_cidr) == ("10.10.0.0/24", "10.10.0.1", "10.10.0.1/24")
    for index in range(len(att.plugins)):
        call = cni.plugin_call(att, "ADD", index, None, "/usr/lib/cni", address="10.10.0.7")
        assert call.env["CNI_ARGS"] == "IgnoreUnknown=1;IP=10.10.0.7"
    assert cni.plugin_call(att, "DEL", 0, None, "/usr/lib/cni").env["CNI_ARGS"] == ""


def test_an_address_that_is_not_one_never_reaches_cni_args() -> None:
    with pytest.raises(ValueError):
        cni.plugin_call(_attachment(), "ADD", 0, None, "/usr/lib/cni", address="10.10.0.7;K8S_POD_NAME=x")


def test_host_locals_reservations_of_other_ids_are_taken(tmp_path) -> None:
    from executor.networking import _reserved_by_others

    for name, text in (
        ("10.10.0.2", "hp-tag-web\r\neth0"),
        ("10.10.0.3", "hp-tag-db\r\neth0"),
        ("last_reserved_ip.0", "10.10.0.3"),
        ("lock", ""),
    ):
        (tmp_path / name).write_bytes(text.encode())
    assert _reserved_by_others(str(tmp_path), "hp-tag-web") == {"10.10.0.3"}
    assert _reserved_by_others(str(tmp_path / "none"), "hp-tag-web") == set()
