"""compiler.plan.desired_of and current_of: the plan's two sides are made from what planning
decided (the value a record is made from) and from the record, in the compiler. Every field is
taken: one added to Desired or Current but not filled would stay at its default on both sides
and its change would never be planned."""

from __future__ import annotations

import msgspec
import pytest

from compiler.cni import NetworkSetup, describe, encode_setup
from compiler.plan import current_of, desired_of
from compiler.spec import ContainerSpec
from compiler.state import new_record

from .test_state import Made

SPEC = ContainerSpec(image="nginx:1", sensitive_env=("DB_PASSWORD",), seccomp="unconfined")
NETWORK = NetworkSetup("none", "web")


def not_at_default(value: msgspec.Struct) -> list[str]:
    """The fields of `value` that have a default and are at it."""
    return [
        f.name
        for f in msgspec.structs.fields(value)
        if f.default is not msgspec.NODEFAULT and getattr(value, f.name) == f.default
    ]


def test_desired_takes_every_field() -> None:
    made = Made()
    desired = desired_of(made, NETWORK, SPEC, {"db": "healthy", "cache": "started"})
    assert not_at_default(desired) == []
    assert (desired.image, desired.image_id, desired.config_json) == (made.ref, made.image_id, made.config_json)
    assert (desired.network_json, desired.network) == (encode_setup(NETWORK), describe(NETWORK))
    assert desired.depends_on == {"db": "healthy", "cache": "started"}  # the graph's, not only the file's


def test_current_takes_every_field() -> None:
    record = new_record(Made())  # phase "creating": every field unlike its default
    current = current_of(
        record,
        None,
        3,
        config_json=b"{}",
        network_json=b"{}",
        volumes=("data",),
        layer_size=4096,
        stopped_by_hp=True,
    )
    assert not_at_default(current) == []
    assert (current.status, current.exit_code) == ("stopped", 3)  # no crun state, an exit status: stopped


# crun's status, the exit file's status -> Current's (status, exit_code)
EXITS = [
    ("stopped-with-exit-status", "stopped", 3, ("stopped", 3)),
    ("running-keeps-none-of-its-last-run", "running", 3, ("running", None)),
    ("stopped-by-hp-stop-no-crun-state", None, 0, ("stopped", 0)),
    ("vanished-without-exit-status", None, None, ("missing", None)),
]


@pytest.mark.parametrize("name,crun,exit_code,expected", EXITS, ids=[e[0] for e in EXITS])
def test_an_exit_status_counts_only_for_a_stopped_container(
    name: str, crun: str | None, exit_code: int | None, expected: tuple[str, int | None]
) -> None:
    current = current_of(
        new_record(Made()),
        crun,
        exit_code,
        config_json=b"{}",
        network_json=b"",
        volumes=(),
        layer_size=None,
        stopped_by_hp=False,
    )
    assert (current.status, current.exit_code) == expected
