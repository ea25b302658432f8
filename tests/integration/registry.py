"""A real registry on 127.0.0.1 and tiny test images for the executor's integration tests.

- `start_registry` / `stop_registry` run Debian's `docker-registry serve CONFIG` on a free
  port of 127.0.0.1, storage in a temporary directory, no auth, its log in a file.
- `rootfs_tar` writes a busybox-static root filesystem as a tar with Python's tarfile
  (ownership, modes and xattrs set explicitly, nothing taken from the host but the binary),
  `push_test_images` turns it into images with `podman import --change …`, pushes them
  to the registry and removes the local copies, so whatever uses them really pulls.

No network beyond 127.0.0.1, no shell: every command is an argv list with a timeout, and
a command that fails raises `CommandError` carrying the command line and its stderr.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..needs import missing

BUSYBOX = Path("/bin/busybox")
REGISTRY_BIN = "docker-registry"
PODMAN = "podman"

COMMAND_TIMEOUT = 60  # one podman import / push / pull / rmi
REGISTRY_START_TIMEOUT = 10  # until GET /v2/ answers 200
HTTP_TIMEOUT = 2  # one HTTP request to the registry
STOP_TIMEOUT = 5  # SIGTERM, then SIGKILL

# ---------------------------------------------------------------------------------------
# commands


class CommandError(RuntimeError):
    """A command failed: the message holds the command line and its stderr."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


def run(argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run argv (never through a shell), return it when it exits 0, else raise CommandError."""
    argv = [str(a) for a in argv]
    line = shlex.join(argv)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise CommandError(f"timed out after {timeout:g}s: {line}\nstderr: {stderr.strip()}", stderr) from None
    except OSError as e:
        raise CommandError(f"cannot run {line}: {e}") from None
    if result.returncode != 0:
        raise CommandError(f"exited {result.returncode}: {line}\nstderr: {result.stderr.strip()}", result.stderr)
    return result


def require_registry() -> None:
    """Skip (fail under HP_REQUIRE_ALL=1) without Debian's docker-registry."""
    if not shutil.which(REGISTRY_BIN):
        missing("docker-registry (Debian package docker-registry)")


def require_podman() -> None:
    """Skip (fail under HP_REQUIRE_ALL=1) unless test images can be built and pushed here."""
    if os.geteuid() != 0:
        missing("root (podman's system storage)")
    if not shutil.which(PODMAN):
        missing("podman")
    if not BUSYBOX.is_file():
        missing("busybox-static (/bin/busybox)")


# ---------------------------------------------------------------------------------------
# the registry


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago (bind to port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    """A running docker-registry: `host` is "127.0.0.1:PORT", `url` is "http://127.0.0.1:PORT"."""

    host: str
    url: str
    port: int
    storage: Path
    config: Path
    log: Path
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        stop_registry(self)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(text.splitlines()[-lines:])

    def get(self, path: str, *, timeout: float = HTTP_TIMEOUT) -> tuple[int, bytes]:
        """GET url+path: (status, body); an HTTP error status is returned, not raised."""
        request = urllib.request.Request(
            self.url + path,
            headers={
                "Accept": "application/vnd.oci.image.manifest.v1+json, "
                "application/vnd.docker.distribution.manifest.v2+json, application/json"
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read()

    def get_json(self, path: str) -> dict:
        status, body = self.get(path)
        if status != 200:
            raise AssertionError(f"GET {self.url}{path}: HTTP {status}: {body[:500]!r}")
        return json.loads(body)

    def catalog(self) -> list[str]:
        return self.get_json("/v2/_catalog?n=1000")["repositories"] or []

    def tags(self, repository: str) -> list[str]:
        return self.get_json(f"/v2/{repository}/tags/list")["tags"] or []


def _registry_config(port: int, storage: Path) -> str:
    # JSON is YAML: no quoting to get wrong, no YAML library needed. No `auth` section: no auth.
    return (
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "info", "formatter": "text", "fields": {"service": "hp-test-registry"}},
                "storage": {
                    "filesystem": {"rootdirectory": str(storage)},
                    "delete": {"enabled": True},
                    "cache": {"blobdescriptor": "inmemory"},
                },
                "http": {
                    "addr": f"127.0.0.1:{port}",
                    "secret": secrets.token_hex(16),
                    "headers": {"X-Content-Type-Options": ["nosniff"]},
                },
            },
            indent=2,
        )
        + "\n"
    )


def _wait_ready(registry: Registry, timeout: float) -> bool:
    """True once this registry logs that it listens on its port and GET /v2/ answers 200;
    False if the process ended first; raise on timeout. Waiting for the log line first
    means a port someone else holds (and answers on) is never taken for ours."""
    deadline = time.monotonic() + timeout
    listening = f'msg="listening on {registry.host}"'.encode()
    last = "not listening yet"
    while True:
        if registry.process.poll() is not None:
            return False
        try:
            bound = listening in registry.log.read_bytes()
        except OSError:
            bound = False
        if bound:
            try:
                status, _ = registry.get("/v2/", timeout=max(0.1, min(HTTP_TIMEOUT, deadline - time.monotonic())))
                if status == 200:
                    return True
                last = f"GET /v2/: HTTP {status}"
            except OSError as e:  # URLError is an OSError; so are refused connections and timeouts
                last = f"GET /v2/: {getattr(e, 'reason', e)}"
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"docker-registry on {registry.host} not ready after {timeout:g}s ({last}); "
                f"log {registry.log} ends with:\n{registry.log_tail()}"
            )
        time.sleep(0.02)


