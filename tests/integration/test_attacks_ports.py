"""Host ports are never taken over silently (issue 9, item 4): a port a host process holds, or
another state dir's container publishes, is refused at plan time and at apply time (`hp start`
of a stopped container meets the same check under its held sockets), one line naming the
port, exit 1, nothing made. A container's own port stays its own across a replace and a
restore. Each state dir has a network of its own (bridge and subnet). Traffic goes only to
127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.layout import Layout

from .hprun import cni_id_prefix, hp, ps, remove_everything, write_file
from .leaks import host_snapshot, leaks
from .test_hp_network import SERVE, fetch, free_port, free_subnet, links, network_toml, wait_for

pytestmark = pytest.mark.integration

IN_USE = "is in use on this host"


def web_toml(image: str, name: str, bridge: str, ports: list[str], extra: str = "") -> str:
    """A container serving "hello from NAME" on 8080, on a network of its own named after the bridge."""
    listed = ", ".join(f'"{p}"' for p in ports)
    return network_toml(bridge, free_subnet(), bridge) + (
        f'[containers.{name}]\nimage = "{image}"\nnetwork = "{bridge}"\nports = [{listed}]\n{SERVE}{extra}\n'
    )


def host_listener(port: int) -> socket.socket:
    """A host process's server on 127.0.0.1:port (SO_REUSEADDR, as most servers set it)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def still_answers(listener: socket.socket) -> bool:
    """A connection to the listener's port reaches the listener (not a container)."""
    with socket.create_connection(listener.getsockname(), timeout=10):
        accepted, _ = listener.accept()
        accepted.close()
    return True


def the_error(result: subprocess.CompletedProcess) -> str:
    """Exit 1 and one error line, the last (progress lines such as a pull's may come before it)."""
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hp: error:")]
    assert len(errors) == 1 and result.stderr.endswith(errors[0] + "\n"), result.stderr
    return errors[0]


def one_error_line(result: subprocess.CompletedProcess, file: Path | None, message: str) -> None:
    assert the_error(result) == f"hp: error: {f'{file}: ' if file else ''}{message}"


def nothing_made(state: Path, before, bridge: str) -> None:
    """Nothing of the state dir's: no container directory or attachment, and no leak of any kind
    (leaks.py) but the host-wide veths and chains, which a test running alongside may make:
    this state dir's would hang off its bridge, and carry its CNI ids in their rules."""
    where = Layout(str(state))
    for directory in (where.containers_dir, where.attachments_dir):
        assert not os.path.exists(directory) or os.listdir(directory) == [], directory
    assert bridge not in links()
    found = leaks(state, before)
    assert {kind: items for kind, items in found.items() if kind not in ("veths", "iptables chains")} == {}


@pytest.fixture
def other_state(tmp_path: Path) -> Iterator[Path]:
    """A second state dir, cleaned up like `state`."""
    path = tmp_path / "other-state"
    yield path
    remove_everything(path)


def crun_status(state: Path, name: str) -> str:
    out = subprocess.run(
        ["crun", "--root", Layout(str(state)).crun_root, "state", name], capture_output=True, text=True
    )
    return "gone" if out.returncode else json.loads(out.stdout)["status"]


