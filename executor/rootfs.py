"""Reading a file inside an image's root filesystem as if chrooted into it.

An image can make /etc/passwd (or /etc, or any component on the way) a symlink. Joining
the root and the path and calling open() would follow an absolute target such as
/etc/shadow, or a relative one such as ../../../etc/shadow, to the *host's* file: the
bug of umoci and moby/sys `filepath.Join` + `os.Open` (reference: oci-conversion.md §6
item 20, §5 F10). containerd (`os.OpenRoot`) and podman (`securejoin`) resolve inside
the root instead, and so does this module.

read_in_root walks the path one component at a time, each with
``openat(dir_fd, name, O_PATH | O_NOFOLLOW)``: a symlink is never followed by the
kernel; its target is read with readlinkat and spliced into the components still to
walk, an absolute target restarting at the root. ".." pops a stack of the directory
fds walked so far (never a kernel ".." lookup), so at the root it stays at the root,
as chroot does. At most 40 symlinks are followed (the kernel's MAXSYMLINKS, ELOOP). The
last component is opened for reading only after an fstat of its O_PATH fd shows a
regular file, so a FIFO, device or socket is refused without being opened (no
blocking, no device side effects); the read-only open uses O_NOFOLLOW | O_NONBLOCK and
must give the same inode.

Not used: openat2(RESOLVE_IN_ROOT) (Linux >= 5.6). It would give the same answers (the
tests check the walk against it where the kernel has it), but some seccomp profiles
refuse it with EPERM, and one code path that every test exercises is worth more here
than an atomicity guarantee: the tree is hp's own extracted image, which nothing else
renames while it is read. (Were a directory being walked moved out of the root
concurrently, the walk could continue outside it; openat2 would refuse that.)

The root argument itself is trusted: it may be, or go through, a symlink.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Sequence

from compiler.errors import HpError

from .inputs import ACCOUNTS_LIMIT, shown

MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS: the 41st symlink in one lookup is ELOOP
_MIB = 1024 * 1024

_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")  # root's and rootless storage's
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

# What a non-regular file is called in the message.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_in_root(root: str, path: str, *, limit: int = ACCOUNTS_LIMIT) -> bytes | None:
    """The bytes of the regular file at `path` inside the tree `root`, resolved as if
    `root` were "/" (symlinks included), or None if it does not exist.

    None: a component is missing, a symlink dangles, or a non-directory is met where a
    directory is needed (ENOTDIR, e.g. "/etc/passwd/"). HpError(where=path): the file is
    not a regular file, more than 40 symlinks are followed, it is larger than `limit`
    bytes, or a system call fails (its strerror).
    """
    return _read_in((root,), path, limit, overlay=False)


def read_in_layers(layers: Sequence[str], path: str, *, limit: int = ACCOUNTS_LIMIT) -> bytes | None:
    """read_in_root of the tree that overlayfs makes of `layers` (an image's layer diff
    directories, top first), without mounting it: a name is looked up in each layer where its
    directory exists, top first; the first non-directory wins, unless it is a whiteout (a
    character device 0:0: the name is deleted); a directory merges with the same directories
    below it down to an opaque one (xattr trusted.overlay.opaque or user.overlay.opaque = y),
    and a non-directory below a directory is hidden. Redirects and metacopy, which an image's
    layers do not use, are not followed."""
    return _read_in(tuple(layers), path, limit, overlay=True)


def _read_in(roots: tuple[str, ...], path: str, limit: int, overlay: bool) -> bytes | None:
    where = shown(path)
    opened: list[int] = []  # every fd the walk opens, closed at the end
    try:
        for root in roots:
            try:
                opened.append(os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
            except OSError as e:
                raise HpError(where, f"cannot open the root filesystem {shown(root)}: {_reason(e)}") from None
        try:
            return _read(tuple(opened), path, where, limit, overlay, opened)
        except OSError as e:
            raise HpError(where, f"cannot read: {_reason(e)}") from None
    finally:
        for fd in opened:
            os.close(fd)


def _read(roots: tuple[int, ...], path: str, where: str, limit: int, overlay: bool, opened: list[int]) -> bytes | None:
    found = _resolve(roots, path, where, overlay, opened)
    if found is None:
        return None
    parent, name, fd = found
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise HpError(where, f"not a regular file ({_kind(st.st_mode)})")
    if st.st_size > limit:
        raise HpError(where, f"larger than {_size(limit)}")
    # O_PATH fds cannot be read: open the same name again, for reading this time.
    # O_NOFOLLOW + O_NONBLOCK: should it have been swapped for a symlink or a FIFO
    # meanwhile, this neither follows nor blocks, and the inode check below refuses it.
    rfd = os.open(name, _READ_FLAGS, dir_fd=parent)
    try:
        rst = os.fstat(rfd)
        if (rst.st_dev, rst.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(rst.st_mode):
            raise HpError(where, "changed while being read")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # read at most limit + 1 bytes: enough to tell "too large"
            chunk = os.read(rfd, min(limit + 1 - total, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(rfd)
    if total > limit:
        raise HpError(where, f"larger than {_size(limit)}")
    return b"".join(chunks)


def _resolve(
    roots: tuple[int, ...], path: str, where: str, overlay: bool, opened: list[int]
) -> tuple[int, str, int] | None:
    """Walk `path` under the layers `roots` (one, unless overlay). Returns (the layer's
    directory fd, name, O_PATH fd) of the last component, or None when it does not exist.
    When the path ends on a directory (e.g. "/etc", "/", "/etc/.."), parent is -1, name ""
    and fd an O_PATH fd of its top layer. Every fd opened is appended to `opened`.
    """
    todo = deque(path.split("/"))
    stack: list[tuple[int, ...]] = []  # the layers of each directory below the root, outermost first
    hops = 0
    while todo:
        part = todo.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if stack:  # ".." at the root stays at the root
                stack.pop()
            continue
        found = _lookup(stack[-1] if stack else roots, part, overlay, opened)
        if found is None:
            return None
        if isinstance(found, list):  # a directory
            stack.append(tuple(found))
            continue
        parent, fd, mode = found
        if stat.S_ISLNK(mode):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise HpError(where, f"too many levels of symbolic links (more than {MAX_SYMLINKS})")
            target = os.readlink("", dir_fd=fd)  # readlinkat(fd, ""): this very link
            if target.startswith("/"):
                stack.clear()
            todo.extendleft(reversed(target.split("/")))
            continue
        # Not a directory: it must be the last component (even "", "." or ".." after
        # it make the kernel say ENOTDIR).
        if todo:
            return None
        return parent, part, fd
    # The path ends on a directory (or the root itself).
    return -1, "", (stack[-1] if stack else roots)[0]


def _lookup(
    parents: tuple[int, ...], name: str, overlay: bool, opened: list[int]
) -> list[int] | tuple[int, int, int] | None:
    """`name` in the directory whose layers are `parents` (top first): [its own layers, top
    first] for a directory, (layer fd, O_PATH fd, mode) for anything else, None if missing."""
    dirs: list[int] = []
    for parent in parents:
        try:
            fd = os.open(name, _PATH_FLAGS, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            raise
        opened.append(fd)
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode):
            if dirs:  # below a directory: hidden by it
                break
            if overlay and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # a whiteout
                return None
            return parent, fd, st.st_mode
        dirs.append(fd)
        if not overlay or _is_opaque(fd):
            break
    return dirs or None


def _is_opaque(fd: int) -> bool:
    for attribute in _OPAQUE:
        try:
            if os.getxattr(f"/proc/self/fd/{fd}", attribute) == b"y":
                return True
        except OSError as e:
            if e.errno not in (errno.ENODATA, errno.ENOTSUP):
                raise
    return False


def _kind(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return f"file type {stat.S_IFMT(mode):#o}"


def _size(limit: int) -> str:
    return f"{limit // _MIB} MiB" if limit >= _MIB and limit % _MIB == 0 else f"{limit} bytes"


def _reason(e: OSError) -> str:
    return e.strerror or str(e)