def start_registry(workdir: Path, *, attempts: int = 5, timeout: float = REGISTRY_START_TIMEOUT) -> Registry:
    """Start docker-registry on a free port of 127.0.0.1, storage and log under workdir,
    and wait until it serves /v2/. A port taken between choosing and binding is retried."""
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    for attempt in range(1, attempts + 1):
        port = free_port()
        config = workdir / f"config-{port}.yml"
        config.write_text(_registry_config(port, storage))
        log = workdir / f"registry-{port}.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        registry = Registry(
            host=f"127.0.0.1:{port}",
            url=f"http://127.0.0.1:{port}",
            port=port,
            storage=storage,
            config=config,
            log=log,
            process=process,
        )
        try:
            ready = _wait_ready(registry, timeout)
        except BaseException:
            stop_registry(registry)
            raise
        if ready:
            return registry
        stop_registry(registry)
        tail = registry.log_tail()
        if "address already in use" in tail and attempt < attempts:
            continue
        raise RuntimeError(
            f"docker-registry exited with status {process.returncode} before serving "
            f"{registry.host} (attempt {attempt} of {attempts}); log {log} ends with:\n{tail}"
        )
    raise AssertionError("unreachable")


def stop_registry(registry: Registry) -> None:
    """SIGTERM, wait, then SIGKILL; safe to call twice."""
    process = registry.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


@contextmanager
def running_registry(workdir: Path) -> Iterator[Registry]:
    registry = start_registry(workdir)
    try:
        yield registry
    finally:
        stop_registry(registry)


# ---------------------------------------------------------------------------------------
# root filesystems

APPLETS = (
    "sh",
    "id",
    "env",
    "pwd",
    "cat",
    "echo",
    "ls",
    "sleep",
    "touch",
    "mkdir",
    "ps",
    "wget",
    "httpd",
    "hostname",
    "grep",
    "true",
    "false",
    "kill",
    "test",
    "[",
    "printf",
    "stat",
    "rm",
    "chown",
    "chmod",
    "mount",
    "wc",
    "head",
    "tail",
    "cut",
    "tr",
    "sed",
    "nc",
    "ip",
    "whoami",
    "readlink",
    "ln",
    "cp",
    "mv",
    "uname",
    "date",
    "timeout",
    "umount",
    "nslookup",
    "usleep",
)

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:an app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nextra:x:2000:app\n"

# cap_net_bind_service=ep as `setcap` stores it: struct vfs_cap_data, revision 2, little-endian
# (magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, then permitted/inheritable x 2).
CAP_NET_BIND_SERVICE_EP = (
    (0x02000000 | 0x1).to_bytes(4, "little") + (1 << 10).to_bytes(4, "little") + bytes(4) + bytes(4) + bytes(4)
)


