"""compiler.plan: the diff between what the file wants and what hp made, rendered for people
(syrupy snapshots in tests/__snapshots__/) and as JSON from the same value."""

from __future__ import annotations

import json

import msgspec
import pytest

from compiler import ImageFacts, compile_container, encode_config, parse_hp_file, parse_image_config
from compiler.errors import HpError
from compiler.plan import Current, Desired, changed_fields, plan, render_plan

from .host_facts import TEST_HOST

IMAGE = parse_image_config(json.dumps({"os": "linux", "config": {"Cmd": ["sleep", "60"], "Env": ["A=1"]}}))
ID1, ID2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def config(toml: str, name: str) -> bytes:
    spec = parse_hp_file(toml).containers[name]
    return encode_config(compile_container(name, spec, ImageFacts(IMAGE), host=TEST_HOST))


def desired(name: str, extra: str = "", image_id: str = ID1) -> Desired:
    text = f'[containers.{name}]\nimage = "localhost/app:1"\n{extra}'
    return Desired("localhost/app:1", image_id, config(text, name))


def current(
    name: str,
    extra: str = "",
    image_id: str = ID1,
    status: str = "running",
    exit_code: int | None = None,
    phase: str = "ready",
) -> Current:
    d = desired(name, extra, image_id)
    return Current(d.image, d.image_id, d.config_json, status, exit_code, phase)


# the values are what must never show: *-pass, *-api, *-url (by sensitive_env), never the plain ones
SECRETS = (
    'env = {{ POSTGRES_PASSWORD = "{password}", api_key = "{api}", DB_URL = "pg://u:{password}@db", '
    'PLAIN = "shown" }}\n'
)


def once(name: str) -> Desired:
    d = desired(name)
    return Desired(d.image, d.image_id, d.config_json, must_run=False)


