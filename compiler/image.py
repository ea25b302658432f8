"""The image's metadata, from either form a user has at hand, as one immutable value.

Accepted: `podman image inspect` / `docker inspect` output (a one-element list or
an object with `Config`, `Os`, `Architecture`, ...) and an OCI image config
(`{"architecture": ..., "os": ..., "config": {...}}`). The health check is podman's top-level
`Healthcheck`, else `Config.Healthcheck` (docker inspect, and a docker-format image config).
Fields that tools add and hp does not use (Id, RepoTags, rootfs, history, OnBuild ...) are ignored;
the fields hp uses are type-checked and errors name them as they are spelled in
the file (``Config.Env[2]``).
"""

# No `from __future__ import annotations` here: msgspec would evaluate every field's annotation
# string on this module's first decode, ~1.7 ms of each hp compile (docs/design.md, start-up).

from typing import Any, TypeVar

import msgspec

from .errors import HpError, quote
from .spec import decode_error, utf8_text

_Ports = dict[str, Any] | None


class _Healthcheck(msgspec.Struct, frozen=True):
    """Docker's HEALTHCHECK as images carry it: durations in nanoseconds, 0 meaning the default."""

    Test: tuple[str, ...] | None = None
    Interval: int | None = None
    Timeout: int | None = None
    StartPeriod: int | None = None
    Retries: int | None = None


class _RunConfig(msgspec.Struct, frozen=True):
    """The run-time part of an image: `Config` (inspect) or `config` (OCI); same key names."""

    User: str | None = None
    Env: tuple[str, ...] | None = None
    Entrypoint: tuple[str, ...] | None = None
    Cmd: tuple[str, ...] | None = None
    WorkingDir: str | None = None
    Labels: dict[str, str] | None = None
    StopSignal: str | None = None
    ExposedPorts: _Ports = None
    Volumes: _Ports = None
    Healthcheck: _Healthcheck | None = None


class _Inspect(msgspec.Struct, frozen=True):
    Config: _RunConfig | None = None
    Healthcheck: _Healthcheck | None = None  # podman puts it here, not under Config
    Os: str | None = None
    OsVersion: str | None = None
    Architecture: str | None = None
    Variant: str | None = None
    Author: str | None = None
    Created: str | None = None


class _OciImage(msgspec.Struct, frozen=True, rename={"os_version": "os.version"}):
    config: _RunConfig | None = None
    os: str | None = None
    os_version: str | None = None
    architecture: str | None = None
    variant: str | None = None
    author: str | None = None
    created: str | None = None


