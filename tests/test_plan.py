"""compiler.plan: the diff between what the file wants and what hp made, rendered for people
(syrupy snapshots in tests/__snapshots__/) and as JSON from the same value."""

from __future__ import annotations

import json

import msgspec
import pytest

from compiler import ImageFacts, compile_container, encode_config, parse_hp_file, parse_image_config
from compiler.errors import HpError
from compiler.plan import Current, Desired, changed_fields, plan, render_plan

IMAGE = parse_image_config(json.dumps({"os": "linux", "config": {"Cmd": ["sleep", "60"], "Env": ["A=1"]}}))
ID1, ID2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def config(toml: str, name: str) -> bytes:
    spec = parse_hp_file(toml).containers[name]
    return encode_config(compile_container(name, spec, ImageFacts(IMAGE)))


def desired(name: str, extra: str = "", image_id: str = ID1) -> Desired:
    return Desired("localhost/app:1", image_id, config(f'[containers.{name}]\nimage = "localhost/app:1"\n{extra}', name))


def current(name: str, extra: str = "", image_id: str = ID1, status: str = "running", exit_code: int | None = None,
            phase: str = "ready") -> Current:
    d = desired(name, extra, image_id)
    return Current(d.image, d.image_id, d.config_json, status, exit_code, phase)


def once(name: str) -> Desired:
    d = desired(name)
    return Desired(d.image, d.image_id, d.config_json, must_run=False)


SCENARIOS = {
    "create": ({"web": desired("web")}, {}),
    "no-change": ({"web": desired("web")}, {"web": current("web")}),
    "destroy": ({}, {"old": current("old")}),
    "replace-config": ({"web": desired("web", 'memory = "128m"\nenv = { A = "2" }')},
                       {"web": current("web", 'memory = "64m"')}),
    "replace-image": ({"web": desired("web", image_id=ID2)}, {"web": current("web")}),
    "drift": ({"web": desired("web")}, {"web": current("web", status="stopped")}),
    "create-with-network": ({"web": msgspec.structs.replace(
        desired("web"), network="network hp (10.10.0.0/24), ports 127.0.0.1:8080:80/tcp")}, {}),
    "replace-network": ({"web": msgspec.structs.replace(desired("web"), network_json=b'{"mode":"bridge","ports":[1]}')},
                        {"web": msgspec.structs.replace(current("web"), network_json=b'{"mode":"bridge","ports":[2]}')}),
    "drift-killed": ({"web": desired("web")}, {"web": current("web", status="stopped", exit_code=137)}),
    "drift-removed-from-crun": ({"web": desired("web")}, {"web": current("web", status="missing")}),
    "interrupted-create": ({"web": desired("web")}, {"web": current("web", status="missing", phase="creating")}),
    "interrupted-remove": ({}, {"old": current("old", status="stopped", phase="removing")}),
    "ended-by-itself": ({"job": once("job")}, {"job": current("job", status="stopped", exit_code=0)}),
    "config-json-lost": ({"web": desired("web")}, {"web": Current("localhost/app:1", ID1, b"", "running")}),
    "mixed": ({"a": desired("a"), "b": desired("b", "cpus = 1.0"), "c": desired("c")},
              {"b": current("b"), "c": current("c", status="stopped"), "z": current("z")}),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_plan(scenario: str, snapshot) -> None:
    want, have = SCENARIOS[scenario]
    assert render_plan(plan(want, have)) == snapshot


@pytest.mark.parametrize("scenario, counts", [
    ("create", (1, 0, 0)), ("no-change", (0, 0, 0)), ("destroy", (0, 0, 1)), ("replace-config", (0, 1, 0)),
    ("replace-image", (0, 1, 0)), ("drift", (0, 0, 0)), ("mixed", (1, 1, 1)),
    ("create-with-network", (1, 0, 0)), ("replace-network", (0, 1, 0)), ("drift-killed", (0, 0, 0)), ("drift-removed-from-crun", (0, 0, 0)), ("interrupted-create", (0, 1, 0)),
    ("interrupted-remove", (0, 0, 1)), ("ended-by-itself", (0, 0, 0)), ("config-json-lost", (0, 1, 0)),
])
def test_counts_and_json_come_from_one_value(scenario: str, counts) -> None:
    p = plan(*SCENARIOS[scenario])
    assert (p.to_create, p.to_replace, p.to_destroy) == counts
    as_json = json.loads(msgspec.json.encode(p))
    assert as_json["format_version"] == "1.0"
    assert [c["name"] for c in as_json["changes"]] == [c.name for c in p.changes]
    summary = render_plan(p).splitlines()[-1]
    assert summary == ("No changes. The host matches the file." if scenario in ("no-change", "ended-by-itself") else
                       f"Plan: {counts[0]} to create, {counts[1]} to replace, {counts[2]} to destroy.")


def test_order_is_destroy_replace_restore_create() -> None:
    p = plan(*SCENARIOS["mixed"])
    assert [(c.action, c.name) for c in p.changes] == [
        ("destroy", "z"), ("replace", "b"), ("restore", "c"), ("create", "a")]


def test_changed_fields_name_the_paths() -> None:
    want, have = SCENARIOS["replace-config"]
    assert changed_fields(have["web"].config_json, want["web"].config_json) == (
        "linux.resources.memory.limit", "process.env")


def test_plan_is_deterministic() -> None:
    want, have = SCENARIOS["mixed"]
    reordered_want = dict(reversed(list(want.items())))
    assert msgspec.json.encode(plan(want, have)) == msgspec.json.encode(plan(reordered_want, have))


# ---- properties ----------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from compiler.errors import StalePlan  # noqa: E402
from compiler.saved_plan import Fingerprint, open_saved, seal  # noqa: E402

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
VARIANTS = {
    "same": desired("x"), "memory": desired("x", 'memory = "64m"'), "image": desired("x", image_id=ID2),
}
STATES = st.tuples(st.sampled_from(sorted(VARIANTS)), st.sampled_from(["running", "stopped", "missing", "created"]),
                   st.sampled_from(["creating", "ready", "removing"]), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, st.sampled_from(sorted(VARIANTS))), st.dictionaries(NAMES, STATES))
