"""executor.rootfs.read_in_root: a file of an image's rootfs, read as if chrooted into it
(issue 3; oci-conversion.md §6 item 20 and §5 F10: containerd OpenRoot, podman securejoin).

Every case builds a real tree under tmp_path: the image root at tmp_path/root and, next
to it, a decoy "host" file tmp_path/host/etc/passwd holding SECRET. A symlink in the
image pointing at the decoy (absolutely, or with enough "../") must resolve inside the
root, so the answer is the root's own file or None, never SECRET.

Where the kernel has openat2(RESOLVE_IN_ROOT) (Linux >= 5.6), the same table is also
checked against it: the manual walk must reach the same outcome as the kernel's own
in-root resolution (read_in_root itself never uses openat2).
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import stat
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.errors import HpError
from executor.rootfs import MAX_SYMLINKS, read_in_root

SECRET = b"root:HOST-SECRET:0:0::/root:/bin/sh\n"
INSIDE = b"root:x:0:0:inside the image:/root:/bin/sh\n"
MIB = 1024 * 1024
TIMEOUT = 10  # seconds: a FIFO or a device must be refused, not waited on


@dataclass(frozen=True)
class Err:
    """An expected HpError whose problem contains `text`."""

    text: str


@dataclass
class Case:
    tree: list[tuple]  # ("f", path, bytes) | ("d", path) | ("l", path, target) | ("p", path) | ("sparse", path, size)
    path: str = "/etc/passwd"
    expect: bytes | None | Err = INSIDE
    limit: int | None = None  # None: read_in_root's default


def chain(n: int) -> list[tuple]:
    """/etc/passwd -> /c/1 -> /c/2 -> ... -> /c/(n-1) -> /real: n symlinks to follow."""
    tree: list[tuple] = [("f", "real", INSIDE)]
    names = ["etc/passwd"] + [f"c/{i}" for i in range(1, n)]
    for i, name in enumerate(names):
        target = f"/{names[i + 1]}" if i + 1 < len(names) else "/real"
        tree.append(("l", name, target))
    return tree


CASES = [
    # --- the plain cases
    pytest.param(Case([("f", "etc/passwd", INSIDE)]), id="plain-file"),
    pytest.param(Case([("f", "etc/passwd", b"")], expect=b""), id="empty-file"),
    pytest.param(Case([("d", "etc"), ("f", "etc/group", b"x")], expect=None), id="missing-file"),
    pytest.param(Case([("f", "bin/sh", b"x")], expect=None), id="missing-dir"),
    pytest.param(Case([], expect=None), id="empty-root"),
    # --- symlinks that would reach the host's files if followed naively
    pytest.param(Case([("l", "etc/passwd", "{decoy}")], expect=None), id="abs-symlink-to-host-decoy"),
    pytest.param(
        Case([("l", "etc/passwd", "{decoy}"), ("f", "{decoy}", INSIDE)]), id="abs-symlink-to-host-path-resolves-inside"
    ),
    pytest.param(
        Case([("l", "etc/passwd", "/etc/real-passwd"), ("f", "etc/real-passwd", INSIDE)]), id="abs-symlink-inside"
    ),
    pytest.param(
        Case([("l", "etc/passwd", "../../host/etc/passwd")], expect=None), id="rel-symlink-dotdot-to-host-decoy"
    ),
    pytest.param(
        Case([("l", "etc/passwd", "../../host/etc/passwd"), ("f", "host/etc/passwd", INSIDE)]),
        id="rel-symlink-dotdot-clamped-at-root",
    ),
    pytest.param(
        Case([("l", "etc/passwd", "../../../../../../../../../etc/shadow"), ("f", "etc/shadow", INSIDE)]),
        id="rel-symlink-deep-dotdot-to-etc-shadow",
    ),
    pytest.param(
        Case([("l", "etc/passwd", "../../../../../../../../../etc/shadow")], expect=None),
        id="rel-symlink-deep-dotdot-missing-inside",
    ),
    pytest.param(
        Case([("l", "etc/passwd", "real-passwd"), ("f", "etc/real-passwd", INSIDE)]), id="rel-symlink-sibling"
    ),
    pytest.param(
        Case([("l", "etc/passwd", "/")], expect=Err("not a regular file (a directory)")),
        id="symlink-to-root-is-a-directory",
    ),
    # --- a symlinked directory on the way
    pytest.param(Case([("l", "etc", "/private/etc"), ("f", "private/etc/passwd", INSIDE)]), id="symlinked-etc-abs"),
    pytest.param(Case([("l", "etc", "private/etc"), ("f", "private/etc/passwd", INSIDE)]), id="symlinked-etc-rel"),
    pytest.param(Case([("l", "etc", "{decoy_dir}")], expect=None), id="symlinked-etc-to-host-dir"),
    pytest.param(Case([("l", "etc", "../../host/etc")], expect=None), id="symlinked-etc-dotdot-to-host-dir"),
    pytest.param(
        Case([("l", "etc", "../../host/etc"), ("f", "host/etc/passwd", INSIDE)]), id="symlinked-etc-dotdot-clamped"
    ),
    # ".." after a followed symlink is the target's parent (physical, as the kernel does)
    pytest.param(
        Case(
            [
                ("l", "etc", "private/etc"),
                ("d", "private/etc"),
                ("f", "private/passwd", INSIDE),
                ("f", "passwd", b"lexical"),
            ],
            path="/etc/../passwd",
        ),
        id="dotdot-after-symlinked-dir",
    ),
    # --- loops and chains
    pytest.param(
        Case([("l", "etc/passwd", "/etc/passwd")], expect=Err("too many levels of symbolic links")),
        id="symlink-self-loop",
    ),
    pytest.param(
        Case(
            [("l", "etc/passwd", "group"), ("l", "etc/group", "passwd")],
            expect=Err("too many levels of symbolic links"),
        ),
        id="symlink-two-loop",
    ),
    pytest.param(
        Case([("l", "etc", "/etc/x")], expect=Err("too many levels of symbolic links")), id="symlinked-dir-loop"
    ),
    pytest.param(Case(chain(1)), id="chain-1"),
    pytest.param(Case(chain(39)), id="chain-39"),
    pytest.param(Case(chain(MAX_SYMLINKS)), id="chain-40"),
    pytest.param(Case(chain(MAX_SYMLINKS + 1), expect=Err("too many levels of symbolic links")), id="chain-41"),
    # --- dangling
    pytest.param(Case([("l", "etc/passwd", "nowhere")], expect=None), id="dangling-rel"),
    pytest.param(Case([("l", "etc/passwd", "/nowhere/passwd")], expect=None), id="dangling-abs"),
    # --- not a regular file
    pytest.param(Case([("d", "etc/passwd")], expect=Err("not a regular file (a directory)")), id="directory"),
    pytest.param(
        Case([("l", "etc/passwd", "/etc")], expect=Err("not a regular file (a directory)")), id="symlink-to-directory"
    ),
    pytest.param(Case([("d", "etc")], path="/", expect=Err("not a regular file (a directory)")), id="path-is-root"),
    pytest.param(Case([("p", "etc/passwd")], expect=Err("not a regular file (a FIFO)")), id="fifo"),
    pytest.param(
        Case([("p", "etc/real"), ("l", "etc/passwd", "/etc/real")], expect=Err("not a regular file (a FIFO)")),
        id="symlink-to-fifo",
    ),
    # --- a non-directory where a directory is needed: ENOTDIR, i.e. does not exist
    pytest.param(Case([("f", "etc", b"x")], expect=None), id="file-as-directory"),
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="/etc/passwd/", expect=None), id="trailing-slash-on-file"),
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="/etc/passwd/.", expect=None), id="trailing-dot-on-file"),
    pytest.param(
        Case([("f", "etc/passwd", INSIDE), ("f", "etc/group", b"g")], path="/etc/passwd/../group", expect=None),
        id="dotdot-after-file",
    ),
    # --- sizes
    pytest.param(Case([("f", "etc/passwd", b"x" * 11)], limit=10, expect=Err("larger than 10 bytes")), id="over-limit"),
    pytest.param(Case([("f", "etc/passwd", b"x" * 10)], limit=10, expect=b"x" * 10), id="exactly-limit"),
    pytest.param(
        Case([("sparse", "etc/passwd", 10 * MIB + 1)], expect=Err("larger than 10 MiB")), id="over-default-limit-10-mib"
    ),
    pytest.param(Case([("sparse", "etc/passwd", 10 * MIB)], expect=bytes(10 * MIB)), id="exactly-default-limit"),
    # --- odd spellings of the path
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="//etc/./passwd"), id="double-slash-and-dot"),
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="/./etc//.//passwd"), id="many-slashes-and-dots"),
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="etc/passwd"), id="relative-path"),
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="/../../etc/passwd"), id="dotdot-at-root"),
    pytest.param(Case([("f", "etc/passwd", INSIDE)], path="/etc/../etc/../../etc/passwd"), id="dotdot-inside"),
    pytest.param(
        Case([("f", "etc/passwd", INSIDE), ("l", "host", "/")], path="/host/../../host/etc/passwd"),
        id="dotdot-through-symlink-to-root",
    ),
    # --- a system call error is reported with its strerror
    pytest.param(
        Case([("d", "etc")], path="/etc/" + "p" * 300, expect=Err("cannot read: File name too long")),
        id="name-too-long",
    ),
]


def build(tmp_path: Path, case: Case, *, root_via_symlink: bool = False) -> tuple[str, Path]:
    """Make tmp_path/root from the case, and the decoy host file next to it. Returns the
    root argument (possibly a symlink to the root) and the decoy."""
    root = tmp_path / "root"
    decoy = tmp_path / "host" / "etc" / "passwd"
    decoy.parent.mkdir(parents=True)
    decoy.write_bytes(SECRET)
    root.mkdir()

    def fill(text: str) -> str:
        return text.replace("{decoy_dir}", str(decoy.parent)).replace("{decoy}", str(decoy))

    for kind, rel, *rest in case.tree:
        where = root / fill(rel).lstrip("/")
        where.parent.mkdir(parents=True, exist_ok=True)
        if kind == "f":
            where.write_bytes(rest[0])
        elif kind == "d":
            where.mkdir(parents=True, exist_ok=True)
        elif kind == "l":
            os.symlink(fill(rest[0]), where)
        elif kind == "p":
            os.mkfifo(where)
        elif kind == "sparse":
            with open(where, "wb") as f:
                f.truncate(rest[0])
        else:
            raise AssertionError(kind)
    if root_via_symlink:
        link = tmp_path / "root-link"
        os.symlink(root, link)
        return str(link), decoy
    return str(root), decoy


def guarded(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a thread: fails the test, instead of hanging it, if it blocks."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed back to the test's thread
            result["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), f"blocked for more than {TIMEOUT}s"
    if "error" in result:
        raise result["error"]
    return result["value"]


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def outcome(root: str, case: Case) -> bytes | None | Err:
    kwargs = {} if case.limit is None else {"limit": case.limit}
    try:
        return guarded(read_in_root, root, case.path, **kwargs)
    except HpError as e:
        assert e.where == case.path  # the path as given
        assert "\n" not in str(e)
        return Err(e.problem)


def check(got: bytes | None | Err, expect: bytes | None | Err) -> None:
    assert got != SECRET, "read the host's file through a symlink"
    if isinstance(expect, Err):
        assert isinstance(got, Err) and expect.text in got.text, f"expected an error with {expect.text!r}, got {got!r}"
    else:
        assert got == expect


@pytest.mark.parametrize("root_via_symlink", [False, True], ids=["root-dir", "root-via-symlink"])
@pytest.mark.parametrize("case", CASES)
def test_read_in_root(tmp_path: Path, case: Case, root_via_symlink: bool) -> None:
    root, decoy = build(tmp_path, case, root_via_symlink=root_via_symlink)
    before = open_fds()
    got = outcome(root, case)
    check(got, case.expect)
    assert open_fds() == before, "leaked a file descriptor"
    assert decoy.read_bytes() == SECRET


# --- the kernel as an oracle: openat2(RESOLVE_IN_ROOT) must agree with the walk

SYS_openat2 = 437  # the same number on every Linux architecture
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10


def _openat2(root: str, path: str, flags: int) -> int:
    """openat2(root, path, {flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS}): an fd, or -errno.
    Skips the test where the kernel (or a seccomp filter) has no openat2."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    how = struct.pack("QQQ", flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    dirfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = libc.syscall(
            ctypes.c_long(SYS_openat2),
            ctypes.c_int(dirfd),
            os.fsencode(path),
            ctypes.c_char_p(how),
            ctypes.c_size_t(len(how)),
        )
        code = ctypes.get_errno()
    finally:
        os.close(dirfd)
    if fd < 0 and code in (errno.ENOSYS, errno.EPERM):
        pytest.skip(f"openat2 unavailable: {os.strerror(code)}")
    return fd if fd >= 0 else -code