SCENARIOS = {
    "create": ({"web": desired("web")}, {}),
    "no-change": ({"web": desired("web")}, {"web": current("web")}),
    "destroy": ({}, {"old": current("old")}),
    "replace-config": (
        {"web": desired("web", 'memory = "128m"\nenv = { A = "2" }')},
        {"web": current("web", 'memory = "64m"')},
    ),
    "replace-image": ({"web": desired("web", image_id=ID2)}, {"web": current("web")}),
    "drift": ({"web": desired("web")}, {"web": current("web", status="stopped")}),
    "create-with-network": (
        {
            "web": msgspec.structs.replace(
                desired("web"), network="network hp (10.10.0.0/24), ports 127.0.0.1:8080:80/tcp"
            )
        },
        {},
    ),
    "replace-network": (
        {"web": msgspec.structs.replace(desired("web"), network_json=b'{"mode":"bridge","ports":[1]}')},
        {"web": msgspec.structs.replace(current("web"), network_json=b'{"mode":"bridge","ports":[2]}')},
    ),
    "drift-killed": ({"web": desired("web")}, {"web": current("web", status="stopped", exit_code=137)}),
    "drift-removed-from-crun": ({"web": desired("web")}, {"web": current("web", status="missing")}),
    "interrupted-create": ({"web": desired("web")}, {"web": current("web", status="missing", phase="creating")}),
    "interrupted-remove": ({}, {"old": current("old", status="stopped", phase="removing")}),
    "ended-by-itself": ({"job": once("job")}, {"job": current("job", status="stopped", exit_code=0)}),
    "config-json-lost": ({"web": desired("web")}, {"web": Current("localhost/app:1", ID1, b"", "running")}),
    "mixed": (
        {"a": desired("a"), "b": desired("b", "cpus = 1.0"), "c": desired("c")},
        {"b": current("b"), "c": current("c", status="stopped"), "z": current("z")},
    ),
    "stopped-by-hp-stop": (
        {"web": desired("web")},
        {"web": msgspec.structs.replace(current("web", status="stopped", exit_code=0), stopped_by_hp=True)},
    ),
    "replace-sensitive-env": (
        {
            "db": msgspec.structs.replace(
                desired("db", SECRETS.format(password="n3w-pass", api="n3w-api") + 'memory = "64m"'),
                sensitive_env=("DB_URL",),
            )
        },
        {"db": current("db", SECRETS.format(password="0ld-pass", api="0ld-api"))},
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_plan(scenario: str, snapshot) -> None:
    want, have = SCENARIOS[scenario]
    assert render_plan(plan(want, have)) == snapshot


@pytest.mark.parametrize(
    "scenario, counts",
    [  # create, replace, restore, destroy
        ("create", (1, 0, 0, 0)),
        ("no-change", (0, 0, 0, 0)),
        ("destroy", (0, 0, 0, 1)),
        ("replace-config", (0, 1, 0, 0)),
        ("replace-image", (0, 1, 0, 0)),
        ("drift", (0, 0, 1, 0)),
        ("mixed", (1, 1, 1, 1)),
        ("create-with-network", (1, 0, 0, 0)),
        ("replace-network", (0, 1, 0, 0)),
        ("drift-killed", (0, 0, 1, 0)),
        ("drift-removed-from-crun", (0, 0, 1, 0)),
        ("interrupted-create", (0, 1, 0, 0)),
        ("interrupted-remove", (0, 0, 0, 1)),
        ("ended-by-itself", (0, 0, 0, 0)),
        ("config-json-lost", (0, 1, 0, 0)),
        ("stopped-by-hp-stop", (0, 0, 1, 0)),
        ("replace-sensitive-env", (0, 1, 0, 0)),
    ],
)
def test_counts_and_json_come_from_one_value(scenario: str, counts) -> None:
    p = plan(*SCENARIOS[scenario])
    assert (p.to_create, p.to_replace, p.to_restore, p.to_destroy) == counts
    as_json = json.loads(msgspec.json.encode(p))
    assert as_json["format_version"] == "1.0"
    assert [c["name"] for c in as_json["changes"]] == [c.name for c in p.changes]
    summary = render_plan(p).splitlines()[-1]
    assert summary == (
        "No changes. The host matches the file."
        if scenario in ("no-change", "ended-by-itself")
        else f"Plan: {counts[0]} to create, {counts[1]} to replace, {counts[2]} to restore, {counts[3]} to destroy."
    )


def test_order_is_destroy_replace_restore_create() -> None:
    p = plan(*SCENARIOS["mixed"])
    assert [(c.action, c.name) for c in p.changes] == [
        ("destroy", "z"),
        ("replace", "b"),
        ("restore", "c"),
        ("create", "a"),
    ]


def test_changed_fields_name_the_paths() -> None:
    want, have = SCENARIOS["replace-config"]
    assert changed_fields(have["web"].config_json, want["web"].config_json) == (
        "linux.resources.memory.limit",
        "process.env",
    )


def test_plan_is_deterministic() -> None:
    want, have = SCENARIOS["mixed"]
    reordered_want = dict(reversed(list(want.items())))
    assert msgspec.json.encode(plan(want, have)) == msgspec.json.encode(plan(reordered_want, have))


# ---- properties ----------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from compiler.errors import StalePlan  # noqa: E402
from compiler.saved_plan import Fingerprint, open_saved, seal  # noqa: E402

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
VARIANTS = {
    "same": desired("x"),
    "memory": desired("x", 'memory = "64m"'),
    "image": desired("x", image_id=ID2),
}
STATES = st.tuples(
    st.sampled_from(sorted(VARIANTS)),
    st.sampled_from(["running", "stopped", "missing", "created"]),
    st.sampled_from(["creating", "ready", "removing"]),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, st.sampled_from(sorted(VARIANTS))), st.dictionaries(NAMES, STATES))
def test_plan_covers_every_name_once_whatever_the_order(want_spec, have_spec) -> None:
    want = {n: VARIANTS[v] for n, v in want_spec.items()}
    have = {
        n: Current(VARIANTS[v].image, VARIANTS[v].image_id, VARIANTS[v].config_json, status, None, phase)
        for n, (v, status, phase, _) in have_spec.items()
    }
    p = plan(want, have)
    assert sorted(c.name for c in p.changes) == sorted(set(want) | set(have))
    for c in p.changes:
        assert (c.action == "create") == (c.name not in have)
        assert (c.action == "destroy") == (c.name not in want)
    assert (p.to_create, p.to_replace, p.to_destroy, p.to_restore) == tuple(
        sum(c.action == a for c in p.changes) for a in ("create", "replace", "destroy", "restore")
    )
    assert [ORDER_INDEX[c.action] for c in p.changes] == sorted(ORDER_INDEX[c.action] for c in p.changes)
    shuffled = plan(dict(reversed(list(want.items()))), dict(reversed(list(have.items()))))
    assert msgspec.json.encode(shuffled) == msgspec.json.encode(p)


ORDER_INDEX = {"destroy": 0, "replace": 1, "restore": 2, "create": 3, "no-op": 4}
SAVED = seal(
    Fingerprint("0.1.0", "/srv/hp.toml", "sha256:" + "1" * 64, "/var/lib/hp", 3, {"localhost/app:1": ID1}),
    plan(*SCENARIOS["mixed"]),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAVED) - 1), st.integers(0, 255))
