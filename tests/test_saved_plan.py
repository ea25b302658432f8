"""compiler.saved_plan: a saved plan opens only as hp wrote it, and is stale once any part
of the world it was made in changed."""

from __future__ import annotations

import json

import msgspec
import pytest

from compiler.errors import StalePlan
from compiler.plan import Change, Plan
from compiler.saved_plan import Fingerprint, open_saved, seal, stale_reasons

ID_A, ID_B = "a" * 64, "b" * 64
FP = Fingerprint("0.1.0", "/srv/hp.toml", "sha256:" + "1" * 64, "/var/lib/hp", 7, {"localhost/web:1": ID_A})
PLAN = Plan(
    "1.0", (Change("web", "create", ("not on this host",), "localhost/web:1", ID_A, "sha256:" + "c" * 64),), 1, 0, 0
)


def test_round_trip_is_exact_and_stable() -> None:
    data = seal(FP, PLAN)
    assert seal(FP, PLAN) == data
    saved = open_saved(data, "plan")
    assert saved.fingerprint == FP and saved.plan == PLAN
    assert json.loads(data)["format"] == "hp-plan/1"


def _edit(data: bytes, change) -> bytes:
    doc = json.loads(data)
    change(doc)
    return json.dumps(doc, indent=2).encode()


EDITS = {
    "action": lambda d: d["plan"]["changes"][0].update(action="destroy"),
    "serial": lambda d: d["fingerprint"].update(state_serial=8),
    "image": lambda d: d["fingerprint"]["images"].update({"localhost/web:1": ID_B}),
    "checksum": lambda d: d.update(checksum="sha256:" + "0" * 64),
    "unknown-field": lambda d: d.update(extra=1),
    "format": lambda d: d.update(format="hp-plan/9"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_plan_is_refused(edit: str) -> None:
    with pytest.raises(StalePlan) as caught:
        open_saved(_edit(seal(FP, PLAN), EDITS[edit]), "my.plan")
    assert str(caught.value).startswith("my.plan: ")
    assert "\n" not in str(caught.value)


def test_reformatting_without_changing_anything_is_not_an_edit() -> None:
    data = json.dumps(json.loads(seal(FP, PLAN))).encode()  # same content, other whitespace
    assert open_saved(data, "plan").plan == PLAN


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b"{}", b'{"format": "hp-plan/1"}', b"\xff\xfe"],
    ids=["empty", "truncated", "list", "empty-object", "no-body", "binary"],
)
def test_not_a_plan(data: bytes) -> None:
    with pytest.raises(StalePlan, match="^p: "):
        open_saved(data, "p")


STALE = {
    "same": (FP, PLAN, []),
    "version": (msgspec.structs.replace(FP, hp_version="0.2.0"), PLAN, ["hp is now version 0.2.0"]),
    "file": (msgspec.structs.replace(FP, file_sha256="sha256:" + "2" * 64), PLAN, ["/srv/hp.toml changed"]),
    "serial": (msgspec.structs.replace(FP, state_serial=8), PLAN, ["serial 7 is now 8"]),
    "image": (
        msgspec.structs.replace(FP, images={"localhost/web:1": ID_B}),
        PLAN,
        ["image localhost/web:1 is now bbbbbbbbbbbb (the plan has aaaaaaaaaaaa)"],
    ),
    "state-dir": (msgspec.structs.replace(FP, state_dir="/other"), PLAN, ["state dir /var/lib/hp, not /other"]),
    "drift": (
        FP,
        msgspec.structs.replace(PLAN, changes=(msgspec.structs.replace(PLAN.changes[0], action="no-op"),)),
        ["for web the plan says create, planning now says no-op"],
    ),
    "other-config": (
        FP,
        msgspec.structs.replace(
            PLAN, changes=(msgspec.structs.replace(PLAN.changes[0], config_hash="sha256:" + "d" * 64),)
        ),
        ["web would now be made differently"],
    ),
}


@pytest.mark.parametrize("case", STALE)
def test_stale_reasons(case: str) -> None:
    now, replanned, expected = STALE[case]
    saved = open_saved(seal(FP, PLAN), "plan")
    reasons = stale_reasons(saved, now, replanned)
    assert len(reasons) == len(expected)
    for reason, part in zip(reasons, expected, strict=True):
        assert part in reason
