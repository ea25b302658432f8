"""config.json mounts: the standard set, the bundle's /etc files, image volumes, the
container's own mounts, and keep-alive's init, in an order where parents come first."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from .defaults import Defaults
from .errors import HpError, quote
from .image import ImageConfig
from .names import check_volume_name
from .oci import Mount
from .paths import absolute_path, depth, is_within, normalise
from .resources import parse_mode, parse_size
from .spec import BindMount, TmpfsMount, VolumeMount
from .volumes import VOLUMES, image_volume_name, volume_source


def user_mounts(
    mounts: Sequence[BindMount | TmpfsMount | VolumeMount], where: str, volume_dir: str = VOLUMES
) -> tuple[Mount, ...]:
    """The container's own mounts as OCI mounts, checked: absolute, unique targets, never /;
    a volume mount binds its volume's directory under `volume_dir` (compiler/volumes.py)."""
    return _user_mounts(tuple(mounts), where, volume_dir)


@lru_cache(maxsize=1024)  # pure, and mount lists repeat across containers
def _user_mounts(
    mounts: tuple[BindMount | TmpfsMount | VolumeMount, ...], where: str, volume_dir: str
) -> tuple[Mount, ...]:
    out: list[Mount] = []
    seen: dict[str, int] = {}
    for i, m in enumerate(mounts):
        at = f"{where}[{i}]"
        target = absolute_path(m.target, f"{at}.target", "target")
        if target == "/":
            raise HpError(f"{at}.target", "cannot mount over / (use read_only for the root filesystem)")
        if target in seen:
            raise HpError(f"{at}.target", f"{quote(target)} is already the target of {where}[{seen[target]}]")
        seen[target] = i
        mode = "ro" if m.readonly else "rw"
        if isinstance(m, BindMount):
            source = absolute_path(m.source, f"{at}.source", "source")
            out.append(Mount(target, "bind", source, ("rbind", "rprivate", mode)))
        elif isinstance(m, VolumeMount):
            source = volume_source(volume_dir, check_volume_name(m.source, f"{at}.source"))
            out.append(Mount(target, "bind", source, ("rbind", "rprivate", mode)))
        else:
            options = [mode, "nosuid", "nodev"]
            file_mode = parse_mode(m.mode, f"{at}.mode") if m.mode is not None else 0o1777
            options.append(f"mode={file_mode:o}")
            if m.size is not None:
                options.append(f"size={parse_size(m.size, f'{at}.size')}")
            out.append(Mount(target, "tmpfs", "tmpfs", tuple(options)))
    return tuple(out)


def assemble_mounts(
    d: Defaults,
    image: ImageConfig,
    own: tuple[Mount, ...],
    *,
    read_only: bool,
    keep_alive: bool,
    container: str,
    where: str = "mounts",
) -> tuple[Mount, ...]:
    """Image volumes bind their volume's directory under d.volume_dir (compiler.volumes). A mount of the
    container's replaces any other at the same target; one over a standard mount's parent (say /dev) also
    replaces the standard mounts below it."""
    own_targets = {m.destination for m in own}
    if keep_alive and d.init_path in own_targets:
        raise HpError(
            f"{where}[{[m.destination for m in own].index(d.init_path)}].target",
            f"{quote(d.init_path)} is where keep_alive puts hp-init; choose another target",
        )
    standard = (
        [m for m in d.standard_mounts if not any(is_within(m.destination, t) for t in own_targets)]
        if own_targets
        else list(d.standard_mounts)
    )
    etc_options = ("rbind", "rprivate", "ro" if read_only else "rw")
    etc = [Mount(f"/etc/{name}", "bind", name, etc_options) for name in d.etc_files]
    init = [Mount(d.init_path, "bind", d.init_source, ("bind", "ro", "nosuid", "nodev"))] if keep_alive else []
    # an image volume never shadows a mount hp itself needs (/proc, /etc/hosts, ...)
    reserved = {m.destination for m in d.standard_mounts} | {m.destination for m in etc + init} | {"/"}
    volumes: list[Mount] = []
    for volume in image.volumes:
        dest = (
            normalise(volume)
            if volume.startswith("/") and "\0" not in volume
            else absolute_path(volume, f"{image.config_field}.Volumes[{quote(volume)}]", "volume")
        )
        if dest not in reserved and all(v.destination != dest for v in volumes):
            source = volume_source(d.volume_dir, image_volume_name(container, dest))
            volumes.append(Mount(dest, "bind", source, ("rbind", "rprivate", "rw")))
    generated = [
        m for m in etc + sorted(volumes, key=lambda m: m.destination) + init if m.destination not in own_targets
    ]
    return parents_first(standard + generated + list(own))


def parents_first(mounts: Sequence[Mount]) -> tuple[Mount, ...]:
    """Each mount after every mount above it, otherwise in the given order: mounts are
    grouped under their top-most listed ancestor, which keeps its place in the list;
    within a group, shallower first."""
    order = _parents_first_order(tuple(m.destination for m in mounts))
    return tuple(mounts[i] for i in order)


@lru_cache(maxsize=1024)
def _parents_first_order(destinations: tuple[str, ...]) -> tuple[int, ...]:
    # memoised: most containers share the same few lists of destinations
    index = {d: i for i, d in enumerate(destinations)}

    def key(i: int) -> tuple[int, int, int]:
        root = i
        path = destinations[i]
        while path != "/":
            path = path.rsplit("/", 1)[0] or "/"
            if path in index:
                root = index[path]
        return root, depth(destinations[i]), i

    return tuple(sorted(range(len(destinations)), key=key))