def test_a_port_a_host_process_listens_on_is_refused_and_nothing_is_made(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    web, bridge, port = f"web-{s}", f"hpp{s}", free_port()
    file = write_file(tmp_path, registry, web_toml(test_images["sleeper"], web, bridge, [f"127.0.0.1:{port}:8080"]))
    (tmp_path / "wild").mkdir()
    wildcard = write_file(tmp_path / "wild", registry, web_toml(test_images["sleeper"], web, bridge, [f"{port}:8080"]))
    listener = host_listener(port)
    try:
        before = host_snapshot()
        for command in (("plan", str(file)), ("apply", str(file), "--yes")):
            one_error_line(
                hp(*command, state=state),
                file,
                f"containers.{web}.ports[0]: host port 127.0.0.1:{port}/tcp {IN_USE} (a process listens there)",
            )
        # every address includes 127.0.0.1
        one_error_line(
            hp("plan", str(wildcard), state=state),
            wildcard,
            f"containers.{web}.ports[0]: host port {port}/tcp {IN_USE} (a process listens there)",
        )
        nothing_made(state, before, bridge)
        assert still_answers(listener)
    finally:
        listener.close()
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {web}\n"
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_a_port_taken_while_its_container_was_stopped_is_refused_at_start(
    tmp_path, state, registry, test_images
) -> None:
    """The apply-time check: `hp start` connects without planning; the sockets it binds see the host process."""
    s = uuid.uuid4().hex[:6]
    web, bridge, port = f"web-{s}", f"hpp{s}", free_port()
    file = write_file(tmp_path, registry, web_toml(test_images["sleeper"], web, bridge, [f"127.0.0.1:{port}:8080"]))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert hp("stop", web, state=state).returncode == 0
        listener = host_listener(port)
        try:
            message = f"containers.{web}.ports[0]: host port 127.0.0.1:{port}/tcp {IN_USE} (a process listens there)"
            one_error_line(hp("start", web, state=state), None, message)
            assert ps(state)[web]["status"] == "stopped"
            where = Layout(str(state))
            assert not os.path.isdir(where.netns_dir) or os.listdir(where.netns_dir) == []
            assert os.listdir(where.attachments_dir) == []
            assert [r for r in _nat_rules() if cni_id_prefix(state) in r] == []
            assert still_answers(listener)
        finally:
            listener.close()
        assert hp("start", web, state=state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {web}\n"
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_two_state_dirs_cannot_publish_the_same_port(tmp_path, state, other_state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    port = free_port()
    first, second = f"a-{s}", f"b-{s}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    file_a = write_file(
        tmp_path / "a", registry, web_toml(test_images["sleeper"], first, f"hpa{s}", [f"127.0.0.1:{port}:8080"])
    )
    file_b = write_file(tmp_path / "b", registry, web_toml(test_images["sleeper"], second, f"hpb{s}", [f"{port}:8080"]))

    def refused(result: subprocess.CompletedProcess) -> None:
        error = the_error(result)
        assert error.startswith(
            f"hp: error: {file_b}: containers.{second}.ports[0]: host port {port}/tcp {IN_USE} "
            f"(published by another container: CNI container {cni_id_prefix(state)}{first}, "
            "DNAT rule in chain CNI-DN-"
        ), error

    try:
        assert hp("apply", str(file_a), "--yes", state=state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {first}\n"

        before = host_snapshot()
        refused(hp("plan", str(file_b), state=other_state))
        refused(hp("apply", str(file_b), "--yes", state=other_state))
        nothing_made(other_state, before, f"hpb{s}")
        assert fetch(f"http://127.0.0.1:{port}/index.html") == f"hello from {first}\n"

        # the other way round, at apply time: a's DNAT goes with `hp stop`, b takes the port, a may not start
        assert hp("stop", first, state=state).returncode == 0
        assert hp("apply", str(file_b), "--yes", state=other_state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {second}\n"
        error = the_error(hp("start", first, state=state))
        assert error.startswith(
            f"hp: error: containers.{first}.ports[0]: host port 127.0.0.1:{port}/tcp {IN_USE} "
            f"(published by another container: CNI container {cni_id_prefix(other_state)}{second}, "
            "DNAT rule in chain CNI-DN-"
        ), error
        assert ps(state)[first]["status"] == "stopped"
        assert [r for r in _nat_rules() if cni_id_prefix(state) in r] == []
        assert fetch(f"http://127.0.0.1:{port}/index.html") == f"hello from {second}\n"
    finally:
        destroyed_b = hp("destroy", str(file_b), "--yes", state=other_state)
        destroyed_a = hp("destroy", str(file_a), "--yes", state=state)
    assert destroyed_a.returncode == 0 and destroyed_b.returncode == 0, (destroyed_a.stderr, destroyed_b.stderr)


def test_a_replaced_or_restored_container_keeps_its_own_port(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    web, bridge, port = f"web-{s}", f"hpp{s}", free_port()
    image = test_images["sleeper"]
    file = write_file(tmp_path, registry, web_toml(image, web, bridge, [f"127.0.0.1:{port}:8080"], 'env = { V = "1" }'))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {web}\n"

        text = file.read_text().replace('env = { V = "1" }', 'env = { V = "2" }')
        file.write_text(text)
        shown = hp("plan", str(file), state=state, check=True).stdout
        assert f"-/+ {web}" in shown and "changed: process.env" in shown
        replaced = hp("apply", str(file), "--yes", state=state)
        assert replaced.returncode == 0, replaced.stderr
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {web}\n"

        # killed outside hp: its DNAT rules are still there, and they are its own
        crun = ["crun", "--root", Layout(str(state)).crun_root]
        subprocess.run([*crun, "kill", web, "KILL"], check=True, capture_output=True)
        for _ in range(200):
            if crun_status(state, web) == "stopped":
                break
            time.sleep(0.05)
        assert crun_status(state, web) == "stopped"
        assert [r for r in _nat_rules() if cni_id_prefix(state) in r]
        assert f"  ~ {web}" in hp("plan", str(file), state=state, check=True).stdout
        restored = hp("apply", str(file), "--yes", state=state)
        assert restored.returncode == 0, restored.stderr
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {web}\n"
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_a_udp_port_a_host_process_is_bound_to_is_refused(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    web, bridge = f"web-{s}", f"hpp{s}"
    held = socket.socket(type=socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    file = write_file(tmp_path, registry, web_toml(test_images["sleeper"], web, bridge, [f"{port}:53/udp"]))
    try:
        before = host_snapshot()
        for command in (("plan", str(file)), ("apply", str(file), "--yes")):
            one_error_line(
                hp(*command, state=state),
                file,
                f"containers.{web}.ports[0]: host port {port}/udp is in use on this host (a process is bound to it)",
            )
        nothing_made(state, before, bridge)
    finally:
        held.close()
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert ps(state)[web]["ports"] == [f"{port}:53/udp"]
        assert any(f"--dport {port} -j DNAT" in r and "-p udp" in r for r in _nat_rules())
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def _nat_rules() -> list[str]:
    out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.splitlines()
