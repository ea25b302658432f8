"""The bridges of hp's networks: which ones hp made (and so may delete), and which state dir uses each.

    take(layout, network, bridge)  before a CNI ADD: claim the bridge host-wide for this state
                                   dir and, the first time, record whether hp makes it or found it
    made(layout, bridge)           after the ADD: the index of a bridge hp made goes in its record
    release(layout, in_use)        the bridges no network of this state dir uses any more: hp's
                                   own are deleted when nothing is attached; records and claims go
    problem(layout, bridge)        plan time: why a network may not use this bridge, or None

The bridge plugin makes a bridge that does not exist and never deletes one; hp deletes only what
its record says hp made and what is still that interface (compiler.network.bridge_fate). A bridge
that was there before (docker0, virbr0, a VLAN's) is used and never deleted (the gateway address
the plugin adds to it, if it lacked it, is removed again); an interface of the name that is not a
bridge is refused.

Host-wide claims (compiler.layout.bridge_claim, /run/hp/bridges/BRIDGE, holding the state dir's
path): two state dirs on one bridge would each hand out the same addresses from their own
host-local store, so a second one is refused, naming the first. A claim is live while its state
dir has the bridge's record; one without (the state dir was deleted, or hp was killed between
taking the claim and releasing it) is stale and is taken over. Claims are checked, taken and
released under an flock on /run/hp/bridges.lock, and so are the records, so that apply's threads
and other hp processes see one order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import msgspec

from compiler.commands import address_delete_argv, address_list_argv, link_delete_argv
from compiler.errors import HpError, quote
from compiler.layout import BRIDGE_CLAIMS_DIR, BRIDGE_CLAIMS_LOCK, Layout, bridge_claim, bridge_of_record
from compiler.layout import layout as checked_layout
from compiler.network import (
    BridgeRecord,
    Interface,
    address_to_remove,
    bridge_fate,
    bridge_record_before_add,
    check_interface_name,
    decode_bridge_record,
    encode_bridge_record,
    is_recorded_interface,
    parse_addresses,
)

from .lock import flock_within
from .run import run, run_status
from .store import write_atomic

SYS_NET = "/sys/class/net"
LOCK_TIMEOUT = 30.0  # the holder only reads and writes a few small files (and may delete one bridge)


def interface(name: str) -> Interface | None:
    """The host interface `name` as /sys/class/net shows it, None if there is none."""
    base = f"{SYS_NET}/{check_interface_name(name)}"
    try:
        with open(f"{base}/ifindex") as f:
            ifindex = int(f.read().strip())
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        ports = tuple(sorted(os.listdir(f"{base}/brif")))
        bridge = True
    except (FileNotFoundError, NotADirectoryError):
        ports, bridge = (), False
    return Interface(name, ifindex, bridge, ports)


def highest_ifindex() -> int:
    """The highest interface index on the host now (every interface made later has a higher one)."""
    found = 0
    for name in os.listdir(SYS_NET):
        try:
            with open(f"{SYS_NET}/{name}/ifindex") as f:
                found = max(found, int(f.read().strip()))
        except (OSError, ValueError):
            continue  # went away meanwhile
    return found


def problem(layout: Layout, bridge: str) -> str | None:
    """Why a network of `layout`'s may not use `bridge` on this host, or None."""
    now = interface(bridge)
    if now is not None and not now.bridge:
        return not_a_bridge(bridge)
    other = holder(layout, bridge)
    return in_use_by(bridge, other) if other else None


def not_a_bridge(bridge: str) -> str:
    return (
        f"interface {quote(bridge)} exists on this host and is not a bridge: hp uses an existing bridge, "
        "never another kind of interface (name another bridge)"
    )


def in_use_by(bridge: str, other: str) -> str:
    return (
        f"bridge {quote(bridge)} is in use by the hp state dir {other} (two state dirs on one bridge would "
        "hand out the same addresses): give this network a bridge and subnet of its own"
    )


def holder(layout: Layout, bridge: str) -> str | None:
    """The other state dir whose live claim `bridge` has, or None (free, ours, or stale)."""
    other = _read_claim(bridge)
    if other is None or other == layout.state_dir:
        return None
    try:
        live = os.path.exists(checked_layout(other).bridge_record(bridge))
    except HpError:  # not a state dir's path: no one's claim
        live = False
    return other if live else None


