"""A container's network on this host: made before `crun create`, undone after `crun delete`.

    connect(layout, name)     namespace (bridge, none), CNI ADD (bridge), /etc/hosts with its IP
    disconnect(layout, name)  CNI DEL, then the namespace removed (DEL first: the bridge plugin
                              needs the namespace to find what it made); idempotent
    refresh_hosts(layout, setups)  every bridged container's /etc/hosts lists its network's peers
    prune_networks(layout)    conflists of networks no container uses any more, and bridges
                              (the ones hp made, executor/bridges.py)

What a container's network is was decided at plan time (compiler.cni.NetworkSetup, kept in
STATE/containers/NAME/network.json); what CNI did is in STATE/networks/attachments/NAME.json
(executor/cni.py), so a DEL after a crash undoes exactly what the ADD did.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
from collections.abc import Iterator

from compiler.cni import Attachment, NetworkSetup, decode_conflist, decode_setup, encode_conflist
from compiler.errors import HpError
from compiler.layout import HOSTS, Layout, is_record_file
from compiler.network import address_problem, container_hosts, hosts_peers, lowest_free_address

from . import bridges, cni
from .faults import checkpoint
from .netns import create_netns, is_netns, release_netns_dir, remove_netns
from .ports import reserved
from .store import container_names, write_atomic


def read_setup(layout: Layout, name: str) -> NetworkSetup | None:
    try:
        with open(layout.network_file(name), "rb") as f:
            return decode_setup(f.read())
    except (FileNotFoundError, ValueError):
        return None


def connect(layout: Layout, name: str) -> str | None:
    """Give `name` its network namespace and (bridge) its address; return the address. Already
    connected (a live namespace, a complete attachment): nothing to do. The address is the one
    kept in STATE/containers/NAME/address, chosen and written there at the first connect."""
    setup = read_setup(layout, name)
    if setup is None or setup.netns is None:
        return None
    att = setup.attachment
    if att is not None:
        recorded = _recorded_address(layout, name)
        if recorded is not None:
            _keep_address(layout, name, recorded)  # a container of an older hp: its address from now on
            if is_netns(setup.netns):
                return recorded  # a restart by policy: the network stayed up
        if cni.read_record(layout.attachment(name)) is not None and not is_netns(setup.netns):
            disconnect(layout, name)  # after a reboot: the record and host-local's reservation are left
    wanted = _address(layout, name, att) if att is not None else None  # checked before the namespace is made
    create_netns(setup.netns)
    checkpoint("after-netns")
    if att is None:
        return None
    cni.write_conflist(layout.conflist(att.network), encode_conflist(att.conflist))
    bridges.take(layout, att.network, att.bridge, att.gateway_cidr)  # before the ADD that may make the bridge
    with reserved(att), _alone_if_new(att.bridge):  # the host ports held until the DNAT rules are in place
        address = cni.add(att, layout.attachment(name), address=wanted).address
    checkpoint("after-cni-add")
    if address != wanted:
        cni.delete(layout.attachment(name))
        raise HpError(
            f"network {att.network}",
            f"CNI gave container {name} the address {address}, not the {wanted} hp asked host-local for",
        )
    bridges.made(layout, att.bridge)
    _write_hosts(layout, name, setup, address, hosts_peers(addresses(layout), setup.network, name))
    return address


def disconnect(layout: Layout, name: str) -> None:
    """Undo connect, whatever part of it was done. The kept address stays (it goes with the
    container's directory)."""
    recorded = _recorded_address(layout, name)
    if recorded is not None and os.path.isdir(layout.container_dir(name)):
        _keep_address(layout, name, recorded)
    cni.delete(layout.attachment(name))
    netns = layout.netns(name)
    if is_netns(netns) or os.path.lexists(netns):
        remove_netns(netns)


# apply connects containers in parallel threads; other hp processes wait for the state lock
_CHOOSING = threading.Lock()


def _address(layout: Layout, name: str, att: Attachment) -> str:
    """The container's kept address, or (the first time) the lowest one free on its network,
    written down before the ADD that takes it (so a crash after the ADD leaves it)."""
    with _CHOOSING:
        kept = kept_address(layout, name, att)
        if kept is not None:
            return kept
        address = lowest_free_address(att.network, att.subnet, att.gateway, _taken(layout, name, att))
        write_atomic(layout.address_file(name), f"{address}\n".encode())
        return address


def kept_address(layout: Layout, name: str, att: Attachment) -> str | None:
    """The address kept for `name`, None if none is; HpError if its file holds something that
    cannot be its address on `att`'s network."""
    text = _read_address_file(layout, name)
    if text is None:
        return None
    problem = address_problem(text, att.subnet, att.gateway)
    if problem:
        raise HpError(
            layout.address_file(name), f"{problem}; delete the file to have hp choose the lowest free address"
        )
    return text


def _keep_address(layout: Layout, name: str, address: str) -> None:
    """Write down the address an older hp's ADD gave `name` (it made no address file), once."""
    with _CHOOSING:
        if _read_address_file(layout, name) is None:
            write_atomic(layout.address_file(name), f"{address}\n".encode())


def _read_address_file(layout: Layout, name: str) -> str | None:
    try:
        with open(layout.address_file(name), encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _recorded_address(layout: Layout, name: str) -> str | None:
    """The address of `name`'s complete attachment record, if there is one."""
    record = cni.read_record(layout.attachment(name))
    return record.address if record is not None and record.complete else None


def _taken(layout: Layout, name: str, att: Attachment) -> set[str]:
    """The addresses on `att`'s network that are not `name`'s to take: those kept by this state
    dir's other containers on it, those CNI recorded (containers of an older hp), and those
    host-local has reserved for any other container ID (a leftover)."""
    taken = set()
    for other in container_names(layout):
        if other == name:
            continue
        setup = read_setup(layout, other)
        address = _read_address_file(layout, other) if setup is not None and setup.network == att.network else None
        if address:
            taken.add(address)
    taken |= {
        address for other, (network, address) in addresses(layout).items() if other != name and network == att.network
    }
    return taken | _reserved_by_others(layout.ipam_store(att.network), att.container_id)


def _reserved_by_others(store: str, container_id: str) -> set[str]:
    """host-local's reservations in `store` (a file per address, holding "ID\\r\\nIFNAME") of IDs
    other than `container_id`."""
    found: set[str] = set()
    try:
        entries = os.listdir(store)
    except FileNotFoundError:
        return found
    for entry in entries:
        try:
            ipaddress.IPv4Address(entry)
        except ValueError:
            continue  # lock, last_reserved_ip.0
        try:
            with open(f"{store}/{entry}", encoding="utf-8", errors="replace") as f:
                owner = (f.read().splitlines() or [""])[0].strip()
        except (FileNotFoundError, IsADirectoryError):
            continue
        if owner != container_id:
            found.add(entry)
    return found


# The first ADD on a bridge hp has not seen yet runs alone: the bridge plugin makes the bridge
# and puts the gateway on it, and the plugins make their shared chains, each checking first and
# then adding, which two ADDs at once may both try. Once it is done, ADDs run in parallel.
_SETTLED: set[str] = set()
_GATES: dict[str, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


@contextlib.contextmanager
def _alone_if_new(bridge: str) -> Iterator[None]:
    with _GATES_LOCK:
        gate = _GATES.setdefault(bridge, threading.Lock())
    gate.acquire()
    alone = bridge not in _SETTLED and bridges.interface(bridge) is None
    if not alone:
        _SETTLED.add(bridge)
        gate.release()
    try:
        yield
        _SETTLED.add(bridge)
    finally:
        if alone:
            gate.release()


def addresses(layout: Layout) -> dict[str, tuple[str, str]]:
    """Container name -> (network, IPv4 address), from what CNI ADD recorded. A record is
    decoded again only when its file changed (an apply of N containers asks N times)."""
    found: dict[str, tuple[str, str]] = {}
    try:
        entries = sorted(os.scandir(layout.attachments_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return found
    for entry in entries:
        if not is_record_file(entry.name):
            continue
        try:
            info = entry.stat()
        except FileNotFoundError:
            continue
        key = (entry.path, info.st_ino, info.st_mtime_ns, info.st_size)
        with _CACHE_LOCK:
            known = _ADDRESS_CACHE.get(key)
        if known is None:
            known = _address_in(entry.path)
            with _CACHE_LOCK:
                _ADDRESS_CACHE[key] = known
        if known[0]:
            found[known[0]] = (known[1], known[2])
    return found


_ADDRESS_CACHE: dict[tuple, tuple[str, str, str]] = {}
_CACHE_LOCK = threading.Lock()


def _address_in(path: str) -> tuple[str, str, str]:
    """(container, network, address) of a complete attachment record; ("", "", "") otherwise."""
    try:
        record = cni.read_record(path)
    except Exception:  # a record being written: it is someone else's moment
        return ("", "", "")
    if record is None or not record.complete:
        return ("", "", "")
    address = record.address
    return (record.attachment.container, record.attachment.network, address) if address else ("", "", "")


def address_of(layout: Layout, name: str) -> str | None:
    record = cni.read_record(layout.attachment(name))
    return record.address if record is not None else None


def refresh_hosts(layout: Layout, setups: dict[str, NetworkSetup | None]) -> None:
    """Rewrite (in place: it is bind-mounted) the /etc/hosts of each bridged container of
    `setups` (name -> read_setup) whose peers changed."""
    known = addresses(layout)
    for name, setup in setups.items():
        if setup is None or setup.attachment is None or name not in known:
            continue
        _write_hosts(layout, name, setup, known[name][1], hosts_peers(known, setup.network, name))


def prune_networks(layout: Layout, in_use: set[str]) -> list[str]:
    """Remove the conflist of each network no container of this state dir uses, then release the
    bridges none of the networks left uses (executor/bridges.py: hp deletes a bridge only if
    it made it and nothing is attached); then the namespace directory's own mount if no
    namespace is left. Returns the networks removed."""
    removed = []
    try:
        files = sorted(os.listdir(layout.networks_dir))
    except FileNotFoundError:
        files = []
    bridges_in_use = set()
    for file in files:
        if not file.endswith(".conflist"):
            continue
        network = file[: -len(".conflist")]
        if network in in_use:
            bridges_in_use.add(_bridge_of(layout.conflist(network)))
            continue
        os.unlink(layout.conflist(network))
        removed.append(network)
    if None not in bridges_in_use:  # else a network in use has a conflist hp cannot read: release no bridge
        bridges.release(layout, {bridge for bridge in bridges_in_use if bridge is not None})
    if os.path.isdir(layout.netns_dir) and not os.listdir(layout.netns_dir):
        release_netns_dir(layout.netns_dir)
    return removed


def prune_unused_networks(layout: Layout) -> list[str]:
    """prune_networks, the networks in use read from this state dir's containers: for a command
    that changed nothing, after an apply or destroy that was interrupted before its own prune
    (otherwise a bridge, its claim and the namespace mount would stay until the next change)."""
    setups = (read_setup(layout, name) for name in container_names(layout))
    return prune_networks(layout, {s.network for s in setups if s is not None and s.network})


def _bridge_of(conflist: str) -> str | None:
    try:
        with open(conflist, "rb") as f:
            return decode_conflist(f.read()).bridge
    except (OSError, HpError):
        return None


def _write_hosts(
    layout: Layout, name: str, setup: NetworkSetup, own: str | None, peers: tuple[tuple[str, str], ...]
) -> None:
    text = container_hosts(setup.hostname, name, own, peers).encode()
    path = layout.bundle_file(name, HOSTS)
    try:
        with open(path, "r+b") as f:  # the same inode: a bind mount holds on to it
            if f.read() == text:
                return
            f.seek(0)
            f.write(text)
            f.truncate()
    except FileNotFoundError:
        pass
