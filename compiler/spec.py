"""The desired-state file (hp.toml) as typed, immutable values.

Decoding is strict: an unknown key, a wrong type or a bad container name is an
HpError whose `where` is the field path (``containers.web.memory``).
"""

# No `from __future__ import annotations` here: msgspec would evaluate every field's annotation
# string on this module's first decode, ~1.7 ms of each hp compile (docs/design.md, start-up).

import re
import tomllib
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import msgspec

from . import names
from .errors import HpError, key_path, quote
from .signals import DEFAULT_STOP_TIMEOUT


class _Input(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every hp.toml table: immutable, and a typo in a key is an error."""


class BindMount(_Input, frozen=True, tag="bind", tag_field="type"):
    """A host directory or file, bind-mounted (recursively) at `target`."""

    source: str
    target: str
    readonly: bool = False


class TmpfsMount(_Input, frozen=True, tag="tmpfs", tag_field="type"):
    """A fresh tmpfs at `target`; `size` like memory ("64m"), `mode` octal ("1777" or 0o1777)."""

    target: str
    size: int | str | None = None
    mode: int | str | None = None
    readonly: bool = False


class VolumeMount(_Input, frozen=True, tag="volume", tag_field="type"):
    """A `[volumes.NAME]` volume (`source` = NAME), bind-mounted at `target` (compiler/volumes.py)."""

    source: str
    target: str
    readonly: bool = False


Mount = BindMount | TmpfsMount | VolumeMount


MAX_STOP_TIMEOUT = 3600


class HealthcheckSpec(_Input, frozen=True):
    """`healthcheck = { ... }`: Docker's HEALTHCHECK; what is not set here is the image's (or Docker's
    default). test: ["CMD", ARG...], ["CMD-SHELL", "COMMAND"] (a string is that too) or ["NONE"]
    (no check); durations "30s", "1m30s", "500ms" or seconds (compiler/health.py checks them)."""

    test: tuple[str, ...] | str | None = None
    interval: int | float | str | None = None
    timeout: int | float | str | None = None
    start_period: int | float | str | None = None
    retries: int | None = None


class ContainerSpec(_Input, frozen=True):
    """One `[containers.NAME]` table. Every field but `image` is optional; None means
    "not set here", so the image's value (or hp's default) applies."""

    image: str
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    env: dict[str, str] | tuple[str, ...] | None = None
    # docker env files (NAME=VALUE lines), relative to hp.toml's directory: image Env < these, in order < env
    env_file: tuple[str, ...] = ()
    # env names whose values plans never show, besides those containing PASSWORD, SECRET, TOKEN or KEY
    sensitive_env: tuple[str, ...] = ()
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    terminal: bool = False
    read_only: bool = False
    keep_alive: bool = False
    must_run: bool = True  # plan restores it when it is not running; false: it may end by itself
    # seconds from the stop signal to SIGKILL, whenever hp stops it (stop, rm, replace, destroy)
    stop_timeout: Annotated[int, msgspec.Meta(ge=0, le=MAX_STOP_TIMEOUT)] = DEFAULT_STOP_TIMEOUT
    prevent_destroy: bool = False  # a plan that would replace or destroy it fails (compiler.plan)
    # what hp does when it ends by itself (compiler/supervision.py): "no", "on-failure", "always"
    restart: Literal["no", "on-failure", "always"] = "no"
    restart_max: Annotated[int, msgspec.Meta(ge=0)] = 0  # on-failure only: at most this many restarts; 0: no limit
    log_max_size: int | str | None = None  # like memory; None: Defaults.log_max_size (10m)
    healthcheck: HealthcheckSpec | None = None  # overrides the image's HEALTHCHECK (compiler/health.py)
    # what `hp healthcheck run` does to it once it is unhealthy (podman's names): nothing, restart, or stop it
    health_on_failure: Literal["none", "restart", "kill"] = "none"
    # containers of this file started first: a list, or a table of name -> "started" | "healthy"
    depends_on: tuple[str, ...] | dict[str, str] | None = None
    labels_to_annotations: bool = False
    annotations: dict[str, str] | None = None
    memory: int | str | None = None
    memory_swap: int | str | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    mounts: tuple[Mount, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    ulimits: dict[str, tuple[int, int] | int] | None = None
    sysctls: dict[str, str] | None = None  # namespaced kernel parameters (compiler/sysctls.py)
    # "default": containers-common's profile (the host's, a fact); "unconfined": no filter; otherwise the
    # path of a profile file in that format or OCI's LinuxSeccomp, relative to hp.toml's directory
    seccomp: str = "default"
    privileged: bool = False  # as `podman run --privileged`: every capability, no seccomp or masks, host devices
    devices: tuple[str, ...] = ()  # podman's --device: "HOST[:CONTAINER][:PERMISSIONS]"
    # None or "bridge": the default network; "none": loopback only; "host": the host's network;
    # otherwise the name of a [networks.NAME] table (compiler/network.py resolves and checks it)
    network: str | None = None
    ports: tuple[str, ...] = ()  # "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]"


class RegistrySettings(_Input, frozen=True):
    """`[registries."HOST[:PORT]"]`: how hp pulls from one registry. `insecure = true` pulls over
    plain HTTP or unverified TLS (podman's --tls-verify=false), e.g. for a local test registry;
    otherwise podman's own registries configuration applies. `timeout`: how long one pull from it
    may take ("90s", "5m", "1h" or a number of seconds; default 60 s, compiler.resources)."""

    insecure: bool = False
    timeout: int | float | str | None = None


class NetworkSpec(_Input, frozen=True):
    """`[networks.NAME]`: a bridge network. `gateway` defaults to the subnet's first address,
    `dns` to the host's non-loopback nameservers, `bridge` to a name derived from NAME."""

    subnet: str
    gateway: str | None = None
    dns: tuple[str, ...] | None = None
    bridge: str | None = None


class VolumeSpec(_Input, frozen=True):
    """`[volumes.NAME]`: a named volume, STATE/volumes/NAME, made (and filled from the first
    container's image at its target) when a container first mounts it; never deleted unless asked.
    `size` (like memory, "10g") is only for `hp export kube`'s PersistentVolumeClaim (default 1Gi):
    on this host a volume is a directory that takes what its filesystem has."""

    size: int | str | None = None


class HpFile(_Input, frozen=True):
    """The whole hp.toml."""

    containers: dict[str, ContainerSpec] = {}
    registries: dict[str, RegistrySettings] = {}
    networks: dict[str, NetworkSpec] = {}
    volumes: dict[str, VolumeSpec] = {}


CONTAINER_NAME = names.CONTAINER_NAME  # the rule the command line's NAME follows too
# a container's `network` values that are modes, not [networks.NAME] tables
RESERVED_NETWORK_NAMES = ("bridge", "host", "none")

# msgspec's ValidationError holds only its message: these read its wording, which pyproject pins msgspec
# to the releases of, and tests/test_msgspec_messages.py checks word for word. A bad mapping key is
# reported as "- at `key` in `$.x`": its path is the mapping's.
_MSGSPEC_ERROR = re.compile(r"^(?P<msg>.*?)(?: - at (?:`key` in )?`(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(.*)`", re.S)
_MISSING = re.compile(r"Object missing required field `(.*)`", re.S)


def decode_error(err: msgspec.ValidationError, kind: type[msgspec.Struct] | None = None) -> HpError:
    """Turn msgspec's "Expected `int`, got `str` - at `$.a.b`" into HpError("a.b", "expected int, got str").

    msgspec gives the path and the kind of error only in this text, so it is parsed; msgspec is pinned
    (pyproject) to the releases tests/test_msgspec_messages.py has checked the wording of, word for word."""
    m = _MSGSPEC_ERROR.match(str(err))
    assert m is not None
    msg, path = m["msg"], m["path"] or "$"
    where = path[2:] if path.startswith("$.") else path.lstrip("$")
    unknown = _UNKNOWN.fullmatch(msg)
    if unknown:
        return HpError(key_path(where, unknown[1]), "unknown field" + _did_you_mean(unknown[1], where, kind))
    missing = _MISSING.fullmatch(msg)
    if missing:
        return HpError(key_path(where, missing[1]), "required field is missing")
    tag = re.match(r"Invalid value '(.*)'", msg)
    if tag and where.endswith(".type"):
        return HpError(where, f'unknown mount type {quote(tag[1])} (expected "bind", "tmpfs" or "volume")')
    enum = re.match(r"Invalid enum value (.*)$", msg)
    if enum and where.rsplit(".", 1)[-1] in _CHOICES:
        choices = _CHOICES[where.rsplit(".", 1)[-1]]
        return HpError(where, f"expected {', '.join(choices[:-1])} or {choices[-1]}, got {enum[1]}")
    typed = re.match(r"Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`$", msg)
    if typed:
        want = [_TYPE_WORDS.get(t, t) for t in typed["want"].split(" | ") if t != "null"]
        got = _TYPE_WORDS.get(typed["got"], typed["got"])
        return HpError(where or "(top level)", f"expected {' or '.join(want)}, got {got}")
    text = msg.replace("`", "").replace("array", "list").replace("object", "table")
    return HpError(where or "(top level)", text[:1].lower() + text[1:])


# the fields whose value is one of a few words (typing.Literal), by field name
_CHOICES = {"restart": ('"no"', '"on-failure"', '"always"'), "health_on_failure": ('"none"', '"restart"', '"kill"')}

_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "object": "a table",
    "array": "a list",
    "null": "nothing",
}


