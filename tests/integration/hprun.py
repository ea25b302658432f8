"""Running the real `hp` in integration tests, and looking for what it may have left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HP = str(Path(sys.executable).with_name("hp"))


def hp(
    *args: str, state: Path, check: bool = False, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [HP, *args, "--state-dir", str(state)]
        if args[0] not in ("exec",)
        else [HP, args[0], "--state-dir", str(state), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env} if env else None,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hp {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def ps(state: Path) -> dict[str, dict]:
    rows = json.loads(hp("ps", "--json", state=state, check=True).stdout)
    return {row["name"]: row for row in rows}


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def leftovers(state: Path, names: list[str]) -> list[str]:
    """Everything of these containers that should be gone after they are removed."""
    found = [f"mount {m}" for m in mounts_under(state)]
    crun_root = state / "crun"
    if crun_root.exists():
        found += [f"crun state {n}" for n in os.listdir(crun_root)]
    containers = state / "containers"
    if containers.exists():
        found += [f"directory {n}" for n in os.listdir(containers)]
    from compiler.layout import layout

    for name in names:
        cgroup = layout(str(state)).cgroup_name(name)
        for controller in os.listdir("/sys/fs/cgroup"):
            if os.path.exists(f"/sys/fs/cgroup/{controller}/hp/{cgroup}"):
                found.append(f"cgroup {controller}/hp/{cgroup}")
    return found


def write_file(tmp_path: Path, registry, text: str) -> Path:
    path = tmp_path / "hp.toml"
    path.write_text(f'[registries."{registry.host}"]\ninsecure = true\n\n' + text)
    return path


def podman_image_mounts() -> str:
    """`podman image mount` with no image: the images podman has mounted (empty: none)."""
    return subprocess.run(["podman", "image", "mount"], capture_output=True, text=True, check=True).stdout


def crun_names(state: Path) -> list[str]:
    if not (state / "crun").exists():
        return []
    out = subprocess.run(
        ["crun", "--root", str(state / "crun"), "list", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(c["id"] for c in json.loads(out or "[]"))


def run_in_pty(argv: list[str], answer: bytes, prompt: bytes, timeout: float = 120) -> tuple[int, bytes]:
    """Run argv on a pseudo-terminal (stdin, stdout and stderr), type `answer` after `prompt`."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes hp
        os.execv(argv[0], argv)
    out, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if not answered and prompt in out:
                os.write(fd, answer)
                answered = True
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out