@dataclass(frozen=True)
class Probe:
    """A path whose metadata must survive push, pull and extraction exactly."""

    uid: int
    gid: int
    mode: int  # permission bits incl. setuid/setgid/sticky
    xattrs: dict[str, bytes] = field(default_factory=dict)


# In the full rootfs (every image but "noshell"), paths relative to /.
PROBES: dict[str, Probe] = {
    "usr/local/bin/capped": Probe(0, 0, 0o755, {"security.capability": CAP_NET_BIND_SERVICE_EP}),
    "usr/local/bin/marked": Probe(0, 0, 0o644, {"user.hp.test": b"kept"}),
    "usr/local/bin/setuid": Probe(0, 0, 0o4755),
    "srv/www/owned": Probe(1000, 2000, 0o640),
    "tmp": Probe(0, 0, 0o1777),
    "home/app": Probe(1000, 1000, 0o750),
}

_MTIME = 1_700_000_000  # fixed: the same rootfs gives the same layer digest every run


def _entry(
    name: str,
    kind: bytes,
    mode: int,
    uid: int = 0,
    gid: int = 0,
    *,
    size: int = 0,
    linkname: str = "",
    xattrs: dict[str, bytes] | None = None,
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    info.mtime = _MTIME
    info.size = size
    info.linkname = linkname
    if xattrs:
        # GNU tar's / Go archive/tar's convention. Bytes that are not UTF-8 would be written
        # back as-is by tarfile (surrogateescape, plus a hdrcharset=BINARY record).
        info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()}
    return info


def rootfs_tar(path: Path, *, applets: Sequence[str] = APPLETS, full: bool = True) -> Path:
    """Write a busybox-static rootfs as an uncompressed (PAX) tar at path; returns path.

    full=True: bin/busybox, an applet symlink in bin/ per name in `applets`, etc/passwd
    (root, app 1000:1000 home /home/app), etc/group (root, app, extra 2000 listing app),
    empty etc/hosts and etc/resolv.conf, tmp 1777, home/app, srv/www (app's, index.html),
    data (app's, with data/seed), and the PROBES files (a file capability, a user xattr,
    setuid, odd ownership). full=False: bin/ and bin/busybox only.
    """
    busybox = BUSYBOX.read_bytes()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:

        def directory(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode, uid, gid))

        def file(
            name: str,
            data: bytes,
            mode: int = 0o644,
            uid: int = 0,
            gid: int = 0,
            xattrs: dict[str, bytes] | None = None,
        ) -> None:
            tar.addfile(_entry(name, tarfile.REGTYPE, mode, uid, gid, size=len(data), xattrs=xattrs), io.BytesIO(data))

        directory("bin")
        file("bin/busybox", busybox, 0o755)
        if not full:
            return path
        for applet in applets:
            if applet != "busybox":
                tar.addfile(_entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox"))
        directory("etc")
        file("etc/passwd", PASSWD.encode())
        file("etc/group", GROUP.encode())
        file("etc/hosts", b"")
        file("etc/resolv.conf", b"")
        for d in ("dev", "proc", "sys", "run", "var", "var/lib", "usr", "usr/local", "usr/local/bin", "srv"):
            directory(d)
        directory("root", 0o700)
        for d in ("tmp", "home", "home/app"):
            probe = PROBES.get(d, Probe(0, 0, 0o755))
            directory(d, probe.mode, probe.uid, probe.gid)
        directory("srv/www", 0o755, 1000, 1000)
        file("srv/www/index.html", b"hello from hp-test\n")
        directory("data", 0o755, 1000, 1000)
        file("data/seed", b"from the image\n", 0o644, 1000, 1000)
        for name in ("usr/local/bin/capped", "usr/local/bin/marked", "usr/local/bin/setuid", "srv/www/owned"):
            probe = PROBES[name]
            file(name, f"#!/bin/sh\necho {name}\n".encode(), probe.mode, probe.uid, probe.gid, probe.xattrs)
    return path


# ---------------------------------------------------------------------------------------
# images


@dataclass(frozen=True)
class ImageSpec:
    """One test image: `changes` are podman import --change instructions (Dockerfile syntax)."""

    name: str
    changes: tuple[str, ...]
    full_rootfs: bool = True


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec(
        "sleeper",
        (
            'ENTRYPOINT ["/bin/busybox"]',
            'CMD ["sleep", "3600"]',
            "USER app",
            "WORKDIR /srv/www",
            "ENV MODE=image",
            "VOLUME /data",
            "LABEL org.opencontainers.image.title=hp-test-sleeper",
            # busybox sleep as PID 1 ignores SIGTERM: without this every graceful stop of it (destroy,
            # replace, rm) would wait its whole stop_timeout (10 s) before the SIGKILL
            "STOPSIGNAL SIGKILL",
        ),
    ),
    ImageSpec(
        "exiter",
        (
            'ENTRYPOINT ["/bin/sh", "-c"]',
            'CMD ["exit 3"]',
        ),
    ),
    ImageSpec("noshell", ('CMD ["/bin/busybox", "true"]',), full_rootfs=False),
    # STOPSIGNAL: a stop must send SIGUSR1 first; the trap prints "got USR1" and exits 0
    # (sh as PID 1 gets the signal because it has a handler for it).
    ImageSpec(
        "stopsig",
        (
            'ENTRYPOINT ["/bin/sh", "-c"]',
            "CMD [\"trap 'echo got USR1; exit 0' USR1; echo ready; while :; do sleep 0.1; done\"]",
            "STOPSIGNAL SIGUSR1",
            "EXPOSE 8080/tcp",
        ),
    ),
)


