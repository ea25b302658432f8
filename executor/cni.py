"""Running CNI plugins for one container's attachment, the way libcni does (see compiler/cni.py).

Crash safety: the attachment is recorded (STATE/networks/attachments/NAME.json) before the
first plugin runs and again after each one succeeds. `delete` needs only that record, and
DEL is safe to repeat (plugins must tolerate deleting what is already gone), so whatever
point an hp was killed at, the next `delete` (or `add`, which first deletes a leftover)
releases the IP and removes the veth and the iptables rules.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import msgspec

from compiler.cni import (
    CNI_PATH,
    Attachment,
    AttachmentRecord,
    CniResult,
    Command,
    Leftovers,
    decode_record,
    encode_record,
    error_message,
    leftover_rules,
    parse_result,
    plugin_call,
)
from compiler.commands import cni_plugin_argv, iptables_argv, iptables_save_argv
from compiler.errors import HpError

from .netns import is_netns
from .run import run, run_status
from .store import write_atomic

PLUGIN_TIMEOUT = 60.0


def add(att: Attachment, record_file: str, cni_path: Sequence[str] = CNI_PATH, address: str | None = None) -> CniResult:
    """CNI ADD of every plugin in the list, in order, into the namespace at att.netns (which
    must exist). Returns the final result (the container's IP: `.address`, `.gateway`).
    `address`: the IPv4 address host-local is to give it (None: host-local's next free one).
    On a plugin's failure what was added is deleted again and HpError carries the plugin's msg.
    A record left in `record_file` by an earlier, unfinished attachment is deleted first."""
    delete(record_file, cni_path)
    if not is_netns(att.netns):
        raise HpError(att.netns, "no network namespace is mounted here (netns.create_netns makes it)")
    os.makedirs(os.path.dirname(record_file), exist_ok=True)
    write_atomic(record_file, encode_record(AttachmentRecord(att)))
    result: dict[str, Any] | None = None
    for index, plugin in enumerate(att.plugins):
        try:
            code, out, err = _call(att, "ADD", index, result, cni_path, address=address)
        except HpError as e:  # not installed, or timed out: undone like any failure
            code, out, err = 1, "", str(e)
        if code != 0:
            problem = f"CNI plugin {plugin} failed to add container {att.container}: {error_message(out, err, code)}"
            try:
                delete(record_file, cni_path)
            except HpError as cleanup:
                problem += f"; undoing it failed too ({cleanup}), the next apply retries"
            raise HpError(f"network {att.network}", problem)
        try:
            result = msgspec.json.decode(out, type=dict[str, Any])  # kept whole: the next plugin's prevResult
        except msgspec.DecodeError:  # ValidationError too: a JSON value that is no object
            result = None
        if result is None:
            delete(record_file, cni_path)
            raise HpError(f"network {att.network}", f"CNI plugin {plugin} printed no result: {out.strip()[:200]!r}")
        write_atomic(record_file, encode_record(AttachmentRecord(att, index + 1, result)))
    return parse_result(result or {})


def delete(record_file: str, cni_path: Sequence[str] = CNI_PATH) -> bool:
    """CNI DEL of the attachment recorded in `record_file`, every plugin in reverse order, then
    what the plugins left of it in iptables removed (remove_leftover_rules), then the record
    removed. False if there was no record (nothing to do). If the namespace is no longer
    mounted, CNI_NETNS is empty: the IP is still released (the veth went with the namespace).

    A plugin whose DEL fails is run once more after the leftovers are gone (the bridge plugin
    fails to delete its ipMasq chain while a leaked rule still jumps to it); if it fails again,
    HpError, and the record stays for the next try."""
    record = read_record(record_file)
    if record is None:
        return False
    att = record.attachment
    netns = att.netns if is_netns(att.netns) else ""
    failed: dict[int, str] = {}
    for index in reversed(range(len(att.plugins))):
        if index >= record.added and not _installed(att.plugins[index], cni_path):
            continue  # never ran: its ADD failed because it is missing
        problem = _delete_one(att, index, record.result, cni_path, netns)
        if problem:
            failed[index] = problem
    remove_leftover_rules(att)
    for index in sorted(failed, reverse=True):
        problem = _delete_one(att, index, record.result, cni_path, netns)
        if problem:
            raise HpError(
                f"network {att.network}",
                f"CNI plugin {att.plugins[index]} failed to delete container {att.container}: {problem}",
            )
    try:
        os.unlink(record_file)
    except FileNotFoundError:
        pass
    return True


def _delete_one(att: Attachment, index: int, prev: dict[str, Any] | None, cni_path: Sequence[str], netns: str) -> str:
    """DEL of plugin number `index`: "" if it succeeded, else its error."""
    try:
        code, out, err = _call(att, "DEL", index, prev, cni_path, netns)
    except HpError as e:  # not installed, or timed out
        return str(e)
    return "" if code == 0 else error_message(out, err, code)


def remove_leftover_rules(att: Attachment) -> None:
    """Remove what the plugins' DEL left of `att` in the nat table, found by the chains' names
    and the rules' comments (compiler.cni.leftover_rules). The bridge plugin finds its ipMasq
    rule and chain through the container's interface: a DEL without the namespace or without
    the veth (deleted inside, or by an hp killed half-way through the plugin's DEL) skips them.
    Each piece may be gone already (iptables' errors are ignored); what counts is that none is
    left after, checked by reading the table again."""
    leftovers = _nat_leftovers(att)
    if not leftovers:
        return
    for rule in leftovers.rules:
        run_status(iptables_argv("nat", "-D", *rule), timeout=PLUGIN_TIMEOUT)
    for chain in leftovers.chains:
        run_status(iptables_argv("nat", "-F", chain), timeout=PLUGIN_TIMEOUT)
        run_status(iptables_argv("nat", "-X", chain), timeout=PLUGIN_TIMEOUT)
    still = _nat_leftovers(att)
    if still:
        raise HpError(
            f"network {att.network}",
            f"could not remove container {att.container}'s iptables rules "
            f"(nat: {still}); the next apply or destroy tries again",
        )


def _nat_leftovers(att: Attachment) -> Leftovers:
    saved = run(iptables_save_argv("nat"), "reading the nat table", timeout=PLUGIN_TIMEOUT)
    return leftover_rules(saved, att.network, att.container_id)


def read_record(record_file: str) -> AttachmentRecord | None:
    """The attachment recorded in `record_file`, or None if there is none."""
    try:
        with open(record_file, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    try:
        return decode_record(data)
    except HpError as e:
        raise e.within(record_file) from None


def write_conflist(path: str, data: bytes) -> None:
    """The network's configuration list, for people and `cnitool` (hp itself records each
    container's copy in its attachment)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, data)


def find_plugin(name: str, cni_path: Sequence[str] = CNI_PATH) -> str:
    for directory in cni_path:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise HpError(f"CNI plugin {name}", f"not found in {':'.join(cni_path)} (install containernetworking-plugins)")


def _installed(name: str, cni_path: Sequence[str]) -> bool:
    try:
        find_plugin(name, cni_path)
        return True
    except HpError:
        return False


def _call(
    att: Attachment,
    command: Command,
    index: int,
    prev: dict[str, Any] | None,
    cni_path: Sequence[str],
    netns: str | None = None,
    address: str | None = None,
) -> tuple[int, str, str]:
    call = plugin_call(att, command, index, prev, ":".join(cni_path), netns, address)
    return run_status(
        cni_plugin_argv(find_plugin(call.plugin, cni_path)), env=call.env, stdin=call.stdin, timeout=PLUGIN_TIMEOUT
    )
