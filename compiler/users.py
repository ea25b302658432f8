"""USER → uid, gid, additionalGids and HOME: the semantics runc, Docker and podman share.

passwd and group arrive as text (the executor reads them from the image's rootfs).
Fields are not trimmed, malformed lines are skipped, the first match wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

import msgspec

from .errors import HpError, quote

MAX_ID = 2**31 - 1
_NUMERIC = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+", re.ASCII)


class PasswdEntry(msgspec.Struct, frozen=True):
    name: str
    uid: int
    gid: int
    home: str


class GroupEntry(msgspec.Struct, frozen=True):
    name: str
    gid: int
    members: tuple[str, ...]


class ResolvedUser(msgspec.Struct, frozen=True):
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _lines(text: str) -> list[str]:
    # as Go's line scanner (and so runc and Docker) reads them: a CR before the LF is dropped
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _id(field: str) -> int | None:
    return int(field) if _DECIMAL.fullmatch(field) and int(field) <= MAX_ID else None


@lru_cache(maxsize=64)  # pure; one image's file serves many containers
def parse_passwd(text: str) -> tuple[PasswdEntry, ...]:
    """name:password:uid:gid[:gecos[:home[:shell]]] lines. A line without a decimal uid and gid
    in range is skipped, a missing home is empty, fields past the seventh are ignored."""
    entries = []
    for line in _lines(text):
        if line.startswith("#") or "\0" in line:
            continue
        fields = line.split(":")
        if len(fields) < 4:
            continue
        uid, gid = _id(fields[2]), _id(fields[3])
        if uid is None or gid is None:
            continue
        entries.append(PasswdEntry(fields[0], uid, gid, fields[5] if len(fields) > 5 else ""))
    return tuple(entries)


@lru_cache(maxsize=64)
def parse_group(text: str) -> tuple[GroupEntry, ...]:
    """name:password:gid[:members] lines; a line without a decimal gid in range is skipped."""
    entries = []
    for line in _lines(text):
        if line.startswith("#") or "\0" in line:
            continue
        fields = line.split(":")
        if len(fields) < 3:
            continue
        gid = _id(fields[2])
        if gid is None:
            continue
        members = tuple(m for m in fields[3].split(",") if m) if len(fields) > 3 else ()
        entries.append(GroupEntry(fields[0], gid, members))
    return tuple(entries)


def _number(text: str, what: str, where: str) -> int | None:
    """A uid/gid if `text` is ASCII digits (optionally signed), else None (a name)."""
    if not _NUMERIC.fullmatch(text):
        return None
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise HpError(where, f"{what} {text} is out of range (0 to {MAX_ID})")
    return value


def resolve_user(
    spec: str,
    where: str,
    passwd: tuple[PasswdEntry, ...] | None,
    group: tuple[GroupEntry, ...] | None,
) -> ResolvedUser:
    """Resolve "user", "uid", "user:group", "uid:gid" ... against the image's files.

    `passwd`/`group` are None when the image has no such file (or none was given).
    """
    if "\0" in spec:
        raise HpError(where, "contains a NUL byte")
    user_part, _, group_part = spec.partition(":")
    has_group = group_part != ""  # "app:" is "app", as in runc and Docker
    entry: PasswdEntry | None = None
    if user_part == "":
        uid = 0
        entry = _first(passwd, lambda e: e.uid == 0)
    else:
        uid_number = _number(user_part, "uid", where)
        if uid_number is not None:
            uid = uid_number
            entry = _first(passwd, lambda e: e.uid == uid_number)
        else:
            if passwd is None:
                raise HpError(where, f"cannot resolve user {quote(user_part)}: the image has no /etc/passwd")
            entry = _first(passwd, lambda e: e.name == user_part)
            if entry is None:
                raise HpError(where, f"user {quote(user_part)} not found in the image's /etc/passwd")
            uid = entry.uid
    home = entry.home if entry is not None and entry.home else "/"
    if has_group:
        gid_number = _number(group_part, "gid", where)
        if gid_number is not None:
            gid = gid_number
        else:
            if group is None:
                raise HpError(where, f"cannot resolve group {quote(group_part)}: the image has no /etc/group")
            found = _first(group, lambda g: g.name == group_part)
            if found is None:
                raise HpError(where, f"group {quote(group_part)} not found in the image's /etc/group")
            gid = found.gid
        return ResolvedUser(uid, gid, (gid,), home)
    gid = entry.gid if entry is not None else 0
    extra = [gid]
    if entry is not None and group is not None:
        for g in group:
            if entry.name in g.members and g.gid not in extra:
                extra.append(g.gid)
    return ResolvedUser(uid, gid, tuple(extra), home)


_Entry = TypeVar("_Entry")


def _first(entries: Iterable[_Entry] | None, match: Callable[[_Entry], bool]) -> _Entry | None:
    if entries is None:
        return None
    for e in entries:
        if match(e):
            return e
    return None
