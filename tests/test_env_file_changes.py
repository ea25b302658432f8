"""A replace that an env file causes names the file: `env file PATH changed` (or added, removed), as a
changed seccomp profile says `seccomp profile PATH changed`. The record keeps each env file's path
as written and the sha256 of its text (compiler.env.env_file_identities); the plan compares them
(compiler.plan, compiler.env.changed_env_files). Never a value of the file."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from compiler import compile_config_json
from compiler.env import EnvFile, changed_env_files, env_file_identities
from compiler.plan import Current, Desired, plan, render_plan
from compiler.state import ContainerRecord, decode_record, encode_record

from .host_facts import TEST_HOST

IMAGE = '{"os": "linux", "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}}'
ID = "sha256:" + "1" * 64


class Side(msgspec.Struct, frozen=True):
    """One side of a plan: the container's env_file list and env (TOML), and the files' texts."""

    env_file: tuple[str, ...]
    texts: dict[str, str]
    extra: str = ""  # more TOML lines of the container's table


def compiled(side: Side) -> tuple[bytes, tuple[str, ...]]:
    """The container's config.json and its env files' identities, as planning makes them."""
    files = {path: EnvFile(path, text) for path, text in side.texts.items()}
    listed = ", ".join(msgspec.json.encode(path).decode() for path in side.env_file)  # TOML basic strings
    toml = f"[containers.app]\nimage = 'x'\nenv_file = [{listed}]\n{side.extra}\n"
    config = compile_config_json(toml, None, IMAGE, env_files=files, host=TEST_HOST)
    return config, env_file_identities(side.env_file, files)


def planned(before: Side, after: Side, *, recorded: bool = True):
    """The plan of `after` against a running container made from `before` (recorded=False: by an hp
    older than the record's env_files, which holds none)."""
    have_config, have_ids = compiled(before)
    want_config, want_ids = compiled(after)
    want = Desired("x", ID, want_config, env_files=want_ids)
    have = Current("x", ID, have_config, "running", env_files=have_ids if recorded else ())
    return plan({"app": want}, {"app": have})


def env_reasons(p) -> tuple[str, ...]:
    return tuple(r for r in p.changes[0].reasons if r.startswith("env file"))


A = "A=1\n"
A2 = "A=2\n"
A_COMMENTED = "# the same variables\nA=1\n"
B = "B=1\n"

# (name, recorded side, the file's side, action, the env-file reasons)
CASES = [
    ("a-value-changed", Side(("app.env",), {"app.env": A}), Side(("app.env",), {"app.env": A2}),
     "replace", ("env file app.env changed",)),
    ("unchanged", Side(("app.env",), {"app.env": A}), Side(("app.env",), {"app.env": A}), "no-op", ()),
    ("hp.toml-env-changed", Side(("app.env",), {"app.env": A}),
     Side(("app.env",), {"app.env": A}, "env = { C = '3' }"), "replace", ()),
    # the file's text changed but not what it sets: nothing to replace
    ("comment-only", Side(("app.env",), {"app.env": A}), Side(("app.env",), {"app.env": A_COMMENTED}), "no-op", ()),
    # ... and a replace for another reason does not blame it
    ("comment-only-and-command", Side(("app.env",), {"app.env": A}),
     Side(("app.env",), {"app.env": A_COMMENTED}, "command = ['true']"), "replace", ()),
    # the file changed, but env overrides what it changed: not why
    ("overridden", Side(("app.env",), {"app.env": A}, "env = { A = '9' }"),
     Side(("app.env",), {"app.env": A2}, "env = { A = '9' }\ncommand = ['true']"), "replace", ()),
    ("second-of-two", Side(("a.env", "b.env"), {"a.env": A, "b.env": B}),
     Side(("a.env", "b.env"), {"a.env": A, "b.env": "B=2\n"}), "replace", ("env file b.env changed",)),
    ("both-in-order", Side(("b.env", "a.env"), {"a.env": A, "b.env": B}),
     Side(("b.env", "a.env"), {"a.env": A2, "b.env": "B=2\n"}), "replace",
     ("env file b.env changed", "env file a.env changed")),
    ("added", Side(("a.env",), {"a.env": A}), Side(("a.env", "b.env"), {"a.env": A, "b.env": B}),
     "replace", ("env file b.env added",)),
    ("removed", Side(("a.env", "b.env"), {"a.env": A, "b.env": B}), Side(("a.env",), {"a.env": A}),
     "replace", ("env file b.env removed",)),
    ("the-last-removed", Side(("a.env",), {"a.env": A}), Side((), {}), "replace", ("env file a.env removed",)),
    ("replaced-by-another", Side(("a.env",), {"a.env": A}), Side(("b.env",), {"b.env": B}),
     "replace", ("env file b.env added", "env file a.env removed")),
    # a record with no env files cannot tell "none" from "older than the field": it says nothing
    ("the-first-added", Side((), {}), Side(("a.env",), {"a.env": A}), "replace", ()),
    ("listed-twice", Side(("a.env", "a.env"), {"a.env": A}), Side(("a.env", "a.env"), {"a.env": A2}),
     "replace", ("env file a.env changed",)),
    ("blanks-in-the-path", Side(("my app.env",), {"my app.env": A}), Side(("my app.env",), {"my app.env": A2}),
     "replace", ("env file my app.env changed",)),
    ("a-newline-in-the-path", Side(("a\n.env",), {"a\n.env": A}), Side(("a\n.env",), {"a\n.env": A2}),
     "replace", ('env file "a\\n.env" changed',)),
    ("absolute", Side(("/etc/hp/db.env",), {"/etc/hp/db.env": A}), Side(("/etc/hp/db.env",), {"/etc/hp/db.env": A2}),
     "replace", ("env file /etc/hp/db.env changed",)),
]  # fmt: skip


@pytest.mark.parametrize("name,before,after,action,reasons", CASES, ids=[c[0] for c in CASES])
def test_the_plan_names_the_env_file_that_changed(name, before, after, action, reasons) -> None:
    p = planned(before, after)
    assert p.changes[0].action == action
    assert env_reasons(p) == reasons
    if reasons:  # next to what it explains
        assert p.changes[0].reasons[0] == "config.json changed" and "process.env" in p.changes[0].changed_fields
        assert all(f"      - {r}" in render_plan(p) for r in reasons)
        assert msgspec.json.decode(msgspec.json.encode(p))["changes"][0]["reasons"] == list(p.changes[0].reasons)


def test_a_record_older_than_the_field_names_no_file() -> None:
    p = planned(Side(("app.env",), {"app.env": A}), Side(("app.env",), {"app.env": A2}), recorded=False)
    assert p.changes[0].action == "replace" and "config.json changed" in p.changes[0].reasons
    assert env_reasons(p) == ()


@pytest.mark.parametrize("variable", ["DB_PASSWORD", "DSN"])  # masked in the diff, or not: never in a reason
def test_a_reason_holds_the_path_never_a_value(variable) -> None:
    before = Side(("secret.env",), {"secret.env": f"{variable}=hunter2\n"})
    after = Side(("secret.env",), {"secret.env": f"{variable}=swordfish\n"})
    p = planned(before, after)
    assert env_reasons(p) == ("env file secret.env changed",)
    assert not any(value in reason for reason in p.changes[0].reasons for value in ("hunter2", "swordfish"))
    if variable == "DB_PASSWORD":  # nor anywhere in the plan
        assert b"hunter2" not in msgspec.json.encode(p) and "swordfish" not in render_plan(p)


def test_an_identity_is_the_path_as_written_and_the_sha256_of_the_text() -> None:
    text = "\ufeffA=1\r\nB=é\n"
    files = {"b.env": EnvFile("/srv/b.env", text), "a.env": EnvFile("/srv/a.env", "")}
    identities = env_file_identities(["b.env", "a.env", "b.env"], files)
    assert identities == (
        "b.env sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "a.env sha256:" + hashlib.sha256(b"").hexdigest(),
    )


@pytest.mark.parametrize(
    "before,after,changed",
    [
        ((), ("a sha256:1",), ()),
        ((), (), ()),
        (("a sha256:1",), ("a sha256:1",), ()),
        (("a sha256:1",), ("a sha256:2",), (("a", "changed"),)),
        (("a b sha256:1",), ("a b sha256:2",), (("a b", "changed"),)),
        (("a sha256:1",), (), (("a", "removed"),)),
        (
            ("a sha256:1", "b sha256:1"),
            ("b sha256:2", "c sha256:1"),
            (("b", "changed"), ("c", "added"), ("a", "removed")),
        ),
    ],
)
def test_changed_env_files(before, after, changed) -> None:
    assert changed_env_files(before, after) == changed


def test_a_record_keeps_the_identities_and_an_older_one_decodes_without_them() -> None:
    old = b'{"name": "web", "image": "x", "image_id": "sha256:1", "config_hash": "sha256:2", "seccomp_profile": ""}'
    assert decode_record(old).env_files == ()
    record = ContainerRecord("web", "x", "sha256:1", "sha256:2", env_files=("app.env sha256:" + "a" * 64,))
    assert decode_record(encode_record(record)) == record