def test_plan_covers_every_name_once_whatever_the_order(want_spec, have_spec) -> None:
    want = {n: VARIANTS[v] for n, v in want_spec.items()}
    have = {n: Current(VARIANTS[v].image, VARIANTS[v].image_id, VARIANTS[v].config_json, status, None, phase)
            for n, (v, status, phase, _) in have_spec.items()}
    p = plan(want, have)
    assert sorted(c.name for c in p.changes) == sorted(set(want) | set(have))
    for c in p.changes:
        assert (c.action == "create") == (c.name not in have)
        assert (c.action == "destroy") == (c.name not in want)
    assert (p.to_create, p.to_replace, p.to_destroy, p.to_restore) == tuple(
        sum(c.action == a for c in p.changes) for a in ("create", "replace", "destroy", "restore"))
    assert [ORDER_INDEX[c.action] for c in p.changes] == sorted(ORDER_INDEX[c.action] for c in p.changes)
    shuffled = plan(dict(reversed(list(want.items()))), dict(reversed(list(have.items()))))
    assert msgspec.json.encode(shuffled) == msgspec.json.encode(p)


ORDER_INDEX = {"destroy": 0, "replace": 1, "restore": 2, "create": 3, "no-op": 4}
SAVED = seal(Fingerprint("0.1.0", "/srv/hp.toml", "sha256:" + "1" * 64, "/var/lib/hp", 3, {"localhost/app:1": ID1}),
             plan(*SCENARIOS["mixed"]))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAVED) - 1), st.integers(0, 255))
def test_any_edit_of_a_saved_plan_is_refused_or_changes_nothing(position: int, byte: int) -> None:
    edited = SAVED[:position] + bytes([byte]) + SAVED[position + 1:]
    try:
        opened = open_saved(edited, "p")
    except StalePlan as e:
        assert str(e).startswith("p: ") and "\n" not in str(e)
        return
    original = open_saved(SAVED, "p")
    assert (opened.fingerprint, opened.plan) == (original.fingerprint, original.plan)


