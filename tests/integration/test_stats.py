"""hp stats for real (issue 12 item 3): containers made by `hp apply`, figures read from their
cgroups (this VM: v1 controllers, an empty unified hierarchy) and their network namespace.

A container that holds a known amount of memory: 40 MiB written to a tmpfs mount, whose pages
are charged to the container's memory cgroup (and are not page cache that the usage leaves
out). Network bytes: the host fetches a known number of bytes from a container's own address
on a network of the test's own (free_subnet()). Nothing waits a fixed time: each test polls
until the container says it is ready."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest

from .hprun import HP, applying, hp, ps, wait_for_line
from .test_hp_network import free_subnet, network_toml

pytestmark = pytest.mark.integration

WAIT = 120  # seconds: the limit for a container to get ready, not a measured time
MIB = 1024 * 1024
SERVE_BIG = (
    'command = ["sh", "-c", "mkdir -p /tmp/www && head -c 1000000 /dev/zero > /tmp/www/big '
    '&& echo serving && exec httpd -f -p 8080 -h /tmp/www"]\n'
)
FIELDS = {
    "name",
    "cpu_percent",
    "memory_usage",
    "memory_limit",
    "memory_percent",
    "pids",
    "net_rx",
    "net_tx",
    "block_read",
    "block_write",
}


def stats_once(state: Path, *names: str) -> list[dict]:
    result = hp("stats", "--no-stream", "--json", *names, state=state)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def applied(tmp_path, state, registry):
    """apply(name, text) applies a file that makes container `name`; it is destroyed at the end,
    leaving nothing behind."""
    with applying(tmp_path, state, registry, timeout=WAIT) as apply:
        yield apply


def test_memory_usage_of_a_container_holding_40_mib(state, applied, test_images) -> None:
    name = f"mem-{uuid.uuid4().hex[:6]}"
    applied(
        name,
        f"""
[containers.{name}]
image = "{test_images["exiter"]}"
command = ['head -c {40 * MIB} /dev/zero > /scratch/fill && echo filled && exec sleep 3600']
network = "none"
memory = "128m"
stop_timeout = 0
mounts = [{{ type = "tmpfs", target = "/scratch", size = "64m" }}]
""",
    )
    wait_for_line(state, name, "filled", timeout=WAIT)

    [row] = stats_once(state, name)
    assert set(row) == FIELDS and row["name"] == name
    assert 40 * MIB <= row["memory_usage"] < 128 * MIB, row
    assert row["memory_limit"] == 128 * MIB
    assert row["memory_percent"] == pytest.approx(row["memory_usage"] / (128 * MIB) * 100)
    assert row["pids"] >= 1
    assert isinstance(row["cpu_percent"], float) and row["cpu_percent"] >= 0
    assert (row["net_rx"], row["net_tx"]) == (0, 0)  # network = "none": lo only, which is not counted
    assert row["block_read"] >= 0 and row["block_write"] >= 0

    # without NAME: every running container of the state dir; the table names it too
    assert [r["name"] for r in stats_once(state)] == [name]
    table = hp("stats", "--no-stream", state=state)
    assert table.returncode == 0, table.stderr
    header, line = table.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "CPU", "%"] and line.split()[0] == name and "/ 128MiB" in line

    # a container that is not running, and one hp does not have: one line each, exit 1
    assert hp("stop", name, state=state).returncode == 0
    assert ps(state)[name]["status"] == "stopped"
    stopped = hp("stats", "--no-stream", name, state=state)
    assert (stopped.returncode, stopped.stdout, stopped.stderr) == (1, "", f"hp: error: {name}: not running\n")
    missing = hp("stats", "--no-stream", "--json", "nosuch", state=state)
    assert (missing.returncode, missing.stderr) == (1, "hp: error: nosuch: no such container\n")
    assert stats_once(state) == []


def test_network_bytes_on_its_own_network(state, applied, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    name, subnet = f"web-{s}", free_subnet()
    applied(
        name,
        network_toml("lan", subnet, f"hpt{s}")
        + f"""
[containers.{name}]
image = "{test_images["sleeper"]}"
network = "lan"
user = "0:0"
stop_timeout = 0
{SERVE_BIG}""",
    )
    wait_for_line(state, name, "serving", timeout=WAIT)
    address = ps(state)[name]["ip"]

    [before] = stats_once(state, name)
    with urllib.request.urlopen(f"http://{address}:8080/big", timeout=30) as response:  # the test's own container
        assert len(response.read()) == 1_000_000
    [after] = stats_once(state, name)
    assert after["net_tx"] - before["net_tx"] >= 1_000_000
    assert after["net_rx"] > before["net_rx"]  # the request, the acks


def test_a_json_stream_is_one_list_a_line_until_ctrl_c(state, applied, test_images) -> None:
    name = f"busy-{uuid.uuid4().hex[:6]}"
    applied(
        name,
        f"""
[containers.{name}]
image = "{test_images["exiter"]}"
command = ['echo ready; while :; do :; done']
network = "none"
stop_timeout = 0
""",
    )
    wait_for_line(state, name, "ready", timeout=WAIT)
    streamer = subprocess.Popen(
        [HP, "stats", "--json", name, "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert streamer.stdout is not None  # stdout=PIPE
        samples = [json.loads(streamer.stdout.readline()) for _ in range(3)]
        streamer.send_signal(signal.SIGINT)
        _, err = streamer.communicate(timeout=WAIT)
        assert (streamer.returncode, err) == (130, b"")
    finally:
        streamer.kill()
        streamer.wait()
    assert [[row["name"] for row in sample] for sample in samples] == [[name]] * 3
    # a shell spinning: busy (an idle container shows 0.00; the CPUs are shared with other tests, so loosely)
    assert all(sample[0]["cpu_percent"] > 1 for sample in samples), samples


def test_a_host_networked_container_has_no_network_figures(state, applied, test_images) -> None:
    name = f"hostnet-{uuid.uuid4().hex[:6]}"
    applied(
        name,
        f"""
[containers.{name}]
image = "{test_images["exiter"]}"
command = ['echo ready; exec sleep 3600']
network = "host"
stop_timeout = 0
""",
    )
    wait_for_line(state, name, "ready", timeout=WAIT)
    [row] = stats_once(state, name, name)  # a NAME given twice is shown once
    assert (row["net_rx"], row["net_tx"]) == (None, None)  # its interfaces are the host's, not its own
    assert row["pids"] >= 1 and row["memory_usage"] > 0
    line = hp("stats", "--no-stream", name, state=state).stdout.splitlines()[1]
    assert "-- / --" in line
