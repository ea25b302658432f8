"""Plans: what `hp apply` would do to make the host match hp.toml, as one value.

Pure: the desired configs (compiled), what hp recorded, and the live status
come in; a Plan comes out. The human view (render_plan) and `--json` are both
made from that one value. (The first part of issue 4; `hp plan` wires it to
the executor.)
"""

from __future__ import annotations

import difflib
from typing import Literal, Mapping

import msgspec

FORMAT_VERSION = "1.0"

Action = Literal["create", "replace", "destroy", "restore", "no-op"]
SYMBOLS = {"create": "  +", "replace": "-/+", "destroy": "  -", "restore": "  ~", "no-op": "   "}
ORDER = {"destroy": 0, "replace": 1, "restore": 2, "create": 3, "no-op": 4}


class Desired(msgspec.Struct, frozen=True):
    """A container as hp.toml wants it: its image and compiled config.json."""

    image: str
    image_id: str
    config_json: bytes


class Current(msgspec.Struct, frozen=True):
    """A container as hp made it (its record and config.json) and as it is now (status)."""

    image: str
    image_id: str
    config_json: bytes
    status: str  # "running", "created" or "stopped"


class Change(msgspec.Struct, frozen=True):
    name: str
    action: Action
    reasons: tuple[str, ...]
    image: str
    changed_fields: tuple[str, ...] = ()
    diff: str = ""


class Plan(msgspec.Struct, frozen=True):
    format_version: str
    changes: tuple[Change, ...]
    to_create: int
    to_replace: int
    to_destroy: int


def plan(desired: Mapping[str, Desired], current: Mapping[str, Current]) -> Plan:
    """Compare, per container; order: destroys, replacements, restores, creates (then by name)."""
    changes: list[Change] = []
    for name in sorted(set(desired) | set(current)):
        want, have = desired.get(name), current.get(name)
        if have is None:
            assert want is not None
            changes.append(Change(name, "create", ("not on this host",), want.image))
        elif want is None:
            changes.append(Change(name, "destroy", ("no longer in the file",), have.image))
        else:
            reasons = []
            if want.image_id != have.image_id:
                reasons.append(f"image {want.image} is now {_short(want.image_id)} (was {_short(have.image_id)})")
            fields = changed_fields(have.config_json, want.config_json)
            if fields:
                reasons.append("config.json changed")
            if reasons:
                changes.append(Change(name, "replace", tuple(reasons), want.image, fields,
                                      config_diff(name, have.config_json, want.config_json)))
            elif have.status != "running":
                changes.append(Change(name, "restore", (f"{have.status} outside hp: will start it again",),
                                      want.image))
            else:
                changes.append(Change(name, "no-op", (), want.image))
    changes.sort(key=lambda c: (ORDER[c.action], c.name))
    count = {a: sum(c.action == a for c in changes) for a in ORDER}
    return Plan(FORMAT_VERSION, tuple(changes), count["create"], count["replace"], count["destroy"])


def changed_fields(before: bytes, after: bytes) -> tuple[str, ...]:
    """The JSON paths whose values differ, sorted: process.env, linux.resources.memory.limit ..."""
    if before == after:
        return ()
    old, new = _flatten(msgspec.json.decode(before)), _flatten(msgspec.json.decode(after))
    return tuple(sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p)))


def _flatten(value: object, path: str = "") -> dict[str, object]:
    """Leaves by path; a list is one leaf (process.args, not process.args[2])."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else key))
        return out
    return {path: value}


def config_diff(name: str, before: bytes, after: bytes) -> str:
    lines = difflib.unified_diff(before.decode().splitlines(keepends=True), after.decode().splitlines(keepends=True),
                                 f"{name}/config.json (now)", f"{name}/config.json (planned)", n=2)
    return "".join(lines)


def _short(image_id: str) -> str:
    return image_id.split(":")[-1][:12]


def render_plan(p: Plan, *, diffs: bool = True) -> str:
    """Terraform's shape: a legend for the symbols used, one line per change (with its
    reasons and, for a replacement, the changed fields and the config diff), a summary."""
    active = [c for c in p.changes if c.action != "no-op"]
    if not active:
        return "No changes. The host matches the file.\n"
    used = sorted({c.action for c in active}, key=ORDER.get)
    out = ["hp will perform the following actions (symbols: "
           + ", ".join(f"{SYMBOLS[a].strip()} {a}" for a in used) + "):", ""]
    width = max(len(c.name) for c in active)
    for c in active:
        out.append(f"{SYMBOLS[c.action]} {c.name.ljust(width)}  {c.action:<8} {c.image}")
        for reason in c.reasons:
            out.append(f"      {' ' * width} - {reason}")
        if c.changed_fields:
            out.append(f"      {' ' * width} - changed: {', '.join(c.changed_fields)}")
        if diffs and c.diff:
            out += ["", *("      " + line for line in c.diff.rstrip("\n").split("\n")), ""]
    restores = sum(c.action == "restore" for c in active)
    if restores:
        out += ["", f"Drift: {restores} changed outside hp, to be restored."]
    out += ["", f"Plan: {p.to_create} to create, {p.to_replace} to replace, {p.to_destroy} to destroy."]
    return "\n".join(out) + "\n"
