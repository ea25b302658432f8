"""Plans that read right (issue 12, item 5), with the real hp: a secret env value never leaves hp
through a plan (text, --json, a saved plan, hp show, hp apply's output), a container hp stop stopped
is a restore but not drift, and `hp ps --json` names the network.

network = "none" but for the network test, which has its own [networks.X] on a free subnet."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from compiler.layout import Layout

from .hprun import hp, ps, write_file
from .test_hp_network import free_subnet, links, network_toml

pytestmark = pytest.mark.integration


def secret_table(name: str, image: str, password: str, dsn_password: str) -> str:
    """A container whose POSTGRES_PASSWORD is hidden by its name, DSN by sensitive_env."""
    return (
        f'[containers.{name}]\nimage = "{image}"\nnetwork = "none"\nsensitive_env = ["DSN"]\n'
        f'env = {{ POSTGRES_PASSWORD = "{password}", DSN = "pg://u:{dsn_password}@db", PLAIN = "plain-{name}" }}\n'
    )


def test_a_password_never_appears_in_a_plan_its_json_a_saved_plan_or_apply(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    db = f"db-{s}"
    old, new = f"0ld-{s}-pw", f"n3w-{s}-pw"  # unique: found only if hp wrote it
    file = write_file(tmp_path, registry, secret_table(db, test_images["sleeper"], old, old))
    saved = tmp_path / "change.plan"
    try:
        created = hp("apply", str(file), "--yes", state=state)
        assert created.returncode == 0, created.stderr
        assert old not in created.stdout + created.stderr

        # a replace that changes both hidden values
        write_file(tmp_path, registry, secret_table(db, test_images["sleeper"], new, new))
        text = hp("plan", str(file), state=state, check=True).stdout
        as_json = hp("plan", str(file), "--json", state=state, check=True).stdout
        out = hp("plan", str(file), "--out", str(saved), state=state, check=True)
        shown = hp("show", str(saved), state=state, check=True).stdout
        shown_json = hp("show", str(saved), "--json", state=state, check=True).stdout
        outputs = {
            "plan": text,
            "plan --json": as_json,
            "plan --out": out.stdout + out.stderr,
            "saved plan": saved.read_text(),
            "show": shown,
            "show --json": shown_json,
        }
        for what, output in outputs.items():
            assert old not in output and new not in output, what
        change = json.loads(as_json)["changes"][0]
        assert (change["action"], change["changed_fields"]) == ("replace", ["process.env"])
        assert '-      "POSTGRES_PASSWORD=(sensitive value)",' in text
        assert '+      "POSTGRES_PASSWORD=(sensitive value, changed)",' in text
        assert '+      "DSN=(sensitive value, changed)",' in text
        assert f"PLAIN=plain-{db}" in text  # only sensitive names are hidden

        # the saved plan is carried out, and the container gets the real value
        applied = hp("apply", str(saved), state=state)
        assert applied.returncode == 0, applied.stderr
        assert old not in applied.stdout + applied.stderr and new not in applied.stdout + applied.stderr
        env = hp("exec", db, "--", "env", state=state, check=True).stdout.splitlines()
        assert f"POSTGRES_PASSWORD={new}" in env and f"DSN=pg://u:{new}@db" in env
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr


def test_a_container_hp_stop_stopped_is_counted_as_a_restore_not_drift(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    web = f"web-{s}"
    file = write_file(tmp_path, registry, f'[containers.{web}]\nimage = "{test_images["sleeper"]}"\nnetwork = "none"\n')
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert hp("stop", web, "--time", "1", state=state).returncode == 0
        text = hp("plan", str(file), state=state, check=True).stdout
        assert f"  ~ {web}  restore" in text and "- stopped by hp stop: will start it again" in text
        assert "outside hp" not in text and "Drift" not in text
        assert text.endswith("Plan: 0 to create, 0 to replace, 1 to restore, 0 to destroy.\n")
        assert json.loads(hp("plan", str(file), "--json", state=state, check=True).stdout)["to_restore"] == 1
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr


def test_ps_json_names_the_network(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    subnet, bridge = free_subnet(), f"hpt{s}"
    on_stack, alone = f"app-{s}", f"alone-{s}"
    image = test_images["sleeper"]
    file = write_file(
        tmp_path,
        registry,
        network_toml(f"stack{s}", subnet, bridge)
        + f"""
[containers.{on_stack}]
image = "{image}"
network = "stack{s}"

[containers.{alone}]
image = "{image}"
network = "none"
""",
    )
    try:
        applied = hp("apply", str(file), "--yes", state=state)
        assert applied.returncode == 0, applied.stderr
        rows = ps(state)
        assert (rows[on_stack]["network"], rows[on_stack]["network_mode"]) == (f"stack{s}", "bridge")
        assert (rows[alone]["network"], rows[alone]["network_mode"]) == ("none", "none")
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr
    assert bridge not in links()
    netns = Layout(str(state)).netns_dir
    assert not os.path.exists(netns) or os.listdir(netns) == []
