"""compiler/bundle.py: a container's directory as one value. What the executor writes is this
value (tests/integration: test_plan_apply, test_keepalive, test_volumes run it); these tests
hold the value to what crun and the rest of hp read from it."""

from __future__ import annotations

import json

import msgspec

from compiler import ImageFacts, compile_container, parse_image_config
from compiler.bundle import container_bundle
from compiler.cni import decode_setup, network_setup
from compiler.layout import Layout
from compiler.network import container_network
from compiler.oci import RuntimeConfig
from compiler.spec import parse_hp_file

from .host_facts import TEST_HOST

STATE = Layout("/var/lib/hp")
IMAGE = parse_image_config(json.dumps({"os": "linux", "config": {"Cmd": ["sleep", "60"], "Volumes": {"/data": {}}}}))
FILE = """
[volumes.shared]
[containers.web]
image = "busybox"
keep_alive = true
mounts = [{ type = "volume", source = "shared", target = "/srv" }]
"""


def web_bundle(text: str = FILE):
    hp = parse_hp_file(text)
    spec = hp.containers["web"]
    config = compile_container(
        "web",
        spec,
        ImageFacts(IMAGE),
        netns_path=STATE.netns("web"),
        cgroup_name=STATE.cgroup_name("web"),
        volumes_dir=STATE.volumes_dir,
        host=TEST_HOST,
    )
    net = container_network(hp, "web")
    setup = network_setup(STATE, "web", "web", net)
    return (
        config,
        setup,
        container_bundle(STATE, "web", config, net, setup, "nameserver 192.0.2.53\n", keep_alive=spec.keep_alive),
    )


def test_every_file_config_json_binds_from_the_bundle_is_in_it() -> None:
    config, _, bundle = web_bundle()
    relative = {m.source for m in config.mounts if m.type == "bind" and not m.source.startswith("/")}
    assert relative == {"hostname", "hosts", "resolv.conf", "hp-init"}  # crun resolves them in the bundle
    in_bundle = {name for name, _ in bundle.bundle_files} | {h.path.rsplit("/", 1)[1] for h in bundle.helpers}
    assert relative <= in_bundle
    assert all(h.path.startswith(f"{bundle.oci_bundle}/") for h in bundle.helpers)


def test_the_config_written_is_the_config_compiled() -> None:
    config, setup, bundle = web_bundle()
    assert msgspec.json.decode(bundle.config_json, type=RuntimeConfig) == config
    assert decode_setup(bundle.content(STATE.network_file("web"))) == setup
    assert bundle.content(STATE.bundle_file("web", "hosts")).decode().startswith("127.0.0.1\tlocalhost")


def test_every_path_is_in_the_containers_directory_and_made_before_its_files() -> None:
    _, _, bundle = web_bundle()
    made = [bundle.root]
    for directory in bundle.directories:
        assert directory.rsplit("/", 1)[0] in made  # its parent exists when it is made
        made.append(directory)
    for path in (*(f.path for f in bundle.files), *(h.path for h in bundle.helpers), bundle.record):
        assert path.rsplit("/", 1)[0] in made
    assert STATE.rootfs("web") in made and bundle.root == STATE.container_dir("web")


def test_staging_moves_the_directory_but_not_the_volumes() -> None:
    _, _, bundle = web_bundle()
    staged = bundle.under("/var/lib/hp/containers/.new-web-x")
    assert staged.config_json == bundle.config_json
    assert staged.record == "/var/lib/hp/containers/.new-web-x/container.json"
    assert staged.bundle_files == bundle.bundle_files
    assert staged.volumes == bundle.volumes


def test_the_volumes_are_those_config_json_mounts_with_how_each_is_made() -> None:
    config, _, bundle = web_bundle()
    sources = {m.source for m in config.mounts if m.source.startswith(f"{STATE.volumes_dir}/")}
    assert {STATE.volume_data(use.origin.name) for use in bundle.volumes} == sources
    kinds = {use.destination: (use.origin.kind, use.origin.target) for use in bundle.volumes}
    assert kinds == {"/data": ("image", "/data"), "/srv": ("named", "")}


def test_without_keep_alive_no_helper() -> None:
    _, _, bundle = web_bundle(FILE.replace("keep_alive = true", "keep_alive = false"))
    assert bundle.helpers == ()
