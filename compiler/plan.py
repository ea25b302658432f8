"""Plans: what `hp apply` would do to make the host match hp.toml, as one value.

Pure: the desired configs (compiled), what hp recorded, and the live status come in;
a Plan comes out. The human view (render_plan) and `--json` are both made from that
one value.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Literal

import msgspec

from .cni import NetworkSetup, encode_setup
from .cni import describe as describe_network
from .defaults import DEFAULT_LOG_MAX_SIZE
from .depends import describe as describe_depends
from .env import changed_env_files
from .errors import HpError, key_path
from .health import describe as describe_check
from .masking import masked_configs
from .seccomp import changed_profile
from .security import Escalation, counts_against, review_create, review_replace
from .signals import DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, describe_stop
from .spec import ContainerSpec
from .state import SETTINGS, ContainerRecord, Made, config_hash, is_running

FORMAT_VERSION = "1.0"

Action = Literal["create", "replace", "destroy", "restore", "update", "no-op"]
SYMBOLS = {"create": "  +", "replace": "-/+", "destroy": "  -", "restore": "  ~", "update": "  *", "no-op": "   "}
# what a change does to its container, by action
REMOVES: tuple[Action, ...] = ("destroy", "replace")  # the container (if it is there) is removed
CREATES: tuple[Action, ...] = ("replace", "create")  # a new container is made from the file
STARTS: tuple[Action, ...] = ("replace", "restore", "create")  # it is started: its ports and dependencies are needed
REWRITES_SETTINGS: tuple[Action, ...] = ("restore", "update")  # its record stays and takes the file's SETTINGS
# apply's phases, in order: each finishes before the next begins (the actions of one run together).
# The destroys come first, all of them; the others run layer by layer of the file's depends_on.
DESTROY_PHASE: tuple[Action, ...] = ("destroy",)
LAYERED_PHASES: tuple[tuple[Action, ...], ...] = (("replace",), ("restore", "update", "create"))
PHASES: tuple[tuple[Action, ...], ...] = (DESTROY_PHASE, *LAYERED_PHASES)
ORDER = {action: i for i, action in enumerate((*(a for phase in PHASES for a in phase), "no-op"))}
# a restore's reason for a container `hp stop` stopped: no drift, but the file wants it running
STOPPED_BY_HP = "stopped by hp stop: will start it again"


class Desired(msgspec.Struct, frozen=True):
    """A container as hp.toml wants it: its image and compiled config.json."""

    image: str
    image_id: str
    config_json: bytes
    must_run: bool = True  # False: a container that ended is left so (only a vanished one is restored)
    network_json: bytes = b""  # its compiler.cni.NetworkSetup, encoded
    network: str = ""  # how it is networked, in words (compiler.cni.describe), for a create
    stop_timeout: int = DEFAULT_STOP_TIMEOUT
    prevent_destroy: bool = False
    restart: str = "no"
    restart_max: int = 0
    log_max_size: int = DEFAULT_LOG_MAX_SIZE
    sensitive_env: tuple[str, ...] = ()  # hp.toml's: env names whose values a plan never shows (compiler.masking)
    depends_on: dict[str, str] = msgspec.field(default_factory=dict)  # name -> "started" | "healthy"
    healthcheck: str = "none"  # the effective check, in words (compiler.health.describe)
    health_on_failure: str = "none"
    seccomp: str = "default"  # hp.toml's: "default", "unconfined" or a profile's path (compiler.security)
    seccomp_profile: str = ""  # the profile file its filter is compiled from (compiler.seccomp.profile_identity)
    env_files: tuple[str, ...] = ()  # its env files, by path and digest (compiler.env.env_file_identities)


class Current(msgspec.Struct, frozen=True):
    """A container as hp made it (its record and config.json: b"" if gone) and as it is now.
    status: "running", "created", "stopped", "paused", or "missing" (crun has no such container):
    current_status.
    phase: the record's (see compiler.state)."""

    image: str
    image_id: str
    config_json: bytes
    status: str
    exit_code: int | None = None
    phase: str = "ready"
    network_json: bytes = b""
    stop_timeout: int = DEFAULT_STOP_TIMEOUT  # the record's
    prevent_destroy: bool = False  # the record's
    stop_signal: int = DEFAULT_STOP_SIGNAL  # the record's (the image's StopSignal)
    volumes: tuple[str, ...] = ()  # the volumes its config.json mounts (compiler.volumes)
    layer_size: int | None = None  # bytes in its writable layer (upper/), None if not known
    restart: str = "no"  # the record's
    restart_max: int = 0  # the record's
    log_max_size: int = DEFAULT_LOG_MAX_SIZE  # the record's
    stopped_by_hp: bool = False  # `hp stop` stopped it (its run state says so), not something outside hp
    depends_on: dict[str, str] = msgspec.field(default_factory=dict)  # the record's
    healthcheck: str = "none"  # the record's, in words (compiler.health.describe)
    health_on_failure: str = "none"  # the record's
    seccomp_profile: str = ""  # the record's
    env_files: tuple[str, ...] = ()  # the record's


