"""Stable addresses (issue 11, item 5): a container keeps its IPv4 address for as long as it exists,
across hp stop/start and a reboot of its network; only removing it frees the address. Real crun, real
CNI plugins; no traffic leaves the host."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from compiler.layout import Layout

from .hprun import eventually, hp, ps, write_file
from .leaks import host_snapshot, leaks
from .test_hp_network import free_subnet, links, network_toml

pytestmark = pytest.mark.integration


class Lan:
    """Files of one test on a fresh network: `file(dir, *names)` writes hp.toml in `dir` with those
    containers on it; `addresses()` is each running container's address, as hp ps shows it."""

    def __init__(self, tmp_path: Path, state: Path, registry, image: str) -> None:
        s = uuid.uuid4().hex[:6]
        self.tmp_path, self.state, self.registry, self.image = tmp_path, state, registry, image
        self.subnet, self.bridge, self.s = free_subnet(), f"hpa{s}", s
        self.files: list[Path] = []

    def name(self, letter: str) -> str:
        return f"{letter}-{self.s}"

    def file(self, directory: str, *letters: str) -> Path:
        where = self.tmp_path / directory
        where.mkdir(exist_ok=True)
        body = "".join(f'[containers.{self.name(x)}]\nimage = "{self.image}"\nnetwork = "lan"\n\n' for x in letters)
        path = write_file(where, self.registry, network_toml("lan", self.subnet, self.bridge) + body)
        if path not in self.files:
            self.files.append(path)
        return path

    def apply(self, path: Path) -> None:
        applied = hp("apply", str(path), "--yes", state=self.state)
        assert applied.returncode == 0, applied.stderr

    def addresses(self) -> dict[str, str | None]:
        return {name: row["ip"] for name, row in ps(self.state).items()}

    def host(self, index: int) -> str:
        return str(self.subnet.network_address + index)

    def destroy_all(self) -> None:
        problems = [hp("destroy", str(f), "--yes", state=self.state) for f in reversed(self.files)]
        assert [p.stderr for p in problems if p.returncode != 0] == []
        assert self.bridge not in links()


def sorted_addresses(addresses: dict[str, str | None]) -> list[str]:
    """The values of `addresses()`, sorted: every container has one (sorted() fails on a None anyway)."""
    known = [ip for ip in addresses.values() if ip is not None]
    assert len(known) == len(addresses), addresses
    return sorted(known)


@pytest.fixture
def lan(tmp_path, state, registry, test_images):
    return Lan(tmp_path, state, registry, test_images["sleeper"])


def test_hp_stop_then_start_keeps_the_address_and_no_other_container_gets_it(lan: Lan, state: Path) -> None:
    a, b, c = lan.name("a"), lan.name("b"), lan.name("c")
    try:
        lan.apply(lan.file("one", "a", "b"))
        first = lan.addresses()
        assert sorted_addresses(first) == [lan.host(2), lan.host(3)]  # the lowest free ones
        assert Path(Layout(str(state)).address_file(a)).read_text() == f"{first[a]}\n"

        assert hp("stop", a, state=state).returncode == 0
        # another file's container made while a is stopped: a's address is a's, not the lowest free one
        lan.apply(lan.file("two", "c"))
        assert lan.addresses()[c] == lan.host(4)

        started = hp("start", a, state=state)
        assert started.returncode == 0, started.stderr
        assert lan.addresses() == {a: first[a], b: first[b], c: lan.host(4)}
        assert f"{first[a]}\t{a}" in hp("exec", b, "--", "cat", "/etc/hosts", state=state).stdout
        # and again, with the address written down already
        assert hp("stop", a, state=state).returncode == 0
        assert hp("start", a, state=state).returncode == 0
        assert lan.addresses()[a] == first[a]
    finally:
        lan.destroy_all()


