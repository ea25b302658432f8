"""Volumes: directories under STATE/volumes/<name>/_data that outlive the containers using them.

An image VOLUME of container NAME at TARGET is the volume `image_volume_name(NAME, TARGET)`; a
`{ type = "volume", source = VOL }` mount is the declared volume VOL. Either way the container's
config.json binds the volume's `_data` directory (an absolute path under the state dir), so a
replacement's config names the same directory as the container it replaces, and which containers
use a volume is read from their configs (`volume_of_source`), never kept a second time.
"""

from __future__ import annotations

import msgspec

from .digests import sha256_hex
from .errors import HpError, key_path, quote
from .names import check_volume_name, is_volume_name
from .resources import parse_size
from .spec import HpFile, VolumeMount

VOLUMES = "volumes"  # the state dir's directory of volumes (Layout.volumes_dir); hp compile's, relative
DATA = "_data"  # in a volume's directory: what the container sees
ORIGIN = "volume.json"  # in a volume's directory: how it was made (VolumeOrigin)
_NAME_ROOM = 64 - 1 - 12  # a container name's characters kept in an image volume's name


def image_volume_name(container: str, target: str) -> str:
    """`NAME.<12 hex digits of sha256(NAME, TARGET)>`: one per container name and target path
    (the digest covers the whole name, so a long name cut short still names only its own)."""
    digest = sha256_hex(f"{container}\0{target}".encode())[:12]
    return f"{container[:_NAME_ROOM]}.{digest}"


def check_volume_mounts(hp_file: HpFile) -> None:
    """Every `type = "volume"` mount names a `[volumes.NAME]` table of the file; a volume's size is a size."""
    for volume, spec in sorted(hp_file.volumes.items()):
        if spec.size is not None:
            parse_size(spec.size, f"{key_path('volumes', volume)}.size")
    for name in sorted(hp_file.containers):
        for i, mount in enumerate(hp_file.containers[name].mounts):
            where = f"{key_path('containers', name)}.mounts[{i}].source"
            if isinstance(mount, VolumeMount) and check_volume_name(mount.source, where) not in hp_file.volumes:
                raise HpError(
                    where,
                    f"volume {quote(mount.source)} is not declared (add a [{key_path('volumes', mount.source)}] table)",
                )


def data_path(volume_dir: str) -> str:
    """The data directory in a volume's directory: STATE/volumes/NAME, or one hp is filling under a
    dot name (executor/volumes.py)."""
    return f"{volume_dir}/{DATA}"


def origin_path(volume_dir: str) -> str:
    """The volume.json in a volume's directory (as data_path)."""
    return f"{volume_dir}/{ORIGIN}"


def volume_source(volumes_dir: str, volume: str) -> str:
    """The directory a mount of `volume` binds."""
    return data_path(f"{volumes_dir}/{volume}")


def volume_of_source(volumes_dir: str, source: str | None) -> str | None:
    """The volume whose directory `source` is (as volume_source makes it), else None."""
    if not source or not source.startswith(f"{volumes_dir}/"):
        return None
    name, _, rest = source[len(volumes_dir) + 1 :].partition("/")
    return name if rest == DATA and is_volume_name(name) else None


class VolumeOrigin(msgspec.Struct, frozen=True, omit_defaults=True):
    """STATE/volumes/<name>/volume.json: how a volume came to be (for `hp volume ls`)."""

    name: str
    kind: str  # "image": a container's image VOLUME; "named": a [volumes.NAME] table
    container: str = ""  # an image volume's container
    target: str = ""  # an image volume's path in that container


def encode_origin(origin: VolumeOrigin) -> bytes:
    return msgspec.json.encode(origin) + b"\n"


def decode_origin(data: bytes) -> VolumeOrigin | None:
    try:
        return msgspec.json.decode(data, type=VolumeOrigin)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
