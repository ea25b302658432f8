"""Networking through hp itself (issue 5): hp.toml networks and ports, applied with real crun and
the real CNI plugins. Traffic goes only to 127.0.0.1 and to the test's own container addresses."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest

from compiler.layout import Layout

from .hprun import cni_id_prefix, hp, ps, write_file

pytestmark = pytest.mark.integration

SERVE = (
    'command = ["sh", "-c", "mkdir -p /tmp/www && echo hello from $(hostname) > /tmp/www/index.html '
    '&& exec httpd -f -p 8080 -h /tmp/www"]\nuser = "0:0"\n'
)


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.200-254.x.0 that none of the host's routes touches."""
    routes = subprocess.run(["ip", "-o", "-4", "route", "show"], capture_output=True, text=True, check=True).stdout
    taken = []
    for line in routes.splitlines():
        try:
            taken.append(ipaddress.ip_network(line.split()[0], strict=False))
        except ValueError:
            continue
    while True:
        seed = uuid.uuid4().int
        net = ipaddress.IPv4Network(f"10.{200 + seed % 55}.{(seed >> 8) % 256}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # only ever 127.0.0.1
        return response.read().decode()


def links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split()[1].split("@")[0].rstrip(":") for line in out.splitlines()}


def nat_rules_naming(text: str) -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if text in line]


def network_toml(name: str, subnet: ipaddress.IPv4Network, bridge: str, dns: str = "") -> str:
    return f'[networks.{name}]\nsubnet = "{subnet}"\nbridge = "{bridge}"\n{dns}\n'


