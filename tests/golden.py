"""hp's golden files in golden/, one per case of tests/cases/, named after the case:

- `<case>.json`: the exact config.json bytes, for the baseline and a few showcases;
- `<case>.diff`: every other success case, as the changes that turn the baseline's
  config into the case's (`changes`, read back by `apply_changes`);
- `<case>.txt`: the one error line `hp compile` prints.

A `.diff` holds one change per line, in config order:

    process.user.uid: 1000                       a value that differs
    linux.sysctl: {"net.ipv4.ip_forward": "1"} (added)
    linux.maskedPaths: (removed)
    mounts[3]: - {"destination": "/dev/shm", ...}  the baseline's item 3 is not in the case's list
    mounts[3]: + {"destination": "/data", ...}     the case's item 3 is not in the baseline's list

Dicts are recursed into; lists of scalars are whole values while they fit on a line;
other lists (mounts, devices, seccomp rules) are diffed item by item, keeping order
(a mount's position decides what it covers); a list mostly replaced is written afresh,
`path: []` and then its items. Keys that are not identifiers are
quoted: annotations["org.example.team"]. Values are JSON with sorted keys. A config
equal to the baseline's is the single line NO_CHANGES.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
WIDTH = 120  # a list of scalars longer than this on one line is diffed item by item
NO_CHANGES = "(same as the baseline)"
ADDED = " (added)"
REMOVED = "(removed)"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING: Any = object()


def canonical(value: Any) -> str:
    """One-line JSON with sorted keys: how values are shown, and how they are compared
    (so true and 1, or 1 and 1.0, stay different)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- rendering ------------------------------------------------------------------------


def changes(base: dict[str, Any], config: dict[str, Any]) -> str:
    """The readable difference from base to config, one line per change."""
    lines: list[str] = []
    _diff("", base, config, lines)
    return "\n".join(lines or [NO_CHANGES]) + "\n"


def _key_path(path: str, key: str) -> str:
    if _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list))


def _holds_objects(value: Any) -> bool:
    return isinstance(value, list) and any(_is_container(v) for v in value)


def _whole(path: str, value: Any) -> bool:
    """Whether value is shown whole on one line: a scalar, or a short dict or list of scalars."""
    return not _is_container(value) or not _holds_objects(value) and len(f"{path}: {canonical(value)}") <= WIDTH


def _diff(path: str, old: Any, new: Any, lines: list[str]) -> None:
    if new is _MISSING:
        lines.append(f"{path}: {REMOVED}")
    elif old is not _MISSING and canonical(old) == canonical(new):
        return
    elif isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            _diff(_key_path(path, key), old.get(key, _MISSING), value, lines)
        for key in old:
            if key not in new:
                _diff(_key_path(path, key), old[key], _MISSING, lines)
    elif isinstance(old, list) and isinstance(new, list) and (_holds_objects(old) or not _whole(path, new)):
        _diff_items(path, old, new, lines)
    elif _whole(path, new):
        lines.append(f"{path}: {canonical(new)}" + (ADDED if old is _MISSING else ""))
    else:
        # added or of another type, and not for one line: an empty container, then its content as changes
        empty: Any = type(new)()
        lines.append(f"{path}: {canonical(empty)}" + (ADDED if old is _MISSING else ""))
        _diff(path, empty, new, lines)


def _diff_items(path: str, old: list[Any], new: list[Any], lines: list[str]) -> None:
    items = _item_changes(path, old, new)
    if len(new) + 1 < len(items):
        # mostly replaced (a custom seccomp profile): the new list afresh reads better than both
        lines.append(f"{path}: []")
        items = _item_changes(path, [], new)
    lines.extend(items)


def _item_changes(path: str, old: list[Any], new: list[Any]) -> list[str]:
    lines: list[str] = []
    a, b = [canonical(v) for v in old], [canonical(v) for v in new]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        # a replaced run pairs up: each - line is followed by the + line that took its place
        for k in range(max(i2 - i1, j2 - j1) if tag != "equal" else 0):
            if i1 + k < i2:
                lines.append(f"{path}[{i1 + k}]: - {a[i1 + k]}")
            if j1 + k < j2:
                lines.append(f"{path}[{j1 + k}]: + {b[j1 + k]}")
    return lines


# --- reading back ---------------------------------------------------------------------