def desired_of(made: Made, network: NetworkSetup, spec: ContainerSpec, depends_on: Mapping[str, str]) -> Desired:
    """A container as hp.toml wants it: what planning made of it (`made`, the same value its record
    is made from: compiler.state.new_record), its network setup, what only the plan reads of its
    table (`spec`: sensitive_env, seccomp) and what it depends on (compiler.compile.dependency_graph)."""
    return Desired(
        made.ref,
        made.image_id,
        made.config_json,
        made.must_run,
        encode_setup(network),
        describe_network(network),
        made.stop_timeout,
        made.prevent_destroy,
        made.supervision.restart,
        made.supervision.restart_max,
        made.supervision.log_max_size,
        sensitive_env=spec.sensitive_env,
        depends_on=dict(depends_on),
        healthcheck=describe_check(made.healthcheck),
        health_on_failure=made.health_on_failure,
        seccomp=spec.seccomp,
        seccomp_profile=made.seccomp_profile,
        env_files=made.env_files,
    )


def current_of(
    record: ContainerRecord,
    crun: str | None,
    exit_code: int | None,
    *,
    config_json: bytes,
    network_json: bytes,
    volumes: tuple[str, ...],
    layer_size: int | None,
    stopped_by_hp: bool,
) -> Current:
    """A container as hp made it (its record) and as it is now: crun's status of it (None: crun has
    none), the exit status conmon recorded, the config.json and network setup in its directory, the
    volumes it mounts, its writable layer's size and whether `hp stop` stopped it."""
    status = current_status(crun, exit_code)
    return Current(
        record.image,
        record.image_id,
        config_json,
        status,
        exit_code if status == "stopped" else None,
        record.phase,
        network_json,
        record.stop_timeout,
        record.prevent_destroy,
        record.stop_signal,
        volumes,
        layer_size,
        record.restart,
        record.restart_max,
        record.log_max_size,
        stopped_by_hp,
        depends_on=dict(record.depends_on),
        healthcheck=describe_check(record.healthcheck),
        health_on_failure=record.health_on_failure,
        seccomp_profile=record.seccomp_profile,
        env_files=record.env_files,
    )


def current_status(crun: str | None, exit_code: int | None) -> str:
    """Current.status from crun's status (None: crun has no such container) and the exit status
    conmon recorded (None: none): `hp stop` deletes the crun container and its exit file stays, so
    one without crun state is "stopped" if it has an exit status, else "missing"."""
    if crun is not None:
        return crun
    return "stopped" if exit_code is not None else "missing"