def kernel_outcome(root: str, path: str) -> str:
    """What the kernel's own in-root resolution finds: 'file', 'missing', 'loop',
    'not-regular' or 'error:<errno name>'."""
    fd = _openat2(root, path, os.O_PATH)
    if fd < 0:
        return {errno.ENOENT: "missing", errno.ENOTDIR: "missing", errno.ELOOP: "loop"}.get(
            -fd, f"error:{errno.errorcode.get(-fd, -fd)}"
        )
    try:
        return "file" if stat.S_ISREG(os.fstat(fd).st_mode) else "not-regular"
    finally:
        os.close(fd)


def kernel_read(root: str, path: str) -> bytes:
    fd = _openat2(root, path, os.O_RDONLY | os.O_NONBLOCK)
    assert fd >= 0, os.strerror(-fd)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def walk_outcome(got: bytes | None | Err) -> str:
    if got is None:
        return "missing"
    if isinstance(got, bytes) or "larger than" in got.text:
        return "file"
    if "too many levels" in got.text:
        return "loop"
    if "not a regular file" in got.text:
        return "not-regular"
    return "error:" + got.text


@pytest.mark.parametrize("case", CASES)
def test_agrees_with_openat2_resolve_in_root(tmp_path: Path, case: Case) -> None:
    root, _ = build(tmp_path, case)
    kernel = kernel_outcome(root, case.path)
    walk = walk_outcome(outcome(root, case))
    if kernel.startswith("error:"):  # e.g. ENAMETOOLONG: both must fail, in their own words
        assert walk.startswith("error:")
    else:
        assert walk == kernel
    if kernel == "file" and not isinstance(case.expect, Err):
        assert kernel_read(root, case.path) == case.expect  # and it is the same file


