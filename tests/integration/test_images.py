"""executor.images for real: images built here with `podman import` of a busybox-static
rootfs (no registry, no network), copied into a temporary state directory (the way hp
takes an image it cannot use in place: tests/integration/test_zero_copy.py has the
zero-copy way), and checked for what must survive, what must be reused and what must
never be left behind (containers, anonymous volumes, image mounts, scratch directories)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from compiler.errors import HpError
from compiler.layout import layout
from executor import images

from ..needs import missing

pytestmark = pytest.mark.integration

METHODS = tuple(images.EXTRACTORS)
COPY = "mount"  # the ways to copy an image out are tested here; its zero-copy use in test_zero_copy.py
# VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted = CAP_NET_RAW (13): `setcap cap_net_raw+ep`
CAPABILITY = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\n"


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120).stdout


def busybox_tree(root: Path) -> None:
    for d in ("bin", "etc", "home/app"):
        (root / d).mkdir(parents=True)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    os.chown(root / "home" / "app", 1000, 1000)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "cat", "ls", "true"):
        (root / "bin" / applet).symlink_to("busybox")


def import_image(tmp: Path, root: Path, changes: tuple[str, ...] = ()) -> str:
    tar = tmp / f"{root.name}.tar"
    sh(
        "tar",
        "--create",
        "--file",
        str(tar),
        "--directory",
        str(root),
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=*",
        ".",
    )
    ref = f"localhost/hp-test-images-{uuid.uuid4().hex[:10]}/{root.name}:1"
    argv = ["podman", "import"]
    for change in changes:
        argv += ["--change", change]
    sh(*argv, str(tar), ref)
    tar.unlink()
    return ref


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The test images (removed at the end, even when a test fails)."""
    if os.geteuid() != 0:
        missing("root")
    for tool in ("podman", "tar", "cp"):
        if not shutil.which(tool):
            missing(tool)
    if not Path("/bin/busybox").is_file():
        missing("busybox-static (/bin/busybox)")
    tmp = tmp_path_factory.mktemp("images")
    refs: list[str] = []
    try:
        # main: ownership, modes, xattrs, a file capability, a hard link
        root = tmp / "main"
        busybox_tree(root)
        (root / "etc" / "passwd").write_text(PASSWD)
        (root / "etc" / "group").write_text(GROUP)
        suid = root / "bin" / "suid"
        shutil.copy2("/bin/busybox", suid)
        os.chown(suid, 1000, 1000)
        os.chmod(suid, 0o4755)  # after chown, which clears set-user-ID
        capped = root / "bin" / "capped"
        shutil.copy2("/bin/busybox", capped)
        os.setxattr(capped, "security.capability", CAPABILITY)
        (root / "etc" / "labelled").write_text("x")
        os.setxattr(root / "etc" / "labelled", "user.hp.test", b"kept")
        os.link(root / "bin" / "busybox", root / "bin" / "hardlink")
        main = import_image(
            tmp,
            root,
            ('ENTRYPOINT ["/bin/busybox"]', 'CMD ["sleep", "1"]', "USER app", "WORKDIR /home/app", "ENV MODE=image"),
        )
        refs.append(main)

        # evil: /etc/passwd an absolute symlink to a host file; /etc/group climbs out with ".."
        host = tmp / "host"
        host.mkdir()
        secret = host / "shadow"
        secret.write_text("root:HOST-SECRET:0:0::/:/bin/sh\n")
        host_group = host / "group"
        host_group.write_text("HOST-GROUP:x:0:\n")
        root = tmp / "evil"
        busybox_tree(root)
        (root / "etc" / "passwd").symlink_to(str(secret))
        inside = root / str(host_group).lstrip("/")
        inside.parent.mkdir(parents=True)
        inside.write_text("inroot:x:7:\n")
        (root / "etc" / "group").symlink_to("../../../../../../../../.." + str(host_group))
        evil = import_image(tmp, root, ('CMD ["/bin/sh"]',))
        refs.append(evil)

        # latin1: /etc/passwd that is not UTF-8
        root = tmp / "latin1"
        busybox_tree(root)
        (root / "etc" / "passwd").write_bytes(b"root:x:0:0:Ren\xe9:/root:/bin/sh\n")
        latin1 = import_image(tmp, root, ('CMD ["/bin/sh"]',))
        refs.append(latin1)

        # bare: no ENTRYPOINT, no CMD (podman create refuses such an image without a command),
        # a VOLUME (podman create makes an anonymous volume for it), no /etc/passwd
        root = tmp / "bare"
        busybox_tree(root)
        (root / "data").mkdir()
        (root / "data" / "seed").write_text("seed\n")
        bare = import_image(tmp, root, ("VOLUME /data",))
        refs.append(bare)

        yield SimpleNamespace(main=main, evil=evil, latin1=latin1, bare=bare, secret=secret)
    finally:
        for ref in refs:
            subprocess.run(["podman", "rmi", "--force", ref], capture_output=True, timeout=120)