class Change(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One container's part of the plan. image_id and config_hash are what it will run
    (empty for a destroy): a saved plan is applied only if they are still what hp would make."""

    name: str
    action: Action
    reasons: tuple[str, ...]
    image: str
    image_id: str = ""
    config_hash: str = ""
    changed_fields: tuple[str, ...] = ()
    diff: str = ""
    # a replace or destroy: the volumes that stay (or, hp destroy --volumes, go), and the data that
    # is lost: the writable layer, bytes if known
    kept_volumes: tuple[str, ...] = ()
    removed_volumes: tuple[str, ...] = ()
    discarded: str = ""
    discarded_bytes: int | None = None
    # a create or replace: every way the container is less confined than hp's default (compiler.security),
    # and which of them the change adds (a create: all) and removes
    security: tuple[Escalation, ...] = ()
    security_added: tuple[Escalation, ...] = ()
    security_removed: tuple[Escalation, ...] = ()


class Plan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format_version: str
    changes: tuple[Change, ...]
    to_create: int
    to_replace: int
    to_destroy: int
    to_restore: int = 0
    pulled: tuple[str, ...] = ()  # images pulled while planning
    to_update: int = 0  # only SETTINGS changed

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)


def plan(
    desired: Mapping[str, Desired],
    current: Mapping[str, Current],
    pulled: tuple[str, ...] = (),
    destroy: bool = False,
    remove_volumes: bool = False,
    volumes_dir: str | None = None,
) -> Plan:
    """Compare, per container; order: destroys, replacements, restores, creates (then by name).
    destroy: `hp destroy` (desired is then empty), which changes only the reason given.
    remove_volumes: `hp destroy --volumes`: a destroy also deletes the volumes it mounts.
    volumes_dir: where hp's volumes are (Layout.volumes_dir): binds of them are not host paths."""
    gone = "hp destroy: everything the file manages goes" if destroy else "no longer in the file"
    changes = [
        _with_security(
            _with_data(_change(name, desired.get(name), current.get(name), gone), current.get(name), remove_volumes),
            desired.get(name),
            current.get(name),
            volumes_dir,
        )
        for name in set(desired) | set(current)
    ]
    changes.sort(key=lambda c: (ORDER[c.action], c.name))
    for change in changes:
        _check_protected(change, desired.get(change.name), current.get(change.name), destroy)
    count = {a: sum(c.action == a for c in changes) for a in ORDER}
    return Plan(
        FORMAT_VERSION,
        tuple(changes),
        count["create"],
        count["replace"],
        count["destroy"],
        count["restore"],
        tuple(sorted(pulled)),
        count["update"],
    )


def _with_data(change: Change, have: Current | None, remove_volumes: bool) -> Change:
    """A replace or destroy says what happens to the container's data: its volumes are kept (or,
    with remove_volumes, a destroy deletes them); its writable layer is discarded."""
    if have is None or change.action not in REMOVES:
        return change
    size = f" ({human_size(have.layer_size)})" if have.layer_size is not None else ""
    removed = remove_volumes and change.action == "destroy"
    return msgspec.structs.replace(
        change,
        kept_volumes=() if removed else have.volumes,
        removed_volumes=have.volumes if removed else (),
        discarded=f"its writable layer{size}",
        discarded_bytes=have.layer_size,
    )


def _with_security(change: Change, want: Desired | None, have: Current | None, volumes_dir: str | None) -> Change:
    """A create or replace lists the container's escalations (compiler.security), and a replace which it
    adds and removes compared with the recorded container."""
    if want is None or change.action not in CREATES:
        return change
    if have is None:
        review = review_create(want.config_json, volumes_dir=volumes_dir, seccomp=want.seccomp)
    else:
        review = review_replace(have.config_json, want.config_json, volumes_dir=volumes_dir, seccomp=want.seccomp)
    return msgspec.structs.replace(
        change, security=review.security, security_added=review.added, security_removed=review.removed
    )


def escalating(p: Plan) -> tuple[tuple[str, Escalation], ...]:
    """What `hp plan --deny-escalation` refuses: (container, escalation) for each one a change adds
    (compiler.security.counts_against: not a create's root user)."""
    return tuple((c.name, e) for c in p.changes for e in c.security_added if counts_against(c.action, e))


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    return f"{size} B"


def _check_protected(change: Change, want: Desired | None, have: Current | None, destroy: bool) -> None:
    """A replace of a container the file protects, or a destroy of one its record says is
    protected, fails the plan. Half-made or half-removed ones (phase not ready) are not protected:
    finishing what an interrupted hp began loses nothing that was ever ready."""
    if have is None or have.phase != "ready":
        return
    name = change.name
    where = f"{key_path('containers', name)}.prevent_destroy"
    if change.action == "replace" and want is not None and want.prevent_destroy:
        raise HpError(
            where,
            f"the plan would replace {name} ({'; '.join(change.reasons)}), which is protected: "
            "set prevent_destroy = false and hp apply that first, then make the change",
            source="spec",
        )
    if change.action == "destroy" and have.prevent_destroy:
        how = (
            "set prevent_destroy = false in the file and hp apply it, then hp destroy"
            if destroy
            else "put it back in the file with prevent_destroy = false and hp apply, then remove it"
        )
        raise HpError(
            where, f"the plan would destroy {name} ({change.reasons[0]}), which is protected: {how}", source="spec"
        )


def _change(name: str, want: Desired | None, have: Current | None, gone: str) -> Change:
    if have is None:
        assert want is not None
        created = ("not on this host",) + ((want.network,) if want.network else ())
        return Change(name, "create", created, want.image, want.image_id, _made_from(want))
    if want is None:
        interrupted = (_interrupted(have.phase),) if have.phase != "ready" else ()
        return Change(name, "destroy", (gone, *interrupted, *_stopping(have)), have.image)
    image_id, made_from = want.image_id, _made_from(want)
    if have.phase != "ready":
        return Change(name, "replace", (_interrupted(have.phase), *_stopping(have)), want.image, image_id, made_from)
    reasons: list[str] = []
    if want.image_id != have.image_id:
        reasons.append(f"image {want.image} is now {_short(want.image_id)} (was {_short(have.image_id)})")
    fields: tuple[str, ...] = ()
    diff = ""
    if not have.config_json:
        reasons.append("its config.json is missing")
    elif have.config_json != want.config_json:
        fields = changed_fields(have.config_json, want.config_json)
        reasons.append("config.json changed")
        profile = changed_profile(have.seccomp_profile, want.seccomp_profile)
        if profile is not None:
            reasons.append(f"seccomp profile {profile} changed")
        if "process.env" in fields:  # only what an env file can change: else it is not why
            reasons += [f"env file {path} {how}" for path, how in changed_env_files(have.env_files, want.env_files)]
        diff = config_diff(name, *masked_configs(have.config_json, want.config_json, want.sensitive_env))
    if want.network_json != have.network_json:
        net_fields = changed_fields(have.network_json or b"{}", want.network_json or b"{}")
        reasons.append("network changed")
        fields = tuple(sorted(fields + tuple(f"network.{f}" for f in net_fields)))
    if reasons:
        return Change(
            name,
            "replace",
            (*reasons, *_stopping(have)),
            want.image,
            image_id,
            made_from,
            changed_fields=fields,
            diff=diff,
        )
    settings = _changed_settings(want, have)
    if have.status == "missing" or (want.must_run and have.status != "running"):
        return Change(
            name,
            "restore",
            (_drift(have), *settings),
            want.image,
            image_id,
            made_from,
            changed_fields=_fields(settings),
        )
    if settings:
        return Change(name, "update", settings, want.image, image_id, made_from, changed_fields=_fields(settings))
    return Change(name, "no-op", (), want.image, image_id, made_from)


def _stopping(have: Current) -> tuple[str, ...]:
    """How a running container is stopped before it is removed, as `hp stop` does."""
    if not is_running(have.status):
        return ()
    return (f"stopped first: {describe_stop(have.stop_signal, have.stop_timeout)}",)


def _changed_settings(want: Desired, have: Current) -> tuple[str, ...]:
    """'stop_timeout: 10 -> 30' for each of SETTINGS that the file changed since the record was written."""
    return tuple(
        f"{field}: {_toml(old)} -> {_toml(new)}"
        for field in SETTINGS
        if (old := getattr(have, field)) != (new := getattr(want, field))
    )


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return describe_depends(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fields(settings: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(s.split(":", 1)[0] for s in settings)


def _made_from(want: Desired) -> str:
    """The hash of everything a container is made from but its image: config.json and network."""
    return config_hash(want.config_json + b"\0" + want.network_json)


def _interrupted(phase: str) -> str:
    return f"an interrupted hp left it half-{'made' if phase == 'creating' else 'removed'} (phase {phase})"


def _drift(have: Current) -> str:
    if have.status == "missing":
        return "its crun container was removed outside hp: will run it again"
    if have.status == "stopped" and have.stopped_by_hp:
        return STOPPED_BY_HP
    if have.status == "stopped":
        code = f" (exit status {have.exit_code})" if have.exit_code is not None else ""
        return f"stopped{code} outside hp: will start it again"
    return f"{have.status} outside hp: will start it again"


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
    lines = difflib.unified_diff(
        before.decode().splitlines(keepends=True),
        after.decode().splitlines(keepends=True),
        f"{name}/config.json (now)",
        f"{name}/config.json (planned)",
        n=2,
    )
    return "".join(lines)


def _short(image_id: str) -> str:
    return image_id.split(":")[-1][:12]


def _security_lines(c: Change, indent: str) -> list[str]:
    """A create's escalations; a replace's added (+) and removed (-) ones. None: no heading."""
    if c.action == "create":
        lines = [e.line for e in c.security]
    else:
        lines = [f"+ {e.line}" for e in c.security_added] + [f"- {e.line}" for e in c.security_removed]
    return [f"{indent}security:", *(f"{indent}  {line}" for line in lines)] if lines else []


def render_plan(p: Plan, *, diffs: bool = True) -> str:
    """Terraform's shape: a legend for the symbols used, one line per change (with its
    reasons and, for a replacement, the changed fields and the config diff), a summary."""
    out = [f"Pulled {ref}" for ref in p.pulled] + ([""] if p.pulled else [])
    active = [c for c in p.changes if c.action != "no-op"]
    if not active:
        return "\n".join(out + ["No changes. The host matches the file."]) + "\n"
    used = sorted({c.action for c in active}, key=ORDER.__getitem__)
    out += [
        "hp will perform the following actions (symbols: "
        + ", ".join(f"{SYMBOLS[a].strip()} {a}" for a in used)
        + "):",
        "",
    ]
    width = max(len(c.name) for c in active)
    for c in active:
        out.append(f"{SYMBOLS[c.action]} {c.name.ljust(width)}  {c.action:<8} {c.image}")
        for reason in c.reasons:
            out.append(f"      {' ' * width} - {reason}")
        if c.changed_fields:
            out.append(f"      {' ' * width} - changed: {', '.join(c.changed_fields)}")
        if c.kept_volumes:
            out.append(
                f"      {' ' * width} - keeps volume{'s' if len(c.kept_volumes) > 1 else ''} "
                f"{', '.join(c.kept_volumes)}"
            )
        if c.removed_volumes:
            many = len(c.removed_volumes) > 1
            out.append(
                f"      {' ' * width} - DELETES volume{'s' if many else ''} "
                f"{', '.join(c.removed_volumes)} and the data in {'them' if many else 'it'}"
            )
        if c.discarded:
            out.append(f"      {' ' * width} - discards {c.discarded}")
        out += _security_lines(c, f"      {' ' * width} ")
        if diffs and c.diff:
            out += ["", *("      " + line for line in c.diff.rstrip("\n").split("\n")), ""]
    drifted = sum(c.action == "restore" and c.reasons[:1] != (STOPPED_BY_HP,) for c in p.changes)
    if drifted:
        out += ["", f"Drift: {drifted} changed outside hp, to be restored."]
    updated = f", {p.to_update} to update (hp's record only)" if p.to_update else ""
    out += [
        "",
        (
            f"Plan: {p.to_create} to create, {p.to_replace} to replace, {p.to_restore} to restore, "
            f"{p.to_destroy} to destroy{updated}."
        ),
    ]
    return "\n".join(out) + "\n"
