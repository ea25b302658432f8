"""Running the real `hp` in integration tests, and looking for what it may have left behind;
the hp.toml tables, state-dir records and waits that several test files share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compiler.cgroups import CGROUP_ROOT, cgroups_path
from compiler.cni import container_id
from compiler.commands import link_delete_argv, link_show_argv
from compiler.layout import Layout, layout

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
    where = layout(str(state))
    found = [f"mount {m}" for m in mounts_under(state)]
    if os.path.exists(where.crun_root):
        found += [f"crun state {n}" for n in os.listdir(where.crun_root)]
    found += [f"directory {n}" for n in container_dirs(state)]
    for name in names:
        cgroup = where.cgroup_name(name)
        for controller in os.listdir(CGROUP_ROOT):
            if os.path.exists(f"{CGROUP_ROOT}/{controller}{cgroups_path(cgroup)}"):
                found.append(f"cgroup {controller}{cgroups_path(cgroup)}")
    return found


def remove_everything(state: Path) -> None:
    """Whatever a failed test left in a state dir: its containers (hp rm --force), then its mounts."""
    for name in container_dirs(state):
        subprocess.run([HP, "rm", "--force", name, "--state-dir", str(state)], capture_output=True, timeout=60)
    for mount in reversed(mounts_under(state)):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def cni_id_prefix(state: Path) -> str:
    """What the CNI container ID (compiler.cni.container_id) of every container of the state dir
    starts with, "hp-TAG-": host-wide things named by it (portmap's iptables rules) are its."""
    return container_id(str(state), "x")[:-1]  # an empty name is no container name


def write_file(tmp_path: Path, registry, text: str) -> Path:
    path = tmp_path / "hp.toml"
    path.write_text(f'[registries."{registry.host}"]\ninsecure = true\n\n' + text)
    return path


def podman_image_mounts() -> str:
    """`podman image mount` with no image: the images podman has mounted (empty: none)."""
    return subprocess.run(["podman", "image", "mount"], capture_output=True, text=True, check=True).stdout


def crun_names(state: Path) -> list[str]:
    crun_root = Layout(str(state)).crun_root
    if not os.path.exists(crun_root):
        return []
    out = subprocess.run(
        ["crun", "--root", crun_root, "list", "--format", "json"], capture_output=True, text=True, check=True
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


def container_dirs(state: Path) -> list[str]:
    """The names of the container directories in the state dir (none when it has no containers dir)."""
    containers = Layout(str(state)).containers_dir
    return os.listdir(containers) if os.path.exists(containers) else []


def _read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def container_record(state: Path, name: str) -> dict:
    """hp's record of container `name` (container.json)."""
    return _read_json(Layout(str(state)).record(name))


def run_state(state: Path, name: str) -> dict:
    """Container `name`'s run state (run.json): its runs, restarts, what hp wants of it."""
    return _read_json(Layout(str(state)).run_state(name))


def health_record(state: Path, name: str) -> dict:
    """Container `name`'s health record (health.json): status, failing streak, the checks' log."""
    return _read_json(Layout(str(state)).health(name))


def sh_container(
    name: str,
    image: str,
    script: str,
    extra: str = "",
    *,
    network: str = "none",
    env: dict[str, str] | None = None,
    marks: Path | None = None,
) -> str:
    """hp.toml's table of container `name`: `image` running `/bin/sh -c script` (whatever the image's
    entrypoint) with `env`, on `network`, with the host directory `marks` (mark_dir) bind-mounted at
    /mark if given, then the `extra` lines. `script` goes in a TOML basic string: no double quotes."""
    lines = [f"[containers.{name}]", f'image = "{image}"', 'entrypoint = ["/bin/sh", "-c"]', f'command = ["{script}"]']
    if env:
        lines.append("env = { " + ", ".join(f'{key} = "{value}"' for key, value in env.items()) + " }")
    lines.append(f'network = "{network}"')
    if marks is not None:
        lines.append(f'mounts = [{{ type = "bind", source = "{marks}", target = "/mark" }}]')
    return "\n".join(lines) + f"\n{extra}\n"


def mark_dir(tmp_path: Path) -> Path:
    """A new host directory for containers to write into at /mark (sh_container's `marks`): what
    they wrote is there after hp removed them and their logs."""
    path = tmp_path / "marks"
    path.mkdir()
    return path


def marked(marks: Path) -> list[str]:
    """The words the containers wrote to /mark/log, in order (none before the first)."""
    log = marks / "log"
    return log.read_text().split() if log.exists() else []


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Poll until check() holds; the limit only bounds a failing test, nothing is timed."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)


def wait_for_line(state: Path, name: str, line: str, *logs_args: str, timeout: float = 120) -> None:
    """Until `hp logs NAME *logs_args` (stdout) has `line`: the container has written everything
    before it. The limit only bounds a failing test."""
    deadline = time.monotonic() + timeout
    while True:
        result = hp("logs", name, *logs_args, state=state, timeout=timeout)
        assert result.returncode == 0, result.stderr
        if line in result.stdout.splitlines():
            return
        assert time.monotonic() < deadline, f"{name} did not write {line!r} within {timeout:g} s"
        time.sleep(0.2)


@contextmanager
def applying(tmp_path: Path, state: Path, registry, timeout: float = 120) -> Iterator[Callable[[str, str], None]]:
    """apply(name, text) applies hp.toml `text` (the registry's part added, in a directory of its
    own under tmp_path) that makes container `name`; on leaving, every file applied is destroyed,
    and nothing of their containers may be left behind."""
    made: list[tuple[Path, str]] = []

    def apply(name: str, text: str) -> None:
        directory = tmp_path / name
        directory.mkdir()
        file = write_file(directory, registry, text)
        made.append((file, name))
        result = hp("apply", str(file), "--yes", state=state, timeout=timeout)
        assert result.returncode == 0, result.stderr

    try:
        yield apply
    finally:
        for file, _ in made:
            hp("destroy", str(file), "--yes", state=state, timeout=timeout)
    assert leftovers(state, [name for _, name in made]) == []


def delete_bridge(name: str) -> bool:
    """Delete the bridge interface `name` that a test made through CNI directly, without hp's claims
    (hp itself deletes only bridges it recorded: executor/bridges.py). False if there was none."""
    if subprocess.run(link_show_argv(name), capture_output=True, timeout=30).returncode != 0:
        return False
    subprocess.run(link_delete_argv(name), capture_output=True, timeout=30, check=True)
    return True
