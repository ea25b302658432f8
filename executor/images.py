"""Images: pulled by podman, inspected, and used in place: the overlay of each container stacks on
the image's own layer directories in podman's storage; nothing is copied (docs/executor.md, Images).

    prepared = ensure_image("127.0.0.1:5000/web:1", layout, insecure=True)
    prepared.image_id, prepared.layers, prepared.facts, prepared.pulled

Steps: `podman image inspect REF`; if podman lacks it, `podman pull --quiet [--tls-verify=false]
REF` (podman's own registries configuration applies) and inspect again: the image ID and config
(saved as STATE/images/<id>/image.json). A pull may take its registry's `timeout` (hp.toml
`[registries."HOST"] timeout`, default 60 s): a registry that accepts connections and never
answers would otherwise hold the state lock for as long as podman waits. Past it, podman is
killed with whatever it started, and the error names the image and the limit. inspect and
exists get QUERY_TIMEOUT.

Once per image ID and state dir (use_layers_once, under an flock of STATE/images): the layer
diff dirs come from inspect's GraphDriver (UpperDir, then LowerDir's, top first: the order of
overlayfs' lowerdir), and a podman container is created, never run (`hp-ref-<id12>-<random>`,
named in STATE/images/<id>/reference before it is made, so a kill leaves it known): while it
exists `podman rmi` and image prunes refuse to remove the image. layers.json is written last
and says it is done; prune_unused removes the container when no container of the state dir
uses the image any more. /etc/passwd and /etc/group are read through the layers as overlayfs
merges them, never following a symlink out of the image (executor.rootfs.read_in_layers). A
volume's first content comes from a `podman image mount`, undone at once (merged_root).

Copying stays for what layers cannot serve: a storage driver other than overlay, layer dirs
that do not look like containers/storage's, or more layers than one mount's options hold; and
a rootfs an older hp copied stays in use (its containers keep their lowerdir) until no
container uses it. The copy ("mount"): `podman image mount ID`, `cp -a --preserve=all MOUNT/.
DIR`, `podman image unmount ID`, all or nothing: built in a scratch directory next to its final
place (STATE/images/<id>/.extract-XXXX/rootfs), synced (syncfs) and renamed into place; a
killed copy's scratch directory (and its mount, by a marker file) is swept under the lock.
(A throw-away container's `podman export` and a tar of the mount were measured too, and were
slower: they are gone.)
Ownership, modes, xattrs, hard links and symlinks are kept; the root directory gets 0755.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator

import msgspec

from compiler import ImageFacts, parse_image_config
from compiler.commands import (  # the argv are decided in the compiler, purely
    container_exists_argv,
    copy_tree_argv,
    image_exists_argv,
    image_mount_argv,
    image_unmount_argv,
    inspect_argv,
    pull_argv,
    reference_create_argv,
    rm_argv,
)
from compiler.errors import HpError, StalePlan, quote
from compiler.layout import Layout
from compiler.reference import parse_reference
from compiler.resources import DEFAULT_PULL_TIMEOUT

from .faults import checkpoint
from .run import TimedOut, run, run_status
from .store import read_or_none, write_atomic

_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
_SCRATCH_PREFIX = ".extract-"
_PULL_PREFIX = ".pull-"  # podman's TMPDIR for one pull
_MOUNT_MARKER = "image-mounted"
_REFERENCE_PREFIX = "hp-ref-"
# containers/storage's overlay layer: GRAPHROOT/overlay/<64 hex>/diff; no "," or ":" (mount option separators)
_LAYER_DIR = re.compile(r"/[^,:\x00-\x1f]+/overlay/[0-9a-f]{64}/diff")
_LOWER_MAX = 3000  # of the 4096 bytes the mount options may take: upperdir and workdir need the rest
COPY_TIMEOUT = 3600.0
QUERY_TIMEOUT = 30.0  # podman image inspect / exists: local, quick unless podman's storage is stuck


class PreparedImage(msgspec.Struct, frozen=True):
    """An image ready to run: its podman ID, its facts, and where its files are: its layer
    diff dirs in podman's storage (top first), or else a root filesystem copied out of it."""

    image_id: str
    rootfs: str  # "" when layers are used
    facts: ImageFacts
    pulled: bool = False
    layers: tuple[str, ...] = ()

    @property
    def lower(self) -> str:
        """The overlay's lowerdir option value."""
        return ":".join(self.layers) if self.layers else self.rootfs


