"""Where hp keeps things: the state directory's layout, as pure path arithmetic.

    STATE/
      crun/                         crun's --root: hp's containers only, never crun's global root
      images/<image-id>/layers.json its layer diff dirs in podman's storage, top first: the overlay's lowers
      images/<image-id>/reference   the podman container (created, never run) that keeps podman from removing it
      images/<image-id>/rootfs/     the root filesystem of an image copied out of podman's storage (older hp, or
                                    a storage driver other than overlay): the overlay's lower instead
      images/<image-id>/image.json  its `podman image inspect` output
      containers/<name>/
        container.json              hp's record (name, image, image ID, config hash)
        bundle/config.json          the OCI bundle crun runs ...
        bundle/rootfs/              ... with an overlay mounted here (lower: the image's layers or rootfs)
        bundle/hostname, hosts, resolv.conf, hp-init
        bundle/attach, ctl, winsz   conmon's attach socket and control fifos
        upper/, work/               the overlay's writable layer
        log                         its stdout and stderr, in conmon's k8s-file format
        exits/NAME                  its exit status, written by conmon when it ends
        pid                         its pid, written by crun
        conmon.pid                  its monitor's pid
        conmon.log                  what conmon itself said (its stderr)
        oci-log                     what crun said when it failed (JSON lines)
        run.json                    its current run (compiler.supervision.RunState)
        health.json                 its health check's results in this run (compiler.health.HealthState)
        address                     its IPv4 address on its bridge network, kept while it exists
        network.json                how it is networked (compiler.cni.NetworkSetup)
      volumes/<volume>/             a volume, outside every container directory (docs/executor.md)
        _data/                      what the container sees at the mount's target
        volume.json                 how it was made (compiler.volumes.VolumeOrigin)
      netns/                        its own mount (see executor/netns.py) holding ...
      netns/NAME                    ... each bridged container's network namespace, bind-mounted
      networks/NET.conflist         a network's CNI configuration list, for people and cnitool
      networks/ipam/NET/            host-local's allocations: one file per IP, with its lock
      networks/attachments/NAME.json  what CNI ADD did for container NAME, so DEL can undo it
      networks/bridges/BRIDGE.json  whether hp made bridge BRIDGE (and may delete it) or found it

Host-wide, outside every state dir (BRIDGE_CLAIMS_DIR, on tmpfs: bridges do not outlive a boot):
    /run/hp/bridges/BRIDGE          the state dir that uses bridge BRIDGE (one per bridge)
    /run/hp/bridges.lock            taken while a claim is checked, taken or released
"""

from __future__ import annotations

import msgspec

from .digests import sha256_hex
from .errors import HpError, quote
from .names import check_container_name, check_volume_name
from .network import check_interface_name, is_interface_name
from .volumes import VOLUMES, origin_path, volume_source

# the OCI bundle's own files besides config.json, by their names there (config.json binds them)
HOSTS = "hosts"  # rewritten in place as peers come and go (executor/networking.py)
ETC_FILES = ("hostname", HOSTS, "resolv.conf")
INIT_HELPER = "hp-init"  # keep_alive's init, copied into the bundle

RECORD_SUFFIX = ".json"  # an attachment's or a bridge's record: NAME.json
BRIDGE_CLAIMS_DIR = "/run/hp/bridges"
BRIDGE_CLAIMS_LOCK = "/run/hp/bridges.lock"


def bridge_claim(bridge: str) -> str:
    return f"{BRIDGE_CLAIMS_DIR}/{check_interface_name(bridge)}"


def bundle_path(container_dir: str) -> str:
    """The OCI bundle in a container's directory: STATE/containers/NAME, or one hp is filling or
    deleting under a dot name (executor/store.py)."""
    return f"{container_dir}/bundle"


def rootfs_path(container_dir: str) -> str:
    """Where the container's overlay is mounted, in its directory (as bundle_path)."""
    return f"{bundle_path(container_dir)}/rootfs"


