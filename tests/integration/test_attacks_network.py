"""Attacks on hp's networking (issue 9, items 1, 3 and 9d): interfaces hp did not make are never
deleted, a teardown is complete whatever state the veth, namespace and rules are in, and a bridge
is one state dir's. Real podman, crun, CNI plugins and iptables; traffic only to 127.0.0.1."""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from compiler.cni import container_chains, container_id
from compiler.layout import bridge_claim, layout

from .hprun import HP, delete_bridge, hp, leftovers, ps, remove_everything, write_file
from .test_hp_network import free_port, free_subnet, links, network_toml

pytestmark = pytest.mark.integration


def container_toml(image: str, name: str, network: str, extra: str = "") -> str:
    return f'[containers.{name}]\nimage = "{image}"\nnetwork = "{network}"\n{extra}\n'


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def ifindex(name: str) -> int:
    return int(Path(f"/sys/class/net/{name}/ifindex").read_text())


def rules_of(state: Path, name: str, network: str) -> list[str]:
    """Every iptables line (any table) naming the container's CNI ID or one of its chains."""
    cid = container_id(str(state), name)
    needles = (cid, *container_chains(network, cid))
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True, timeout=30).stdout
    return [line for line in out.splitlines() if any(n in line for n in needles)]


def bridge_record(state: Path, bridge: str) -> dict | None:
    path = Path(layout(str(state)).bridge_record(bridge))
    return json.loads(path.read_text()) if path.exists() else None


def claim(bridge: str) -> str | None:
    path = Path(bridge_claim(bridge))
    return path.read_text().strip() if path.exists() else None