class ImageHealthcheck(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The image's health check as it says it (compiler/health.py gives it meaning): `test` is
    ("CMD", ...), ("CMD-SHELL", "..."), ("NONE",) or () (none); durations in nanoseconds and
    retries, 0 meaning Docker's default. `where`: the field it came from, for error paths."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0
    where: str = "Healthcheck"


class ImageConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the compiler needs to know about an image. Map-shaped fields are kept
    as sorted tuples, so the value (and everything made from it) is deterministic.

    `config_field` is how the file spelled the run-time section ("Config" for
    inspect output, "config" for an OCI image config), for error paths.
    `entrypoint`/`cmd` are None when the image does not set them.
    """

    os: str = ""
    os_version: str = ""
    architecture: str = ""
    variant: str = ""
    author: str = ""
    created: str = ""
    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    healthcheck: ImageHealthcheck | None = None
    config_field: str = "config"


def parse_image_config(data: bytes | str) -> ImageConfig:
    """Decode an image config in either accepted form, or raise HpError naming the field."""
    try:
        raw = msgspec.json.decode(utf8_text(data))
    except msgspec.DecodeError as e:
        raise HpError("", f"invalid JSON: {e}") from None
    except RecursionError:
        raise HpError("", "invalid JSON: nested too deeply") from None
    where = ""
    if isinstance(raw, list):
        if len(raw) != 1:
            raise HpError("", f"expected one image, the list has {len(raw)} entries")
        raw, where = raw[0], "[0]."
    if not isinstance(raw, dict):
        raise HpError("", "expected a JSON object (an image config) or a one-element list (inspect output)")
    if "Config" in raw or "Os" in raw or "Architecture" in raw:
        return _from_inspect(raw, where)
    if "config" in raw or "os" in raw or "architecture" in raw:
        return _from_oci(raw, where)
    raise HpError(
        "",
        "not an image config: expected `podman image inspect` output (with Config) "
        "or an OCI image config (with config, os, architecture)",
    )


def _from_inspect(raw: dict[str, Any], where: str) -> ImageConfig:
    _check_labels(raw.get("Config"), f"{where}Config")
    doc = _convert(raw, _Inspect, where)
    image = _normalise(
        doc.Config, f"{where}Config", doc.Os, doc.OsVersion, doc.Architecture, doc.Variant, doc.Author, doc.Created
    )
    if doc.Healthcheck is None:
        return image
    return msgspec.structs.replace(image, healthcheck=_healthcheck(doc.Healthcheck, f"{where}Healthcheck"))


def _from_oci(raw: dict[str, Any], where: str) -> ImageConfig:
    _check_labels(raw.get("config"), f"{where}config")
    doc = _convert(raw, _OciImage, where)
    return _normalise(
        doc.config, f"{where}config", doc.os, doc.os_version, doc.architecture, doc.variant, doc.author, doc.created
    )


def _check_labels(section: object, where: str) -> None:
    labels = section.get("Labels") if isinstance(section, dict) else None
    if isinstance(labels, dict):
        for key, value in labels.items():
            if not isinstance(value, str):
                raise HpError(f"{where}.Labels[{quote(key)}]", "expected a string")


_S = TypeVar("_S", bound=msgspec.Struct)


def _convert(raw: dict[str, Any], kind: type[_S], where: str) -> _S:
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as e:
        err = decode_error(e)
        raise HpError(f"{where}{err.where}" if where else err.where, err.problem) from None


def _normalise(
    run: _RunConfig | None,
    section: str,
    os_: str | None,
    os_version: str | None,
    arch: str | None,
    variant: str | None,
    author: str | None,
    created: str | None,
) -> ImageConfig:
    run = run or _RunConfig()
    top = section[: -len("Config")] if section.endswith("Config") else section[: -len("config")]
    for field, value in (
        ("Os" if section.endswith("Config") else "os", os_),
        ("os.version", os_version),
        ("Architecture" if section.endswith("Config") else "architecture", arch),
        ("Variant" if section.endswith("Config") else "variant", variant),
        ("Author" if section.endswith("Config") else "author", author),
        ("Created" if section.endswith("Config") else "created", created),
        ("StopSignal", run.StopSignal),
    ):
        if value and "\0" in value:
            raise HpError(f"{top}{field}" if field != "StopSignal" else f"{section}.StopSignal", "contains a NUL byte")
    for field, mapping in (("Labels", run.Labels), ("ExposedPorts", run.ExposedPorts), ("Volumes", run.Volumes)):
        for key, value in (mapping or {}).items():
            if "\0" in key or (isinstance(value, str) and "\0" in value):
                raise HpError(f"{section}.{field}[{quote(key)}]", "contains a NUL byte")
    if os_ and os_ != "linux":
        raise HpError(
            section.replace("Config", "Os").replace("config", "os"),
            f"{quote(os_)} images cannot run here: hp runs linux images",
        )
    return ImageConfig(
        os=os_ or "",
        os_version=os_version or "",
        architecture=arch or "",
        variant=variant or "",
        author=author or "",
        created=created or "",
        user=run.User or "",
        env=run.Env or (),
        entrypoint=run.Entrypoint,
        cmd=run.Cmd,
        working_dir=run.WorkingDir or "",
        labels=tuple(sorted((run.Labels or {}).items())),
        stop_signal=run.StopSignal or "",
        exposed_ports=tuple(sorted(run.ExposedPorts or ())),
        volumes=tuple(sorted(run.Volumes or ())),
        healthcheck=_healthcheck(run.Healthcheck, f"{section}.Healthcheck") if run.Healthcheck else None,
        config_field=section,
    )


def _healthcheck(check: _Healthcheck, where: str) -> ImageHealthcheck:
    for field in ("Interval", "Timeout", "StartPeriod", "Retries"):
        if (getattr(check, field) or 0) < 0:
            raise HpError(f"{where}.{field}", f"must not be negative, got {getattr(check, field)}")
    for i, word in enumerate(check.Test or ()):
        if "\0" in word:
            raise HpError(f"{where}.Test[{i}]", "contains a NUL byte")
    return ImageHealthcheck(
        check.Test or (), check.Interval or 0, check.Timeout or 0, check.StartPeriod or 0, check.Retries or 0, where
    )