def protected(d, flag: bool = True):
    return msgspec.structs.replace(d, prevent_destroy=flag)


@pytest.mark.parametrize("want, have, destroy, words", [
    ({"web": protected(desired("web", image_id=ID2))}, {"web": protected(current("web"))}, False,
     ("replace web", "set prevent_destroy = false and hp apply that first")),
    ({"web": protected(desired("web", 'memory = "64m"'))}, {"web": current("web")}, False, ("replace web",)),
    ({}, {"web": protected(current("web"))}, False, ("destroy web (no longer in the file)", "put it back")),
    ({}, {"web": protected(current("web"))}, True, ("destroy web (hp destroy", "then hp destroy")),
], ids=["replace", "replace-newly-protected", "removed-from-file", "hp-destroy"])
def test_a_protected_container_fails_the_plan_naming_the_field(want, have, destroy, words) -> None:
    with pytest.raises(HpError) as e:
        plan(want, have, destroy=destroy)
    assert e.value.where == "containers.web.prevent_destroy" and e.value.source == "spec"
    assert "\n" not in str(e.value) and all(w in e.value.problem for w in words), str(e.value)


def test_the_file_unprotects_before_a_replace_and_the_record_before_a_destroy() -> None:
    # Terraform's way: remove the flag (the replace's own file says so; a destroy needs the record updated first)
    assert plan({"web": desired("web", image_id=ID2)}, {"web": protected(current("web"))}).to_replace == 1
    assert plan({}, {"web": current("web")}, destroy=True).to_destroy == 1
    p = plan({"web": desired("web")}, {"web": protected(current("web"))})
    assert [(c.action, c.reasons) for c in p.changes] == [("update", ("prevent_destroy: true -> false",))]
    assert (p.to_update, p.has_changes) == (1, True)
    assert render_plan(p).splitlines()[-1] == "Plan: 0 to create, 0 to replace, 0 to destroy, 1 to update (hp's record only)."


def test_a_half_made_or_half_removed_protected_container_is_finished() -> None:
    assert plan({"web": protected(desired("web"))},
                {"web": protected(current("web", status="missing", phase="creating"))}).to_replace == 1
    assert plan({}, {"old": protected(current("old", status="stopped", phase="removing"))}).to_destroy == 1


def test_settings_changes_are_updates_or_ride_along_a_restore() -> None:
    want = {"web": msgspec.structs.replace(desired("web"), stop_timeout=1)}
    update = plan(want, {"web": current("web")}).changes[0]
    assert (update.action, update.reasons, update.changed_fields) == ("update", ("stop_timeout: 10 -> 1",),
                                                                     ("stop_timeout",))
    restore = plan(want, {"web": current("web", status="stopped")}).changes[0]
    assert restore.action == "restore" and "stop_timeout: 10 -> 1" in restore.reasons


def test_a_running_container_s_replace_or_destroy_says_how_it_is_stopped() -> None:
    have = msgspec.structs.replace(current("web"), stop_signal=10, stop_timeout=1)
    stop = "stopped first: SIGUSR1, then SIGKILL after 1 s"
    assert plan({"web": desired("web", image_id=ID2)}, {"web": have}).changes[0].reasons[-1] == stop
    assert plan({}, {"web": have}).changes[0].reasons == ("no longer in the file", stop)
    stopped = msgspec.structs.replace(have, status="stopped")
    assert plan({}, {"web": stopped}).changes[0].reasons == ("no longer in the file",)
    killed = msgspec.structs.replace(have, stop_signal=9)
    assert plan({}, {"web": killed}).changes[0].reasons[-1] == "stopped first: SIGKILL, at once"
    no_wait = msgspec.structs.replace(have, stop_timeout=0)
    assert plan({}, {"web": no_wait}).changes[0].reasons[-1] == "stopped first: SIGUSR1, then SIGKILL at once"
