"""sysctls: only what the container's own namespaces hold (compiler/sysctls.py)."""

from __future__ import annotations

import pytest

from compiler.defaults import defaults
from compiler.errors import HpError
from compiler.sysctls import sysctls

W = "containers.app.sysctls"

GOOD = [
    ("none", None, "bridge", None),
    ("empty", {}, "bridge", None),
    ("net-on-own-network", {"net.ipv4.ip_forward": "1"}, "bridge", {"net.ipv4.ip_forward": "1"}),
    ("net-with-network-none", {"net.ipv4.ping_group_range": "0 0"}, "none", {"net.ipv4.ping_group_range": "0 0"}),
    (
        "ipc-on-host-network",
        {"kernel.shmmax": "1024", "fs.mqueue.msg_max": "20", "kernel.sem": "1 2 3 4", "kernel.msgmnb": "9"},
        "host",
        {"fs.mqueue.msg_max": "20", "kernel.msgmnb": "9", "kernel.sem": "1 2 3 4", "kernel.shmmax": "1024"},
    ),
    ("slash-form", {"net/ipv4/ip_forward": "1"}, "bridge", {"net.ipv4.ip_forward": "1"}),
]


@pytest.mark.parametrize("name,value,mode,expected", GOOD, ids=[g[0] for g in GOOD])
def test_namespaced_sysctls_are_kept_sorted(name, value, mode, expected) -> None:
    result = sysctls(value, mode, W)
    assert result == expected and (result is None or list(result) == sorted(result))


BAD = [
    ("net-on-host", {"net.ipv4.ip_forward": "1"}, "host", f'{W}."net.ipv4.ip_forward"', "would change the host"),
    ("host-kernel", {"kernel.panic": "10"}, "bridge", f'{W}."kernel.panic"', "is not namespaced"),
    ("vm", {"vm.swappiness": "10"}, "none", f'{W}."vm.swappiness"', "is not namespaced"),
    ("not-a-name", {"NET IPV4": "1"}, "bridge", f'{W}."NET IPV4"', "is not a sysctl name"),
    ("newline-value", {"net.core.somaxconn": "1\n2"}, "bridge", f'{W}."net.core.somaxconn"', "one line"),
    ("empty-value", {"kernel.shmmni": ""}, "bridge", f'{W}."kernel.shmmni"', "one line"),
]


@pytest.mark.parametrize("name,value,mode,where,problem", BAD, ids=[b[0] for b in BAD])
def test_anything_else_names_the_key(name, value, mode, where, problem) -> None:
    with pytest.raises(HpError) as error:
        sysctls(value, mode, W)
    assert error.value.where == where and problem in error.value.problem


PING = {"net.ipv4.ping_group_range": "0 0"}
DEFAULTED = [
    ("own-network-gets-it", None, "bridge", PING),
    ("network-none-gets-it", None, "none", PING),
    ("host-network-does-not", None, "host", None),
    ("host-network-keeps-ipc", {"kernel.shmmni": "8192"}, "host", {"kernel.shmmni": "8192"}),
    ("declared-value-wins", {"net.ipv4.ping_group_range": "1 0"}, "bridge", {"net.ipv4.ping_group_range": "1 0"}),
    (
        "merged-sorted",
        {"kernel.shmmni": "8192", "net.ipv4.ip_forward": "1"},
        "bridge",
        {"kernel.shmmni": "8192", "net.ipv4.ip_forward": "1", **PING},
    ),
]


@pytest.mark.parametrize("name,value,mode,expected", DEFAULTED, ids=[d[0] for d in DEFAULTED])
def test_podmans_default_sysctls_apply_where_the_namespace_is_the_containers(name, value, mode, expected) -> None:
    result = sysctls(value, mode, W, dict(defaults().sysctls))
    assert result == expected and (result is None or list(result) == sorted(result))