# ---- copying an image out (when its layers cannot be used) --------------------------------------


def extract_by_mount(image: str, dest: str, scratch: str) -> None:
    """Fill the empty directory `dest` with `image`'s root filesystem from a read-only
    `podman image mount`, copied with `cp -a`; the image is unmounted in any case."""
    # written first: if hp dies while the image is mounted, the next extraction (which
    # sweeps scratch directories under the images lock) knows to unmount it
    with open(os.path.join(scratch, _MOUNT_MARKER), "w") as f:
        f.write(image)
    mounted = run(image_mount_argv(image), f"mounting image {image}").strip()
    checkpoint("image-mounted")

    def undo() -> None:
        run(image_unmount_argv(image), f"unmounting image {image}")

    with _undone_by(undo):
        if not mounted.startswith("/") or not os.path.isdir(mounted):
            raise HpError(f"image {image}", f"`podman image mount` gave {quote(mounted)}, not a directory")
        run(copy_tree_argv(mounted, dest), f"copying image {image}", timeout=COPY_TIMEOUT)


Extractor = Callable[[str, str, str], None]

EXTRACTORS: dict[str, Extractor] = {"mount": extract_by_mount}
DEFAULT_METHOD = "layers"  # podman's own layers (zero-copy); the others copy the image out


# ---- ensure_image ------------------------------------------------------------------------------


def ensure_image(
    ref: str,
    layout: Layout,
    *,
    insecure: bool = False,
    method: str = DEFAULT_METHOD,
    pull_missing: bool = True,
    pull_timeout: float = DEFAULT_PULL_TIMEOUT,
    say: Callable[[str], None] = lambda _: None,
) -> PreparedImage:
    """Pull `ref` if podman lacks it and return what the compiler and the container need: its
    facts, read through its layers in podman's storage (or, where those cannot be used, from a
    root filesystem copied out once per image ID). Raises one HpError on any failure, leaving
    nothing half-made. With pull_missing=False (applying a saved plan) a missing image is a
    StalePlan error: the plan was made with an image that is gone.

    This takes no hold on the image: plans and exports make nothing outside the state dir.
    Before a container of it is made, apply calls hold_image."""
    parse_reference(ref, "image")  # refuses anything podman could take for an option
    if method != "layers" and method not in EXTRACTORS:
        raise ValueError(f"unknown image method {method!r}")
    pulled = False
    # inspect first: for an image podman has (the usual case) that is the only podman call
    code, inspect, _ = run_status(inspect_argv(ref), timeout=QUERY_TIMEOUT)
    if code != 0:
        code, _, err = run_status(image_exists_argv(ref), timeout=QUERY_TIMEOUT)
        if code not in (0, 1):
            raise HpError(f"image {ref}", f"`podman image exists` failed: {_podman_error(err) or f'exit {code}'}")
        if code == 1:
            if not pull_missing:
                raise StalePlan(f"image {ref}", "no longer in podman's store (it was when the plan was made)")
            say(f"pulling {ref}")
            pull(ref, insecure=insecure, timeout=pull_timeout, scratch_in=layout.images_dir)
            checkpoint("after-pull")
            pulled = True
        inspect = run(inspect_argv(ref), f"inspecting image {ref}", timeout=QUERY_TIMEOUT)
    image_id, config = _parse_inspect(ref, inspect)
    layers: tuple[str, ...] = ()
    rootfs = layout.image_rootfs(image_id)
    if method == "layers":
        layers = _usable_layers(layout, image_id)
        if not layers and not os.path.isdir(rootfs):  # a rootfs an older hp copied stays in use
            layers = _graph_layers(inspect)  # read through, not held: hold_image holds them
    if not layers and not os.path.isdir(rootfs):
        say(f"extracting {ref} ({image_id[:12]}) into {layout.images_dir}")
        extract_once(image_id, layout, EXTRACTORS["mount" if method == "layers" else method])
    prepared = PreparedImage(image_id, "" if layers else rootfs, ImageFacts(config, None, None), pulled, layers)
    json_path = layout.image_inspect(image_id)
    data = inspect.encode()
    if read_or_none(json_path) != data:
        os.makedirs(layout.image_dir(image_id), mode=0o755, exist_ok=True)
        write_atomic(json_path, data)
    passwd = _etc_text(prepared, "/etc/passwd", ref)
    group = _etc_text(prepared, "/etc/group", ref)
    return msgspec.structs.replace(prepared, facts=ImageFacts(config, passwd, group))


