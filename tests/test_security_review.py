"""The security review (issue 13, item 6): compiler.security's escalations of a container, and how
compiler.plan shows them for a create and a replace (text and JSON) and what --deny-escalation
counts. Pure: configs compiled from hp.toml text against fixed host facts (a /dev/fuse, a custom
profile ./p.json). The real `hp plan` runs are in tests/integration/test_security_plan.py."""

from __future__ import annotations

import json

import msgspec
import pytest

from compiler import (
    HostDevice,
    HostFile,
    ImageFacts,
    compile_container,
    encode_config,
    parse_hp_file,
    parse_image_config,
)
from compiler.capabilities import ALL_CAPABILITIES
from compiler.defaults import defaults
from compiler.plan import Current, Desired, escalating, plan, render_plan
from compiler.saved_plan import Fingerprint, open_saved, seal
from compiler.security import Escalation, escalations, review_replace

from .host_facts import TEST_HOST

IMAGE = parse_image_config(json.dumps({"os": "linux", "config": {"Cmd": ["sleep", "60"], "User": "1000:1000"}}))
ID = "sha256:" + "1" * 64
VOLUMES = "/var/lib/hp/volumes"
FUSE = HostDevice("/dev/fuse", "c", 10, 229, 0o666, 0, 0)
PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW"}],
}
HOST = msgspec.structs.replace(
    TEST_HOST,
    devices={"/dev/fuse": FUSE},
    all_devices=(FUSE,),
    seccomp_files={"./p.json": HostFile("/srv/p.json", json.dumps(PROFILE))},
)


def compiled(extra: str = "", name: str = "web") -> dict:
    """The config.json of a container (non-root by its image) as a dict."""
    spec = parse_hp_file(f'[containers.{name}]\nimage = "localhost/app:1"\n{extra}').containers[name]
    return json.loads(encode_config(compile_container(name, spec, ImageFacts(IMAGE), volumes_dir=VOLUMES, host=HOST)))


def encoded(config: dict) -> bytes:
    return json.dumps(config, indent=2).encode() + b"\n"


def desired(config: dict, seccomp: str = "default") -> Desired:
    return Desired("localhost/app:1", ID, encoded(config), seccomp=seccomp)


def current(config: dict) -> Current:
    return Current("localhost/app:1", ID, encoded(config), "running")


# each kind of escalation: (id, the container's config, seccomp as hp.toml says, the item, its line)
# (privileged is listed with its seccomp: none by default, as podman's --privileged)
KINDS = [
    (
        "capability",
        compiled('cap_add = ["NET_ADMIN", "chown"]'),
        "default",
        Escalation("capability", "CAP_NET_ADMIN"),
        "capability CAP_NET_ADMIN (not in hp's default set)",
    ),
    (
        "privileged",
        compiled("privileged = true"),
        "default",
        Escalation("privileged"),
        "privileged: every capability, the host's devices, no masked or read-only paths, /sys writable",
    ),
    (
        "seccomp-unconfined",
        compiled('seccomp = "unconfined"'),
        "unconfined",
        Escalation("seccomp", "unconfined"),
        "seccomp unconfined: no syscall filter",
    ),
    (
        "seccomp-custom",
        compiled('seccomp = "./p.json"'),
        "./p.json",
        Escalation("seccomp", "./p.json"),
        "seccomp profile ./p.json",
    ),
    (
        "device",
        compiled('devices = ["/dev/fuse:/dev/fuse:rw"]'),
        "default",
        Escalation("device", "/dev/fuse (c 10:229 rw)"),
        "device /dev/fuse (c 10:229 rw)",
    ),
    (
        "host-network",
        compiled('network = "host"'),
        "default",
        Escalation("host-network"),
        "host network: the host's interfaces and ports, no network namespace of its own",
    ),
    (
        "bind-mount-rw",
        compiled('mounts = [{ type = "bind", source = "/srv/data", target = "/data" }]'),
        "default",
        Escalation("bind-mount", "/srv/data at /data (read-write)"),
        "bind mount of host path /srv/data at /data (read-write)",
    ),
    (
        "bind-mount-ro",
        compiled('mounts = [{ type = "bind", source = "/etc/ssl", target = "/ssl", readonly = true }]'),
        "default",
        Escalation("bind-mount", "/etc/ssl at /ssl (read-only)"),
        "bind mount of host path /etc/ssl at /ssl (read-only)",
    ),
    (
        "sysctl",
        compiled('sysctls = { "net.ipv4.ip_forward" = "1" }'),
        "default",
        Escalation("sysctl", "net.ipv4.ip_forward=1"),
        "sysctl net.ipv4.ip_forward=1",
    ),
    ("root", compiled('user = "0"'), "default", Escalation("root"), "runs as root (uid 0)"),
]