def _did_you_mean(name: str, table: str, root: type[msgspec.Struct] | None) -> str:
    """A close match among the keys of the table the unknown key is in: `root` (the
    Struct decoded), or a mount when the path ends in mounts[N]."""
    import difflib

    if re.search(r"mounts\[\d+\]$", table):
        kinds: tuple[type[msgspec.Struct], ...] = (BindMount, TmpfsMount, VolumeMount)
    elif table == "" and root is not None:
        kinds = (root,)
    else:
        return ""
    known = sorted({f for kind in kinds for f in kind.__struct_fields__} - {name})
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {quote(close[0])}?)" if close else ""


def utf8_text(data: bytes | str) -> str:
    """`data` as text, or an HpError saying where it stops being UTF-8."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HpError("", f"not UTF-8 text (byte {e.start})") from None


def parse_hp_file(data: bytes | str) -> HpFile:
    """Decode hp.toml text into an HpFile, or raise HpError naming the field."""
    text = utf8_text(data)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HpError("", f"invalid TOML: {e}") from None
    except RecursionError:
        raise HpError("", "invalid TOML: nested too deeply") from None
    containers = _tables(raw, "containers", ContainerSpec, "container")
    registries = _tables(raw, "registries", RegistrySettings)
    networks = _tables(raw, "networks", NetworkSpec, "network", reserved=RESERVED_NETWORK_NAMES)
    volumes = _tables(raw, "volumes", VolumeSpec, "volume")
    _convert({k: v for k, v in raw.items() if k not in ("containers", "registries", "networks", "volumes")}, HpFile, "")
    return HpFile(containers=containers, registries=registries, networks=networks, volumes=volumes)


_S = TypeVar("_S", bound=msgspec.Struct)


def _tables(
    raw: dict[str, Any], key: str, kind: type[_S], named: str = "", reserved: tuple[str, ...] = ()
) -> dict[str, _S]:
    """`[KEY.NAME]` tables decoded as `kind`; a `named` kind's names follow CONTAINER_NAME (a
    volume's: VOLUME_NAME, and never an image volume's name)."""
    tables = raw.get(key, {})
    if not isinstance(tables, dict):
        raise HpError(key, f"expected a table of {key}, got {_kind(tables)}")
    out: dict[str, _S] = {}
    for name, table in tables.items():
        where = key_path(key, name)
        if named == "volume":
            if not names.is_volume_name(name):
                raise HpError(where, f"invalid volume name: {names.VOLUME_NAME_RULE}")
            if names.IMAGE_VOLUME_NAME.fullmatch(name):
                raise HpError(where, "a name ending in '.' and 12 hex digits is an image volume's (NAME.<digest>)")
        elif named and not CONTAINER_NAME.fullmatch(name):
            raise HpError(where, f"invalid {named} name: {names.NAME_RULE}")
        if name in reserved:
            raise HpError(where, f"{quote(name)} is reserved (a container's `network = {quote(name)}` is a mode)")
        out[name] = _convert(table, kind, where)
    return out


# Checked by hand because msgspec reports a bad value in a mapping as `[...]`, without its key.
_STR_MAPS = ("env", "annotations", "sysctls")


def _convert(table: object, kind: type[_S], where: str) -> _S:
    if isinstance(table, dict):
        for field in _STR_MAPS:
            value = table.get(field)
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(item, str):
                        raise HpError(key_path(f"{where}.{field}", key), f"expected a string, got {_kind(item)}")
        limits = table.get("ulimits")
        if isinstance(limits, dict):
            for key, item in limits.items():
                ok_pair = isinstance(item, list) and len(item) == 2 and all(_is_int(x) for x in item)
                if not (ok_pair or _is_int(item)):
                    raise HpError(
                        key_path(f"{where}.ulimits", key),
                        f"expected [soft, hard] or one integer for both, got {_kind(item)}",
                    )
    try:
        return msgspec.convert(table, kind, strict=True)
    except msgspec.ValidationError as e:
        err = decode_error(e, kind)
        if err.where in ("", "(top level)"):
            return _raise(HpError(where or "(top level)", err.problem))
        return _raise(HpError(f"{where}.{err.where}" if where else err.where, err.problem))


def _raise(err: HpError) -> NoReturn:
    raise err


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
