"""Volumes (issue 10): image volumes and named volumes live in STATE/volumes, outside every
container directory, are filled from the image once, and outlive replaces, destroys and an
apply killed at any step. Real podman, crun and overlay; traffic only to the local registry."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.layout import Layout
from compiler.volumes import image_volume_name

from .hprun import hp, leftovers, ps, write_file
from .registry import IMAGES, ImageSpec, local_images, podman_rmi, push_test_images
from .test_hp_network import free_subnet


@pytest.fixture(scope="module")
def other_sleeper(registry, test_image_namespace, tmp_path_factory) -> Iterator[str]:
    """The sleeper image again with one more ENV: another image ID, the same VOLUME /data."""
    sleeper = next(spec for spec in IMAGES if spec.name == "sleeper")
    namespace = f"{test_image_namespace}-vol"
    spec = ImageSpec("sleeper2", sleeper.changes + ("ENV OTHER=1",))
    refs = push_test_images(registry, tmp_path_factory.mktemp("vol-images"), namespace, (spec,))
    try:
        yield refs["sleeper2"]
    finally:
        podman_rmi(*local_images(f"{registry.host}/{namespace}/"))


def sh(state: Path, name: str, script: str) -> str:
    return hp("exec", name, "--", "sh", "-c", script, state=state, check=True).stdout


NET = "vols"


def network() -> str:
    """A network of the test's own (not the default hp0, which another state dir's tests may hold)."""
    return f'[networks.{NET}]\nsubnet = "{free_subnet()}"\nbridge = "hpv{uuid.uuid4().hex[:8]}"\n\n'


def toml(image: str, name: str, extra: str = "") -> str:
    return f'[containers.{name}]\nimage = "{image}"\nnetwork = "{NET}"\n{extra}\n'


def volume_entries(state: Path) -> list[str]:
    volumes = Layout(str(state)).volumes_dir
    return sorted(os.listdir(volumes)) if os.path.exists(volumes) else []


def test_image_volume_is_filled_once_and_survives_replaces_and_destroy(
    tmp_path, state, registry, test_images, other_sleeper
) -> None:
    name = f"v-{uuid.uuid4().hex[:6]}"
    volume = image_volume_name(name, "/data")
    where = Layout(str(state))
    data = Path(where.volume_data(volume))
    net = network() + "[volumes.home]\n\n"
    mount = 'mounts = [{ type = "volume", source = "home", target = "/home/app" }]\n'
    file = write_file(tmp_path, registry, net + toml(test_images["sleeper"], name, mount))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        # filled from the image: its owner, mode and content at /data
        assert (
            sh(state, name, "stat -c '%u:%g %a' /data; cat /data/seed >/dev/null && echo seed")
            == "1000:1000 755\nseed\n"
        )
        sh(state, name, "echo one > /data/mine; rm /data/seed; echo two > /home/app/named")
        assert (data / "mine").read_text() == "one\n"
        assert not list(Path(where.container_dir(name)).rglob("mine"))  # outside the container's directory

        # a replace for an env change, then for a new image: the same data, never filled again
        for text in (toml(test_images["sleeper"], name, mount + 'env = { V = "2" }'), toml(other_sleeper, name, mount)):
            file = write_file(tmp_path, registry, net + text)
            applied = hp("apply", str(file), "--yes", state=state)
            assert applied.returncode == 0 and "1 replaced" in applied.stderr, applied.stdout + applied.stderr
            assert sh(state, name, "cat /data/mine /home/app/named; ls /data") == "one\ntwo\nmine\n"

        # destroy keeps it; the container that comes back gets it
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert (data / "mine").read_text() == "one\n"
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert sh(state, name, "cat /data/mine /home/app/named; ls /data") == "one\ntwo\nmine\n"
        assert volume_entries(state) == sorted(["home", volume])
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


REPLACE_POINTS = [
    "removing",
    "after-stop",
    "after-gone",
    "after-dir",
    "after-mount",
    "after-netns",
    "after-cni-add",
    "after-crun-create",
    "after-start",
]


@pytest.mark.parametrize("point", REPLACE_POINTS)
def test_replace_killed_at_any_point_keeps_the_volume_data_once(point, tmp_path, state, registry, test_images) -> None:
    name = f"k-{uuid.uuid4().hex[:6]}"
    image = test_images["sleeper"]
    net = network() + "[volumes.home]\n\n"
    mount = 'mounts = [{ type = "volume", source = "home", target = "/home/app" }]\n'
    file = write_file(tmp_path, registry, net + toml(image, name, mount + 'env = { V = "1" }'))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        sh(state, name, "echo kept >> /data/log; echo named >> /home/app/log")
        file = write_file(tmp_path, registry, net + toml(image, name, mount + 'env = { V = "2" }'))
        killed = hp("apply", str(file), "--yes", state=state, env={"HP_KILL_AT": point})
        assert killed.returncode == -9, (killed.returncode, killed.stderr)
        finished = hp("apply", str(file), "--yes", state=state)
        assert finished.returncode == 0, finished.stderr
        assert ps(state)[name]["status"] == "running"
        # there, exactly once, in the new one; no half-made or second volume
        assert sh(state, name, "cat /data/log /home/app/log; echo $V") == "kept\nnamed\n2\n"
        assert volume_entries(state) == sorted(["home", image_volume_name(name, "/data")])
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_named_volume_is_filled_once_shared_and_survives_replace_and_destroy(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    a, b, volume = f"a-{s}", f"b-{s}", f"shared-{s}"
    image = test_images["sleeper"]
    mount = f'mounts = [{{ type = "volume", source = "{volume}", target = "/data" }}]'

    net = network()

    def text(env: str = "1") -> str:
        return (
            net
            + f"[volumes.{volume}]\n\n"
            + toml(image, a, f'{mount}\nenv = {{ V = "{env}" }}')
            + toml(image, b, mount.replace("/data", "/srv/shared"))
        )

    file = write_file(tmp_path, registry, text())
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        # filled from the image at the first container's target, once; both see each other's writes
        assert sh(state, b, "stat -c '%u:%g %a' /srv/shared; ls /srv/shared") == "1000:1000 755\nseed\n"
        sh(state, a, "echo from-a > /data/a")
        sh(state, b, "echo from-b > /srv/shared/b")
        assert sh(state, a, "cat /data/b") == "from-b\n" and sh(state, b, "cat /srv/shared/a") == "from-a\n"
        assert (Path(Layout(str(state)).volume_data(volume)) / "a").read_text() == "from-a\n"

        file = write_file(tmp_path, registry, text("2"))
        assert hp("apply", str(file), "--yes", state=state).returncode == 0  # replaces a
        assert sh(state, a, "cat /data/a /data/b; ls /data") == "from-a\nfrom-b\na\nb\nseed\n"

        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        # kept: the named volume, and b's image volume at /data (a's /data is the named volume)
        assert volume_entries(state) == sorted([volume, image_volume_name(b, "/data")])
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert sh(state, b, "cat /srv/shared/a /srv/shared/b") == "from-a\nfrom-b\n"
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [a, b]) == []


def test_volume_ls_inspect_and_rm(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    name, volume = f"c-{s}", f"named-{s}"
    image_volume = image_volume_name(name, "/data")
    net = network()
    file = write_file(
        tmp_path,
        registry,
        net
        + f"[volumes.{volume}]\n\n"
        + toml(
            test_images["sleeper"], name, f'mounts = [{{ type = "volume", source = "{volume}", target = "/home/app" }}]'
        ),
    )
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        sh(state, name, "head -c 5000 /dev/zero > /home/app/five-k")
        rows = {r["name"]: r for r in json.loads(hp("volume", "ls", "--json", state=state, check=True).stdout)}
        assert sorted(rows) == sorted([volume, image_volume])
        assert rows[volume]["containers"] == [name] and rows[volume]["declared"] is True
        assert rows[volume]["size"] == 5000 and rows[volume]["kind"] == "named"
        assert rows[image_volume]["declared"] is False and rows[image_volume]["kind"] == "image"
        assert (rows[image_volume]["container"], rows[image_volume]["target"]) == (name, "/data")
        table = hp("volume", "ls", state=state, check=True).stdout.splitlines()
        assert table[0].split() == ["NAME", "SIZE", "CONTAINERS", "DECLARED", "KIND"]
        assert any(line.split()[:3] == [volume, "4.9", "KiB"] and name in line for line in table)
        inspected = json.loads(hp("volume", "inspect", volume, state=state, check=True).stdout)
        assert inspected["path"] == Layout(str(state)).volume_data(volume)

        # in use: refused, one line, nothing removed
        refused = hp("volume", "rm", volume, state=state)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert refused.stderr.startswith(f"hp: error: {volume}: volume is in use by container {name}")
        assert os.path.exists(f"{Layout(str(state)).volume_data(volume)}/five-k")

        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert json.loads(hp("volume", "inspect", volume, state=state, check=True).stdout)["containers"] == []
        for gone in (volume, image_volume):
            assert hp("volume", "rm", gone, state=state).returncode == 0
        assert volume_entries(state) == []
        missing = hp("volume", "rm", volume, state=state)
        assert (missing.returncode, missing.stderr) == (1, f"hp: error: {volume}: no such volume\n")
        bad = hp("volume", "rm", "../containers", state=state)
        assert bad.returncode == 1 and "invalid volume name" in bad.stderr and bad.stderr.count("\n") == 1
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_plans_name_kept_volumes_and_the_discarded_layer_and_destroy_volumes_deletes_them(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    name, volume = f"p-{s}", f"pv-{s}"
    image_volume = image_volume_name(name, "/data")
    net = network()

    def text(env: str) -> str:
        return (
            net
            + f"[volumes.{volume}]\n\n"
            + toml(
                test_images["sleeper"],
                name,
                f'mounts = [{{ type = "volume", source = "{volume}", target = "/home/app" }}]\nenv = {{ V = "{env}" }}',
            )
        )

    file = write_file(tmp_path, registry, text("1"))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        sh(state, name, "head -c 3000 /dev/zero > /tmp/scratch")  # in the writable layer
        file = write_file(tmp_path, registry, text("2"))
        shown = hp("plan", str(file), state=state, check=True).stdout
        assert (
            f"- keeps volumes {image_volume}, {volume}\n" in shown
            or f"- keeps volumes {volume}, {image_volume}\n" in shown
        ), shown
        assert "- discards its writable layer (" in shown
        (change,) = json.loads(hp("plan", str(file), "--json", state=state, check=True).stdout)["changes"]
        assert change["action"] == "replace" and sorted(change["kept_volumes"]) == sorted([volume, image_volume])
        assert change["discarded_bytes"] >= 3000 and change["removed_volumes"] == []

        destroyed = hp("destroy", str(file), "--volumes", "--yes", state=state)
        assert destroyed.returncode == 0, destroyed.stderr
        assert "DELETES volumes" in destroyed.stdout and f"removed volume {volume}" in destroyed.stderr
        assert volume_entries(state) == []  # and the data with them
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []


def test_destroy_volumes_keeps_a_volume_another_files_container_uses(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    mine, theirs, volume = f"m-{s}", f"t-{s}", f"sh-{s}"
    net = network()
    mount = f'mounts = [{{ type = "volume", source = "{volume}", target = "/home/app" }}]'
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    file_a, file_b = (
        write_file(tmp_path / d, registry, net + f"[volumes.{volume}]\n\n" + toml(test_images["sleeper"], name, mount))
        for d, name in (("a", mine), ("b", theirs))
    )
    try:
        for file in (file_a, file_b):
            assert hp("apply", str(file), "--yes", state=state).returncode == 0
        destroyed = hp("destroy", str(file_a), "--volumes", "--yes", state=state)
        assert destroyed.returncode == 1 and destroyed.stderr.endswith(
            f"hp: error: {volume}: volume is in use by container {theirs} (remove it first)\n"
        ), destroyed.stderr
        assert sorted(ps(state)) == [theirs]
        assert volume in volume_entries(state)
    finally:
        for file in (file_a, file_b):
            hp("destroy", str(file), "--volumes", "--yes", state=state)
    assert leftovers(state, [mine, theirs]) == []
    assert volume_entries(state) == []


@pytest.mark.parametrize(
    "mount, where",
    [
        ('{ type = "volume", source = "nope", target = "/x" }', "containers.c.mounts[0].source"),
        ('{ type = "volume", source = "../v", target = "/x" }', "containers.c.mounts[0].source"),
        ('{ type = "volume", source = "v" }', "containers.c.mounts[0].target"),
        ('{ type = "volume", source = "v", target = "/x", readonly = "no" }', "containers.c.mounts[0].readonly"),
        (
            '{ type = "volume", source = "v", target = "/x" }, { type = "volume", source = "v", target = "/x" }',
            "containers.c.mounts[1].target",
        ),
    ],
    ids=["undeclared", "bad-name", "no-target", "readonly-not-bool", "duplicate-target"],
)
def test_bad_volume_input_is_one_line_naming_the_field_and_makes_nothing(
    mount, where, tmp_path, state, registry, test_images
) -> None:
    file = write_file(
        tmp_path, registry, f'[volumes.v]\n\n[containers.c]\nimage = "{test_images["sleeper"]}"\nmounts = [{mount}]\n'
    )
    result = hp("apply", str(file), "--yes", state=state)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"hp: error: {file}: {where}: "), result.stderr
    assert volume_entries(state) == [] and not os.path.exists(Layout(str(state)).containers_dir)