def image_ref(registry: Registry, namespace: str, name: str, tag: str = "1") -> str:
    return f"{registry.host}/{namespace}/{name}:{tag}"


def podman_rmi(*refs: str) -> None:
    """Remove these local image names (and containers using them); missing ones are fine."""
    if refs:
        run([PODMAN, "rmi", "--force", "--ignore", *refs])


def local_images(prefix: str) -> list[str]:
    """Local image names (repository:tag) that start with prefix."""
    out = run([PODMAN, "images", "--format", "json"]).stdout
    names: list[str] = []
    for image in json.loads(out or "[]"):
        names += [n for n in image.get("Names") or [] if n.startswith(prefix)]
    return names


def build_image(spec: ImageSpec, tar: Path, ref: str) -> str:
    """podman import the tar as ref with spec's changes; returns the image ID."""
    argv = [PODMAN, "import", "--quiet"]
    for change in spec.changes:
        argv += ["--change", change]
    argv += ["--message", f"hp-test {spec.name}", str(tar), ref]
    return run(argv).stdout.strip()


def push_image(ref: str) -> None:
    run([PODMAN, "push", "--quiet", "--tls-verify=false", ref])


def pull_image(ref: str) -> None:
    run([PODMAN, "pull", "--quiet", "--tls-verify=false", ref])


def inspect_image(ref: str) -> dict:
    return json.loads(run([PODMAN, "image", "inspect", ref]).stdout)[0]


def push_test_images(
    registry: Registry, workdir: Path, namespace: str, specs: Sequence[ImageSpec] = IMAGES
) -> dict[str, str]:
    """Build every spec, push it as REGISTRY/namespace/NAME:1, remove the local copy.

    Returns name -> reference. Whatever was built locally is removed, also on failure.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tars = {
        True: rootfs_tar(workdir / "rootfs-full.tar"),
        False: rootfs_tar(workdir / "rootfs-busybox.tar", full=False),
    }
    refs: dict[str, str] = {}
    try:
        for spec in specs:
            ref = image_ref(registry, namespace, spec.name)
            refs[spec.name] = ref
            build_image(spec, tars[spec.full_rootfs], ref)
            push_image(ref)
    finally:
        podman_rmi(*refs.values())
    left = local_images(f"{registry.host}/{namespace}/")
    if left:
        raise RuntimeError(f"podman rmi left these test images in local storage: {left}")
    return refs


# ---------------------------------------------------------------------------------------
# inspection


def xattrs_of(path: Path) -> dict[str, bytes]:
    """Every extended attribute of path (not following a symlink)."""
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in os.listxattr(path, follow_symlinks=False)}


@contextmanager
def mounted_image(ref: str) -> Iterator[Path]:
    """`podman image mount` a local image: its root filesystem, for inspection only."""
    path = Path(run([PODMAN, "image", "mount", ref]).stdout.strip())
    try:
        yield path
    finally:
        run([PODMAN, "image", "unmount", ref])
