"""Saved plans on disk: writing one (`hp plan --out`), and planning again to check that one
still holds before `hp apply PLAN` carries it out."""

from __future__ import annotations

import os
import stat

from compiler.errors import HpError, StalePlan
from compiler.layout import Layout
from compiler.saved_plan import SavedPlan, file_sha256, seal, stale_reasons

from .inputs import read_input
from .planning import Planned, make_plan
from .store import write_atomic


def looks_like_saved_plan(data: bytes) -> bool:
    """A saved plan is a JSON object; hp.toml can never start with '{'."""
    return data.lstrip()[:1] == b"{"


def save_plan(path: str, planned: Planned) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise HpError("--out", f"{directory}: no such directory")
    write_atomic(os.path.abspath(path), seal(planned.fingerprint, planned.plan), mode=0o600)


def replan(layout: Layout, saved: SavedPlan, where: str) -> Planned:
    """Plan the saved plan's file again, as it was planned (no pulls); StalePlan naming the
    first thing that changed if the result is not exactly the saved plan."""
    fp = saved.fingerprint
    data = b""
    if not fp.destroy:  # a destroy plan does not depend on the file's content
        try:
            data = read_input(fp.file)
        except HpError:
            raise StalePlan(where, f"{fp.file} cannot be read any more (the plan was made from it)") from None
        if file_sha256(data) != fp.file_sha256:
            raise StalePlan(where, f"{fp.file} changed since the plan was made")
    try:
        planned = make_plan(layout, fp.file, data, destroy=fp.destroy, pull_missing=False)
    except StalePlan as e:
        raise StalePlan(where, f"{e}; run hp plan again") from None
    reasons = stale_reasons(saved, planned.fingerprint, planned.plan)
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise StalePlan(where, f"{reasons[0]}{more}; run hp plan again")
    return planned


def emit(directory: str, planned: Planned) -> list[str]:
    """Write every planned container's bundle files to DIRECTORY/NAME/ for review: files 0600 in
    directories 0700, as in the state dir (config.json holds the environment, secrets too).
    An existing DIRECTORY/NAME must be a real directory (a symlink could send root's writes
    anywhere); DIRECTORY itself is the caller's, used as it is."""
    written = []
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for name, new in sorted(planned.new.items()):
        target = os.path.join(directory, name)
        try:
            os.mkdir(target, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(target).st_mode):
                raise HpError("--emit", f"{target} exists and is not a directory") from None
        for file, content in new.bundle.bundle_files:
            write_atomic(os.path.join(target, file), content, mode=0o600)
            written.append(os.path.join(target, file))
    return written
