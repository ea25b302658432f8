"""executor/store.py's sweep of what a killed hp left: the dot-named container and volume
directories go, a container's or volume's own directory stays, and nothing is deleted through a
container's mounted root filesystem (a real tmpfs mount: needs root)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from compiler.layout import Layout, rootfs_path
from executor.store import GONE_PREFIX, NEW_PREFIX, sweep_leftovers

from .needs import missing


def _container_dir(path: str) -> str:
    """A container directory as hp fills one: its root filesystem with a file in it."""
    os.makedirs(rootfs_path(path))
    Path(rootfs_path(path), "file").write_text("a container's\n")
    return path


def test_leftovers_go_and_what_hp_has_stays(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path / "state"))
    kept = [_container_dir(layout.container_dir("web")), layout.volume_dir("data")]
    os.makedirs(layout.volume_dir("data"))
    _container_dir(f"{layout.containers_dir}/{NEW_PREFIX}web-x1")
    _container_dir(f"{layout.containers_dir}/{GONE_PREFIX}db-x2/db")
    os.makedirs(f"{layout.volumes_dir}/{NEW_PREFIX}data-x3")
    os.makedirs(f"{layout.volumes_dir}/{GONE_PREFIX}old-x4/old")

    swept = sweep_leftovers(layout)

    assert sorted(swept) == [
        f"{GONE_PREFIX}db-x2",
        f"{GONE_PREFIX}old-x4",
        f"{NEW_PREFIX}data-x3",
        f"{NEW_PREFIX}web-x1",
    ]
    assert os.listdir(layout.containers_dir) == ["web"] and os.listdir(layout.volumes_dir) == ["data"]
    assert all(os.path.isdir(path) for path in kept)


def test_no_leftover_is_deleted_through_a_mounted_root_filesystem(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        missing("root (to mount a tmpfs)")
    layout = Layout(str(tmp_path / "state"))
    filling = _container_dir(f"{layout.containers_dir}/{NEW_PREFIX}web-x1")
    deleting = _container_dir(f"{layout.containers_dir}/{GONE_PREFIX}db-x2/db")  # as containers.remove renames
    mounted = []
    try:
        for path in (filling, deleting):
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", rootfs_path(path)], check=True)
            mounted.append(rootfs_path(path))
            Path(rootfs_path(path), "file").write_text("in the mount\n")

        assert sweep_leftovers(layout) == []
        for path in mounted:
            assert Path(path, "file").read_text() == "in the mount\n"
    finally:
        for path in mounted:
            subprocess.run(["umount", path], check=False)
    assert sorted(sweep_leftovers(layout)) == [f"{GONE_PREFIX}db-x2", f"{NEW_PREFIX}web-x1"]  # once unmounted
    assert os.listdir(layout.containers_dir) == []
