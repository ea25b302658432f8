"""What hp records about each container it made (STATE/containers/NAME/container.json).

A record is the journal of its container: `phase` is written before and after each
side effect, so an hp killed at any moment leaves a record that says what was in flight:

    creating   the directory is in place; the mount, crun container or start may be
               half-done. The next apply removes whatever exists and creates it again.
    ready      made and started by hp (it may have stopped since: that is drift).
    removing   removal began; the next apply (or `hp rm`) finishes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal, Protocol

import msgspec

from .defaults import DEFAULT_LOG_MAX_SIZE
from .health import HealthCheck, OnFailure
from .signals import DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT
from .supervision import RestartPolicy, RunState, Supervision

Phase = Literal["creating", "ready", "removing"]
# hp.toml settings that only hp reads (kept in the record): a change rewrites the record, nothing more
# (compiler.plan compares them, with_settings writes them)
SETTINGS = (
    "stop_timeout",
    "prevent_destroy",
    "restart",
    "restart_max",
    "log_max_size",
    "depends_on",
    "healthcheck",
    "health_on_failure",
)


class ContainerRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    image: str
    image_id: str
    config_hash: str
    stop_signal: int = DEFAULT_STOP_SIGNAL
    file: str = ""  # the real path of the hp.toml that manages it ("" for none)
    phase: Phase = "ready"
    must_run: bool = True  # hp.toml's must_run: whether `hp start` requires it to keep running
    # hp.toml's, kept here because `hp destroy` does not read the file's content
    stop_timeout: int = DEFAULT_STOP_TIMEOUT  # seconds between the stop signal and SIGKILL
    prevent_destroy: bool = False  # a plan that would replace or destroy it fails
    restart: RestartPolicy = "no"  # hp.toml's restart policy (compiler/supervision.py), read by the exit handler
    restart_max: int = 0
    log_max_size: int = DEFAULT_LOG_MAX_SIZE  # bytes, passed to conmon at each start
    healthcheck: HealthCheck | None = None  # the effective check (compiler/health.py), run by hp
    health_on_failure: OnFailure = "none"  # hp.toml's: "none", "restart" or "kill"
    # hp.toml's depends_on (name -> "started" | "healthy"): stop and destroy go in reverse order,
    # `hp start` and a boot in this order, even for a container the file no longer lists
    depends_on: dict[str, str] = msgspec.field(default_factory=dict)
    # the seccomp profile its filter was compiled from, "PATH sha256:HEX" ("" for none): a replace that a
    # changed profile causes says so (compiler.seccomp.changed_profile)
    seccomp_profile: str = ""
    # its env_file list's files, "PATH sha256:HEX" each, in hp.toml's order (compiler.env.env_file_identities;
    # () for none, or a record older than the field): a replace that a changed env file causes says so
    env_files: tuple[str, ...] = ()

    @property
    def supervision(self) -> Supervision:
        """The restart policy and log size it keeps, as the exit handler and a boot apply them."""
        return Supervision(self.restart, self.restart_max, self.log_max_size)


class ContainerStatus(msgspec.Struct, frozen=True):
    """One row of `hp ps`. status: "created", "running", "stopped" or "restarting" (shown_status);
    exit_code and pid may be None.
    network: what it is on, as hp.toml's `network` names it: the network's name ("hp" for the default
    one, "stack" for [networks.stack]), or "none" or "host"; network_mode: "bridge", "none" or "host"
    ("" for both when hp has no network record for it); ip: its address on a bridge network while
    connected; ports: published, as "[HOST_IP:]HOST_PORT:CONTAINER_PORT/PROTO"."""

    name: str
    image: str
    status: str
    exit_code: int | None
    pid: int | None
    network: str = ""
    network_mode: str = ""
    ip: str | None = None
    ports: tuple[str, ...] = ()
    restart: str = "no"
    restarts: int = 0
    health: str = "-"  # "starting", "healthy", "unhealthy", or "-" (no health check, or not running)


class Made(Protocol):
    """What a container is made from, as planning decided it (the executor's NewContainer): what its
    record is written from."""

    @property
    def name(self) -> str: ...
    @property
    def ref(self) -> str: ...  # the image as hp.toml names it
    @property
    def image_id(self) -> str: ...
    @property
    def config_json(self) -> bytes: ...
    @property
    def stop_signal(self) -> int: ...
    @property
    def file(self) -> str: ...
    @property
    def must_run(self) -> bool: ...
    @property
    def stop_timeout(self) -> int: ...
    @property
    def prevent_destroy(self) -> bool: ...
    @property
    def supervision(self) -> Supervision: ...
    @property
    def depends_on(self) -> Mapping[str, str]: ...
    @property
    def healthcheck(self) -> HealthCheck | None: ...
    @property
    def health_on_failure(self) -> OnFailure: ...
    @property
    def seccomp_profile(self) -> str: ...
    @property
    def env_files(self) -> tuple[str, ...]: ...


def new_record(made: Made) -> ContainerRecord:
    """The record of a container about to be made: phase "creating" until it has started."""
    return ContainerRecord(
        made.name,
        made.ref,
        made.image_id,
        config_hash(made.config_json),
        made.stop_signal,
        made.file,
        "creating",
        made.must_run,
        stop_timeout=made.stop_timeout,
        prevent_destroy=made.prevent_destroy,
        restart=made.supervision.restart,
        restart_max=made.supervision.restart_max,
        log_max_size=made.supervision.log_max_size,
        depends_on=dict(made.depends_on),
        healthcheck=made.healthcheck,
        health_on_failure=made.health_on_failure,
        seccomp_profile=made.seccomp_profile,
        env_files=made.env_files,
    )


def with_settings(record: ContainerRecord, made: Made) -> ContainerRecord:
    """`record` with each of SETTINGS as the file now gives it (`made`), the rest kept: what an
    update or a restore writes."""
    new = new_record(made)
    return msgspec.structs.replace(record, **{field: getattr(new, field) for field in SETTINGS})


def is_running(status: str | None) -> bool:
    """Whether crun's status of a container (None: crun has none) counts as running: "running" or
    "paused" (`hp ps` shows a paused container as running)."""
    return status in ("running", "paused")


def has_process(status: str | None) -> bool:
    """Whether crun's status says the container's process is there: running, paused, or "created"
    (crun's init waiting to exec the entrypoint)."""
    return status == "created" or is_running(status)


def shown_status(crun: str | None, run_state: RunState | None) -> str:
    """`hp ps`'s STATUS: "created" or "running" as crun says (a paused container is running);
    otherwise "restarting" if its exit was handled and a restart by its policy waits out its
    back-off (compiler.supervision), else "stopped"."""
    if crun == "created":
        return "created"
    if is_running(crun):
        return "running"
    if run_state is not None and run_state.restarting and run_state.want == "running":
        return "restarting"
    return "stopped"


def config_hash(config_json: bytes) -> str:
    return "sha256:" + hashlib.sha256(config_json).hexdigest()


def encode_record(record: ContainerRecord) -> bytes:
    return msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"


def decode_record(data: bytes) -> ContainerRecord:
    return msgspec.json.decode(data, type=ContainerRecord)