def hold_image(layout: Layout, prepared: PreparedImage, say: Callable[[str], None] = lambda _: None) -> None:
    """Before a container of `prepared` is made (apply): the podman container that keeps the image's
    layers from being removed, and layers.json, once per image and state dir (use_layers_once).
    Nothing to do for an image whose root filesystem was copied out, or that is held already."""
    if not prepared.layers or _usable_layers(layout, prepared.image_id):
        return
    inspect = read_or_none(layout.image_inspect(prepared.image_id))
    if inspect is None:
        raise HpError(
            f"image {prepared.image_id[:12]}", "its inspect record is missing from the state dir: run hp plan again"
        )
    layers = use_layers_once(prepared.image_id, layout, inspect.decode(), say=say)
    if layers != prepared.layers:
        raise StalePlan(f"image {prepared.image_id[:12]}", "its layers in podman's storage changed since the plan")


def use_layers_once(
    image_id: str, layout: Layout, inspect: str, *, ref: str = "", say: Callable[[str], None] = lambda _: None
) -> tuple[str, ...]:
    """Take `image_id`'s layer diff dirs from `podman image inspect` (GraphDriver: UpperDir,
    then LowerDir's, top first) as its overlay's lowers, and hold a reference (a podman
    container created, never run, named in STATE/images/<id>/reference) that makes `podman
    rmi` and image prunes refuse to remove it; then STATE/images/<id>/layers.json, written
    last, says it is done. Under the images lock, once per image ID. () when podman's storage
    cannot be used so (not its overlay driver, or too many layers for one mount): the caller
    copies the image out instead."""
    layers = _graph_layers(inspect)
    if not layers:
        return ()
    with _images_lock(layout):
        done = _usable_layers(layout, image_id)
        if done:  # another hp process did it while we waited
            return done
        image_dir = layout.image_dir(image_id)
        made_dir = not os.path.isdir(image_dir)
        os.makedirs(image_dir, mode=0o755, exist_ok=True)
        _sweep_scratch(image_dir)
        release_reference(layout, image_id)  # one that a killed hp, or layers now gone, left
        say(f"using the layers of {ref or image_id[:12]} in podman's storage (nothing copied)")
        name = f"{_REFERENCE_PREFIX}{image_id[:12]}-{os.urandom(4).hex()}"
        write_atomic(layout.image_reference(image_id), name.encode())  # first: a kill leaves it known
        try:
            run(
                reference_create_argv(name, image_id),
                f"creating podman container {name} to hold image {image_id[:12]}",
                timeout=QUERY_TIMEOUT,
            )
            checkpoint("image-referenced")
            write_atomic(layout.image_layers(image_id), msgspec.json.encode(layers))
        except BaseException:
            try:
                release_reference(layout, image_id)
                if made_dir:
                    os.rmdir(image_dir)  # only if empty: never someone else's files
            except (HpError, OSError):
                pass  # the error that got us here is the one to report; the next prune or apply retries
            raise
    return layers