def test_a_default_container_has_none_and_its_create_shows_no_security_heading() -> None:
    config = compiled()
    assert escalations(encoded(config), volumes_dir=VOLUMES) == ()
    p = plan({"web": desired(config)}, {})
    assert p.changes[0].security == () and "security" not in render_plan(p)
    assert escalating(p) == ()


@pytest.mark.parametrize("config, seccomp, item, line", [k[1:] for k in KINDS], ids=[k[0] for k in KINDS])
def test_each_kind_is_listed_in_a_creates_text_and_json(
    config: dict, seccomp: str, item: Escalation, line: str
) -> None:
    p = plan({"web": desired(config, seccomp)}, {}, volumes_dir=VOLUMES)
    change = p.changes[0]
    items = (item, Escalation("seccomp", "unconfined")) if item.kind == "privileged" else (item,)
    assert change.security == items and change.security_added == items and change.security_removed == ()
    assert item.line == line
    text = render_plan(p)
    assert f"          security:\n            {line}\n" in text
    as_json = json.loads(msgspec.json.encode(p))["changes"][0]
    assert as_json["security"] == [{"kind": e.kind, "detail": e.detail} for e in items] == as_json["security_added"]
    assert as_json["security_removed"] == []
    # --deny-escalation: every added item of a create counts, but a root user (most images run as root)
    assert escalating(p) == (() if item.kind == "root" else tuple(("web", e) for e in items))


def test_all_kinds_at_once_are_sorted_and_privileged_holds_its_own_grants() -> None:
    config = compiled(
        'privileged = true\nuser = "0"\nnetwork = "host"\nsysctls = { "kernel.shmmax" = "1" }\n'
        'mounts = [{ type = "bind", source = "/srv", target = "/srv" }]\ncap_add = ["NET_ADMIN"]'
    )
    assert escalations(encoded(config)) == (
        Escalation("privileged"),
        Escalation("seccomp", "unconfined"),
        Escalation("host-network"),
        Escalation("bind-mount", "/srv at /srv (read-write)"),
        Escalation("sysctl", "kernel.shmmax=1"),
        Escalation("root"),
    )


def test_capabilities_are_the_final_bounding_set_beyond_the_defaults() -> None:
    assert escalations(encoded(compiled('cap_add = ["CHOWN", "KILL"]'))) == ()  # already default
    assert escalations(encoded(compiled('cap_drop = ["CHOWN"]'))) == ()
    every = escalations(encoded(compiled('cap_add = ["ALL"]')))
    assert every == tuple(
        Escalation("capability", c) for c in sorted(ALL_CAPABILITIES) if c not in defaults().capabilities
    )
    assert escalations(encoded(compiled('cap_add = ["SYS_ADMIN"]\nuser = "0"'))) == (
        Escalation("capability", "CAP_SYS_ADMIN"),
        Escalation("root"),
    )


