"""Gathering the host's facts for the compiler (compiler/host.HostFacts): uname, and the files
and devices the containers need. Read once per plan, before anything is pulled."""

from __future__ import annotations

import os

from compiler.defaults import defaults
from compiler.errors import HpError, key_path
from compiler.host import HostFacts, HostFile
from compiler.spec import HpFile

from .devices import all_devices, host_bounding_set, named_devices
from .inputs import read_text, shown

SECCOMP_PROFILE_LIMIT = 4 * 1024 * 1024


def host_facts(hp_file: HpFile, base_dir: str, *, default_profile: str | None = None) -> HostFacts:
    """The facts the containers of `hp_file` need. base_dir: hp.toml's directory (a relative
    seccomp path is relative to it, as env_file is). default_profile: the default seccomp
    profile's file (default: the host's, compiler.defaults().seccomp_profile); it is read only
    when a container uses it."""
    uname = os.uname()
    specs = [hp_file.containers[name] for name in sorted(hp_file.containers)]
    devices = named_devices(hp_file)  # checks every entry first
    privileged = any(s.privileged for s in specs)
    needs_default = any(s.seccomp == "default" and not s.privileged for s in specs)
    default = None
    if needs_default:
        path = default_profile or defaults().seccomp_profile
        default = HostFile(shown(path), read_text(path, limit=SECCOMP_PROFILE_LIMIT))
    files = seccomp_files(hp_file, base_dir)
    return HostFacts(
        arch=uname.machine,
        kernel=uname.release,
        default_seccomp=default,
        seccomp_files=files,
        devices=devices,
        all_devices=all_devices() if privileged else (),
        capabilities=host_bounding_set() if privileged else (),
    )


def seccomp_files(hp_file: HpFile, base_dir: str) -> dict[str, HostFile]:
    """The profile files the containers name (`seccomp = PATH`, relative to base_dir), by the path as
    written. One that cannot be read is an HpError naming the container's field, the file and the reason."""
    files: dict[str, HostFile] = {}
    for name in sorted(hp_file.containers):
        path = hp_file.containers[name].seccomp
        if path in ("default", "unconfined") or path in files:
            continue
        where = f"{key_path('containers', name)}.seccomp"
        if not path or "\0" in path:
            raise HpError(where, "empty path" if not path else "contains a NUL byte", source="spec")
        full = os.path.join(base_dir, path)
        try:
            files[path] = HostFile(shown(full), read_text(full, limit=SECCOMP_PROFILE_LIMIT))
        except HpError as e:
            hint = ""
            if "/" not in path and not path.endswith(".json"):
                import difflib  # only for this message: ~1.5 ms of every hp compile's start otherwise

                close = difflib.get_close_matches(path, ("default", "unconfined"), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ' (expected "default", "unconfined" or a file)'
            raise HpError(
                where, f"profile file {shown(os.path.abspath(full))}: {e.problem}{hint}", source="spec"
            ) from None
    return files