def release_reference(layout: Layout, image_id: str) -> None:
    """Remove the podman container that holds `image_id` for this state dir, if there is one,
    and forget the layers it kept."""
    path = layout.image_reference(image_id)
    recorded = read_or_none(path)
    if recorded is None:
        return
    name = recorded.decode(errors="replace")
    if not re.fullmatch(rf"{_REFERENCE_PREFIX}{image_id[:12]}-[0-9a-f]{{8}}", name):
        raise HpError(
            f"image {image_id[:12]}", f"{path} names {quote(name)}, not a container hp made; hp leaves it alone"
        )
    _unlink_quietly(layout.image_layers(image_id))  # first: never layers.json without the reference
    code, _, err = run_status(rm_argv(name), timeout=QUERY_TIMEOUT)
    if code != 0 and _container_exists(name):
        raise HpError(
            f"image {image_id[:12]}",
            f"cannot remove podman container {name}, which holds it: {_podman_error(err) or f'exit {code}'}",
        )
    _unlink_quietly(path)


def lower_of(layout: Layout, image_id: str) -> str:
    """The overlay lowerdir value for a container of `image_id`: its layers (layers.json), or the
    rootfs an older hp copied (kept for the containers made from it until they are replaced)."""
    layers = _recorded_layers(layout, image_id)
    return ":".join(layers) if layers else layout.image_rootfs(image_id)


def read_image_file(layout: Layout, image_id: str, path: str) -> bytes | None:
    """A file of the image `image_id`, read through its layers or its copied rootfs, never
    following a symlink out of it (executor.rootfs)."""
    from .rootfs import read_in_layers, read_in_root

    layers = _recorded_layers(layout, image_id)
    return read_in_layers(layers, path) if layers else read_in_root(layout.image_rootfs(image_id), path)


@contextlib.contextmanager
def merged_root(layout: Layout, prepared: PreparedImage) -> Iterator[str]:
    """A directory with the image's whole tree, for copying a part of it (a volume's first
    content): its copied rootfs, or a `podman image mount` of it, unmounted afterwards (by
    the prune of the image, through a marker in a scratch dir, if hp is killed meanwhile)."""
    if not prepared.layers:
        yield prepared.rootfs
        return
    image = prepared.image_id
    scratch = _mkdtemp(layout.image_dir(image))
    try:
        with open(os.path.join(scratch, _MOUNT_MARKER), "w") as f:
            f.write(image)
        mounted = run(image_mount_argv(image), f"mounting image {image[:12]}", timeout=QUERY_TIMEOUT).strip()
        try:
            checkpoint("volume-image-mounted")
            if not mounted.startswith("/") or not os.path.isdir(mounted):
                raise HpError(f"image {image[:12]}", f"`podman image mount` gave {quote(mounted)}, not a directory")
            yield mounted
        finally:
            run_status(image_unmount_argv(image), timeout=QUERY_TIMEOUT)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def pull(
    ref: str, *, insecure: bool = False, timeout: float = DEFAULT_PULL_TIMEOUT, scratch_in: str | None = None
) -> None:
    """`podman pull` or one HpError: the reference, and podman's own error line, or the time limit
    it passed (podman is then stopped, with whatever it started). scratch_in: a directory in which
    to give podman a temporary directory of its own, removed afterwards (podman killed or
    interrupted leaves its download directory behind: it would otherwise stay in /var/tmp)."""
    scratch = None
    if scratch_in is not None:
        os.makedirs(scratch_in, mode=0o700, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=_PULL_PREFIX, dir=scratch_in)
    try:
        code, _, err = run_status(
            pull_argv(ref, insecure), timeout=timeout, env={"TMPDIR": scratch} if scratch else None
        )
    except TimedOut:
        domain = parse_reference(ref, "image").domain
        raise HpError(
            f"pulling image {ref}",
            f"not done within {timeout:g} s, so stopped (a registry that is "
            f'only slow needs a longer [registries."{domain}"] timeout)',
        ) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if code != 0:
        raise HpError(f"pulling image {ref}", _podman_error(err) or f"podman pull exited {code}")