def test_volumes_and_the_bundles_own_files_are_not_host_paths_but_a_bind_of_the_state_dir_is() -> None:
    config = compiled(
        'mounts = [{ type = "volume", source = "db", target = "/db" },\n'
        '  { type = "tmpfs", target = "/tmp" },\n'
        '  { type = "bind", source = "/var/lib/hp", target = "/state", readonly = true }]\n'
        "keep_alive = true"
    )
    assert escalations(encoded(config), volumes_dir=VOLUMES) == (
        Escalation("bind-mount", "/var/lib/hp at /state (read-only)"),
    )


def test_a_replace_that_adds_net_admin_says_so_and_is_denied() -> None:
    p = plan({"web": desired(compiled('cap_add = ["NET_ADMIN"]'))}, {"web": current(compiled())})
    change = p.changes[0]
    assert change.action == "replace"
    assert change.security_added == (Escalation("capability", "CAP_NET_ADMIN"),) and change.security_removed == ()
    assert "          security:\n            + capability CAP_NET_ADMIN (not in hp's default set)\n" in render_plan(p)
    assert escalating(p) == (("web", Escalation("capability", "CAP_NET_ADMIN")),)


def test_a_replace_that_only_tightens_says_what_it_removes_and_is_not_denied() -> None:
    before = compiled(
        'cap_add = ["NET_ADMIN"]\nuser = "0"\nmounts = [{ type = "bind", source = "/srv/data", target = "/data" }]'
    )
    p = plan({"web": desired(compiled('user = "0"'))}, {"web": current(before)})
    change = p.changes[0]
    assert change.security == (Escalation("root"),) and change.security_added == ()
    assert change.security_removed == (
        Escalation("capability", "CAP_NET_ADMIN"),
        Escalation("bind-mount", "/srv/data at /data (read-write)"),
    )
    text = render_plan(p)
    assert (
        "          security:\n            - capability CAP_NET_ADMIN (not in hp's default set)\n"
        "            - bind mount of host path /srv/data at /data (read-write)\n"
    ) in text
    assert "runs as root" not in text  # kept: a replace shows only what it changes
    assert escalating(p) == ()


def test_a_replace_that_keeps_every_escalation_shows_no_security_heading() -> None:
    extra = 'cap_add = ["NET_ADMIN"]\nseccomp = "./p.json"\n'
    p = plan({"web": desired(compiled(extra + 'memory = "64m"'), "./p.json")}, {"web": current(compiled(extra))})
    change = p.changes[0]
    assert change.action == "replace" and change.security_added == change.security_removed == ()
    assert change.security == (Escalation("capability", "CAP_NET_ADMIN"), Escalation("seccomp", "./p.json"))
    assert "security:" not in render_plan(p) and escalating(p) == ()


def test_a_replace_that_makes_a_container_root_is_denied() -> None:
    p = plan({"web": desired(compiled('user = "0"'))}, {"web": current(compiled())})
    assert escalating(p) == (("web", Escalation("root")),)


def test_the_recorded_seccomp_profile_is_known_only_when_it_is_the_planned_one() -> None:
    custom = compiled('seccomp = "./p.json"')
    # default -> a custom profile: added
    to_custom = review_replace(encoded(compiled()), encoded(custom), seccomp="./p.json")
    assert to_custom.added == (Escalation("seccomp", "./p.json"),) and to_custom.removed == ()
    # a custom profile -> default: the record does not say which profile it had, so nothing is listed
    assert review_replace(encoded(custom), encoded(compiled()), seccomp="default").removed == ()
    # a custom profile -> unconfined
    off = review_replace(encoded(custom), encoded(compiled('seccomp = "unconfined"')), seccomp="unconfined")
    assert off.added == (Escalation("seccomp", "unconfined"),)
    # unconfined -> the default profile: tightening
    on = review_replace(encoded(compiled('seccomp = "unconfined"')), encoded(compiled()), seccomp="default")
    assert (on.added, on.removed) == ((), (Escalation("seccomp", "unconfined"),))


