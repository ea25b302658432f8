"""Helpers for the crun integration tests: a busybox rootfs, an OCI bundle made from
hp's compiled config, and a crun wrapper that always cleans up after itself.

Nothing here edits a compiled config: what crun runs is exactly what the compiler
produced (tests that want to see the config read it back from `Bundle.config`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler import ImageFacts, compile_container, encode_config, parse_hp_file, parse_image_config
from compiler.cgroups import CGROUP_ROOT, cgroups_path
from compiler.defaults import defaults
from compiler.volumes import image_volume_name, volume_source

from ..host_facts import TEST_HOST
from ..needs import missing

BUSYBOX = Path("/bin/busybox")
CGROUP_V1 = Path(CGROUP_ROOT)
UNIFIED_CONTROLLERS = CGROUP_V1 / "unified" / "cgroup.controllers"

APPLETS = (
    "sh",
    "id",
    "env",
    "pwd",
    "cat",
    "echo",
    "ls",
    "touch",
    "mount",
    "sleep",
    "grep",
    "hostname",
    "chown",
    "stat",
    "wc",
    "printf",
    "true",
    "false",
    "mkdir",
    "rm",
    "test",
    "head",
    "tail",
    "cut",
    "tr",
)

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:an app:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\nwheel:x:10:root\napp:x:1000:\nextra:x:2000:app,nobody\nnogroup:x:65534:\n"

RUN_TIMEOUT = 30


def require_host() -> None:
    """Skip (fail under HP_REQUIRE_ALL=1) unless crun can really run containers here."""
    if os.geteuid() != 0:
        missing("root (crun creates namespaces and cgroups)")
    if not shutil.which("crun"):
        missing("crun")
    if not BUSYBOX.is_file():
        missing("busybox-static (/bin/busybox)")
    if UNIFIED_CONTROLLERS.is_file() and UNIFIED_CONTROLLERS.read_text().strip():
        missing(
            "a host prepared by scripts/prepare-host (cgroup v2 still carries controllers: "
            f"{UNIFIED_CONTROLLERS.read_text().strip()})"
        )


def make_rootfs(rootfs: Path) -> Path:
    """bin/busybox with applet symlinks, etc/passwd and etc/group, and a few empty dirs."""
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)
    for d in ("proc", "sys", "dev", "root", "srv", "work", "var/lib"):
        (rootfs / d).mkdir(parents=True)
    (rootfs / "tmp").mkdir()
    os.chmod(rootfs / "tmp", 0o1777)
    home = rootfs / "home" / "app"
    home.mkdir(parents=True)
    os.chown(home, 1000, 1000)
    return rootfs


def new_name() -> str:
    """A container name unique per test: it is also the crun id and the cgroup (/hp/<name>)."""
    return f"hp-it-{uuid.uuid4().hex[:8]}"


@dataclass
class Bundle:
    name: str
    path: Path
    config: dict[str, Any]

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    def volume_dir(self, destination: str) -> Path:
        """The host directory backing an image VOLUME (as the compiler names it)."""
        return self.path / volume_source(defaults().volume_dir, image_volume_name(self.name, destination))


def make_bundle(
    parent: Path,
    spec_toml: str,
    image: dict[str, Any],
    *,
    name: str | None = None,
    passwd: str | None = PASSWD,
    group: str | None = GROUP,
    hosts: str = "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    resolv: str = "nameserver 127.0.0.1\n",
) -> Bundle:
    """Compile `spec_toml` (the body of one `[containers.NAME]` table) against `image`
    with hp's Python API and lay out the bundle crun needs: rootfs/, config.json, and
    the files and directories the config bind-mounts relative to the bundle."""
    name = name or new_name()
    hp = parse_hp_file(f"[containers.{name}]\n{spec_toml}")
    facts = ImageFacts(parse_image_config(json.dumps(image)), passwd=passwd, group=group)
    raw = encode_config(compile_container(name, hp.containers[name], facts, host=TEST_HOST))
    config = json.loads(raw)

    path = parent / name
    path.mkdir()
    make_rootfs(path / "rootfs")
    (path / "config.json").write_bytes(raw)
    etc = {"hostname": f"{config['hostname']}\n", "hosts": hosts, "resolv.conf": resolv}
    for file in defaults().etc_files:
        (path / file).write_text(etc[file])
    bundle = Bundle(name, path, config)
    for volume in (image.get("config") or image.get("Config") or {}).get("Volumes") or {}:
        bundle.volume_dir(volume).mkdir(parents=True, exist_ok=True)
    return bundle


def cgroup_dirs(name: str) -> list[Path]:
    """Every cgroup directory (any v1 controller, or the v2 tree) named /hp/<name>."""
    return [d for d in CGROUP_V1.glob(f"*{cgroups_path(name)}") if d.is_dir()]


@dataclass
class Crun:
    """crun with a private --root; remembers every id it was given so the fixture can
    `delete -f` each one, whatever happened in the test."""

    root: Path
    ids: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return ["crun", "--root", str(self.root), *args]

    def run(self, bundle: Bundle, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """`crun run` in the foreground: the container's stdout/stderr and exit status."""
        self.ids.append(bundle.name)
        return subprocess.run(
            self.argv("run", "--bundle", str(bundle.path), bundle.name),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def create(self, bundle: Bundle, log: Path) -> None:
        """`crun create`: namespaces, mounts and cgroup set up, the process not yet started.
        Its stdio goes to `log` (a pipe would be held open by the waiting container)."""
        self.ids.append(bundle.name)
        with open(log, "wb") as out:
            subprocess.run(
                self.argv("create", "--bundle", str(bundle.path), bundle.name),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=RUN_TIMEOUT,
                check=True,
            )

    def state(self, name: str) -> str:
        out = subprocess.run(self.argv("state", name), capture_output=True, text=True, timeout=RUN_TIMEOUT)
        return json.loads(out.stdout)["status"] if out.returncode == 0 else "absent"

    def delete(self, name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv("delete", "--force", name), capture_output=True, text=True, timeout=RUN_TIMEOUT)

    def cleanup(self) -> list[str]:
        """Delete every container this object ran; return the cgroup dirs still left."""
        left: list[str] = []
        for name in self.ids:
            self.delete(name)
            left += [str(d) for d in cgroup_dirs(name)]
        return left