def extract_once(image_id: str, layout: Layout, extractor: Extractor = extract_by_mount) -> str:
    """Make STATE/images/<id>/rootfs unless it exists: built in a scratch directory next to
    it, synced, renamed into place. Serialised between hp processes by an flock of
    STATE/images. Returns the rootfs path."""
    if not _IMAGE_ID.fullmatch(image_id):
        raise HpError("image", f"unexpected image ID {quote(image_id)}")
    image_dir, rootfs = layout.image_dir(image_id), layout.image_rootfs(image_id)
    with _images_lock(layout):
        if os.path.isdir(rootfs):  # another hp process made it while we waited
            return rootfs
        made_dir = not os.path.isdir(image_dir)
        os.makedirs(image_dir, mode=0o755, exist_ok=True)
        try:
            _sweep_scratch(image_dir)  # leftovers of a killed hp: no live extractor holds the lock
            scratch = _mkdtemp(image_dir)
            try:
                tree = os.path.join(scratch, "rootfs")
                os.mkdir(tree, 0o700)
                extractor(image_id, tree, scratch)
                # the root's mode: export carries none, the mount's is containers/storage's
                # (0555); neither is the image's, so both ways give what runtimes expect
                os.chmod(tree, 0o755)
                _syncfs(tree)
                try:
                    os.rename(tree, rootfs)
                except OSError as e:
                    # someone not taking our lock won the race: keep theirs, drop ours
                    if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not os.path.isdir(rootfs):
                        raise
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        except BaseException:
            if made_dir:
                try:
                    os.rmdir(image_dir)  # only if empty: never someone else's files
                except OSError:
                    pass
            raise
    return rootfs


def prune_unused(layout: Layout, in_use: set[str]) -> list[str]:
    """Forget the images no container of this state dir uses: release the podman container
    that held each (podman keeps the image itself) and delete its directory, the copied rootfs
    of an older hp included. Under the images lock; returns the IDs removed."""
    if not os.path.isdir(layout.images_dir):
        return []
    removed = []
    with _images_lock(layout):
        for image_id in sorted(os.listdir(layout.images_dir)):
            if _IMAGE_ID.fullmatch(image_id) and image_id not in in_use:
                _sweep_scratch(layout.image_dir(image_id))  # a killed hp's image mount is undone
                release_reference(layout, image_id)
                # renamed away first: a half-deleted tree is never taken for a whole one
                doomed = _mkdtemp(layout.images_dir)
                os.rename(layout.image_dir(image_id), f"{doomed}/{image_id}")
                shutil.rmtree(doomed, ignore_errors=True)
                removed.append(image_id)
        for entry in os.listdir(layout.images_dir):
            if entry.startswith((_SCRATCH_PREFIX, _PULL_PREFIX)):  # a killed hp's (pulls run under the state lock)
                shutil.rmtree(f"{layout.images_dir}/{entry}", ignore_errors=True)
    return removed


# ---- helpers -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _undone_by(undo: Callable[[], None]) -> Iterator[None]:
    """Run `undo` after the block in any case. If the block failed, its error is the one
    raised (an error of `undo` is then dropped); if it succeeded, `undo`'s error is raised."""
    try:
        yield
    except BaseException:
        try:
            undo()
        except Exception:
            pass
        raise
    undo()