def test_privileged_neither_adds_nor_removes_what_it_grants() -> None:
    all_caps = compiled('cap_add = ["ALL"]')
    to_privileged = review_replace(encoded(all_caps), encoded(compiled("privileged = true")))
    unconfined = Escalation("seccomp", "unconfined")
    assert (to_privileged.added, to_privileged.removed) == ((Escalation("privileged"), unconfined), ())
    back = review_replace(encoded(compiled("privileged = true")), encoded(compiled('cap_add = ["NET_ADMIN"]')))
    assert (back.added, back.removed) == ((), (Escalation("privileged"), unconfined))


def test_a_replace_whose_recorded_config_is_lost_adds_everything() -> None:
    config = compiled('cap_add = ["NET_ADMIN"]')
    p = plan({"web": desired(config)}, {"web": Current("localhost/app:1", ID, b"", "running")})
    assert p.changes[0].security_added == (Escalation("capability", "CAP_NET_ADMIN"),)
    assert review_replace(b"not json", encoded(config)).added == (Escalation("capability", "CAP_NET_ADMIN"),)


def test_restores_updates_and_destroys_have_no_review() -> None:
    config = compiled('cap_add = ["NET_ADMIN"]')
    stopped = msgspec.structs.replace(current(config), status="stopped")
    p = plan({"web": desired(config)}, {"web": stopped, "old": current(config)})
    assert {c.action for c in p.changes} == {"restore", "destroy"}
    assert all(c.security == c.security_added == () for c in p.changes) and escalating(p) == ()


def test_a_saved_plan_keeps_the_review() -> None:
    p = plan({"web": desired(compiled('cap_add = ["NET_ADMIN"]'))}, {})
    fingerprint = Fingerprint("0.1.0", "/srv/hp.toml", "sha256:" + "0" * 64, "/var/lib/hp", 0, {}, False)
    opened = open_saved(seal(fingerprint, p), "p.plan")
    assert opened.plan == p and opened.plan.changes[0].security == (Escalation("capability", "CAP_NET_ADMIN"),)


def test_a_privileged_containers_profile_file_still_applies_and_is_listed() -> None:
    assert escalations(encoded(compiled('privileged = true\nseccomp = "./p.json"')), seccomp="./p.json") == (
        Escalation("privileged"),
        Escalation("seccomp", "./p.json"),
    )


def test_a_device_rule_beyond_hp_s_defaults_without_a_node_is_listed() -> None:
    config = compiled()
    rules = [*config["linux"]["resources"]["devices"], {"allow": True, "type": "c", "major": 10, "access": "rwm"}]
    config["linux"]["resources"]["devices"] = rules
    assert escalations(encoded(config)) == (Escalation("device", "access c 10:* rwm"),)


@pytest.mark.parametrize("recorded", [b"[]", b"{}", b'{"process": {}, "linux": 3}', b'{"mounts": [1]}'])
def test_a_recorded_config_of_another_shape_counts_as_having_none(recorded: bytes) -> None:
    config = compiled('cap_add = ["NET_ADMIN"]')
    assert review_replace(recorded, encoded(config)).added == (Escalation("capability", "CAP_NET_ADMIN"),)


def test_hp_s_default_sysctl_is_not_listed_but_another_value_of_it_is() -> None:
    assert compiled()["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0"}
    assert escalations(encoded(compiled())) == ()
    wider = compiled('sysctls = { "net.ipv4.ping_group_range" = "0 2147483647" }')
    assert escalations(encoded(wider)) == (Escalation("sysctl", "net.ipv4.ping_group_range=0 2147483647"),)


def test_a_device_node_hp_allows_anyway_is_still_listed_with_its_access() -> None:
    null = HostDevice("/dev/null", "c", 1, 3, 0o666, 0, 0)
    host = msgspec.structs.replace(HOST, devices={"/dev/null": null})
    spec = parse_hp_file('[containers.web]\nimage = "a:1"\ndevices = ["/dev/null:/dev/null2"]').containers["web"]
    config = encode_config(compile_container("web", spec, ImageFacts(IMAGE), host=host))
    assert escalations(config) == (Escalation("device", "/dev/null2 (c 1:3 rwm)"),)