def wait_for(url: str) -> str:
    import time

    deadline = time.monotonic() + 20
    while True:
        try:
            return fetch(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_containers_reach_each_other_by_name_and_a_published_port_answers(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    subnet, bridge, port = free_subnet(), f"hpt{s}", free_port()
    web, client = f"web-{s}", f"client-{s}"
    image = test_images["sleeper"]
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", subnet, bridge, 'dns = ["192.0.2.53"]')
        + f"""
[containers.{web}]
image = "{image}"
network = "lan"
ports = ["127.0.0.1:{port}:8080"]
{SERVE}
[containers.{client}]
image = "{image}"
network = "lan"
""",
    )
    before = links()
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        rows = ps(state)
        ips = {n: rows[n]["ip"] for n in (web, client)}
        assert all(ipaddress.ip_address(ip) in subnet for ip in ips.values()) and len(set(ips.values())) == 2
        assert rows[web]["ports"] == [f"127.0.0.1:{port}:8080/tcp"]
        assert (rows[web]["network"], rows[web]["network_mode"]) == ("lan", "bridge")

        # by name, container to container; and /etc/hosts lists each peer, resolv.conf the network's dns
        got = hp("exec", client, "--", "wget", "-q", "-O", "-", f"http://{web}:8080/index.html", state=state)
        assert got.returncode == 0 and got.stdout == f"hello from {web}\n", got.stderr
        assert f"{ips[client]}\t{web}" not in hp("exec", web, "--", "cat", "/etc/hosts", state=state).stdout
        assert f"{ips[client]}\t{client}" in hp("exec", web, "--", "cat", "/etc/hosts", state=state).stdout
        assert f"{ips[web]}\t{web}" in hp("exec", client, "--", "cat", "/etc/hosts", state=state).stdout
        assert hp("exec", client, "--", "cat", "/etc/resolv.conf", state=state).stdout == "nameserver 192.0.2.53\n"

        # published on the host's loopback
        assert wait_for(f"http://127.0.0.1:{port}/index.html") == f"hello from {web}\n"

        assert bridge in links()
        assert nat_rules_naming(cni_id_prefix(state))
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr
    # nothing of the network is left: no bridge or veth, namespace, reservation or iptables rule
    assert bridge not in links()
    assert links() <= before
    where = Layout(str(state))
    assert not os.path.exists(where.netns_dir) or os.listdir(where.netns_dir) == []
    reserved = where.ipam_store("lan")
    assert not os.path.exists(reserved) or [f for f in os.listdir(reserved) if f[0].isdigit()] == []
    assert os.listdir(where.attachments_dir) == []
    assert nat_rules_naming(cni_id_prefix(state)) == []
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{port}/index.html")


def test_network_none_is_loopback_only_and_host_is_the_hosts(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    alone, shared = f"alone-{s}", f"shared-{s}"
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{alone}]
image = "{test_images["sleeper"]}"
network = "none"

[containers.{shared}]
image = "{test_images["sleeper"]}"
network = "host"
""",
    )
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        inside = hp("exec", alone, "--", "ip", "-o", "link", state=state).stdout.splitlines()
        assert len(inside) == 1 and inside[0].split()[1] == "lo:" and "UP" in inside[0], inside
        host_side = hp("exec", shared, "--", "ip", "-o", "link", state=state).stdout
        assert {line.split()[1].split("@")[0].rstrip(":") for line in host_side.splitlines()} == links()
        rows = ps(state)
        assert (rows[alone]["network"], rows[alone]["ip"]) == ("none", None)
        assert (rows[shared]["network"], rows[shared]["ip"]) == ("host", None)
        config = Path(Layout(str(state)).config_json(shared)).read_text()
        assert '"type":"network"' not in config.replace(" ", "")
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_addresses_persist_across_hp_runs_and_are_never_handed_out_twice(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    subnet, bridge = free_subnet(), f"hpt{s}"
    names = [f"n{i}-{s}" for i in range(4)]
    head = network_toml("lan", subnet, bridge)

    def containers(*chosen: str) -> str:
        return "".join(f'[containers.{n}]\nimage = "{test_images["sleeper"]}"\nnetwork = "lan"\n\n' for n in chosen)

    file = write_file(tmp_path, registry, head + containers(*names[:2]))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        first = {n: r["ip"] for n, r in ps(state).items()}
        # a later hp process: it reads host-local's store, so the next containers get new addresses
        file = write_file(tmp_path, registry, head + containers(*names))
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        second = {n: r["ip"] for n, r in ps(state).items()}
        assert {n: second[n] for n in first} == first  # the first two kept theirs
        assert len(set(second.values())) == 4
        # a second file on the same state dir and network, applied at the same time, gets others
        other_dir = tmp_path / "other"
        other_dir.mkdir()
        other = write_file(other_dir, registry, head + containers(f"o-{s}"))
        again = hp("apply", str(other), "--yes", state=state)
        assert again.returncode == 0, again.stderr
        all_ips = [r["ip"] for r in ps(state).values()]
        assert len(all_ips) == 5 and len(set(all_ips)) == 5
        reserved = sorted(f for f in os.listdir(Layout(str(state)).ipam_store("lan")) if f[0].isdigit())
        assert reserved == sorted(all_ips)
        # the other file's container is a peer on the same network
        assert f"\to-{s}" in hp("exec", names[0], "--", "cat", "/etc/hosts", state=state).stdout
        assert hp("destroy", str(other), "--yes", state=state).returncode == 0
        assert f"\to-{s}" not in hp("exec", names[0], "--", "cat", "/etc/hosts", state=state).stdout
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
    assert bridge not in links()


def test_a_changed_port_replaces_the_container(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    web = f"web-{s}"
    old, new = free_port(), free_port()

    def toml(port: int) -> str:
        return f'[containers.{web}]\nimage = "{test_images["sleeper"]}"\nports = ["127.0.0.1:{port}:8080"]\n{SERVE}'

    file = write_file(tmp_path, registry, toml(old))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{old}/index.html") == f"hello from {web}\n"
        file = write_file(tmp_path, registry, toml(new))
        shown = hp("plan", str(file), state=state, check=True).stdout
        assert f"-/+ {web}" in shown and "network changed" in shown
        assert "network.attachment.port_mappings" in shown
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert wait_for(f"http://127.0.0.1:{new}/index.html") == f"hello from {web}\n"
        with pytest.raises(OSError):
            fetch(f"http://127.0.0.1:{old}/index.html")
    finally:
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_network_mistakes_are_plan_time_errors(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    port = free_port()
    image = test_images["sleeper"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_file(tmp_path / "a", registry, f'[containers.p-{s}]\nimage = "{image}"\nports = ["{port}:80"]\n')
    second = write_file(
        tmp_path / "b", registry, f'[containers.q-{s}]\nimage = "{image}"\nports = ["127.0.0.1:{port}:81"]\n'
    )
    dummy, subnet = f"hpd{s}", free_subnet()

    def case_dir(name: str) -> Path:
        (tmp_path / name).mkdir()
        return tmp_path / name

    subprocess.run(["ip", "link", "add", dummy, "type", "bridge"], check=True)  # any link with a route will do
    try:
        subprocess.run(["ip", "addr", "add", f"{subnet.network_address + 1}/24", "dev", dummy], check=True)
        subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
        assert hp("apply", str(first), "--yes", state=state).returncode == 0
        cases = {
            "port-of-another-file": (
                second,
                f"containers.q-{s}.ports[0]: host port {port}/tcp is already "
                f"published by container p-{s} (another file's)",
            ),
            "subnet-on-a-host-route": (
                write_file(
                    case_dir("route"),
                    registry,
                    network_toml("lan", subnet, f"hpt{s}")
                    + f'[containers.r-{s}]\nimage = "{image}"\nnetwork = "lan"\n',
                ),
                f"networks.lan.subnet: {subnet} overlaps the host's route {subnet} dev {dummy}",
            ),
            "unknown-network": (
                write_file(
                    case_dir("unknown"), registry, f'[containers.u-{s}]\nimage = "{image}"\nnetwork = "nowhere"\n'
                ),
                f'containers.u-{s}.network: no network named "nowhere"',
            ),
            "bad-cidr": (
                write_file(case_dir("cidr"), registry, '[networks.x]\nsubnet = "10.1.2.3/24"\n'),
                'networks.x.subnet: "10.1.2.3/24" has host bits set: did you mean "10.1.2.0/24"?',
            ),
        }
        for case, (file, message) in cases.items():
            result = hp("plan", str(file), state=state)
            assert result.returncode == 1, (case, result.stderr)
            assert result.stderr.startswith(f"hp: error: {file}: {message}"), (case, result.stderr)
            assert result.stderr.count("\n") == 1, case
        assert sorted(ps(state)) == [f"p-{s}"]
    finally:
        subprocess.run(["ip", "link", "delete", dummy], capture_output=True)
        assert hp("destroy", str(first), "--yes", state=state).returncode == 0
