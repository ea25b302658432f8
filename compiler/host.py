"""What the executor learns about the host for the compiler: a fact, like an image's /etc/passwd.

The compiler never reads the host; `hp plan`/`hp compile` gather these once (executor/host.py)
and pass them in, and golden cases pass fixed ones, so a config depends on nothing else.
"""

# No `from __future__ import annotations` here: msgspec would evaluate every field's annotation
# string on this module's first decode, ~1.7 ms of each hp compile (docs/design.md, start-up).

from typing import Literal

import msgspec


class HostFile(msgspec.Struct, frozen=True):
    """A file the executor read for the compiler: its path as messages show it, and its text."""

    shown: str
    text: str


class HostDevice(msgspec.Struct, frozen=True):
    """A device node on the host, as stat(2) gives it (for devices = [...] and privileged)."""

    path: str
    type: Literal["c", "b"]
    major: int
    minor: int
    file_mode: int  # the permission bits
    uid: int
    gid: int


class HostFacts(msgspec.Struct, frozen=True):
    """arch, kernel: `uname -m` and `uname -r` (seccomp's architectures and minKernel rules).
    default_seccomp: the default profile's file (None: not given; a container that needs it fails).
    seccomp_files: the profile files containers name (`seccomp = PATH`), by the path as written.
    devices: the host's device nodes containers name in `devices`, by host path (a missing one is absent).
    all_devices: every device under the host's /dev, for privileged containers (gathered only for them).
    capabilities: hp's own bounding set (/proc/self/status CapBnd), what a privileged container gets, as
    podman gives its own; a runtime cannot grant more. Empty: not gathered, every capability Linux defines."""

    arch: str = ""
    kernel: str = ""
    default_seccomp: HostFile | None = None
    seccomp_files: dict[str, HostFile] = {}
    devices: dict[str, HostDevice] = {}
    all_devices: tuple[HostDevice, ...] = ()
    capabilities: tuple[str, ...] = ()