# overlayfs takes lowerdir/upperdir/workdir in one option string: these would split it
_OVERLAY_UNSAFE = (",", ":", "\n", "\0")


class Layout(msgspec.Struct, frozen=True):
    state_dir: str

    @property
    def tag(self) -> str:
        """12 hex digits naming this state dir in host-wide names (cgroups, CNI container IDs),
        so that two state dirs may hold containers of the same name."""
        return sha256_hex(self.state_dir.encode())[:12]

    def cgroup_name(self, name: str) -> str:
        return f"{self.tag}-{check_container_name(name)}"

    @property
    def apply_log(self) -> str:
        """Every step hp took (apply's, and each restart by policy), timestamped."""
        return f"{self.state_dir}/apply.log"

    @property
    def lock(self) -> str:
        """flock()ed by every command that reads or changes the state (executor/lock.py)."""
        return f"{self.state_dir}/lock"

    @property
    def serial(self) -> str:
        """The count of changes made to the state dir: a saved plan names the one it was made at."""
        return f"{self.state_dir}/serial"

    @property
    def subdirs(self) -> tuple[str, ...]:
        """The state dir's own directories: hp makes each of them (never as a symlink) and creates and
        deletes in them, so executor/session.py refuses one that another user could change."""
        return (
            self.bin_dir,
            self.crun_root,
            self.images_dir,
            self.containers_dir,
            self.volumes_dir,
            self.netns_dir,
            self.networks_dir,
        )

    @property
    def crun_root(self) -> str:
        return f"{self.state_dir}/crun"

    def crun_state_dir(self, name: str) -> str:
        """crun's own directory for container `name` under hp's --root: there while crun knows it."""
        return f"{self.crun_root}/{check_container_name(name)}"

    @property
    def bin_dir(self) -> str:
        return f"{self.state_dir}/bin"

    @property
    def images_dir(self) -> str:
        return f"{self.state_dir}/images"

    @property
    def containers_dir(self) -> str:
        return f"{self.state_dir}/containers"

    def image_dir(self, image_id: str) -> str:
        return f"{self.images_dir}/{image_id}"

    def image_rootfs(self, image_id: str) -> str:
        return f"{self.image_dir(image_id)}/rootfs"

    def image_inspect(self, image_id: str) -> str:
        return f"{self.image_dir(image_id)}/image.json"

    def image_layers(self, image_id: str) -> str:
        return f"{self.image_dir(image_id)}/layers.json"

    def image_reference(self, image_id: str) -> str:
        return f"{self.image_dir(image_id)}/reference"

    def container_dir(self, name: str) -> str:
        # every path of a container is built on this one: a name like "../x" never becomes a path
        return f"{self.containers_dir}/{check_container_name(name)}"

    def bundle(self, name: str) -> str:
        return bundle_path(self.container_dir(name))

    def bundle_file(self, name: str, file: str) -> str:
        """A file directly in the OCI bundle: config.json, one of ETC_FILES, INIT_HELPER."""
        if not file or "/" in file or file in (".", ".."):
            raise ValueError(f"not a bundle file name: {file!r}")
        return f"{self.bundle(name)}/{file}"

    def config_json(self, name: str) -> str:
        return self.bundle_file(name, "config.json")

    def rootfs(self, name: str) -> str:
        return rootfs_path(self.container_dir(name))

    def upper(self, name: str) -> str:
        return f"{self.container_dir(name)}/upper"

    def work(self, name: str) -> str:
        return f"{self.container_dir(name)}/work"

    def record(self, name: str) -> str:
        return f"{self.container_dir(name)}/container.json"

    def log(self, name: str) -> str:
        return f"{self.container_dir(name)}/log"

    def exits_dir(self, name: str) -> str:
        return f"{self.container_dir(name)}/exits"

    def exit_file(self, name: str) -> str:
        # conmon writes EXIT_DIR/ID, and the ID it gives crun is the container's name
        return f"{self.exits_dir(name)}/{check_container_name(name)}"

    def conmon_pid_file(self, name: str) -> str:
        return f"{self.container_dir(name)}/conmon.pid"

    def monitor_log(self, name: str) -> str:
        return f"{self.container_dir(name)}/conmon.log"

    def runtime_log(self, name: str) -> str:
        return f"{self.container_dir(name)}/oci-log"

    def run_state(self, name: str) -> str:
        return f"{self.container_dir(name)}/run.json"

    def health(self, name: str) -> str:
        return f"{self.container_dir(name)}/health.json"

    def address_file(self, name: str) -> str:
        return f"{self.container_dir(name)}/address"

    def pid_file(self, name: str) -> str:
        return f"{self.container_dir(name)}/pid"

    def exec_process(self, name: str, pid: int) -> str:
        """The process `hp exec` (run by hp's process `pid`) gives crun exec, removed when it returns."""
        return f"{self.container_dir(name)}/exec-{pid}.json"

    def network_file(self, name: str) -> str:
        return f"{self.container_dir(name)}/network.json"

    @property
    def volumes_dir(self) -> str:
        return f"{self.state_dir}/{VOLUMES}"

    def volume_dir(self, volume: str) -> str:
        # as container_dir: every path of a volume is built on this one, from a checked name
        return f"{self.volumes_dir}/{check_volume_name(volume)}"

    def volume_data(self, volume: str) -> str:
        return volume_source(self.volumes_dir, check_volume_name(volume))  # what a mount of it binds

    def volume_origin(self, volume: str) -> str:
        return origin_path(self.volume_dir(volume))

    @property
    def netns_dir(self) -> str:
        return f"{self.state_dir}/netns"

    def netns(self, container: str) -> str:
        return f"{self.netns_dir}/{check_container_name(container)}"

    @property
    def networks_dir(self) -> str:
        return f"{self.state_dir}/networks"

    def conflist(self, network: str) -> str:
        return f"{self.networks_dir}/{network}.conflist"

    @property
    def ipam_dir(self) -> str:
        return f"{self.networks_dir}/ipam"

    def ipam_store(self, network: str) -> str:
        """host-local's allocations on `network` (it keeps them in dataDir/<network name>)."""
        return f"{self.ipam_dir}/{network}"

    @property
    def attachments_dir(self) -> str:
        return f"{self.networks_dir}/attachments"

    def attachment(self, container: str) -> str:
        return f"{self.attachments_dir}/{check_container_name(container)}{RECORD_SUFFIX}"

    @property
    def bridges_dir(self) -> str:
        return f"{self.networks_dir}/bridges"

    def bridge_record(self, bridge: str) -> str:
        return f"{self.bridges_dir}/{check_interface_name(bridge)}{RECORD_SUFFIX}"


def is_record_file(file: str) -> bool:
    """Whether a file name in attachments_dir or bridges_dir is a record's (NAME.json), not a temporary."""
    return file.endswith(RECORD_SUFFIX)


def bridge_of_record(file: str) -> str | None:
    """The bridge whose record (Layout.bridge_record) is the file named `file` in bridges_dir; None for any other."""
    bridge = file[: -len(RECORD_SUFFIX)]
    return bridge if is_record_file(file) and is_interface_name(bridge) else None


def layout(state_dir: str, where: str = "--state-dir") -> Layout:
    """The layout under `state_dir` (absolute, normalised by the caller), checked."""
    if not state_dir.startswith("/"):
        raise HpError(where, f"{quote(state_dir)} is not an absolute path")
    bad = [c for c in _OVERLAY_UNSAFE if c in state_dir]
    if bad:
        raise HpError(
            where, f"{quote(state_dir)} may not contain {quote(bad[0])} (overlayfs options would split there)"
        )
    return Layout(state_dir.rstrip("/") or "/")
