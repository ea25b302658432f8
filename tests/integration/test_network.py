"""Networking for real (issue 5): network namespaces under a state directory, the CNI plugins of
containernetworking-plugins run by executor/cni.py, busybox as server and client.

Each test gets its own network: a /24 picked at random from 10.200.0.0-10.254.255.0 that is on
none of this host's routes, and a bridge named for the test. Traffic goes only to 127.0.0.1 and
to the addresses of the namespaces the test made. Whatever happens, the fixture deletes every
attachment, namespace and the bridge, and a test about cleanup checks that nothing is left:
no veth, no namespace mount, no IP reservation, no iptables rule naming the container.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import pytest

from compiler import cni as pure
from compiler.layout import Layout
from compiler.network import Mode, container_hosts, container_network, hosts_peers, parse_routes
from compiler.spec import parse_hp_file
from executor import cni, netns
from tests.needs import missing

from .hprun import delete_bridge

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "/bin/busybox"
PLUGINS = ("bridge", "host-local", "portmap", "firewall")
TOOLS = ("unshare", "nsenter", "ip", "iptables-save", "mount", "umount")


def require_network_host() -> None:
    if os.geteuid() != 0:
        missing("root (network namespaces, bridges, iptables)")
    for plugin in PLUGINS:
        if not any(os.access(f"{d}/{plugin}", os.X_OK) for d in pure.CNI_PATH):
            missing(f"the CNI plugin {plugin} (Debian package containernetworking-plugins)")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            missing(f"{tool} (util-linux, iproute2, iptables)")
    if not os.access(BUSYBOX, os.X_OK):
        missing("busybox-static (/bin/busybox)")


def free_subnet() -> str:
    out = subprocess.run(["ip", "-o", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    taken = [ipaddress.ip_network(dst) for dst, _ in parse_routes(out)]
    rng = random.SystemRandom()
    for _ in range(500):
        candidate = ipaddress.ip_network(f"10.{rng.randint(200, 254)}.{rng.randint(0, 255)}.0/24")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise AssertionError("no free 10.200-254.x.0/24 on this host")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NetEnv:
    """One test's network, in a state directory of its own."""

    def __init__(self, tmp: Path) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.tmp = tmp
        self.name = f"hpt{suffix}"
        self.bridge = f"hpt{suffix}"
        self.subnet = free_subnet()
        self.paths = Layout(str(tmp / "state"))
        self.cni_path: tuple[str, ...] = pure.CNI_PATH
        self.processes: list[subprocess.Popen] = []
        self.www = tmp / "www"
        self.www.mkdir()
        (self.www / "index.html").write_text(f"hello from {suffix}\n")

    def hp_file(self, containers: dict[str, list[str]]):
        text = f'[networks.{self.name}]\nsubnet = "{self.subnet}"\nbridge = "{self.bridge}"\n'
        for cname, ports in containers.items():
            text += f'[containers.{cname}]\nimage = "x"\nnetwork = "{self.name}"\nports = {json.dumps(ports)}\n'
        return parse_hp_file(text)

    def attachment(self, name: str, ports: Sequence[str] = ()) -> pure.Attachment:
        hp = self.hp_file({name: list(ports)})
        return pure.attachment(self.paths, name, container_network(hp, name))

    def attach(self, att: pure.Attachment) -> pure.CniResult:
        netns.create_netns(att.netns)
        return cni.add(att, self.paths.attachment(att.container), self.cni_path)

    def in_netns(self, name: str, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--net={self.paths.netns(name)}", *argv], capture_output=True, text=True, timeout=timeout
        )

    def serve(self, name: str, port: int = 8080) -> None:
        self.processes.append(
            subprocess.Popen(
                [
                    "nsenter",
                    f"--net={self.paths.netns(name)}",
                    BUSYBOX,
                    "httpd",
                    "-f",
                    "-p",
                    str(port),
                    "-h",
                    str(self.www),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def cleanup(self) -> list[str]:
        problems = []
        for p in self.processes:
            p.kill()
            p.wait()
        attachments = Path(self.paths.attachments_dir)
        for record in sorted(attachments.glob("*.json")) if attachments.is_dir() else ():
            try:
                cni.delete(str(record), self.cni_path)
            except Exception as e:  # keep going: the namespaces and bridge must go anyway
                problems.append(f"delete {record.name}: {e}")
        netns_dir = Path(self.paths.netns_dir)
        for path in sorted(netns_dir.iterdir()) if netns_dir.is_dir() else ():
            netns.remove_netns(str(path))
        if netns_dir.is_dir():
            netns.release_netns_dir(str(netns_dir))
        delete_bridge(self.bridge)
        return problems


@pytest.fixture
def env(tmp_path: Path) -> Iterator[NetEnv]:
    require_network_host()
    e = NetEnv(tmp_path)
    try:
        yield e
    finally:
        problems = e.cleanup()
        assert problems == []


def wget(*argv_prefix: str, url: str, deadline: float = 10.0) -> str:
    """busybox wget's output once the server answers (it is started just before). No `-T`:
    Debian 12's busybox-static 1.35 wget crashes (SIGSEGV) with it; subprocess's timeout instead."""
    end = time.monotonic() + deadline
    while True:
        done = subprocess.run(
            [*argv_prefix, BUSYBOX, "wget", "-q", "-O", "-", url], capture_output=True, text=True, timeout=20
        )
        if done.returncode == 0 or time.monotonic() > end:
            assert done.returncode == 0, f"wget {url}: exit {done.returncode}: {done.stderr}"
            return done.stdout
        time.sleep(0.1)


def address_of(result: pure.CniResult) -> str:
    """The container's address in the result of an ADD: every ADD these tests make gives one."""
    address = result.address
    assert address is not None, result
    return address


def leftovers(env: NetEnv, att: pure.Attachment, address: str, host_veth: str | None) -> list[str]:
    """Everything of `att` still on the host."""
    found = []
    if os.path.exists(att.netns):
        found.append(f"namespace file {att.netns}")
    if netns.mount_of(att.netns) is not None:
        found.append(f"namespace mount {att.netns}")
    if os.path.exists(env.paths.attachment(att.container)):
        found.append("attachment record")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    if host_veth and f" {host_veth}@" in links:
        found.append(f"veth {host_veth}")
    on_bridge = subprocess.run(["ip", "-o", "link", "show", "master", env.bridge], capture_output=True, text=True)
    if on_bridge.stdout.strip():
        found.append(f"links on {env.bridge}: {on_bridge.stdout.strip()}")
    ipam = Path(env.paths.ipam_dir) / att.network
    for f in ipam.iterdir() if ipam.is_dir() else ():
        if f.name != "lock" and not f.name.startswith("last_reserved_ip"):
            found.append(f"IP reservation {f.name}: {f.read_text()!r}")
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    found += [
        f"iptables: {line}"
        for line in rules.splitlines()
        if att.container_id in line or f"{address}/32" in line or f"{address}:" in line
    ]
    if shutil.which("nft"):
        ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        found += [
            f"nft: {line.strip()}"
            for line in ruleset.splitlines()
            if att.container_id in line or f"{address} " in line or line.rstrip().endswith(address)
        ]
    return found


def host_veth(result: pure.CniResult, bridge: str) -> str:
    names = [i.name for i in result.interfaces if not i.sandbox and i.name != bridge]
    assert len(names) == 1, result
    return names[0]


# --------------------------------------------------------------------------- the tests


def test_two_namespaces_talk_by_name(env: NetEnv) -> None:
    hp = env.hp_file({"a": [], "b": []})
    atts = {n: pure.attachment(env.paths, n, container_network(hp, n)) for n in ("a", "b")}
    results = {n: env.attach(att) for n, att in atts.items()}
    addresses = {n: address_of(r) for n, r in results.items()}
    subnet = ipaddress.ip_network(env.subnet)
    assert addresses["a"] != addresses["b"]
    assert all(ipaddress.ip_address(a) in subnet for a in addresses.values())
    assert results["a"].gateway == str(subnet.network_address + 1)
    eth0 = env.in_netns("a", "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
    assert f"inet {addresses['a']}/24" in eth0

    hosts = env.tmp / "b-hosts"
    known = {n: (atts[n].network, address) for n, address in addresses.items()}
    hosts.write_text(container_hosts("b", "b", addresses["b"], hosts_peers(known, atts["b"].network, "b")))
    assert f"{addresses['a']}\ta\n" in hosts.read_text()
    ping = env.in_netns("b", BUSYBOX, "ping", "-c", "1", "-W", "3", addresses["a"])
    assert ping.returncode == 0, ping.stdout + ping.stderr

    env.serve("a")
    # /etc/hosts replaced in a private mount namespace, as crun does with the bundle's hosts file
    script = f'mount --bind "$1" /etc/hosts && exec {BUSYBOX} wget -q -O - http://a:8080/index.html'
    prefix = ("nsenter", f"--net={env.paths.netns('b')}", "unshare", "--mount", "sh", "-c", script, "sh", str(hosts))
    end = time.monotonic() + 10
    while True:
        done = subprocess.run(prefix, capture_output=True, text=True, timeout=20)
        if done.returncode == 0 or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (env.www / "index.html").read_text()


def test_published_port_reached_from_localhost(env: NetEnv) -> None:
    any_address, loopback_only = free_port(), free_port()
    att = env.attachment("web", [f"{any_address}:8080", f"127.0.0.1:{loopback_only}:8080"])
    env.attach(att)
    env.serve("web")
    expected = (env.www / "index.html").read_text()
    assert wget(url=f"http://127.0.0.1:{any_address}/index.html") == expected
    assert wget(url=f"http://127.0.0.1:{loopback_only}/index.html") == expected
    # portmap's doing, so that 127.0.0.1 may be DNATed out of the host to the bridge
    assert Path(f"/proc/sys/net/ipv4/conf/{env.bridge}/route_localnet").read_text().strip() == "1"


def test_network_none_has_only_loopback(env: NetEnv) -> None:
    path = env.paths.netns("alone")
    netns.create_netns(path)
    netns.create_netns(path)  # idempotent
    assert netns.is_netns(path)
    links = env.in_netns("alone", "ip", "-o", "link").stdout.splitlines()
    assert len(links) == 1 and links[0].split()[1] == "lo:" and "UP" in links[0], links
    addrs = env.in_netns("alone", "ip", "-o", "-4", "addr").stdout
    assert "inet 127.0.0.1/8" in addrs and addrs.count("inet ") == 1
    assert env.in_netns("alone", BUSYBOX, "ping", "-c", "1", "-W", "2", "127.0.0.1").returncode == 0
    netns.remove_netns(path)
    netns.remove_netns(path)  # idempotent
    assert not os.path.exists(path) and netns.mount_of(path) is None


def test_netns_dir_is_its_own_shared_mount(env: NetEnv) -> None:
    netns.create_netns(env.paths.netns("x"))
    mount = netns.mount_of(os.path.realpath(env.paths.netns_dir))
    assert mount is not None and mount[1] == "shared"
    # a peer group of its own: not the one of the mount it sits on
    with open("/proc/self/mountinfo") as f:
        groups = {
            line.split()[4]: [o for o in line.split(" - ")[0].split()[6:] if o.startswith("shared:")] for line in f
        }
    own = groups[os.path.realpath(env.paths.netns_dir)]
    assert own and all(own != g for path, g in groups.items() if path != os.path.realpath(env.paths.netns_dir))


def test_destroy_leaves_nothing(env: NetEnv) -> None:
    att = env.attachment("web", [f"{free_port()}:8080"])
    result = env.attach(att)
    veth = host_veth(result, env.bridge)
    before = leftovers(env, att, address_of(result), veth)
    assert any("veth" in f for f in before) and any("IP reservation" in f for f in before)
    assert any(att.container_id in f for f in before)  # the checks below can see what they look for

    assert cni.delete(env.paths.attachment("web"), env.cni_path) is True
    netns.remove_netns(att.netns)
    assert leftovers(env, att, address_of(result), veth) == []
    # again, as after a crash right after it: nothing to do, nothing fails
    assert cni.delete(env.paths.attachment("web"), env.cni_path) is False
    netns.remove_netns(att.netns)
    assert delete_bridge(env.bridge) is True
    assert subprocess.run(["ip", "link", "show", env.bridge], capture_output=True).returncode != 0
    assert delete_bridge(env.bridge) is False


def test_delete_releases_the_ip_when_the_namespace_is_gone(env: NetEnv) -> None:
    # the whole list, ipMasq included: the bridge plugin finds its masquerade rule through the
    # namespace's interface, so with the namespace gone hp removes it by its comment
    att = env.attachment("web", [f"{free_port()}:8080"])
    result = env.attach(att)
    assert any(
        att.container_id in line
        for line in subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout.splitlines()
    )
    netns.remove_netns(att.netns)
    Path(att.netns).touch()  # a stale file, as a reboot leaves one: not a namespace any more
    assert cni.delete(env.paths.attachment("web"), env.cni_path) is True
    netns.remove_netns(att.netns)
    # the kernel frees an unmounted, empty namespace (and the veth in it) asynchronously
    end = time.monotonic() + 10
    while (left := leftovers(env, att, address_of(result), None)) and time.monotonic() < end:
        time.sleep(0.05)
    assert left == []


FAKE_PLUGIN = """#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD) {add} ;;
VERSION) echo '{{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}}' ;;
esac
exit 0
"""


def fake_plugin(env: NetEnv, name: str, add: str) -> None:
    directory = env.tmp / "cni"
    directory.mkdir(exist_ok=True)
    plugin = directory / name
    plugin.write_text(FAKE_PLUGIN.format(add=add))
    plugin.chmod(0o755)
    env.cni_path = (str(directory), *pure.CNI_PATH)


def with_plugin(att: pure.Attachment, name: str) -> pure.Attachment:
    plugins = (*(p for p in att.conflist.plugins if p.type != "firewall"), pure.Plugin(name))
    return msgspec.structs.replace(att, conflist=msgspec.structs.replace(att.conflist, plugins=plugins))


def test_failed_add_is_undone(env: NetEnv) -> None:
    fake_plugin(env, "fail", """echo '{"cniVersion":"1.0.0","code":999,"msg":"boom from the test plugin"}'; exit 1""")
    att = with_plugin(env.attachment("web", [f"{free_port()}:8080"]), "fail")
    netns.create_netns(att.netns)
    with pytest.raises(Exception) as info:
        cni.add(att, env.paths.attachment("web"), env.cni_path)
    assert "CNI plugin fail failed to add container web: boom from the test plugin" in str(info.value)
    netns.remove_netns(att.netns)  # the caller's part (add only uses the namespace)
    assert leftovers(env, att, "(released)", None) == []


def test_missing_plugin_is_undone(env: NetEnv) -> None:
    att = with_plugin(env.attachment("web", [f"{free_port()}:8080"]), "hp-no-such-plugin")
    netns.create_netns(att.netns)
    with pytest.raises(Exception) as info:
        cni.add(att, env.paths.attachment("web"), env.cni_path)
    assert "CNI plugin hp-no-such-plugin failed to add container web" in str(info.value)
    assert "not found in" in str(info.value)
    netns.remove_netns(att.netns)
    assert leftovers(env, att, "(released)", None) == []


def test_killed_add_is_cleaned_by_delete(env: NetEnv) -> None:
    """hp killed while a plugin runs: the record says what was done, DEL undoes all of it."""
    fake_plugin(env, "hang", "exec sleep 600")
    att = with_plugin(env.attachment("web", [f"{free_port()}:8080"]), "hang")
    netns.create_netns(att.netns)
    spec = env.tmp / "att.json"
    spec.write_bytes(msgspec.json.encode(att))
    record = env.paths.attachment("web")
    proc = subprocess.Popen(
        [sys.executable, "-c", ADD_SCRIPT, str(spec), record, *env.cni_path],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        end = time.monotonic() + 30
        while (r := cni.read_record(record) if os.path.exists(record) else None) is None or r.added < 2:
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert r.result is not None  # added twice: the ADD finished
    address = address_of(pure.parse_result(r.result))
    assert any("IP reservation" in f for f in leftovers(env, att, address, None))
    assert cni.delete(record, env.cni_path) is True
    netns.remove_netns(att.netns)
    assert leftovers(env, att, address, None) == []


ADD_SCRIPT = """
import sys, msgspec
from compiler.cni import Attachment
from executor import cni
att = msgspec.json.decode(open(sys.argv[1], "rb").read(), type=Attachment)
print(cni.add(att, sys.argv[2], tuple(sys.argv[3:])).address)
"""


def test_allocations_persist_and_are_never_handed_out_twice(env: NetEnv) -> None:
    names = [f"c{i}" for i in range(5)]
    hp = env.hp_file({n: [] for n in names})
    atts = {n: pure.attachment(env.paths, n, container_network(hp, n)) for n in names}
    procs = {}
    for n in names[:4]:  # four hp processes at once
        netns.create_netns(atts[n].netns)
        spec = env.tmp / f"{n}.json"
        spec.write_bytes(msgspec.json.encode(atts[n]))
        procs[n] = subprocess.Popen(
            [sys.executable, "-c", ADD_SCRIPT, str(spec), env.paths.attachment(n), *env.cni_path],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    addresses = {}
    for n, p in procs.items():
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        addresses[n] = out.strip()
    # a later process (hp run again) sees them all in host-local's store
    addresses[names[4]] = address_of(env.attach(atts[names[4]]))
    assert len(set(addresses.values())) == 5, addresses
    ipam = Path(env.paths.ipam_dir) / env.name
    for n, address in addresses.items():
        assert (ipam / address).read_text().splitlines()[0] == atts[n].container_id


# --------------------------------------------------------------------------- with crun

IMAGE = {"os": "linux", "architecture": "amd64", "config": {"Cmd": ["sh"]}}


@pytest.fixture
def crun(tmp_path: Path):
    from .bundle import Crun, require_host

    require_host()
    c = Crun(tmp_path / "crun-root")
    try:
        yield c
    finally:
        assert c.cleanup() == []


def run_in_crun(env: NetEnv, crun, mode: Mode, script: str, netns_path: str, hosts: str | None = None):
    """`script` in a container compiled by hp, its config.json's network namespace as
    compiler.network.namespaces makes it for `mode`."""
    from compiler.defaults import defaults
    from compiler.network import namespaces

    from .bundle import make_bundle

    body = f'image = "x"\ncommand = ["sh", "-c", {json.dumps(script)}]\n'
    if mode in ("none", "host"):  # compiled for the mode: host gets no net.* sysctls, which crun would refuse
        body += f'network = "{mode}"\n'
    parent = env.tmp / f"bundles-{mode}"
    parent.mkdir(exist_ok=True)
    bundle = make_bundle(parent, body, IMAGE, **({"hosts": hosts} if hosts is not None else {}))
    for applet in ("ip", "wget"):
        (bundle.rootfs / "bin" / applet).symlink_to("busybox")
    config = json.loads((bundle.path / "config.json").read_text())
    config["linux"]["namespaces"] = msgspec.to_builtins(namespaces(defaults().namespaces, mode, netns_path))
    (bundle.path / "config.json").write_text(json.dumps(config))
    return crun.run(bundle)


def test_crun_container_starts_with_its_network_up(env: NetEnv, crun) -> None:
    hp = env.hp_file({"a": [], "b": []})
    atts = {n: pure.attachment(env.paths, n, container_network(hp, n)) for n in ("a", "b")}
    addresses = {n: address_of(env.attach(att)) for n, att in atts.items()}
    env.serve("a")
    wget("nsenter", f"--net={atts['b'].netns}", url=f"http://{addresses['a']}:8080/index.html")
    known = {n: (atts[n].network, address) for n, address in addresses.items()}
    hosts = container_hosts("b", "b", addresses["b"], hosts_peers(known, atts["b"].network, "b"))
    done = run_in_crun(
        env,
        crun,
        "bridge",
        "ip -o -4 addr show dev eth0 && wget -q -O - http://a:8080/index.html",
        atts["b"].netns,
        hosts,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"inet {addresses['b']}/24" in done.stdout
    assert done.stdout.endswith((env.www / "index.html").read_text())


def test_crun_container_with_network_none_or_host(env: NetEnv, crun) -> None:
    path = env.paths.netns("alone")
    netns.create_netns(path)
    done = run_in_crun(env, crun, "none", "ip -o link", path)
    assert done.returncode == 0, done.stderr
    links = done.stdout.splitlines()
    assert len(links) == 1 and links[0].split()[1] == "lo:" and "UP" in links[0], links
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    host_names = {line.split()[1].split("@")[0].rstrip(":") for line in host_links.splitlines()} - {"lo"}
    done = run_in_crun(env, crun, "host", "ip -o link", "")
    assert done.returncode == 0, done.stderr
    seen = {line.split()[1].split("@")[0].rstrip(":") for line in done.stdout.splitlines()}
    assert host_names and host_names & seen, (host_names, seen)  # the host's own interfaces