@pytest.fixture
def state(tmp_path):
    lay = layout(str(tmp_path / "state"))
    yield lay
    images.prune_unused(lay, set())  # a zero-copy image's podman reference too


def image_id(ref: str) -> str:
    return sh("podman", "image", "inspect", "--format", "{{.Id}}", ref).strip()


def volumes() -> set[str]:
    """Volumes no container uses (a leaked anonymous volume would be one)."""
    return set(sh("podman", "volume", "ls", "--quiet", "--filter", "dangling=true").split())


def leftovers(state, image: str, volumes_before: set[str]) -> list[str]:
    """Everything temporary an extraction of `image` could leave behind."""
    iid = image_id(image)
    found = [
        f"container {n}"
        for n in sh("podman", "ps", "--all", "--format", "{{.Names}}").split()
        if n.startswith(f"hp-ref-{iid[:12]}-")
    ]
    mounted = json.loads(sh("podman", "image", "mount", "--format", "json") or "[]") or []
    found += [f"image mount {m.get('mountpoint')}" for m in mounted if m.get("id") == iid]
    found += [f"volume {v}" for v in volumes() - volumes_before]
    for dirpath, dirs, files in os.walk(state.state_dir):
        found += [f"scratch {dirpath}/{d}" for d in dirs if d.startswith(".extract-")]
        found += [f"file {dirpath}/{f}" for f in files if f.endswith(".tar") or ".tmp" in f]
        dirs[:] = [d for d in dirs if d != "rootfs"]
    return found


def tree(root: str) -> list[tuple]:
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            xattrs = sorted(
                (k, os.getxattr(path, k, follow_symlinks=False)) for k in os.listxattr(path, follow_symlinks=False)
            )
            out.append(
                (
                    os.path.relpath(path, root),
                    st.st_mode,
                    st.st_uid,
                    st.st_gid,
                    0 if stat.S_ISDIR(st.st_mode) else st.st_size,
                    st.st_nlink if stat.S_ISREG(st.st_mode) else 0,
                    os.readlink(path) if stat.S_ISLNK(st.st_mode) else None,
                    xattrs,
                )
            )
    return sorted(out)


# ---------------------------------------------------------------------------------------------


def test_first_call_extracts_and_reads_the_facts(built, state) -> None:
    before = volumes()
    prepared = images.ensure_image(built.main, state, method=COPY)
    iid = image_id(built.main)
    assert prepared.image_id == iid
    assert prepared.pulled is False  # it was there already
    assert prepared.rootfs == state.image_rootfs(iid)
    assert os.path.isfile(f"{prepared.rootfs}/bin/busybox")
    assert prepared.facts.passwd == PASSWD
    assert prepared.facts.group == GROUP
    config = prepared.facts.config
    assert (config.entrypoint, config.cmd, config.user, config.working_dir, config.env) == (
        ("/bin/busybox",),
        ("sleep", "1"),
        "app",
        "/home/app",
        ("MODE=image",),
    )
    saved = json.loads(Path(state.image_dir(iid), "image.json").read_text())
    assert saved[0]["Id"] == iid
    assert sorted(os.listdir(state.image_dir(iid))) == ["image.json", "rootfs"]
    assert leftovers(state, built.main, before) == []


