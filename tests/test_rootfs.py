"""read_in_root: files inside an image rootfs, never a host file through a symlink."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from compiler.errors import HpError
from executor.rootfs import read_in_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "private" / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("inside\n")
    (r / "private" / "etc" / "group").write_text("group inside\n")
    (tmp_path / "decoy").write_text("HOST SECRET\n")
    return r


CASES = [
    ("plain", [], "/etc/passwd", b"inside\n"),
    ("dot-and-double-slash", [], "//etc/./passwd", b"inside\n"),
    ("missing-file", [], "/etc/shadow", None),
    ("missing-dir", [], "/nope/passwd", None),
    ("file-as-dir", [], "/etc/passwd/x", None),
    ("absolute-symlink-stays-inside", [("etc/link", "/private/etc/group")], "/etc/link", b"group inside\n"),
    ("absolute-symlink-to-host-path", [("etc/host", "/decoy")], "/etc/host", None),
    ("relative-escape-is-clamped", [("etc/esc", "../../../../../etc/passwd")], "/etc/esc", b"inside\n"),
    ("escape-to-decoy-is-clamped", [("etc/esc2", "../../decoy")], "/etc/esc2", None),
    ("symlinked-directory", [("etc2", "/private/etc")], "/etc2/group", b"group inside\n"),
    ("dangling", [("etc/dangling", "/nowhere")], "/etc/dangling", None),
]


@pytest.mark.parametrize("links, path, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_read_in_root(root: Path, links, path, expected) -> None:
    for name, target in links:
        os.symlink(target, root / name)
    assert read_in_root(str(root), path) == expected


def chain(root: Path, n: int) -> None:
    (root / "etc" / "l0").symlink_to("/etc/passwd")
    for i in range(1, n):
        (root / "etc" / f"l{i}").symlink_to(f"/etc/l{i - 1}")


def test_39_symlinks_are_followed(root: Path) -> None:
    chain(root, 39)
    assert read_in_root(str(root), "/etc/l38") == b"inside\n"


def test_41_symlinks_are_too_many(root: Path) -> None:
    chain(root, 41)
    with pytest.raises(HpError, match="too many levels"):
        read_in_root(str(root), "/etc/l40")


def test_a_loop_is_an_error(root: Path) -> None:
    (root / "etc" / "a").symlink_to("/etc/b")
    (root / "etc" / "b").symlink_to("/etc/a")
    with pytest.raises(HpError, match="too many levels"):
        read_in_root(str(root), "/etc/a")


def test_a_directory_is_an_error(root: Path) -> None:
    with pytest.raises(HpError, match="not a regular file"):
        read_in_root(str(root), "/etc")


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "etc" / "fifo")
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(_error_of(root, "/etc/fifo")), daemon=True)
    worker.start()
    worker.join(5)
    assert result and "not a regular file" in str(result[0])


def _error_of(root: Path, path: str) -> object:
    try:
        return read_in_root(str(root), path)
    except HpError as e:
        return e


@pytest.mark.parametrize("size, ok", [(1024, True), (1025, False)], ids=["at-limit", "over-limit"])
def test_size_limit(root: Path, size: int, ok: bool) -> None:
    (root / "etc" / "big").write_bytes(b"x" * size)
    if ok:
        assert len(read_in_root(str(root), "/etc/big", limit=1024)) == size
    else:
        with pytest.raises(HpError, match="larger than"):
            read_in_root(str(root), "/etc/big", limit=1024)


def test_the_root_itself_may_be_a_symlink(root: Path, tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to(root)
    assert read_in_root(str(tmp_path / "alias"), "/etc/passwd") == b"inside\n"