# --- file types that need privileges or short paths, and other odd inputs: not in the table


def test_character_device_is_refused_without_opening_it(tmp_path: Path) -> None:
    root, _ = build(tmp_path, Case([("d", "etc")]))
    try:
        # /dev/zero's numbers: were it opened and read, the read would never end short of the limit
        os.mknod(f"{root}/etc/passwd", stat.S_IFCHR | 0o644, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    got = outcome(root, Case([]))
    check(got, Err("not a regular file (a character device)"))


def test_socket_is_refused(tmp_path: Path) -> None:
    root, _ = build(tmp_path, Case([("d", "etc")]))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cwd = os.getcwd()
    try:
        os.chdir(f"{root}/etc")  # a relative name: tmp_path may be longer than sun_path allows
        sock.bind("passwd")
        sock.listen(1)
        os.chdir(cwd)
        got = outcome(root, Case([]))
        check(got, Err("not a regular file (a socket)"))
    finally:
        os.chdir(cwd)
        sock.close()


def test_size_known_only_by_reading() -> None:
    """procfs files claim size 0: the limit is enforced on the bytes read, not on fstat."""
    status = read_in_root("/proc/self", "status")
    assert status is not None and status.startswith(b"Name:")
    with pytest.raises(HpError, match="larger than 10 bytes"):
        read_in_root("/proc/self", "status", limit=10)


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HpError) as info:
        read_in_root(str(tmp_path / "nope"), "/etc/passwd")
    assert info.value.where == "/etc/passwd"
    assert "No such file or directory" in info.value.problem
