"""Host ports: hp publishes a port only if nothing on this host has it (issue 9).

    check_plan(layout, plan, new)  plan time: every port of every container the plan creates,
                                   replaces or restores is free (no socket bound, no nat rule
                                   forwarding it but those the plan removes first)
    reserved(attachment)           apply time: the ports bound (tcp: listening) while CNI ADD
                                   puts the DNAT rules in place, and checked again under them

Why both a socket and the rules: portmap's DNAT has no socket behind it, so a bind does not
see another state dir's (or podman's) published port; and a rule check alone does not see
a host process. Holding the sockets while checking the rules and adding ours makes the check
race-free against another hp doing the same: whoever binds second fails, or binds after the
first one's rules exist and finds them. See docs/networking.md, "Host ports".
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from compiler.cni import Attachment, container_id, same_state_dir
from compiler.commands import iptables_save_argv
from compiler.errors import HpError, key_path
from compiler.layout import Layout
from compiler.network import PortMapping
from compiler.plan import STARTS, Plan
from compiler.ports import bound_already, first_forward, forwarded, listening_ports, nat_forwards, not_bindable

from .run import run

if TYPE_CHECKING:
    from .containers import NewContainer  # which imports this module, through networking

RULES_TIMEOUT = 30.0


def check_plan(layout: Layout, plan: Plan, new: dict[str, NewContainer]) -> None:
    """Plan time: HpError at containers.NAME.ports[i] for the first port in use, of the containers the
    plan starts (compiler.plan.STARTS: no-ops keep the ports they have). A rule of a
    container this plan removes (destroys, replaces) or restarts (cni.add deletes its old
    attachment first) is not in the way: it is gone before the port is taken again."""
    wanted = [
        (c.name, i, port)
        for c in plan.changes
        if c.action in STARTS and c.name in new and (attachment := new[c.name].network.attachment) is not None
        for i, port in enumerate(attachment.port_mappings)
    ]
    if not wanted:
        return
    for name, i, port in wanted:
        with _bound(name, i, port):
            pass
    freed = {container_id(layout.state_dir, c.name) for c in plan.changes if c.action != "no-op"}
    _check_rules(wanted, freed.__contains__)


@contextmanager
def reserved(att: Attachment) -> Iterator[None]:
    """Apply time, around CNI ADD: each host port bound (and for tcp listening) until the DNAT
    rules are in place, and no other state dir's or tool's nat rule forwarding it. This state
    dir's own rules are left out: its containers' ports were checked against each other at
    plan time under the state lock (and a swap of ports between two replaced containers
    meets the other's old rule for a moment)."""
    wanted = [(att.container, i, port) for i, port in enumerate(att.port_mappings)]
    with ExitStack() as held:
        for name, i, port in wanted:
            held.enter_context(_bound(name, i, port))
        if wanted:
            _check_rules(wanted, lambda owner: same_state_dir(att, owner))
        yield


@contextmanager
def _bound(name: str, index: int, port: PortMapping) -> Iterator[socket.socket]:
    """A socket on the port's address (0.0.0.0 for every address), held while in the block.
    tcp: SO_REUSEADDR as podman's (Go's) listeners have, so a port left only in TIME_WAIT by a
    server that set it too is free, while any listener on it (even with SO_REUSEADDR, even on
    one address when this is the wildcard) still refuses the bind. udp: no SO_REUSEADDR, or it would share the port
    with a process that set it."""
    kind = socket.SOCK_STREAM if port.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            if port.protocol == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((port.host_ip or "0.0.0.0", port.host_port))
            if port.protocol == "tcp":
                sock.listen(1)
        except OSError as e:
            where = f"{key_path('containers', name)}.ports[{index}]"
            if e.errno == errno.EADDRINUSE:
                raise HpError(where, bound_already(port, _listened(port)), source="spec") from None
            raise HpError(
                where, not_bindable(port, errno.errorcode.get(e.errno or 0, ""), e.strerror or str(e)), source="spec"
            ) from None
        yield sock


def _listened(port: PortMapping) -> bool:
    """Whether a tcp socket listens on the port (any address): what a refused bind most often means."""
    if port.protocol != "tcp":
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii", errors="replace") as f:
                if port.host_port in listening_ports(f.read()):
                    return True
        except OSError:
            continue
    return False


def _check_rules(wanted: list[tuple[str, int, PortMapping]], ignored: Callable[[str], bool]) -> None:
    rules = nat_forwards(run(iptables_save_argv("nat"), "reading the nat table's rules", timeout=RULES_TIMEOUT))
    for name, i, port in wanted:
        rule = first_forward(rules, port, ignored)
        if rule is not None:
            raise HpError(f"{key_path('containers', name)}.ports[{i}]", forwarded(port, rule), source="spec")
