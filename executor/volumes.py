"""Volumes on this host: STATE/volumes/<name>/ (compiler.volumes), made on first use, removed only
when asked (`hp volume rm`, `hp destroy --volumes`), never as a side effect of removing a container.

A volume is made under a dot name and renamed into place once filled, so a directory named NAME is
always a whole volume: a killed hp leaves a dot-named one (swept later), never a half-filled
"new" volume that the next run would take as filled.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

import msgspec

from compiler import commands
from compiler.errors import HpError
from compiler.layout import Layout
from compiler.names import check_volume_name
from compiler.spec import parse_hp_file
from compiler.volumes import VolumeOrigin, data_path, decode_origin, encode_origin, origin_path, volume_of_source

from .images import COPY_TIMEOUT
from .run import run
from .store import GONE_PREFIX, NEW_PREFIX, container_names, read_or_none, read_record, write_atomic


def ensure(layout: Layout, origin: VolumeOrigin, image_rootfs: str, destination: str) -> bool:
    """Volume `origin.name` as it is, or made now: a copy of what the image has at `destination`
    (owner, mode, content), as Docker fills a new volume. True if it was made now."""
    name = check_volume_name(origin.name)
    if _is_volume(layout, name):
        return False
    os.makedirs(layout.volumes_dir, mode=0o700, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f"{NEW_PREFIX}{name}-", dir=layout.volumes_dir)
    try:
        os.chmod(staging, 0o700)
        _fill(data_path(staging), image_rootfs, destination)
        write_atomic(origin_path(staging), encode_origin(origin))
        try:
            os.rename(staging, layout.volume_dir(name))
        except OSError:
            if not _is_volume(layout, name):  # not another hp that made it meanwhile
                raise
            shutil.rmtree(staging, ignore_errors=True)
            return False
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def _is_volume(layout: Layout, name: str) -> bool:
    """A real directory (never a symlink) with a real _data directory in it."""
    try:
        top, data = os.lstat(layout.volume_dir(name)), os.lstat(layout.volume_data(name))
    except FileNotFoundError:
        return False
    if not (stat.S_ISDIR(top.st_mode) and stat.S_ISDIR(data.st_mode)):
        raise HpError(
            f"volume {name}",
            f"{layout.volume_dir(name)} is not hp's volume directory "
            "(not a directory, or its _data is not); hp leaves it alone",
        )
    return True


def _fill(path: str, image_rootfs: str, destination: str) -> None:
    """`path` as a copy of the image's `destination`; empty (0755) if the image has no directory
    there. Only a path made of real directories is copied: a symlink could point out of the image."""
    source = image_rootfs
    for part in destination.strip("/").split("/"):
        source = f"{source}/{part}"
        try:
            info = os.lstat(source)
        except FileNotFoundError:
            os.mkdir(path, 0o755)
            return
        if not stat.S_ISDIR(info.st_mode):
            os.mkdir(path, 0o755)
            return
    run(commands.copy_volume_argv(source, path), f"filling volume at {destination}", timeout=COPY_TIMEOUT)


LEGACY_DIR = "volumes"  # bundle/volumes/<escaped path>: where hp before STATE/volumes kept image volumes


def adopt_legacy(layout: Layout, name: str) -> list[str]:
    """Move the image volumes that an older hp kept inside container `name`'s bundle
    (bundle/volumes/<path, '%' and '/' escaped>) into the volume store, as the image volumes a
    new container of that name mounts, before the container's directory is deleted. Each is one
    rename; a kill between the steps leaves either the old place or an empty volume directory
    that the next removal fills. A volume that exists already keeps its data (the old copy then
    goes with the container)."""
    from urllib.parse import unquote

    from compiler.volumes import image_volume_name

    legacy = f"{layout.bundle(name)}/{LEGACY_DIR}"
    try:
        entries = sorted(os.listdir(legacy))
    except (FileNotFoundError, NotADirectoryError):
        return []
    adopted = []
    for entry in entries:
        source = f"{legacy}/{entry}"
        if not stat.S_ISDIR(os.lstat(source).st_mode) or entry.startswith("."):
            continue  # hp made only directories here
        target = "/" + unquote(entry)
        volume = image_volume_name(name, target)
        if _is_volume(layout, volume):
            continue
        os.makedirs(layout.volumes_dir, mode=0o700, exist_ok=True)
        try:
            os.mkdir(layout.volume_dir(volume), 0o700)
        except FileExistsError:
            pass  # an earlier adoption, killed before its rename
        os.rename(source, layout.volume_data(volume))
        write_atomic(layout.volume_origin(volume), encode_origin(VolumeOrigin(volume, "image", name, target)))
        adopted.append(volume)
    return adopted


class _Mount(msgspec.Struct, frozen=True):
    source: str = ""


class _Mounts(msgspec.Struct, frozen=True):
    mounts: tuple[_Mount, ...] = ()  # of a config.json: the rest of it is not read here


def mounted_volumes(layout: Layout, name: str) -> list[str]:
    """The volumes container `name`'s config.json mounts, from the config itself."""
    data = read_or_none(layout.config_json(name))
    if not data:
        return []
    try:
        mounts = msgspec.json.decode(data, type=_Mounts).mounts
    except msgspec.DecodeError:
        return []
    found = (volume_of_source(layout.volumes_dir, m.source) for m in mounts)
    return sorted({v for v in found if v is not None})


