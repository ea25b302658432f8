"""A container's directory as hp makes it, decided here and only here: every directory, every
file with its content, the helper programs copied in and the volumes it mounts, each at its
path from Layout. executor/containers.py writes exactly this (under a staging name first, then
renamed into place) and adds nothing of its own; `hp plan --emit` shows the bundle's files.

    STATE/containers/NAME/
      bundle/                config.json, hostname, hosts, resolv.conf (and hp-init with keep_alive)
      bundle/rootfs/         the overlay's mount point
      upper/, work/          the overlay's writable layer
      network.json           how it is networked (compiler.cni.NetworkSetup)

hp's record (container.json) is the journal of making all this, written by the executor
around it (compiler/state.py).
"""

from __future__ import annotations

import msgspec

from .cni import NetworkSetup, encode_setup
from .etc_files import hostname_file
from .layout import ETC_FILES, INIT_HELPER, Layout
from .network import ContainerNetwork, container_hosts, container_resolv_conf
from .oci import RuntimeConfig, encode_config
from .volumes import VolumeOrigin, image_volume_name, volume_of_source


class BundleFile(msgspec.Struct, frozen=True):
    path: str
    content: bytes


class Helper(msgspec.Struct, frozen=True):
    """One of hp's own programs, copied to `path`: `program` names it (executor/helpers.py finds
    it on this host; only its name is known here)."""

    program: str
    path: str


class VolumeUse(msgspec.Struct, frozen=True):
    """A volume the container mounts at `destination`, and how hp makes it if it does not exist
    yet (an image volume is filled from the image at `destination`)."""

    origin: VolumeOrigin
    destination: str


class Bundle(msgspec.Struct, frozen=True):
    root: str  # the container's directory: every path below is under it
    oci_bundle: str  # the directory crun runs (`crun create --bundle`)
    config_path: str  # its config.json, one of `files`
    record: str  # hp's record (container.json): the executor writes it last, into the finished directory
    directories: tuple[str, ...]  # made first, in this order, each 0755
    files: tuple[BundleFile, ...]
    helpers: tuple[Helper, ...] = ()
    volumes: tuple[VolumeUse, ...] = ()  # outside `root`: made before the container, kept after it

    @property
    def config_json(self) -> bytes:
        return self.content(self.config_path)

    def content(self, path: str) -> bytes:
        for file in self.files:
            if file.path == path:
                return file.content
        raise KeyError(path)

    @property
    def bundle_files(self) -> tuple[tuple[str, bytes], ...]:
        """(name, content) of the files directly in the OCI bundle: config.json and the /etc files."""
        prefix = f"{self.oci_bundle}/"
        return tuple(
            (f.path[len(prefix) :], f.content)
            for f in self.files
            if f.path.startswith(prefix) and "/" not in f.path[len(prefix) :]
        )

    def under(self, root: str) -> Bundle:
        """The same bundle with `root` in place of the container's directory (a staging directory):
        volumes, outside it, stay where they are."""

        def moved(path: str) -> str:
            return root + path[len(self.root) :]

        return Bundle(
            root,
            moved(self.oci_bundle),
            moved(self.config_path),
            moved(self.record),
            tuple(moved(d) for d in self.directories),
            tuple(BundleFile(moved(f.path), f.content) for f in self.files),
            tuple(Helper(h.program, moved(h.path)) for h in self.helpers),
            self.volumes,
        )


def container_bundle(
    layout: Layout,
    name: str,
    config: RuntimeConfig,
    net: ContainerNetwork,
    setup: NetworkSetup,
    host_resolv_conf: str,
    *,
    keep_alive: bool,
) -> Bundle:
    """Container `name`'s directory: its compiled config, its /etc files (its own name on
    loopback in hosts: the executor adds its address and peers once it has them), its network
    setup, hp-init for keep_alive, and the volumes its config mounts."""
    hostname = setup.hostname
    etc = dict(
        zip(
            ETC_FILES,
            (
                hostname_file(hostname),
                container_hosts(hostname, name, None, ()),
                container_resolv_conf(net, host_resolv_conf),
            ),
            strict=True,
        )
    )
    files = (
        BundleFile(layout.config_json(name), encode_config(config)),
        *(BundleFile(layout.bundle_file(name, file), etc[file].encode()) for file in ETC_FILES),
        BundleFile(layout.network_file(name), encode_setup(setup)),
    )
    helpers = (Helper(INIT_HELPER, layout.bundle_file(name, INIT_HELPER)),) if keep_alive else ()
    return Bundle(
        layout.container_dir(name),
        layout.bundle(name),
        layout.config_json(name),
        layout.record(name),
        (layout.bundle(name), layout.rootfs(name), layout.upper(name), layout.work(name)),
        files,
        helpers,
        volume_uses(layout, name, config),
    )


def volume_uses(layout: Layout, name: str, config: RuntimeConfig) -> tuple[VolumeUse, ...]:
    """The volumes container `name`'s config mounts, in its mounts' order."""
    uses = []
    for mount in config.mounts:
        volume = volume_of_source(layout.volumes_dir, mount.source) if mount.type == "bind" else None
        if volume is not None:
            uses.append(VolumeUse(volume_origin(name, volume, mount.destination), mount.destination))
    return tuple(uses)


def volume_origin(container: str, volume: str, destination: str) -> VolumeOrigin:
    if volume == image_volume_name(container, destination):
        return VolumeOrigin(volume, "image", container, destination)
    return VolumeOrigin(volume, "named")
