"""compiler/state.py: a container's record as it is made from what planning decided, and as an
update rewrites it (SETTINGS); what crun's status of a container means, and what `hp ps` shows."""

from __future__ import annotations

import msgspec
import pytest

from compiler.health import HealthCheck, OnFailure
from compiler.plan import Current, Desired
from compiler.state import (
    SETTINGS,
    ContainerRecord,
    config_hash,
    has_process,
    is_running,
    new_record,
    shown_status,
    with_settings,
)
from compiler.supervision import RunState, Supervision


class Made(msgspec.Struct, frozen=True):
    """A container as planning decides it: every value unlike a record's default."""

    name: str = "web"
    ref: str = "nginx:1"
    image_id: str = "sha256:" + "a" * 64
    config_json: bytes = b'{"ociVersion": "1.0.2"}'
    stop_signal: int = 3
    file: str = "/srv/hp.toml"
    must_run: bool = False
    stop_timeout: int = 42
    prevent_destroy: bool = True
    supervision: Supervision = Supervision("on-failure", 3, 4096)
    depends_on: dict[str, str] = msgspec.field(default_factory=lambda: {"db": "healthy"})
    healthcheck: HealthCheck | None = HealthCheck(("CMD", "true"), 1.0, 2.0, 3.0, 4)
    health_on_failure: OnFailure = "restart"
    seccomp_profile: str = "/etc/p.json sha256:" + "b" * 64
    env_files: tuple[str, ...] = ("/srv/web.env sha256:" + "c" * 64,)


def test_new_record_takes_every_field() -> None:
    """No field of the record is left at its default: a field the record gains must be taken from
    the container too (else an update would never write it, and the plan say "update" forever)."""
    made = Made()
    record = new_record(made)
    for field in msgspec.structs.fields(ContainerRecord):
        if field.default is not msgspec.NODEFAULT:
            assert getattr(record, field.name) != field.default, field.name
    assert record.phase == "creating"
    assert record.supervision == made.supervision  # what the exit handler and a boot apply
    assert record.config_hash == config_hash(made.config_json)
    assert (record.name, record.image, record.image_id) == (made.name, made.ref, made.image_id)


def test_settings_are_fields_of_the_record_and_the_plan() -> None:
    """compiler.plan compares SETTINGS between Desired and Current; with_settings writes them."""
    for struct in (ContainerRecord, Desired, Current):
        assert set(SETTINGS) <= {f.name for f in msgspec.structs.fields(struct)}, struct.__name__


OLD = ContainerRecord("web", "nginx:0", "sha256:old", "sha256:oldconfig", 15, "/srv/hp.toml", "ready", True)

# (name, the file's container, what with_settings writes over OLD)
REWRITES = [
    ("nothing-changed", Made(stop_timeout=10, prevent_destroy=False, supervision=Supervision(), depends_on={},
                             healthcheck=None, health_on_failure="none"), {}),
    ("stop-timeout", Made(stop_timeout=30, prevent_destroy=False, supervision=Supervision(), depends_on={},
                          healthcheck=None, health_on_failure="none"), {"stop_timeout": 30}),
    ("every-setting", Made(), {
        "stop_timeout": 42,
        "prevent_destroy": True,
        "restart": "on-failure",
        "restart_max": 3,
        "log_max_size": 4096,
        "depends_on": {"db": "healthy"},
        "healthcheck": Made().healthcheck,
        "health_on_failure": "restart",
    }),
]  # fmt: skip


@pytest.mark.parametrize("name,made,changed", REWRITES, ids=[r[0] for r in REWRITES])
def test_with_settings(name: str, made: Made, changed: dict[str, object]) -> None:
    """Only SETTINGS are taken from the file; the image, config, phase, stop signal, must_run and
    seccomp profile stay the record's (a replace changes those)."""
    assert with_settings(OLD, made) == msgspec.structs.replace(OLD, **changed)


# crun's status (None: crun has no such container) -> (is_running, has_process)
CRUN = [
    ("running", "running", True, True),
    ("paused-counts-as-running", "paused", True, True),
    ("created-has-a-process", "created", False, True),
    ("stopped", "stopped", False, False),
    ("no-crun-state", None, False, False),
]


@pytest.mark.parametrize("name,crun,running,process", CRUN, ids=[c[0] for c in CRUN])
def test_crun_status(name: str, crun: str | None, running: bool, process: bool) -> None:
    assert (is_running(crun), has_process(crun)) == (running, process)


WAITING = RunState(start=2, want="running", restarting=True)
# (name, crun's status, run state, hp ps's STATUS)
SHOWN = [
    ("running", "running", RunState(start=1), "running"),
    ("paused-shows-running", "paused", RunState(start=1), "running"),
    ("created", "created", None, "created"),
    ("stopped", "stopped", RunState(start=1), "stopped"),
    ("gone-from-crun", None, RunState(start=1, want="stopped"), "stopped"),
    ("no-run-state", None, None, "stopped"),
    ("waiting-to-restart", "stopped", WAITING, "restarting"),
    ("waiting-to-restart-no-crun-state", None, WAITING, "restarting"),
    ("restart-cancelled-by-hp", "stopped", msgspec.structs.replace(WAITING, want="stopped"), "stopped"),
    ("running-again", "running", WAITING, "running"),
]


@pytest.mark.parametrize("name,crun,run_state,expected", SHOWN, ids=[c[0] for c in SHOWN])
def test_shown_status(name: str, crun: str | None, run_state: RunState | None, expected: str) -> None:
    assert shown_status(crun, run_state) == expected