def users(layout: Layout) -> dict[str, list[str]]:
    """Each volume → the containers (in this state dir) whose config mounts it."""
    out: dict[str, list[str]] = {}
    for container in sorted(container_names(layout)):
        for volume in mounted_volumes(layout, container):
            out.setdefault(volume, []).append(container)
    return out


def names(layout: Layout) -> list[str]:
    try:
        entries = os.listdir(layout.volumes_dir)
    except FileNotFoundError:
        return []
    return sorted(e for e in entries if not e.startswith(".") and _is_volume(layout, e))


def origin(layout: Layout, name: str) -> VolumeOrigin | None:
    data = read_or_none(layout.volume_origin(name))
    return decode_origin(data) if data else None


def size(layout: Layout, name: str) -> int:
    return tree_size(layout.volume_data(name)) or 0


def tree_size(path: str) -> int | None:
    """Bytes in the files under `path` (apparent sizes; each hard-linked file once; symlinks not
    followed); None if there is no such directory."""
    if not os.path.isdir(path):
        return None
    total, seen = 0, set()
    for top, dirs, files in os.walk(path):
        for entry in files + dirs:
            try:
                info = os.lstat(f"{top}/{entry}")
            except FileNotFoundError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size if not stat.S_ISDIR(info.st_mode) else 0
    return total


def check_removable(layout: Layout, name: str) -> None:
    """HpError unless volume `name` exists and no container of this state dir mounts it."""
    check_volume_name(name)
    if not _is_volume(layout, name):
        raise HpError(name, "no such volume")
    using = users(layout).get(name)
    if using:
        raise HpError(
            name,
            f"volume is in use by container{'s' if len(using) > 1 else ''} {', '.join(using)} "
            f"(remove {'them' if len(using) > 1 else 'it'} first)",
        )


def remove(layout: Layout, name: str) -> None:
    """Delete volume `name` and its data; refused while a container of this state dir mounts it."""
    check_removable(layout, name)
    # renamed away first (one atomic step): a killed hp leaves the whole volume or a dot-named one
    gone = tempfile.mkdtemp(prefix=f"{GONE_PREFIX}{name}-", dir=layout.volumes_dir)
    os.rename(layout.volume_dir(name), f"{gone}/{name}")
    shutil.rmtree(gone)


class VolumeInfo(msgspec.Struct, frozen=True):
    """One row of `hp volume ls`, and `hp volume inspect`."""

    name: str
    path: str  # the directory containers see (config.json's bind source)
    size: int  # bytes in its files
    containers: tuple[str, ...]  # of this state dir, whose config mounts it
    declared: bool  # a [volumes.NAME] table of a file in `declared_in`
    declared_in: tuple[str, ...] = ()
    kind: str = ""  # "image" or "named" (volume.json)
    container: str = ""  # an image volume's container ...
    target: str = ""  # ... and path in it


def declarations(layout: Layout, extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Volume → the files declaring it: the files that manage this state dir's containers (their
    records say which), and `extra`. A file that is gone or does not parse declares nothing."""
    files = {r.file for r in (read_record(layout, n) for n in container_names(layout)) if r is not None and r.file}
    files |= {os.path.realpath(f) for f in extra}
    out: dict[str, list[str]] = {}
    for file in sorted(files):
        try:
            with open(file, "rb") as f:
                declared = parse_hp_file(f.read()).volumes
        except (OSError, HpError):
            continue
        for volume in declared:
            out.setdefault(volume, []).append(file)
    return out


def describe(layout: Layout, declared: dict[str, list[str]], only: str | None = None) -> list[VolumeInfo]:
    used = users(layout)
    out = []
    for name in [only] if only is not None else names(layout):
        o = origin(layout, name) or VolumeOrigin(name, "")
        files = tuple(declared.get(name, ()))
        out.append(
            VolumeInfo(
                name,
                layout.volume_data(name),
                size(layout, name),
                tuple(used.get(name, ())),
                bool(files),
                files,
                o.kind,
                o.container,
                o.target,
            )
        )
    return out


def inspect(layout: Layout, name: str, declared: dict[str, list[str]]) -> VolumeInfo:
    if not _is_volume(layout, check_volume_name(name)):
        raise HpError(name, "no such volume")
    return describe(layout, declared, only=name)[0]


__all__ = [
    "VolumeInfo",
    "adopt_legacy",
    "check_removable",
    "declarations",
    "describe",
    "ensure",
    "inspect",
    "mounted_volumes",
    "names",
    "origin",
    "remove",
    "size",
    "tree_size",
    "users",
]