def one_error_line(result: subprocess.CompletedProcess, file: Path, where_and_problem: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hp: error:")]
    assert errors == [f"hp: error: {file}: {where_and_problem}"], result.stderr
    assert "Traceback" not in result.stderr and result.stderr.endswith(errors[0] + "\n"), result.stderr


def remove_state(other: Path, file: Path) -> None:
    """Whatever a failed test left in a second state dir: its containers, then its mounts."""
    hp("destroy", str(file), "--yes", state=other)
    remove_everything(other)


# ---- item 1: interfaces hp did not make -----------------------------------------------------


def test_a_bridge_naming_an_interface_that_is_not_a_bridge_is_refused_at_plan_time(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    veth, peer, name = f"secve{s}", f"secvf{s}", f"c-{s}"
    file = write_file(
        tmp_path, registry, network_toml("x3", free_subnet(), veth) + container_toml(test_images["sleeper"], name, "x3")
    )
    ip("link", "add", veth, "type", "veth", "peer", "name", peer)
    try:
        index = ifindex(veth)
        message = (
            f'networks.x3.bridge: interface "{veth}" exists on this host and is not a bridge: hp uses an '
            "existing bridge, never another kind of interface (name another bridge)"
        )
        one_error_line(hp("plan", str(file), state=state), file, message)
        one_error_line(hp("apply", str(file), "--yes", state=state), file, message)
        assert ps(state) == {} and leftovers(state, [name]) == []
        where = layout(str(state))
        assert not os.path.exists(where.images_dir) or os.listdir(where.images_dir) == []  # refused before any pull
        assert not os.path.exists(where.bridges_dir) and claim(veth) is None
        # the apply-time check, for a veth that appears between plan and apply: refused, nothing recorded
        from compiler.errors import HpError
        from executor import bridges

        with pytest.raises(HpError, match="is not a bridge"):
            bridges.take(layout(str(state)), "x3", veth)
        assert bridge_record(state, veth) is None and claim(veth) is None
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert ifindex(veth) == index and peer in links()  # both ends, untouched
    finally:
        ip("link", "delete", veth, check=False)


@pytest.mark.parametrize("had", ["no-address", "the-gateway", "another-address"])
def test_a_bridge_that_was_there_before_is_used_and_never_deleted(
    had: str, tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hpf{s}", f"c-{s}"
    subnet, other = free_subnet(), free_subnet()
    gateway = f"{subnet.network_address + 1}/{subnet.prefixlen}"
    before = {
        "no-address": [],
        "the-gateway": [gateway],
        "another-address": [f"{other.network_address + 1}/{other.prefixlen}"],
    }[had]
    file = write_file(
        tmp_path, registry, network_toml("lan", subnet, bridge) + container_toml(test_images["sleeper"], name, "lan")
    )
    ip("link", "add", bridge, "type", "bridge")
    try:
        for address in before:
            ip("address", "add", address, "dev", bridge)
        index = ifindex(bridge)
        applied = hp("apply", str(file), "--yes", state=state)
        if had == "another-address":  # the bridge plugin will not add a second IPv4 address: refused, untouched
            assert applied.returncode == 1 and "already has an IP address different from" in applied.stderr
        else:
            assert applied.returncode == 0, applied.stderr
            assert ipaddress.ip_address(ps(state)[name]["ip"]) in subnet
            assert bridge_record(state, bridge) == {
                "bridge": bridge,
                "made": False,
                "ifindex": index,
                "floor": 0,
                "address": None if before else gateway,
            }
            assert claim(bridge) == str(state) and addresses(bridge) == [gateway]
            assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert ifindex(bridge) == index  # still there, the same interface
        assert addresses(bridge) == before  # the gateway address goes only if the bridge plugin added it
        assert bridge_record(state, bridge) is None and claim(bridge) is None
        assert rules_of(state, name, "lan") == [] and leftovers(state, [name]) == []
    finally:
        ip("link", "delete", bridge, check=False)


def addresses(device: str) -> list[str]:
    return [line.split()[3] for line in ip("-o", "-4", "address", "show", "dev", device).stdout.splitlines()]


def test_a_bridge_hp_made_is_deleted_once_nothing_uses_it(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hpm{s}", f"c-{s}"
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", free_subnet(), bridge) + container_toml(test_images["sleeper"], name, "lan"),
    )
    assert bridge not in links()
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        record = bridge_record(state, bridge)
        assert record is not None and record["made"] is True and record["ifindex"] == ifindex(bridge)
        assert record["floor"] < record["ifindex"] and claim(bridge) == str(state)
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr
    assert bridge not in links() and bridge_record(state, bridge) is None and claim(bridge) is None


@pytest.mark.parametrize("there_before", [False, True], ids=["made-by-hp", "there-before"])
def test_hp_killed_after_the_bridge_was_made_deletes_only_its_own(
    there_before: bool, tmp_path, state, registry, test_images
) -> None:
    # killed right after CNI ADD: the record says "made" (or "found") but holds no index yet
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hpk{s}", f"c-{s}"
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", free_subnet(), bridge) + container_toml(test_images["sleeper"], name, "lan"),
    )
    if there_before:
        ip("link", "add", bridge, "type", "bridge")
    try:
        killed = hp("apply", str(file), "--yes", state=state, env={"HP_KILL_AT": "after-cni-add"})
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        record = bridge_record(state, bridge)
        assert record is not None and record["made"] is not there_before and bridge in links()
        assert (record["ifindex"] is None) is not there_before
        destroyed = hp("destroy", str(file), "--yes", state=state)
        assert destroyed.returncode == 0, destroyed.stderr
        assert (bridge in links()) is there_before
        assert bridge_record(state, bridge) is None and claim(bridge) is None
        assert rules_of(state, name, "lan") == [] and leftovers(state, [name]) == []
    finally:
        hp("destroy", str(file), "--yes", state=state)
        ip("link", "delete", bridge, check=False)


# ---- item 3: a teardown is complete whatever state the veth, namespace and rules are in -----


def test_destroy_after_eth0_was_deleted_inside_the_namespace_leaves_no_rule(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hpe{s}", f"c-{s}"
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", free_subnet(), bridge)
        + container_toml(test_images["sleeper"], name, "lan", f'ports = ["127.0.0.1:{free_port()}:80"]'),
    )
    try:
        for round in (1, 2):  # the second apply + destroy finds nothing of the first in its way
            applied = hp("apply", str(file), "--yes", state=state)
            assert applied.returncode == 0, applied.stderr
            kinds = " ".join(rules_of(state, name, "lan"))
            assert "POSTROUTING" in kinds and "CNI-HOSTPORT-DNAT" in kinds, kinds  # ipMasq's and portmap's
            if round == 1:
                netns = layout(str(state)).netns(name)
                subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "del", "eth0"], check=True, timeout=30)
            destroyed = hp("destroy", str(file), "--yes", state=state)
            assert destroyed.returncode == 0, destroyed.stderr
            assert rules_of(state, name, "lan") == [], round
            assert leftovers(state, [name]) == [] and bridge not in links()
    finally:
        hp("destroy", str(file), "--yes", state=state)


def test_delete_finds_a_leaked_rule_of_an_earlier_run_in_its_way(tmp_path) -> None:
    # what the old hp left (its ipMasq rule after `ip link del eth0`), then the same container again:
    # the bridge plugin's DEL fails with CHAIN_DEL busy; hp removes the leak and the retry succeeds
    from compiler import cni as pure
    from compiler.network import ContainerNetwork, Network
    from executor import cni, netns

    from .test_network import require_network_host

    require_network_host()
    s = uuid.uuid4().hex[:6]
    paths = layout(str(tmp_path / "state"))
    subnet = free_subnet()
    net = Network("lan", str(subnet), str(subnet.network_address + 1), f"hpl{s}")
    att = pure.attachment(paths, "web", ContainerNetwork("bridge", net))
    masq = container_chains("lan", att.container_id)[0]
    try:
        netns.create_netns(att.netns)
        cni.add(att, paths.attachment("web"))
        leak = next(line for line in rules_of(tmp_path / "state", "web", "lan") if line.startswith("-A POSTROUTING"))
        subprocess.run(["iptables", "--wait", "-t", "nat", *shlex.split(leak)], check=True, timeout=30)  # again
        assert sum(line.startswith("-A POSTROUTING") for line in rules_of(tmp_path / "state", "web", "lan")) == 2
        assert cni.delete(paths.attachment("web")) is True
        assert rules_of(tmp_path / "state", "web", "lan") == []
        assert (
            f":{masq} "
            not in subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout
        )
    finally:
        cni.delete(paths.attachment("web"))
        netns.remove_netns(att.netns)
        if os.path.isdir(paths.netns_dir):
            netns.release_netns_dir(paths.netns_dir)
        delete_bridge(net.bridge)


