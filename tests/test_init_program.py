"""hp-init is used only if no other user could have written it (executor/helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.errors import HpError
from executor.helpers import check_trusted_program

from .needs import missing

NOBODY = 65534


def _make(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "hp-init"
    target = tmp_path / "real"
    target.write_bytes(b"\x7fELF")
    target.chmod(0o755)
    if case == "symlink":
        path.symlink_to(target)
        return path
    if case == "directory":
        path.mkdir()
        return path
    path.write_bytes(b"\x7fELF")
    path.chmod({"group-writable": 0o775, "world-writable": 0o757}.get(case, 0o755))
    if case == "other-owner":
        os.chown(path, NOBODY, NOBODY)
    return path


REFUSED = [
    ("symlink", "a symlink"),
    ("directory", "not a regular file"),
    ("group-writable", "writable by group or others"),
    ("world-writable", "writable by group or others"),
    ("other-owner", "owned by uid 65534"),
]


@pytest.mark.parametrize("case,problem", REFUSED, ids=[c for c, _ in REFUSED])
def test_an_init_another_user_could_have_written_is_refused(tmp_path: Path, case: str, problem: str) -> None:
    if case == "other-owner" and os.geteuid() != 0:
        missing("root, to chown a file to another user")
    path = _make(tmp_path, case)
    with pytest.raises(HpError) as error:
        check_trusted_program(str(path))
    assert problem in error.value.problem and "refusing to use it" in error.value.problem


def test_an_init_owned_by_us_and_writable_by_nobody_else_is_used(tmp_path: Path) -> None:
    check_trusted_program(str(_make(tmp_path, "ok")))
