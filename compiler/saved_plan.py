"""Saved plans (`hp plan --out PLAN`): the plan plus a fingerprint of the world it was made in.

`hp apply PLAN` applies it only while that world still holds: the same hp version, the
same file content, the same state serial, the same image IDs, and the same changes when
planned again. Any edit of the plan file breaks its checksum. Pure: the executor gathers
the fingerprint and plans again; this module compares.
"""

from __future__ import annotations

import hashlib

import msgspec

from .errors import StalePlan
from .plan import Plan

FORMAT = "hp-plan/1"


class Fingerprint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hp_version: str
    file: str  # the real path of the hp.toml
    file_sha256: str
    state_dir: str
    state_serial: int
    images: dict[str, str]  # reference -> image ID, sorted by reference
    destroy: bool = False
    profiles: dict[str, str] = {}  # seccomp profile file -> sha256 of its text (compiler.seccomp.profile_digests)


class SavedPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    fingerprint: Fingerprint
    plan: Plan
    checksum: str


def file_sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _checksum(fingerprint: Fingerprint, plan: Plan) -> str:
    body = msgspec.json.encode((FORMAT, fingerprint, plan), order="sorted")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def seal(fingerprint: Fingerprint, plan: Plan) -> bytes:
    """The saved-plan file's bytes: indented JSON, stable for the same inputs."""
    saved = SavedPlan(FORMAT, fingerprint, plan, _checksum(fingerprint, plan))
    return msgspec.json.format(msgspec.json.encode(saved, order="sorted"), indent=2) + b"\n"


def open_saved(data: bytes, where: str) -> SavedPlan:
    """Decode and verify a saved plan; StalePlan if it is not one hp wrote or was edited."""
    try:
        saved = msgspec.json.decode(data, type=SavedPlan)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as e:
        try:
            raw = msgspec.json.decode(data) if data.lstrip().startswith(b"{") else None
            kind = raw.get("format") if isinstance(raw, dict) else None
        except (msgspec.DecodeError, UnicodeDecodeError):
            kind = None
        if kind is not None and kind != FORMAT:
            raise StalePlan(where, f"a plan of format {kind!r}; this hp reads {FORMAT!r}") from None
        detail = "not UTF-8" if isinstance(e, UnicodeDecodeError) else str(e)
        raise StalePlan(where, f"not an hp plan file, or edited ({detail})") from None
    if saved.format != FORMAT:
        raise StalePlan(where, f"a plan of format {saved.format!r}; this hp reads {FORMAT!r}")
    if saved.checksum != _checksum(saved.fingerprint, saved.plan):
        raise StalePlan(where, "the plan file was edited after hp wrote it (its checksum does not match)")
    return saved


def stale_reasons(saved: SavedPlan, now: Fingerprint, replanned: Plan) -> list[str]:
    """What changed since the plan was made, most basic first; empty: it may be applied."""
    was = saved.fingerprint
    reasons = []
    if was.hp_version != now.hp_version:
        reasons.append(f"hp is now version {now.hp_version} (the plan was made by {was.hp_version})")
    if was.state_dir != now.state_dir:
        reasons.append(f"the plan is for state dir {was.state_dir}, not {now.state_dir}")
    if was.file_sha256 != now.file_sha256:
        reasons.append(f"{was.file} changed since the plan was made")
    if was.state_serial != now.state_serial:
        reasons.append(
            f"the state changed since the plan was made (serial {was.state_serial} is now {now.state_serial})"
        )
    for path in sorted(set(was.profiles) | set(now.profiles)):
        if was.profiles.get(path) != now.profiles.get(path):
            reasons.append(f"seccomp profile {path} changed since the plan was made")
    for ref in sorted(set(was.images) | set(now.images)):
        before, after = was.images.get(ref), now.images.get(ref)
        if before != after:
            reasons.append(f"image {ref} is now {_short(after)} (the plan has {_short(before)})")
    if not reasons:
        reasons += _changes_differ(saved.plan, replanned)
    return reasons


def _changes_differ(old: Plan, new: Plan) -> list[str]:
    def key(p: Plan) -> dict[str, tuple[str, str, str]]:
        return {c.name: (c.action, c.image_id, c.config_hash) for c in p.changes}

    before, after = key(old), key(new)
    out = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            was = before[name][0] if name in before else "absent"
            now = after[name][0] if name in after else "absent"
            if was == now:
                out.append(f"the host changed since the plan was made: {name} would now be made differently")
            else:
                out.append(
                    f"the host changed since the plan was made: for {name} the plan says {was}, planning now says {now}"
                )
    return out


def _short(image_id: str | None) -> str:
    return "nothing" if image_id is None else image_id.split(":")[-1][:12]
