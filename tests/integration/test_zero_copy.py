"""Zero-copy images (issue 15 item 8) for real: a container's overlay stacks on the image's own
layer diff dirs in podman's storage, nothing is copied into the state dir, a podman container
created per image (never run) keeps `podman rmi` from removing an image hp uses, and it goes
with the last container using the image. Reading /etc/passwd through the layers is checked
against the kernel's own overlay of the same layers (whiteouts, opaque dirs, symlinks).

The image is built here (no registry, no network): `podman import` of the tests' busybox rootfs,
then `podman build` of two RUN layers that delete /etc/group (a whiteout) and replace /opq (an
opaque directory)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.layout import layout
from executor import images
from executor.rootfs import read_in_layers, read_in_root

from ..needs import missing
from .hprun import hp, leftovers, mounts_under, ps
from .registry import rootfs_tar

pytestmark = pytest.mark.integration

CONTAINERFILE = """\
FROM {base}
LABEL hp.test.zero-copy={tag}
USER 0
RUN ["/bin/busybox", "sh", "-c", "rm /etc/group && mkdir /opq && echo old > /opq/a && echo low > /opq/keep"]
RUN ["/bin/busybox", "sh", "-c", "rm -r /opq && mkdir /opq && echo new > /opq/b"]
USER app
"""


def podman(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *argv], capture_output=True, text=True, timeout=120, check=check)


TAG = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local three-layer image (a whiteout and an opaque dir in its top layers); its ID."""
    if os.geteuid() != 0 or not os.path.exists("/bin/busybox"):
        missing("root and busybox-static")
    work = tmp_path_factory.mktemp("zero-copy")
    base, ref = f"localhost/hp-zero-copy-base:{TAG}", f"localhost/hp-zero-copy:{TAG}"
    try:
        podman(
            "import",
            "--change",
            'CMD ["sleep", "3600"]',
            "--change",
            "USER app",
            "--change",
            "STOPSIGNAL SIGKILL",
            str(rootfs_tar(work / "rootfs.tar")),
            base,
        )
        (work / "Containerfile").write_text(CONTAINERFILE.format(base=base, tag=TAG))
        podman("build", "--network=none", "-q", "-t", ref, str(work))
        yield podman("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
    finally:
        podman("rmi", "--force", ref, base, check=False)


def references(image_id: str) -> list[str]:
    """podman containers hp made to hold this image (any state dir)."""
    names = podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    return [n for n in names if n.startswith(f"hp-ref-{image_id[:12]}-")]


def container(image_id: str, name: str, extra: str = "") -> str:
    return f'[containers.{name}]\nimage = "{image_id}"\nnetwork = "none"\n{extra}'


def toml(tmp_path: Path, image_id: str, name: str, extra: str = "") -> Path:
    path = tmp_path / "hp.toml"
    path.write_text(container(image_id, name, extra))
    return path


def test_a_container_runs_on_podmans_layers_and_nothing_is_copied(tmp_path, state, layered) -> None:
    name = f"zc-{uuid.uuid4().hex[:6]}"
    file = toml(
        tmp_path, layered, name, 'mounts = [{ type = "volume", source = "opq", target = "/opq" }]\n[volumes.opq]\n'
    )
    lay = layout(str(state))
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        assert ps(state)[name]["status"] == "running"
        # nothing of the image in the state dir but what hp wrote about it
        assert sorted(os.listdir(lay.image_dir(layered))) == ["image.json", "layers.json", "reference"]
        layers = json.loads(Path(lay.image_layers(layered)).read_text())
        driver = json.loads(podman("image", "inspect", layered).stdout)[0]["GraphDriver"]["Data"]
        assert layers == [driver["UpperDir"], *driver["LowerDir"].split(":")]
        mount = next(
            line
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4] == lay.rootfs(name)
        )
        assert f"lowerdir={':'.join(layers)}," in mount
        # the container sees the merged image: the whiteout and the opaque dir hold
        seen = hp(
            "exec",
            name,
            "--",
            "sh",
            "-c",
            "ls /opq; test -e /etc/group || echo no-group; id -un",
            state=state,
            check=True,
        ).stdout.split()
        assert seen == ["b", "no-group", "app"]  # user app: read from /etc/passwd through the layers
        assert os.listdir(lay.volume_data("opq")) == ["b"]  # a volume's first content: the merged view
        assert podman_image_mounted(layered) is False  # the mount for the volume's fill was undone

        # podman refuses to remove the image while hp uses it; the container runs on
        (holder,) = references(layered)
        assert Path(lay.image_reference(layered)).read_text() == holder
        refused = podman("rmi", layered, check=False)
        assert refused.returncode != 0 and "in use" in refused.stderr
        # a prune of unused images (only this one: its label) leaves it too
        podman("image", "prune", "--all", "--force", "--filter", f"label=hp.test.zero-copy={TAG}")
        assert podman("image", "exists", layered, check=False).returncode == 0
        assert hp("exec", name, "--", "cat", "/opq/b", state=state, check=True).stdout == "new\n"

        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert leftovers(state, [name]) == []
        assert references(layered) == [] and not os.path.exists(lay.image_dir(layered))
    finally:
        hp("destroy", str(file), "--yes", "--volumes", state=state)