def test_any_edit_of_a_saved_plan_is_refused_or_changes_nothing(position: int, byte: int) -> None:
    edited = SAVED[:position] + bytes([byte]) + SAVED[position + 1 :]
    try:
        opened = open_saved(edited, "p")
    except StalePlan as e:
        assert str(e).startswith("p: ") and "\n" not in str(e)
        return
    original = open_saved(SAVED, "p")
    assert (opened.fingerprint, opened.plan) == (original.fingerprint, original.plan)


def protected(d, flag: bool = True):
    return msgspec.structs.replace(d, prevent_destroy=flag)


@pytest.mark.parametrize(
    "want, have, destroy, words",
    [
        (
            {"web": protected(desired("web", image_id=ID2))},
            {"web": protected(current("web"))},
            False,
            ("replace web", "set prevent_destroy = false and hp apply that first"),
        ),
        ({"web": protected(desired("web", 'memory = "64m"'))}, {"web": current("web")}, False, ("replace web",)),
        ({}, {"web": protected(current("web"))}, False, ("destroy web (no longer in the file)", "put it back")),
        ({}, {"web": protected(current("web"))}, True, ("destroy web (hp destroy", "then hp destroy")),
    ],
    ids=["replace", "replace-newly-protected", "removed-from-file", "hp-destroy"],
)
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
    assert render_plan(p).splitlines()[-1] == (
        "Plan: 0 to create, 0 to replace, 0 to restore, 0 to destroy, 1 to update (hp's record only)."
    )


def test_a_half_made_or_half_removed_protected_container_is_finished() -> None:
    assert (
        plan(
            {"web": protected(desired("web"))}, {"web": protected(current("web", status="missing", phase="creating"))}
        ).to_replace
        == 1
    )
    assert plan({}, {"old": protected(current("old", status="stopped", phase="removing"))}).to_destroy == 1


def test_settings_changes_are_updates_or_ride_along_a_restore() -> None:
    want = {"web": msgspec.structs.replace(desired("web"), stop_timeout=1)}
    update = plan(want, {"web": current("web")}).changes[0]
    assert (update.action, update.reasons, update.changed_fields) == (
        "update",
        ("stop_timeout: 10 -> 1",),
        ("stop_timeout",),
    )
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


# ---- what plans read like: restores counted, hp stop named, env values masked (issue 12) ----------

from compiler.masking import CHANGED_MASK, MASK, is_sensitive, masked_configs, masked_env  # noqa: E402


def test_a_container_hp_stopped_is_a_restore_but_not_drift() -> None:
    text = render_plan(plan(*SCENARIOS["stopped-by-hp-stop"]))
    assert "- stopped by hp stop: will start it again" in text and "outside hp" not in text
    assert "Drift" not in text and text.endswith("Plan: 0 to create, 0 to replace, 1 to restore, 0 to destroy.\n")
    by_hp = msgspec.structs.replace(current("a", status="stopped", exit_code=0), stopped_by_hp=True)
    mixed = plan({"a": desired("a"), "b": desired("b")}, {"a": by_hp, "b": current("b", status="stopped")})
    assert "Drift: 1 changed outside hp, to be restored." in render_plan(mixed) and mixed.to_restore == 2


