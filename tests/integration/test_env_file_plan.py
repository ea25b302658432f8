"""A container replaced because one of its env files changed: `hp plan` names the file (text and
--json), never its values, and the record of the new container keeps the file's new digest."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from .hprun import container_record, hp, leftovers, write_file

pytestmark = pytest.mark.integration


def test_a_replace_names_the_env_file_that_changed(tmp_path, state, registry, test_images) -> None:
    name = f"envf-{uuid.uuid4().hex[:6]}"
    env = tmp_path / "app.env"
    env.write_text("GREETING=hello\nDB_PASSWORD=old-secret-value\n")
    file = write_file(
        tmp_path, registry, f'[containers.{name}]\nimage = "{test_images["sleeper"]}"\nenv_file = ["app.env"]\n'
    )
    hp("apply", str(file), "--yes", state=state, check=True)
    digest = hashlib.sha256(env.read_bytes()).hexdigest()
    assert container_record(state, name)["env_files"] == [f"app.env sha256:{digest}"]

    env.write_text("GREETING=bye\nDB_PASSWORD=new-secret-value\n")
    shown = hp("plan", str(file), state=state, check=True).stdout
    assert f"-/+ {name}" in shown and "- env file app.env changed\n" in shown, shown
    as_json = hp("plan", str(file), "--json", state=state, check=True).stdout
    change = json.loads(as_json)["changes"][0]
    assert change["action"] == "replace" and "env file app.env changed" in change["reasons"]
    assert change["reasons"][0] == "config.json changed" and "process.env" in change["changed_fields"]
    for out in (shown, as_json):
        assert "secret-value" not in out

    hp("apply", str(file), "--yes", state=state, check=True)
    digest = hashlib.sha256(env.read_bytes()).hexdigest()
    assert container_record(state, name)["env_files"] == [f"app.env sha256:{digest}"]
    assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0
    hp("destroy", str(file), "--yes", state=state, check=True)
    assert leftovers(state, [name]) == []