def test_plan_and_export_hold_nothing_in_podman(tmp_path, state, layered) -> None:
    """Only apply takes the hold: a plan or an export (whose state dir may well be thrown away) makes no
    podman container, yet reads the image's /etc/passwd through its layers."""
    name = f"zc-{uuid.uuid4().hex[:6]}"
    file = toml(tmp_path, layered, name)
    lay = layout(str(state))
    try:
        planned = hp("plan", str(file), "--json", state=state)
        assert planned.returncode == 0, planned.stderr
        exported = hp("export", "kube", str(file), state=state)
        assert exported.returncode == 0, exported.stderr
        assert "runAsUser: 1000" in exported.stdout  # app, from the image's passwd, read through its layers
        assert references(layered) == []
        assert not os.path.exists(lay.image_reference(layered)) and not os.path.exists(lay.image_layers(layered))
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert len(references(layered)) == 1
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert references(layered) == []


def podman_image_mounted(image_id: str) -> bool:
    mounted = json.loads(podman("image", "mount", "--format", "json").stdout or "[]") or []
    return any(m.get("id") == image_id for m in mounted)


def test_the_reference_goes_with_the_last_container_only(tmp_path, state, layered) -> None:
    one, two = (f"zc-{uuid.uuid4().hex[:6]}" for _ in range(2))
    file = tmp_path / "hp.toml"
    try:
        file.write_text(container(layered, one) + container(layered, two))
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert len(references(layered)) == 1  # one per image and state dir
        assert hp("rm", "--force", one, state=state).returncode == 0
        assert len(references(layered)) == 1  # two still uses it
        assert hp("rm", "--force", two, state=state).returncode == 0
        assert references(layered) == []
    finally:
        hp("destroy", str(file), "--yes", state=state)


def test_killed_after_taking_the_reference_the_next_apply_finishes(tmp_path, state, layered) -> None:
    name = f"zc-{uuid.uuid4().hex[:6]}"
    file = toml(tmp_path, layered, name)
    try:
        killed = hp("apply", str(file), "--yes", state=state, env={"HP_KILL_AT": "image-referenced"})
        assert killed.returncode == -9
        finished = hp("apply", str(file), "--yes", state=state)
        assert finished.returncode == 0, finished.stderr
        assert len(references(layered)) == 1  # the killed run's was replaced, not kept beside
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert references(layered) == []
    finally:
        hp("destroy", str(file), "--yes", state=state)