def take(layout: Layout, network: str, bridge: str, gateway: str = "") -> None:
    """Claim `bridge` for this state dir and record whether hp makes it (it does not exist: the
    coming ADD makes it) or found it, and then whether the ADD adds `gateway` (CIDR) to it
    (compiler.network.bridge_record_before_add). HpError if another state dir holds it or an
    interface of the name is not a bridge: nothing is changed then."""
    with _claims_locked():
        other = holder(layout, bridge)
        if other:
            raise HpError(f"network {network}", in_use_by(bridge, other))
        now = interface(bridge)
        if now is not None and not now.bridge:
            raise HpError(f"network {network}", not_a_bridge(bridge))
        held = read_record(layout, bridge)
        addresses = (
            _addresses(bridge) if now is not None and (held is None or not is_recorded_interface(held, now)) else ()
        )
        record = bridge_record_before_add(
            bridge, held, now, highest_ifindex() if now is None else 0, gateway, addresses
        )
        if _read_claim(bridge) != layout.state_dir:
            _write_claim(bridge, layout.state_dir)  # first, so that a record never stands without its claim
        if record != held:
            os.makedirs(layout.bridges_dir, exist_ok=True)
            write_atomic(layout.bridge_record(bridge), encode_bridge_record(record))


def made(layout: Layout, bridge: str) -> None:
    """After a CNI ADD: write down the index of the bridge hp made, if not yet done."""
    with _claims_locked():
        record = read_record(layout, bridge)
        if record is None or not record.made or record.ifindex is not None:
            return
        now = interface(bridge)
        if now is not None and now.bridge and is_recorded_interface(record, now):
            write_atomic(
                layout.bridge_record(bridge), encode_bridge_record(msgspec.structs.replace(record, ifindex=now.ifindex))
            )


def release(layout: Layout, in_use: set[str]) -> list[str]:
    """For each recorded bridge not in `in_use`: delete it if bridge_fate says so, then drop its
    record and this state dir's claim (a bridge hp made that still has something attached keeps
    both, and is tried again next time). Returns the bridges deleted."""
    deleted: list[str] = []
    try:
        files = sorted(os.listdir(layout.bridges_dir))
    except FileNotFoundError:
        return deleted
    for file in files:
        bridge = bridge_of_record(file)
        if bridge is None or bridge in in_use:
            continue
        with _claims_locked():
            record = read_record(layout, bridge)
            now = interface(bridge)
            fate = bridge_fate(record, now) if record is not None else "forget"
            if fate == "keep":
                continue
            address = address_to_remove(record, now) if record is not None else None
            if address:
                _remove_address(bridge, address)
            if fate == "delete":
                _delete_bridge(bridge, now)  # type: ignore[arg-type]  # bridge_fate deletes only an interface seen
                deleted.append(bridge)
            os.unlink(layout.bridge_record(bridge))
            if _read_claim(bridge) == layout.state_dir:
                os.unlink(bridge_claim(bridge))
    return deleted


def _delete_bridge(bridge: str, seen: Interface) -> None:
    """`ip link delete` the bridge hp made; if that fails, it is an error unless the interface
    `seen` is gone meanwhile (another tool deleted it: then there is nothing left to do)."""
    code, _, err = run_status(link_delete_argv(bridge), timeout=LOCK_TIMEOUT)
    now = interface(bridge)
    if code != 0 and now is not None and now.ifindex == seen.ifindex:
        raise HpError(f"bridge {bridge}", f"could not delete it: {err.strip() or f'ip exited {code}'}")


def _addresses(bridge: str) -> tuple[str, ...]:
    return parse_addresses(run(address_list_argv(bridge), f"listing {bridge}'s addresses", timeout=LOCK_TIMEOUT))


def _remove_address(bridge: str, address: str) -> None:
    """Remove the gateway address hp had put on a bridge it found; it may be gone already."""
    code, _, err = run_status(address_delete_argv(address, bridge), timeout=LOCK_TIMEOUT)
    if code != 0 and address in _addresses(bridge):
        raise HpError(f"bridge {bridge}", f"could not remove the address {address} hp added: {err.strip()}")


def read_record(layout: Layout, bridge: str) -> BridgeRecord | None:
    """The bridge's record, None if there is none or it is unreadable (cut short by a power loss:
    then hp no longer knows it made the bridge, and leaves it)."""
    try:
        with open(layout.bridge_record(bridge), "rb") as f:
            record = decode_bridge_record(f.read())
    except (FileNotFoundError, HpError):
        return None
    return record if record.bridge == bridge else None


def _read_claim(bridge: str) -> str | None:
    try:
        with open(bridge_claim(bridge), encoding="utf-8", errors="replace") as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def _write_claim(bridge: str, state_dir: str) -> None:
    os.makedirs(BRIDGE_CLAIMS_DIR, mode=0o755, exist_ok=True)
    write_atomic(bridge_claim(bridge), f"{state_dir}\n".encode())


@contextlib.contextmanager
def _claims_locked() -> Iterator[None]:
    os.makedirs(os.path.dirname(BRIDGE_CLAIMS_LOCK), mode=0o755, exist_ok=True)
    fd = os.open(BRIDGE_CLAIMS_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if not flock_within(fd, LOCK_TIMEOUT, BRIDGE_CLAIMS_LOCK):
            raise HpError(BRIDGE_CLAIMS_LOCK, f"still locked by another hp after {LOCK_TIMEOUT:g} s")
        yield
    finally:
        os.close(fd)