@pytest.mark.parametrize(
    "name, listed, sensitive",
    [
        ("POSTGRES_PASSWORD", (), True),
        ("password", (), True),
        ("MyPassWord2", (), True),
        ("AWS_SECRET_ACCESS_KEY", (), True),
        ("GITHUB_TOKEN", (), True),
        ("api_key", (), True),
        ("KEYCLOAK_URL", (), True),  # a name containing KEY: over-masking is the safe side
        ("PATH", (), False),
        ("PASS", (), False),
        ("PWD", (), False),
        ("HOME", (), False),
        ("DB_URL", ("DB_URL",), True),
        ("db_url", ("DB_URL",), False),  # sensitive_env names exactly, case and all
        ("DB_URL", ("DB",), False),
    ],
)
def test_which_env_names_are_sensitive(name: str, listed: tuple[str, ...], sensitive: bool) -> None:
    assert is_sensitive(name, listed) is sensitive


@pytest.mark.parametrize(
    "env, listed, masked",
    [
        (["A=1", "POSTGRES_PASSWORD=s3cret"], (), ["A=1", f"POSTGRES_PASSWORD={MASK}"]),
        (["DSN=pg://u:s3cret@db", "X_TOKEN="], ("DSN",), [f"DSN={MASK}", f"X_TOKEN={MASK}"]),
        # only names decide: the secret inside another variable's value is shown, unless that name is listed
        (["PASSWORD=s3cret", "COPY=s3cret"], (), [f"PASSWORD={MASK}", "COPY=s3cret"]),
        (["SECRET"], (), ["SECRET"]),  # no '=': no value to hide
        (["K=a=b", "KEY=a=b"], (), ["K=a=b", f"KEY={MASK}"]),
    ],
)
def test_masked_env(env, listed, masked) -> None:
    assert masked_env(env, listed) == masked


def test_masked_configs_keep_the_shape_and_show_that_a_hidden_value_changes() -> None:
    old = desired("web", 'env = { PASSWORD = "0ld-secret", PLAIN = "p" }').config_json
    new = desired("web", 'env = { PASSWORD = "n3w-secret", PLAIN = "p" }').config_json
    plain = desired("web").config_json
    assert masked_configs(plain, plain) == (plain, plain)  # nothing sensitive: the same bytes config.json has
    shown_old, shown_new = masked_configs(old, new)
    assert b"0ld-secret" not in shown_old + shown_new and b"n3w-secret" not in shown_old + shown_new
    assert f'"PASSWORD={MASK}"'.encode() in shown_old and f'"PASSWORD={CHANGED_MASK}"'.encode() in shown_new
    assert masked_configs(old, old) == (shown_old, shown_old)  # unchanged: the same mask on both sides


def test_a_replace_never_shows_a_sensitive_value_in_text_json_or_a_saved_plan() -> None:
    p = plan(*SCENARIOS["replace-sensitive-env"])
    fingerprint = Fingerprint("0.1.0", "/srv/hp.toml", "sha256:" + "1" * 64, "/var/lib/hp", 3, {})
    shown = {"text": render_plan(p), "json": msgspec.json.encode(p).decode(), "saved": seal(fingerprint, p).decode()}
    for kind, text in shown.items():
        for secret in ("0ld-pass", "n3w-pass", "0ld-api", "n3w-api"):
            assert secret not in text, (kind, secret)
    diff = p.changes[0].diff
    assert f'-      "POSTGRES_PASSWORD={MASK}",' in diff.splitlines()
    assert f'+      "POSTGRES_PASSWORD={CHANGED_MASK}",' in diff.splitlines() and f"api_key={CHANGED_MASK}" in diff
    assert f"DB_URL={CHANGED_MASK}" in diff and "process.env" in p.changes[0].changed_fields
    assert open_saved(seal(fingerprint, p), "p").plan == p