@contextlib.contextmanager
def _images_lock(layout: Layout) -> Iterator[None]:
    """An flock of STATE/images: one hp process at a time prepares or prunes images."""
    os.makedirs(layout.images_dir, mode=0o700, exist_ok=True)
    lock = os.open(layout.images_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # releases the flock


class _Graph(msgspec.Struct):
    Name: str = ""
    Data: dict[str, str] = msgspec.field(default_factory=dict)


class _GraphOnly(msgspec.Struct):
    GraphDriver: _Graph = msgspec.field(default_factory=_Graph)


def _graph_layers(inspect: str) -> tuple[str, ...]:
    """The layer diff dirs, top first, of podman's overlay driver; () if podman uses another
    driver, a dir does not look like one of its layers, or the overlay mount option would be
    longer than the kernel takes (one page, with upperdir and workdir)."""
    try:
        (image,) = msgspec.json.decode(inspect, type=tuple[_GraphOnly])
    except (msgspec.DecodeError, ValueError):
        return ()
    graph = image.GraphDriver
    if graph.Name != "overlay" or not graph.Data.get("UpperDir"):
        return ()
    layers = (graph.Data["UpperDir"], *filter(None, graph.Data.get("LowerDir", "").split(":")))
    if not all(_LAYER_DIR.fullmatch(d) and os.path.isdir(d) for d in layers) or len(":".join(layers)) > _LOWER_MAX:
        return ()
    return layers


def _recorded_layers(layout: Layout, image_id: str) -> tuple[str, ...]:
    data = read_or_none(layout.image_layers(image_id))
    if data is None:
        return ()
    try:
        layers = msgspec.json.decode(data, type=tuple[str, ...])
    except msgspec.DecodeError:
        layers = ()
    if not layers or not all(_LAYER_DIR.fullmatch(d) for d in layers):
        raise HpError(f"image {image_id[:12]}", f"{layout.image_layers(image_id)} is not a list of podman layer dirs")
    return layers


def _usable_layers(layout: Layout, image_id: str) -> tuple[str, ...]:
    """The recorded layers, if they are all still there (podman rmi --force removes them)."""
    layers = _recorded_layers(layout, image_id)
    return layers if layers and all(os.path.isdir(d) for d in layers) else ()


def _parse_inspect(ref: str, text: str):
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as e:
        raise HpError(f"image {ref}", f"`podman image inspect` gave invalid JSON: {e}") from None
    if not (isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], dict)):
        raise HpError(f"image {ref}", "`podman image inspect` did not describe exactly one image")
    image_id = raw[0].get("Id")
    if not isinstance(image_id, str) or not _IMAGE_ID.fullmatch(image_id):
        raise HpError(f"image {ref}", f"`podman image inspect` gave an unexpected Id {quote(image_id)}")
    try:
        config = parse_image_config(text)
    except HpError as e:
        raise e.within(f"image {ref}").from_source("image") from None
    return image_id, config


def _etc_text(prepared: PreparedImage, path: str, ref: str) -> str | None:
    from .rootfs import read_in_layers, read_in_root

    try:
        data = read_in_layers(prepared.layers, path) if prepared.layers else read_in_root(prepared.rootfs, path)
    except HpError as e:  # a directory, a FIFO, a symlink loop, too large ...
        raise e.within(f"image {ref}") from None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HpError(
            f"image {ref}: {path}", f"is not UTF-8 text (byte {e.start}: {e.reason})", source=path.rsplit("/", 1)[-1]
        ) from None


def _podman_error(stderr: str) -> str:
    """podman's own error line(s), without its retry warnings."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    return " ".join(errors[-2:] or lines[-1:])


def _container_exists(name: str) -> bool:
    return run_status(container_exists_argv(name), timeout=QUERY_TIMEOUT)[0] == 0


def _mkdtemp(parent: str) -> str:
    return tempfile.mkdtemp(prefix=_SCRATCH_PREFIX, dir=parent)


def _sweep_scratch(image_dir: str) -> None:
    """Remove what a killed extraction left, and undo its `podman image mount`."""
    for entry in os.listdir(image_dir):
        if entry.startswith(_SCRATCH_PREFIX):
            scratch = os.path.join(image_dir, entry)
            image = read_or_none(os.path.join(scratch, _MOUNT_MARKER))
            if image and _IMAGE_ID.fullmatch(image.decode(errors="replace")):
                run_status(image_unmount_argv(image.decode()))
            shutil.rmtree(scratch, ignore_errors=True)


def _syncfs(path: str) -> None:
    """Flush the filesystem holding `path`, so the renamed tree is complete even after a
    power loss (the rename alone covers a crash of hp)."""
    import ctypes

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