def test_second_call_reuses_the_rootfs(built, state, monkeypatch) -> None:
    first = images.ensure_image(built.main, state, method=COPY)
    before = os.stat(first.rootfs)
    json_before = os.stat(f"{state.image_dir(first.image_id)}/image.json")

    def no_extraction(*args) -> None:
        raise AssertionError("extracted a second time")

    for method in METHODS:
        monkeypatch.setitem(images.EXTRACTORS, method, no_extraction)
    second = images.ensure_image(built.main, state, method=COPY)
    after = os.stat(second.rootfs)
    assert second == first
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    # the same inspect output is not written again either
    assert os.stat(f"{state.image_dir(first.image_id)}/image.json").st_ino == json_before.st_ino


@pytest.mark.parametrize("method", METHODS)
def test_ownership_modes_xattrs_and_capabilities_survive(built, state, method) -> None:
    before = volumes()
    prepared = images.ensure_image(built.main, state, method=method)
    root = Path(prepared.rootfs)
    suid = os.lstat(root / "bin" / "suid")
    assert (suid.st_uid, suid.st_gid, stat.S_IMODE(suid.st_mode)) == (1000, 1000, 0o4755)
    home = os.lstat(root / "home" / "app")
    assert (home.st_uid, home.st_gid) == (1000, 1000)
    assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
    assert os.getxattr(root / "bin" / "capped", "security.capability") == CAPABILITY
    assert os.getxattr(root / "etc" / "labelled", "user.hp.test") == b"kept"
    assert os.readlink(root / "bin" / "sh") == "busybox"
    hard, orig = os.lstat(root / "bin" / "hardlink"), os.lstat(root / "bin" / "busybox")
    assert hard.st_ino == orig.st_ino and orig.st_nlink == 2
    assert leftovers(state, built.main, before) == []


@pytest.mark.parametrize("image", ["main", "bare"])
def test_the_copy_is_the_image_as_podman_mounts_it(built, tmp_path, image) -> None:
    ref = getattr(built, image)
    before = volumes()
    copied = layout(str(tmp_path / "copy"))
    rootfs = images.ensure_image(ref, copied, method=COPY).rootfs
    assert stat.S_IMODE(os.stat(rootfs).st_mode) == 0o755
    assert leftovers(copied, ref, before) == []
    in_place = layout(str(tmp_path / "layers"))
    try:
        with images.merged_root(in_place, images.ensure_image(ref, in_place)) as merged:
            expected = tree(merged)
    finally:
        images.prune_unused(in_place, set())
    got = tree(rootfs)
    assert got == expected, sorted(set(got) ^ set(expected))


@pytest.mark.parametrize("method", METHODS)
def test_an_image_without_command_with_a_volume_and_no_passwd(built, state, method) -> None:
    before = volumes()
    prepared = images.ensure_image(built.bare, state, method=method)
    assert prepared.facts.passwd is None and prepared.facts.group is None
    assert Path(prepared.rootfs, "data", "seed").read_text() == "seed\n"
    assert leftovers(state, built.bare, before) == []


def test_pull_failure_is_one_clean_error_and_leaves_nothing(state) -> None:
    if os.geteuid() != 0 or not shutil.which("podman"):
        missing("root and podman")
    ref = "127.0.0.1:1/nope:1"
    with pytest.raises(HpError) as caught:
        images.ensure_image(ref, state, insecure=True)
    message = str(caught.value)
    assert ref in message and "\n" not in message
    assert "retrying" not in message  # podman's retry warnings are not the error
    assert "connection refused" in message
    assert not os.path.exists(state.images_dir) or os.listdir(state.images_dir) == []


