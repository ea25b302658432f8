"""Env values kept out of what hp shows: a plan's config diff, in its text, `--json` and saved plans.

A variable is sensitive when the container's `sensitive_env` lists its name (exactly), or when its
name contains PASSWORD, SECRET, TOKEN or KEY in any case. Only names decide: a value is never
searched for, so a secret copied into a variable of another name is shown. Pure.
"""

from __future__ import annotations

import msgspec

SENSITIVE_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")
MASK = "(sensitive value)"
# the planned side of a sensitive variable whose value changes: both values are hidden, the change is not
CHANGED_MASK = "(sensitive value, changed)"


def is_sensitive(name: str, listed: tuple[str, ...] = ()) -> bool:
    upper = name.upper()
    return name in listed or any(word in upper for word in SENSITIVE_WORDS)


def masked_env(
    env: tuple[str, ...] | list[str], listed: tuple[str, ...] = (), changed: frozenset[str] = frozenset()
) -> list[str]:
    """NAME=VALUE entries with each sensitive VALUE replaced by MASK (CHANGED_MASK for a name in `changed`)."""
    out = []
    for entry in env:
        name, eq, _ = entry.partition("=")
        if eq and is_sensitive(name, listed):
            entry = f"{name}={CHANGED_MASK if name in changed else MASK}"
        out.append(entry)
    return out


def masked_configs(before: bytes, after: bytes, listed: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """Two config.json texts for display: the sensitive values of process.env masked in both, re-encoded
    as config.json is (2-space indent, keys in their order). A sensitive value that differs shows as
    CHANGED_MASK on the `after` side, so a diff still shows that it changes."""
    old, new = msgspec.json.decode(before), msgspec.json.decode(after)
    old_env, new_env = _env_values(old), _env_values(new)
    changed = frozenset(n for n in old_env.keys() & new_env.keys() if old_env[n] != new_env[n])
    return _with_env_masked(old, listed, frozenset()), _with_env_masked(new, listed, changed)


def _env_values(config: object) -> dict[str, str]:
    values: dict[str, str] = {}
    for entry in _env(config) or ():
        name, _, value = entry.partition("=")
        values.setdefault(name, value)
    return values


def _env(config: object) -> list[str] | None:
    process = config.get("process") if isinstance(config, dict) else None
    env = process.get("env") if isinstance(process, dict) else None
    return env if isinstance(env, list) and all(isinstance(e, str) for e in env) else None


def _with_env_masked(config: object, listed: tuple[str, ...], changed: frozenset[str]) -> bytes:
    env = _env(config)
    if env is not None and isinstance(config, dict):
        config["process"]["env"] = masked_env(env, listed, changed)
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"
