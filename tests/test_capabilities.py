"""process.capabilities (compiler/capabilities.py), against issue 2's rule: podman's default
set (stated once, in test_default_set_is_podmans; the other tests take it from
compiler.defaults) with cap_add / cap_drop (with or without CAP_, any case,
ALL); a non-root user gets them in the bounding set only. Also runtime-tools'
invariants (oci-conversion.md §2.1, pitfall 17): effective ⊆ permitted, ambient ⊆
permitted ∩ inheritable; names are CAP_-prefixed upper case. docs/conversion.md: a
capability in both lists is an error; sets are written sorted; what cap_add names is
given to a non-root user in every set (podman).
"""

from __future__ import annotations

import pytest

from compiler.capabilities import ALL_CAPABILITIES, Capabilities, canonical, capability_sets
from compiler.defaults import defaults
from compiler.errors import HpError

WHERE = "containers.web"
DEFAULT = defaults().capabilities  # what it is: test_default_set_is_podmans


def sets(add=(), drop=(), *, root=True) -> Capabilities:
    return capability_sets(DEFAULT, list(add), list(drop), root=root, where=WHERE)


def check_invariants(caps: Capabilities) -> None:
    for name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        values = getattr(caps, name)
        assert list(values) == sorted(set(values)), f"{name} not sorted/unique: {values}"
        assert all(v in ALL_CAPABILITIES for v in values)
    assert set(caps.effective) <= set(caps.permitted)
    assert set(caps.ambient) <= set(caps.permitted) & set(caps.inheritable)
    assert set(caps.permitted) <= set(caps.bounding)


def test_default_set_is_podmans() -> None:
    """The pin: podman's default_capabilities (containers.conf), stated here and nowhere else."""
    assert sorted(DEFAULT) == [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ]


def test_all_capabilities_is_the_kernels_list() -> None:
    assert len(ALL_CAPABILITIES) == len(set(ALL_CAPABILITIES)) == 41
    assert ALL_CAPABILITIES[0] == "CAP_CHOWN" and ALL_CAPABILITIES[-1] == "CAP_CHECKPOINT_RESTORE"
    assert {"CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_BPF", "CAP_PERFMON"} <= set(
        ALL_CAPABILITIES
    )


@pytest.mark.parametrize(
    "name, expected",
    [
        ("NET_ADMIN", "CAP_NET_ADMIN"),
        ("net_admin", "CAP_NET_ADMIN"),
        ("Net_Admin", "CAP_NET_ADMIN"),
        ("CAP_NET_ADMIN", "CAP_NET_ADMIN"),
        ("cap_net_admin", "CAP_NET_ADMIN"),
        ("ALL", "ALL"),
        ("all", "ALL"),
        ("All", "ALL"),
        ("checkpoint_restore", "CAP_CHECKPOINT_RESTORE"),
    ],
    ids=["bare", "lower", "mixed", "prefixed", "prefixed-lower", "all", "all-lower", "all-mixed", "newest"],
)
def test_canonical(name: str, expected: str) -> None:
    assert canonical(name, "x") == expected