def test_after_a_reboot_of_its_network_a_container_comes_back_on_its_address(lan: Lan, state: Path) -> None:
    a = lan.name("a")
    before = host_snapshot()
    try:
        lan.apply(lan.file("one", "a", "b"))
        mine = lan.addresses()[a]
        assert hp("stop", a, state=state).returncode == 0
        assert hp("start", a, state=state).returncode == 0
        assert lan.addresses()[a] == mine
        from compiler.cni import container_id

        cid = container_id(str(state), a)
        rules = _nat_rules_of(cid)

        # what a reboot does to it: its processes are gone, and so is its namespace's bind mount
        # (the namespace file, the attachment record and host-local's reservation are on disk)
        where = Layout(str(state))
        crun = ["crun", "--root", where.crun_root]
        subprocess.run([*crun, "kill", a, "KILL"], check=True, timeout=30)
        _wait_stopped(crun, a)
        netns = Path(where.netns(a))
        subprocess.run(["umount", str(netns)], check=True, timeout=30)
        netns.unlink()

        started = hp("start", a, state=state)
        assert started.returncode == 0, started.stderr
        assert lan.addresses()[a] == mine
        held = _reservation_owners(state, "lan")
        assert mine is not None and held[mine] == cid and sorted(held) == sorted_addresses(lan.addresses())
        assert _nat_rules_of(cid) == rules  # the old ones went with the DEL, the ADD made them once more
        address = hp("exec", a, "--", "ip", "-o", "-4", "addr", "show", "eth0", state=state)
        assert f"inet {mine}/" in address.stdout, address.stdout + address.stderr
    finally:
        lan.destroy_all()
    assert leaks(state, before) == {}


def test_a_restart_by_policy_keeps_the_network_as_it_is(lan: Lan, state: Path) -> None:
    """connect is idempotent: the namespace is live and the attachment complete, so a restart adds
    nothing (the same veth, the same record) and the address stays."""
    import signal

    a = lan.name("a")
    path = lan.file("one", "a")
    path.write_text(path.read_text().replace('network = "lan"\n', 'network = "lan"\nrestart = "always"\n'))
    try:
        lan.apply(path)
        mine, first = lan.addresses()[a], ps(state)[a]["pid"]
        attachment = Path(Layout(str(state)).attachment(a))
        record = attachment.read_bytes()
        os.kill(first, signal.SIGKILL)
        eventually(lambda: ps(state)[a]["status"] == "running" and ps(state)[a]["pid"] != first, "it came back")
        assert ps(state)[a]["restarts"] == 1
        assert lan.addresses()[a] == mine
        assert attachment.read_bytes() == record
    finally:
        lan.destroy_all()


def test_an_address_file_that_holds_no_address_of_the_network_is_one_line_and_nothing_is_made(
    lan: Lan, state: Path
) -> None:
    a = lan.name("a")
    try:
        lan.apply(lan.file("one", "a"))
        assert hp("stop", a, state=state).returncode == 0
        where = Layout(str(state))
        kept = Path(where.address_file(a))
        for text, problem in (
            (f"{lan.host(7)};IP={lan.host(9)}", "is not an IPv4 address"),
            ("10.0.0.1" if not lan.subnet.overlaps(_TEN_ZERO) else "10.1.0.1", "is outside"),
        ):
            kept.write_text(text + "\n")
            started = hp("start", a, state=state)
            assert started.returncode == 1
            lines = started.stderr.strip().splitlines()
            assert lines[-1].startswith(f"hp: error: {kept}: ") and problem in lines[-1], started.stderr
            assert "Traceback" not in started.stderr
            assert not os.path.exists(where.netns(a))
            assert not os.path.exists(where.attachment(a))
        kept.unlink()  # as the message says: hp chooses again
        assert hp("start", a, state=state).returncode == 0
        assert lan.addresses()[a] == lan.host(2)
    finally:
        lan.destroy_all()


_TEN_ZERO = ipaddress.ip_network("10.0.0.0/24")


def test_removing_a_container_frees_its_address(lan: Lan, state: Path) -> None:
    a, c = lan.name("a"), lan.name("c")
    try:
        lan.apply(lan.file("one", "a", "b"))
        assert sorted_addresses(lan.addresses()) == [lan.host(2), lan.host(3)]
        freed = lan.addresses()[a]  # either: the two were made at once
        assert hp("rm", a, state=state).returncode == 0
        lan.apply(lan.file("two", "c"))
        assert lan.addresses()[c] == freed
    finally:
        lan.destroy_all()


def _wait_stopped(crun: list[str], name: str) -> None:
    import json
    import time

    deadline = time.monotonic() + 30
    while (
        json.loads(
            subprocess.run([*crun, "state", name], capture_output=True, text=True, check=True, timeout=30).stdout
        )["status"]
        != "stopped"
    ):
        assert time.monotonic() < deadline, f"{name} did not stop after SIGKILL"
        time.sleep(0.05)


def _reservation_owners(state: Path, network: str) -> dict[str, str]:
    """host-local's reservations: address -> the container ID holding it."""
    store = Path(Layout(str(state)).ipam_store(network))
    return {f: (store / f).read_text().splitlines()[0] for f in os.listdir(store) if f[0].isdigit()}


def _nat_rules_of(cid: str) -> list[str]:
    out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True, timeout=30).stdout
    return sorted(line for line in out.splitlines() if cid in line)