def test_killed_while_the_image_is_mounted_for_a_volume_the_prune_unmounts_it(tmp_path, state, layered) -> None:
    name = f"zc-{uuid.uuid4().hex[:6]}"
    file = toml(
        tmp_path, layered, name, 'mounts = [{ type = "volume", source = "zcvol", target = "/opq" }]\n[volumes.zcvol]\n'
    )
    try:
        killed = hp("apply", str(file), "--yes", state=state, env={"HP_KILL_AT": "volume-image-mounted"})
        assert killed.returncode == -9
        assert podman_image_mounted(layered)  # what the kill left
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert hp("destroy", str(file), "--yes", "--volumes", state=state).returncode == 0
        assert not podman_image_mounted(layered) and references(layered) == []
    finally:
        hp("destroy", str(file), "--yes", "--volumes", state=state)
        podman("image", "unmount", layered, check=False)


def test_a_rootfs_copied_by_an_older_hp_stays_in_use(tmp_path, state, layered) -> None:
    name = f"zc-{uuid.uuid4().hex[:6]}"
    lay = layout(str(state))
    images.ensure_image(layered, lay, method="mount")  # what hp did before: a copy
    file = toml(tmp_path, layered, name)
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert references(layered) == []
        mount = next(
            line
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4] == lay.rootfs(name)
        )
        assert f"lowerdir={lay.image_rootfs(layered)}," in mount
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert not os.path.exists(lay.image_dir(layered))
    finally:
        hp("destroy", str(file), "--yes", state=state)


# ---- reading through layers, against the kernel's overlay of the same layers -----------------------


def make_layers(tmp_path: Path) -> list[Path]:
    """Three layers, top first, with every overlay rule a passwd lookup can meet."""
    top, mid, low = (tmp_path / n for n in ("top", "mid", "low"))
    for layer in (top, mid, low):
        (layer / "etc").mkdir(parents=True)
    (low / "etc" / "passwd").write_text("low-passwd\n")
    (low / "etc" / "group").write_text("low-group\n")
    (low / "etc" / "hosts").write_text("low-hosts\n")
    (low / "etc" / "shells").write_text("low-shells\n")
    (low / "old").mkdir()
    (low / "old" / "passwd").write_text("hidden by an opaque dir\n")
    (low / "file-then-dir").write_text("a file below a directory\n")
    os.mknod(mid / "etc" / "group", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # a whiteout
    (mid / "etc" / "hosts").write_text("mid-hosts\n")
    (mid / "old").mkdir()
    os.setxattr(mid / "old", "trusted.overlay.opaque", b"y")
    (mid / "old" / "group").write_text("mid-old-group\n")
    (mid / "file-then-dir").mkdir()
    (mid / "file-then-dir" / "x").write_text("x\n")
    (top / "etc" / "shells").symlink_to("/old/group")  # absolute: inside the image
    (top / "escape").symlink_to("../../../../../etc/hostname")  # stops at the image's root
    (top / "link-to-passwd").symlink_to("etc/passwd")
    return [top, mid, low]


PATHS = (
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/shells",
    "/old/passwd",
    "/old/group",
    "/file-then-dir",
    "/file-then-dir/x",
    "/escape",
    "/link-to-passwd",
    "/nope",
    "/etc",
)


def outcome(read, *args) -> object:
    try:
        return read(*args)
    except Exception as e:  # noqa: BLE001 - compared below
        return f"error: {e}"


def test_reading_through_layers_agrees_with_the_kernels_overlay(tmp_path) -> None:
    if os.geteuid() != 0:
        missing("root")
    layers = make_layers(tmp_path)
    merged = tmp_path / "merged"
    merged.mkdir()
    lower = ":".join(str(p) for p in layers)
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lower}", str(merged)], check=True, timeout=30
    )
    try:
        dirs = [str(p) for p in layers]
        for path in PATHS:
            assert outcome(read_in_layers, dirs, path) == outcome(read_in_root, str(merged), path), path
    finally:
        subprocess.run(["umount", str(merged)], check=True, timeout=30)
    assert mounts_under(tmp_path) == []
    got = {p: outcome(read_in_layers, dirs, p) for p in ("/etc/group", "/etc/shells", "/old/passwd")}
    assert got == {"/etc/group": None, "/etc/shells": b"mid-old-group\n", "/old/passwd": None}