# ---- item 9d: a bridge is one state dir's ------------------------------------------------------


def test_a_second_state_dir_on_the_same_bridge_is_refused_naming_the_first(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hps{s}", f"c-{s}"
    other = tmp_path / "other-state"
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", free_subnet(), bridge) + container_toml(test_images["sleeper"], name, "lan"),
    )
    message = (
        f'networks.lan.bridge: bridge "{bridge}" is in use by the hp state dir {state} (two state dirs on '
        "one bridge would hand out the same addresses): give this network a bridge and subnet of its own"
    )
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        one_error_line(hp("plan", str(file), state=other), file, message)
        one_error_line(hp("apply", str(file), "--yes", state=other), file, message)
        assert ps(other) == {} and leftovers(other, [name]) == [] and claim(bridge) == str(state)
        assert hp("destroy", str(file), "--yes", state=state).returncode == 0
        assert claim(bridge) is None and bridge not in links()
        # released: now the other state dir may have it
        second = hp("apply", str(file), "--yes", state=other)
        assert second.returncode == 0, second.stderr
        assert claim(bridge) == str(other)
        assert hp("destroy", str(file), "--yes", state=other).returncode == 0
        assert claim(bridge) is None and bridge not in links()
    finally:
        hp("destroy", str(file), "--yes", state=state)
        remove_state(other, file)
    assert leftovers(other, [name]) == []


def test_a_stale_claim_is_taken_over(tmp_path, state, registry, test_images) -> None:
    # a claim whose state dir no longer has the bridge's record (deleted, or hp killed in between)
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hpt{s}", f"c-{s}"
    gone = tmp_path / "deleted-state"
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", free_subnet(), bridge) + container_toml(test_images["sleeper"], name, "lan"),
    )
    Path(bridge_claim(bridge)).parent.mkdir(parents=True, exist_ok=True)
    Path(bridge_claim(bridge)).write_text(f"{gone}\n")
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        assert claim(bridge) == str(state)
    finally:
        hp("destroy", str(file), "--yes", state=state)
        if claim(bridge) == str(gone):
            os.unlink(bridge_claim(bridge))
    assert claim(bridge) is None and bridge not in links()


def test_two_files_of_one_state_dir_may_not_put_two_networks_on_one_bridge(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    bridge = f"hpb{s}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_file(
        tmp_path / "a",
        registry,
        network_toml("one", free_subnet(), bridge) + container_toml(test_images["sleeper"], f"a-{s}", "one"),
    )
    second = write_file(
        tmp_path / "b",
        registry,
        network_toml("two", free_subnet(), bridge) + container_toml(test_images["sleeper"], f"b-{s}", "two"),
    )
    try:
        assert hp("apply", str(first), "--yes", state=state).returncode == 0
        one_error_line(
            hp("plan", str(second), state=state),
            second,
            f'networks.two.bridge: bridge "{bridge}" is also network one\'s, used by container a-{s} '
            "(another file's): give each network its own",
        )
    finally:
        assert hp("destroy", str(first), "--yes", state=state).returncode == 0
    assert bridge not in links()


def test_destroy_killed_at_any_moment_is_finished_by_the_next_with_no_rule_left(
    tmp_path, state, registry, test_images
) -> None:
    # the case: a destroy killed (its whole process group, as Ctrl-C or a service manager does)
    # while the plugins' DEL runs left ipMasq rules behind. Wherever the kill lands, the next destroy
    # must leave no rule; the delays only spread the kills over the destroy, nothing is timed
    s = uuid.uuid4().hex[:6]
    bridge, name = f"hpd{s}", f"c-{s}"
    file = write_file(
        tmp_path,
        registry,
        network_toml("lan", free_subnet(), bridge)
        + container_toml(test_images["sleeper"], name, "lan", f'ports = ["127.0.0.1:{free_port()}:80"]'),
    )
    try:
        for i, delay in enumerate((0.05, 0.15, 0.25, 0.35, 0.45, 0.6, 0.8, 1.0)):
            applied = hp("apply", str(file), "--yes", state=state)
            assert applied.returncode == 0, applied.stderr
            process = subprocess.Popen(
                [HP, "destroy", str(file), "--yes", "--state-dir", str(state)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGINT if i % 2 else signal.SIGKILL)
                process.wait(timeout=60)
            finished = hp("destroy", str(file), "--yes", state=state)
            assert finished.returncode == 0, (delay, finished.stderr)
            assert rules_of(state, name, "lan") == [], delay
            assert leftovers(state, [name]) == [] and bridge not in links(), delay
    finally:
        hp("destroy", str(file), "--yes", state=state)