@pytest.mark.parametrize(
    "name",
    ["", "CAP_", "NET_ADMINX", "NETADMIN", "CAP_CAP_NET_ADMIN", " NET_ADMIN", "NET ADMIN", "SYS-ADMIN", "ALL_"],
    ids=[
        "empty",
        "prefix-only",
        "typo",
        "no-underscore",
        "double-prefix",
        "leading-space",
        "space",
        "dash",
        "all-underscore",
    ],
)
def test_canonical_unknown(name: str) -> None:
    with pytest.raises(HpError) as info:
        canonical(name, "containers.web.cap_add[0]")
    assert info.value.where == "containers.web.cap_add[0]"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "add, drop, expected",
    [
        ((), (), set(DEFAULT)),
        ((), ("CHOWN",), set(DEFAULT) - {"CAP_CHOWN"}),
        (("NET_ADMIN",), (), set(DEFAULT) | {"CAP_NET_ADMIN"}),
        (
            ("net_admin", "CAP_NET_RAW"),
            ("cap_chown", "Kill"),
            set(DEFAULT) - {"CAP_CHOWN", "CAP_KILL"} | {"CAP_NET_ADMIN", "CAP_NET_RAW"},
        ),
        (("CHOWN",), (), set(DEFAULT)),
        ((), ("SYS_ADMIN",), set(DEFAULT)),
        ((), ("ALL",), set()),
        (("NET_ADMIN",), ("ALL",), {"CAP_NET_ADMIN"}),
        (("ALL",), (), set(ALL_CAPABILITIES)),
        (("ALL",), ("SYS_ADMIN", "NET_RAW"), set(ALL_CAPABILITIES) - {"CAP_SYS_ADMIN", "CAP_NET_RAW"}),
        (("NET_ADMIN", "net_admin", "CAP_NET_ADMIN"), (), set(DEFAULT) | {"CAP_NET_ADMIN"}),
        ((), ("CHOWN", "chown"), set(DEFAULT) - {"CAP_CHOWN"}),
    ],
    ids=[
        "defaults",
        "drop-one",
        "add-one",
        "mixed-spellings",
        "add-already-default",
        "drop-not-present",
        "drop-all",
        "drop-all-then-add",
        "add-all",
        "add-all-minus-drops",
        "add-duplicates",
        "drop-duplicates",
    ],
)
def test_root_gets_the_set_in_bounding_effective_permitted(add, drop, expected: set[str]) -> None:
    caps = sets(add, drop, root=True)
    assert caps.bounding == tuple(sorted(expected))
    assert caps.effective == caps.bounding
    assert caps.permitted == caps.bounding
    assert caps.inheritable == ()
    assert caps.ambient == ()
    check_invariants(caps)


@pytest.mark.parametrize(
    "add, drop, bounding, explicit",
    [
        ((), (), set(DEFAULT), set()),
        ((), ("CHOWN",), set(DEFAULT) - {"CAP_CHOWN"}, set()),
        (("NET_BIND_SERVICE",), (), set(DEFAULT), {"CAP_NET_BIND_SERVICE"}),
        (("NET_ADMIN",), ("ALL",), {"CAP_NET_ADMIN"}, {"CAP_NET_ADMIN"}),
        (
            ("ALL",),
            ("SYS_ADMIN",),
            set(ALL_CAPABILITIES) - {"CAP_SYS_ADMIN"},
            set(ALL_CAPABILITIES) - {"CAP_SYS_ADMIN"},
        ),
        ((), ("ALL",), set(), set()),
    ],
    ids=["defaults", "drop-one", "add-one", "drop-all-add-one", "add-all-minus-one", "drop-all"],
)
def test_non_root_gets_the_set_in_bounding_only(add, drop, bounding: set[str], explicit: set[str]) -> None:
    caps = sets(add, drop, root=False)
    assert caps.bounding == tuple(sorted(bounding))
    for name in ("effective", "inheritable", "permitted", "ambient"):
        assert getattr(caps, name) == tuple(sorted(explicit)), name
    check_invariants(caps)


@pytest.mark.parametrize(
    "add, drop, where",
    [
        (("NET_ADMIN",), ("NET_ADMIN",), "containers.web.cap_add"),
        (("net_admin",), ("CAP_NET_ADMIN",), "containers.web.cap_add"),
        (("ALL",), ("ALL",), "containers.web.cap_add"),
        (("NET_ADMIN", "BOGUS"), (), "containers.web.cap_add[1]"),
        ((), ("CHOWN", "KILL", "nope"), "containers.web.cap_drop[2]"),
    ],
    ids=["same-in-both", "same-in-both-different-spelling", "all-in-both", "unknown-add", "unknown-drop"],
)
def test_errors(add, drop, where: str) -> None:
    with pytest.raises(HpError) as info:
        sets(add, drop)
    assert info.value.where == where
    assert "\n" not in str(info.value)


def test_order_of_the_lists_does_not_matter() -> None:
    a = sets(("NET_ADMIN", "SYS_TIME", "MKNOD"), ("CHOWN", "KILL"), root=False)
    b = sets(("mknod", "sys_time", "net_admin"), ("kill", "chown"), root=False)
    assert a == b


def test_result_is_independent_of_the_default_order() -> None:
    forward = capability_sets(DEFAULT, ["NET_ADMIN"], ["CHOWN"], root=True, where=WHERE)
    backward = capability_sets(tuple(reversed(DEFAULT)), ["NET_ADMIN"], ["CHOWN"], root=True, where=WHERE)
    assert forward == backward
