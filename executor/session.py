"""What the commands share: the state directory, the helpers, the images of one run."""

from __future__ import annotations

import os
import stat

from compiler import HpFile
from compiler.errors import HpError, key_path
from compiler.layout import Layout, layout
from compiler.reference import parse_reference
from compiler.resources import pull_timeout

from .inputs import shown

DEFAULT_STATE_DIR = "/var/lib/hp"
# kernel file systems: nothing hp keeps can live there
VIRTUAL_ROOTS = ("/proc", "/sys", "/dev")


def state_layout(state_dir: str | None, *, trusted: bool = True) -> Layout:
    """--state-dir, else $HP_STATE_DIR, else /var/lib/hp; made absolute, and (unless `trusted`
    is False: hp doctor reports instead) refused if it is not safe to use (check_state_dir)."""
    chosen = state_dir or os.environ.get("HP_STATE_DIR") or DEFAULT_STATE_DIR
    result = layout(os.path.abspath(chosen))
    if trusted:
        check_state_dir(result)
    return result


def make_state_dir(layout: Layout) -> None:
    """Create the state dir (mode 0700) if it is missing, then check it: another user may have
    made it first."""
    try:
        os.makedirs(layout.state_dir, mode=0o700, exist_ok=True)
    except OSError as e:
        raise HpError(shown(layout.state_dir), f"cannot create the state dir: {e.strerror or e}") from None
    check_state_dir(layout)


def check_state_dir(layout: Layout) -> None:
    """The state dir's trust rule, as OpenSSH's StrictModes: hp runs programs from it and
    keeps root's containers in it, so no other user may be able to change what is there.

    - every existing directory above it is owned by root or by us, and is not writable by
      group or others unless it is sticky (/tmp: others cannot rename what they do not own);
      a symlink on the way is owned by root or by us, and the directories above its target
      follow the same rule;
    - the state dir itself, if it exists, is a directory owned by us, not writable by group
      or others; so is each of its subdirectories that exists (Layout.subdirs: bin/, crun/,
      containers/, volumes/ ...), and none of those is a symlink;
    - it is not under /proc, /sys or /dev.
    Raises HpError naming the path and the problem."""
    path = layout.state_dir
    try:
        real = os.path.realpath(path)
        for candidate in (path, real):
            _refuse_virtual(path, candidate)
        _check_above(path)
        if real != path:
            _check_above(real)
        if not os.path.lexists(path):
            return
        _check_own_dir(path, os.stat(path), "the state dir")
        for sub in layout.subdirs:
            if os.path.lexists(sub):
                info = os.lstat(sub)
                if stat.S_ISLNK(info.st_mode):
                    raise HpError(shown(sub), "a symlink in the state dir (hp makes none): remove it")
                _check_own_dir(sub, info, "a directory of the state dir")
    except OSError as e:
        raise HpError(shown(e.filename or path), f"cannot check the state dir: {e.strerror or e}") from None


def _refuse_virtual(path: str, candidate: str) -> None:
    for root in VIRTUAL_ROOTS:
        if candidate == root or candidate.startswith(root + "/"):
            raise HpError(shown(path), f"the state dir may not be under {root} (a kernel file system)")


def _check_above(path: str) -> None:
    """Every existing directory (and symlink) from / down to `path`'s parent."""
    parts = path.strip("/").split("/")[:-1]
    for current in ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]:
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return  # nothing below exists yet: hp will make it
        if info.st_uid not in (0, os.geteuid()):
            raise HpError(
                shown(current),
                f"owned by uid {info.st_uid}, above the state dir {shown(path)}: "
                f"only root or uid {os.geteuid()} may own the directories above it",
            )
        if stat.S_ISLNK(info.st_mode):
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise HpError(shown(current), f"not a directory, above the state dir {shown(path)}")
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            raise HpError(
                shown(current),
                f"writable by group or others and not sticky (mode "
                f"{stat.S_IMODE(info.st_mode):04o}), above the state dir {shown(path)}: "
                "another user could replace it",
            )


def _check_own_dir(path: str, info: os.stat_result, what: str) -> None:
    if not stat.S_ISDIR(info.st_mode):
        raise HpError(shown(path), f"{what} is not a directory")
    if info.st_uid != os.geteuid():
        raise HpError(
            shown(path),
            f"{what} is owned by uid {info.st_uid}, not by uid {os.geteuid()} who runs hp: refusing to use it",
        )
    if info.st_mode & 0o022:
        raise HpError(
            shown(path),
            f"{what} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}): "
            f"refusing to use it (chmod go-w {shown(path)})",
        )


def insecure_registry(hp_file: HpFile, ref: str) -> bool:
    domain = parse_reference(ref, "image").domain
    settings = hp_file.registries.get(domain)
    return bool(settings and settings.insecure)


def registry_timeout(hp_file: HpFile, ref: str) -> float:
    """How long one pull of `ref` may take: its registry's `timeout`, else 60 s."""
    domain = parse_reference(ref, "image").domain
    settings = hp_file.registries.get(domain)
    return pull_timeout(settings.timeout if settings else None, f"{key_path('registries', domain)}.timeout")


def host_resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf") as f:
            return f.read(1 << 20)
    except OSError:
        return ""