def test_a_passwd_symlink_never_reads_the_host(built, state) -> None:
    prepared = images.ensure_image(built.evil, state)
    assert prepared.facts.passwd is None  # /etc/passwd -> an absolute host path absent in the image
    assert prepared.facts.group == "inroot:x:7:\n"  # "../../.." stops at the image's root
    assert "HOST" not in repr(prepared.facts)
    assert built.secret.read_text().startswith("root:HOST-SECRET")


def test_a_passwd_that_is_not_utf8_is_an_error_naming_it(built, state) -> None:
    with pytest.raises(HpError) as caught:
        images.ensure_image(built.latin1, state)
    assert "/etc/passwd" in str(caught.value) and "UTF-8" in str(caught.value)
    assert built.latin1 in str(caught.value)


@pytest.mark.parametrize("method", METHODS)
def test_a_failed_extraction_leaves_nothing_behind(built, state, method, monkeypatch) -> None:
    """The copy step fails for real (its source does not exist) after the image was mounted:
    everything is undone."""
    before = volumes()
    monkeypatch.setattr(images, "copy_tree_argv", lambda source, dest: ("cp", "-a", f"{source}/missing/.", dest))
    with pytest.raises(HpError) as caught:
        images.ensure_image(built.bare, state, method=method)
    assert "\n" not in str(caught.value)
    assert leftovers(state, built.bare, before) == []
    assert not os.path.exists(state.image_dir(image_id(built.bare)))


def test_an_interrupted_extraction_leaves_nothing_behind(built, state, monkeypatch) -> None:
    """A KeyboardInterrupt (Ctrl-C) in the middle of the copy: the image is still unmounted."""
    before = volumes()
    real_run = images.run

    def interrupted(argv, what, **kw):
        if argv[0] == "cp":
            raise KeyboardInterrupt
        return real_run(argv, what, **kw)

    monkeypatch.setattr(images, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        images.ensure_image(built.bare, state, method=COPY)
    monkeypatch.setattr(images, "run", real_run)
    assert leftovers(state, built.bare, before) == []


def test_a_killed_extractions_scratch_is_swept(built, state) -> None:
    iid = image_id(built.bare)
    stale = Path(state.image_dir(iid), ".extract-killed")
    (stale / "rootfs" / "half").mkdir(parents=True)
    prepared = images.ensure_image(built.bare, state, method=COPY)
    assert not stale.exists()
    assert sorted(os.listdir(state.image_dir(iid))) == ["image.json", "rootfs"]
    assert os.path.isfile(f"{prepared.rootfs}/data/seed")


def test_concurrent_callers_extract_once(built, state, monkeypatch) -> None:
    calls = []
    real = images.EXTRACTORS[COPY]

    def counting(image, dest, scratch):
        calls.append(image)
        real(image, dest, scratch)

    monkeypatch.setitem(images.EXTRACTORS, COPY, counting)
    results, errors = [], []

    def call() -> None:
        try:
            results.append(images.ensure_image(built.main, state, method=COPY))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(calls) == 1
    assert len({r.rootfs for r in results}) == 1 and len(results) == 4


def test_an_extractor_that_lost_the_rename_keeps_the_winners_tree(built, state, monkeypatch) -> None:
    """Someone not taking hp's lock put a complete rootfs in place while we extracted."""
    iid = image_id(built.bare)
    real = images.EXTRACTORS["mount"]

    def raced(image, dest, scratch):
        real(image, dest, scratch)
        winner = Path(state.image_rootfs(iid))
        winner.mkdir()
        (winner / "winner").write_text("1")

    monkeypatch.setitem(images.EXTRACTORS, "mount", raced)
    prepared = images.ensure_image(built.bare, state, method="mount")
    assert os.listdir(prepared.rootfs) == ["winner"]
    assert sorted(os.listdir(state.image_dir(iid))) == ["image.json", "rootfs"]


def test_a_reference_that_looks_like_an_option_is_refused(state) -> None:
    with pytest.raises(HpError):
        images.ensure_image("--authfile=/etc/shadow", state)
    assert not os.path.exists(state.state_dir)