def apply_changes(base: dict[str, Any], text: str) -> dict[str, Any]:
    """The config that `text` (as `changes` writes it) makes of base. Strict: a removed
    or replaced value must be there, an added one must not, a `-` item must be the
    baseline's item at that index; anything else in the text is a ValueError."""
    config = json.loads(json.dumps(base))
    lines = text.splitlines()
    if lines == [NO_CHANGES]:
        return config
    pending: tuple[list[Any], dict[int, Any], dict[int, Any]] | None = None  # a list's - and + items
    pending_path: tuple[Any, ...] | None = None
    for number, line in enumerate(lines, 1):
        try:
            path, index, rest = _parse_line(line)
            if index is None or path != pending_path:
                if pending:
                    _apply_items(*pending)
                pending = pending_path = None
            if index is not None:
                if pending is None:
                    target = _resolve(config, path)
                    if not isinstance(target, list):
                        raise TypeError(f"not a list: {target!r}")
                    pending, pending_path = (target, {}, {}), path
                sign, value = rest
                (pending[1] if sign == "-" else pending[2])[index] = value
            else:
                _apply_value(config, path, rest)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise ValueError(f"line {number}: {line!r}: {e}") from None
    if pending:
        _apply_items(*pending)
    return config


def _parse_line(line: str) -> tuple[tuple[Any, ...], int | None, Any]:
    """(path as keys, item index or None, what the line says) for one line."""
    decoder = json.JSONDecoder()
    path: list[Any] = []
    pos = 0
    while not line.startswith(": ", pos):
        if line.startswith("[", pos):
            value, pos = decoder.raw_decode(line, pos + 1)
            if not line.startswith("]", pos) or not isinstance(value, (str, int)) or isinstance(value, bool):
                raise ValueError(f"bad path segment at {pos}")
            path.append(value)
            pos += 1
        else:
            if path:
                if not line.startswith(".", pos):
                    raise ValueError(f"bad path at {pos}")
                pos += 1
            match = _IDENTIFIER.match(line, pos)
            if not match:
                raise ValueError(f"bad path at {pos}")
            path.append(match.group())
            pos = match.end()
    pos += 2
    index = path.pop() if path and isinstance(path[-1], int) else None
    if index is not None:
        sign = line[pos : pos + 2]
        if sign not in ("+ ", "- "):
            raise ValueError("an item line is + or -")
        value, end = decoder.raw_decode(line, pos + 2)
        if end != len(line):
            raise ValueError("text after the value")
        return tuple(path), index, (sign[0], value)
    if line[pos:] == REMOVED:
        return tuple(path), None, ("removed", None)
    value, end = decoder.raw_decode(line, pos)
    if line[end:] not in ("", ADDED):
        raise ValueError("text after the value")
    return tuple(path), None, ("added" if line[end:] else "set", value)


def _resolve(config: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        config = config[key]
    return config


def _apply_value(config: dict[str, Any], path: tuple[Any, ...], rest: tuple[str, Any]) -> None:
    if not path:
        raise ValueError("no path")
    parent = _resolve(config, path[:-1])
    if not isinstance(parent, dict):
        raise TypeError(f"not a dict: {parent!r}")
    key = path[-1]
    kind, value = rest
    if (key in parent) != (kind != "added"):
        raise ValueError("added but already there" if kind == "added" else "not there")
    if kind == "removed":
        del parent[key]
    else:
        parent[key] = value


def _apply_items(target: list[Any], removed: dict[int, Any], added: dict[int, Any]) -> None:
    for i, value in removed.items():
        if canonical(target[i]) != canonical(value):
            raise ValueError(f"item {i} is {canonical(target[i])}, not {canonical(value)}")
    kept = [v for i, v in enumerate(target) if i not in removed]
    for j in sorted(added):
        if j > len(kept):
            raise ValueError(f"no position {j}")
        kept.insert(j, added[j])
    target[:] = kept


# --- syrupy -----------------------------------------------------------------------------


def case_id(test_location: PyTestLocation) -> str:
    """The parametrize id of a test: test_golden[env-dedupe] → env-dedupe."""
    name = test_location.nodename or ""
    return name[name.index("[") + 1 : -1] if name.endswith("]") else name


class GoldenFiles(SingleFileSnapshotExtension):
    """One file per case, named after its parametrize id, in `directory` (golden/ by default)."""

    directory: Path = GOLDEN_DIR

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.directory)

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(cls.directory)

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index=0) -> str:
        return case_id(test_location)

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        path = Path(snapshot_location)
        return path.parent == cls.directory and path.name == f"{case_id(test_location)}.{cls.file_extension}"

    def owns_snapshot_collection(self, *, filepath: str, test_location: PyTestLocation) -> bool:
        path = Path(filepath)
        return path.parent == self.directory and path.suffix == f".{self.file_extension}"


class GoldenConfig(GoldenFiles):
    """golden/<case>.json: the exact config.json bytes."""

    file_extension = "json"
    _write_mode = WriteMode.BINARY


class GoldenChanges(GoldenFiles):
    """golden/<case>.diff: `changes` from the baseline's config to the case's."""

    file_extension = "diff"
    _write_mode = WriteMode.TEXT


class GoldenError(GoldenFiles):
    """golden/<case>.txt: the exact error line `hp compile` prints."""

    file_extension = "txt"
    _write_mode = WriteMode.TEXT
