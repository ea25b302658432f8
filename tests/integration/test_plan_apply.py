"""hp plan / apply / destroy / show against real podman, crun and a registry: plans that say
what will happen, applies that converge, saved plans refused once stale, applies killed with
SIGKILL at each step and finished by the next apply."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from compiler.layout import Layout
from compiler.network import DEFAULT_NETWORK

from .hprun import HP, crun_names, hp, leftovers, mounts_under, podman_image_mounts, ps, run_in_pty, write_file

pytestmark = pytest.mark.integration


def containers_toml(image: str, **containers: str) -> str:
    """[containers.NAME] tables of `image`, each with the extra TOML lines given."""
    return "".join(f'[containers.{name}]\nimage = "{image}"\n{extra}\n\n' for name, extra in containers.items())


def plan_json(file: Path, state: Path, *extra: str) -> dict:
    result = hp("plan", str(file), "--json", *extra, state=state, check=True)
    return json.loads(result.stdout)


def actions(file: Path, state: Path) -> dict[str, str]:
    return {c["name"]: c["action"] for c in plan_json(file, state)["changes"]}


def exec_env(state: Path, name: str) -> list[str]:
    return hp("exec", name, "--", "env", state=state, check=True).stdout.splitlines()


def crun(state: Path, *args: str) -> None:
    subprocess.run(["crun", "--root", Layout(str(state)).crun_root, *args], check=True, capture_output=True)


def test_plan_apply_converges_through_create_replace_destroy_and_drift(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    a, b, c = f"a-{s}", f"b-{s}", f"c-{s}"
    image = test_images["sleeper"]
    file = write_file(tmp_path, registry, containers_toml(image, **{a: "", b: 'env = { X = "1" }'}))

    first = hp("plan", str(file), "--detailed-exitcode", state=state)
    assert first.returncode == 4, first.stderr
    assert f"  + {a}  create" in first.stdout
    assert first.stdout.endswith("Plan: 2 to create, 0 to replace, 0 to restore, 0 to destroy.\n")
    as_json = plan_json(file, state)
    assert as_json["format_version"] == "1.0" and as_json["to_create"] == 2
    assert ps(state) == {}  # planning changed nothing

    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    assert {n: r["status"] for n, r in ps(state).items()} == {a: "running", b: "running"}
    unchanged = hp("plan", str(file), "--detailed-exitcode", state=state)
    assert unchanged.returncode == 0 and unchanged.stdout == "No changes. The host matches the file.\n"
    again = hp("apply", str(file), "--yes", state=state)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    pid_b = ps(state)[b]["pid"]

    # b's env changes, a leaves the file, c joins it
    file = write_file(tmp_path, registry, containers_toml(image, **{b: 'env = { X = "2" }', c: ""}))
    shown = hp("plan", str(file), state=state, check=True).stdout
    assert f"-/+ {b}" in shown and "changed: process.env" in shown and '-      "X=1",' in shown
    assert f"  - {a}" in shown and f"  + {c}" in shown
    assert shown.endswith("Plan: 1 to create, 1 to replace, 0 to restore, 1 to destroy.\n")
    order = [line.split()[1] for line in shown.splitlines() if line[:3] in ("  +", "-/+", "  -")]
    assert order == [a, b, c]  # destroys, replacements, creates
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    rows = ps(state)
    assert sorted(rows) == [b, c] and rows[b]["pid"] != pid_b
    assert "X=2" in exec_env(state, b)
    assert [m for m in leftovers(state, [a]) if a in m] == []

    # drift: one killed, one removed from crun behind hp's back
    crun(state, "kill", c, "KILL")
    crun(state, "delete", "--force", b)
    drift = hp("plan", str(file), state=state, check=True).stdout
    assert f"  ~ {b}" in drift and f"  ~ {c}" in drift
    assert drift.count("- stopped (exit status 137) outside hp: will start it again") == 2
    assert "Drift: 2 changed outside hp, to be restored." in drift
    assert drift.endswith("Plan: 0 to create, 0 to replace, 2 to restore, 0 to destroy.\n")
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    assert {n: r["status"] for n, r in ps(state).items()} == {b: "running", c: "running"}
    assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0

    # hp show: the state, by file
    shown_state = json.loads(hp("show", "--json", state=state, check=True).stdout)
    assert {r["name"]: (r["phase"], r["file"]) for r in shown_state} == {
        b: ("ready", str(file.resolve())),
        c: ("ready", str(file.resolve())),
    }

    destroy_plan = plan_json(file, state, "--destroy")
    assert destroy_plan["to_destroy"] == 2
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0
    assert leftovers(state, [a, b, c]) == []
    images = Layout(str(state)).images_dir
    assert not os.path.exists(images) or os.listdir(images) == []  # unused rootfs pruned


def test_another_files_container_is_never_touched(tmp_path, state, registry, test_images) -> None:
    name = f"mine-{uuid.uuid4().hex[:6]}"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = write_file(tmp_path / "one", registry, containers_toml(test_images["sleeper"], **{name: ""}))
    two = write_file(tmp_path / "two", registry, containers_toml(test_images["sleeper"], **{name: ""}))
    assert hp("apply", str(one), "--yes", state=state).returncode == 0
    clash = hp("plan", str(two), state=state)
    assert clash.returncode == 1
    assert clash.stderr == (
        f"hp: error: {two}: containers.{name}: a container named {name} already exists, managed by {one.resolve()}\n"
    )
    other = write_file(tmp_path / "two", registry, "")
    assert actions(other, state) == {}  # the other file plans nothing for it
    assert hp("destroy", str(one), "--yes", state=state).returncode == 0


def test_emit_writes_exactly_what_apply_runs(tmp_path, state, registry, test_images) -> None:
    name = f"emit-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, containers_toml(test_images["sleeper"], **{name: 'hostname = "box"'}))
    out = tmp_path / "review"
    assert hp("plan", str(file), "--emit", str(out), state=state).returncode == 0
    assert sorted(os.listdir(out / name)) == ["config.json", "hostname", "hosts", "resolv.conf"]
    assert (out / name / "hostname").read_text() == "box\n"
    assert hp("apply", str(file), "--yes", state=state).returncode == 0
    bundle = Path(Layout(str(state)).bundle(name))
    for f in ("config.json", "hostname", "resolv.conf"):
        assert (out / name / f).read_bytes() == (bundle / f).read_bytes(), f
    # /etc/hosts gains the container's own address, known only once CNI gave it one
    ip = ps(state)[name]["ip"]
    assert (bundle / "hosts").read_text() == (out / name / "hosts").read_text() + f"{ip}\t{name}\n"
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_saved_plan_is_carried_out_exactly(tmp_path, state, registry, test_images) -> None:
    name = f"saved-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, containers_toml(test_images["sleeper"], **{name: ""}))
    saved = tmp_path / "web.plan"
    made = hp("plan", str(file), "--out", str(saved), state=state)
    assert made.returncode == 0 and "hp apply" in made.stderr
    shown = hp("show", str(saved), state=state, check=True).stdout
    assert shown.startswith(f"Saved plan for {file.resolve()}\n") and f"  + {name}" in shown
    applied = hp("apply", str(saved), state=state)  # no --yes: a saved plan was already reviewed
    assert applied.returncode == 0, applied.stderr
    assert ps(state)[name]["status"] == "running"
    twice = hp("apply", str(saved), state=state)
    assert twice.returncode == 3 and twice.stderr.count("\n") == 1
    assert "the state changed since the plan was made" in twice.stderr
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def _podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout.strip()


STALE_CASES = ["file", "state", "drift", "image", "image-gone", "edited", "not-a-plan"]


@pytest.mark.parametrize("case", STALE_CASES)
def test_stale_or_edited_plan_is_refused_and_changes_nothing(case, tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    name, new = f"st-{s}", f"new-{s}"
    # a local tag of our own, so that re-pointing it (case "image") disturbs no other test
    _podman("pull", "--quiet", "--tls-verify=false", test_images["sleeper"])
    ref = f"localhost/hp-test-{s}/app:1"
    _podman("tag", test_images["sleeper"], ref)
    try:
        file = write_file(tmp_path, registry, containers_toml(ref, **{name: ""}))
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        file.write_text(file.read_text() + containers_toml(ref, **{new: ""}))
        saved = tmp_path / "p.plan"
        assert hp("plan", str(file), "--out", str(saved), state=state).returncode == 0
        expected = {
            "file": "changed since the plan was made",
            "state": "the state changed since the plan was made",
            "drift": f"for {name} the plan says no-op, planning now says restore",
            "image": f"image {ref} is now",
            "image-gone": "no longer in podman's store",
            "edited": "the plan file was edited",
            "not-a-plan": "not an hp plan file",
        }[case]
        if case == "file":
            file.write_text(file.read_text() + "# a comment is a change too\n")
        elif case == "state":
            assert hp("stop", name, state=state).returncode == 0
        elif case == "drift":
            crun(state, "kill", name, "KILL")
        elif case == "image":
            _podman("pull", "--quiet", "--tls-verify=false", test_images["exiter"])
            _podman("tag", test_images["exiter"], ref)
        elif case == "image-gone":
            _podman("untag", ref)
        elif case == "edited":
            saved.write_text(saved.read_text().replace('"create"', '"destroy"', 1))
        elif case == "not-a-plan":
            saved.write_text('{"format": "hp-plan/1", "plan": 1}')
        containers = Layout(str(state)).containers_dir
        before = (ps(state), sorted(os.listdir(containers)))
        refused = hp("apply", str(saved), state=state)
        assert refused.returncode == 3, refused.stderr
        assert refused.stderr.startswith(f"hp: error: {saved}: ") and refused.stderr.count("\n") == 1
        assert expected in refused.stderr
        assert "Traceback" not in refused.stderr
        after = (ps(state), sorted(os.listdir(containers)))
        assert {n: r["status"] for n, r in after[0].items()} == {n: r["status"] for n, r in before[0].items()}
        assert after[1] == before[1] and new not in after[0]
    finally:
        subprocess.run(["podman", "untag", ref], capture_output=True)
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_two_concurrent_applies_serialise(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    names = [f"cc{i}-{s}" for i in range(3)]
    file = write_file(tmp_path, registry, containers_toml(test_images["sleeper"], **{n: "" for n in names}))
    procs = [
        subprocess.Popen(
            [HP, "apply", str(file), "--yes", "--lock-timeout", "60", "--state-dir", str(state)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    summaries = sorted(err.strip().splitlines()[-1] for _, err in results)
    assert summaries == ["hp: Apply complete: 3 created, 0 replaced, 0 destroyed, 0 restored.", "hp: nothing to do"]
    assert {n: r["status"] for n, r in ps(state).items()} == {n: "running" for n in names}
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


CREATE_POINTS = [
    "after-pull",
    "image-referenced",
    "after-dir",
    "after-mount",
    "after-netns",
    "after-cni-add",
    "after-crun-create",
    "after-start",
]
REMOVE_POINTS = ["removing", "after-stop", "after-gone"]


@pytest.mark.parametrize("point", CREATE_POINTS + REMOVE_POINTS)
def test_apply_killed_at_any_point_is_finished_by_the_next(point, tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    keep, victim = f"keep-{s}", f"kill-{s}"
    image = test_images["stopsig"]
    if point == "after-pull":
        subprocess.run(["podman", "rmi", "--force", image], capture_output=True)
    if point in CREATE_POINTS:
        file = write_file(tmp_path, registry, containers_toml(image, **{victim: ""}))
    else:  # a replacement is killed while the old container is being removed
        file = write_file(tmp_path, registry, containers_toml(image, **{keep: "", victim: 'env = { V = "1" }'}))
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        file = write_file(tmp_path, registry, containers_toml(image, **{keep: "", victim: 'env = { V = "2" }'}))

    killed = hp("apply", str(file), "--yes", state=state, env={"HP_KILL_AT": point})
    assert killed.returncode == -9, (killed.returncode, killed.stderr)

    finished = hp("apply", str(file), "--yes", state=state)
    assert finished.returncode == 0, finished.stderr
    assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0
    expected = [victim] if point in CREATE_POINTS else [keep, victim]
    assert {n: r["status"] for n, r in ps(state).items()} == {n: "running" for n in expected}
    if point in REMOVE_POINTS:
        assert "V=2" in exec_env(state, victim)
    # nothing extra: one crun container and one overlay mount per container, no dot directories
    assert crun_names(state) == sorted(expected)
    where = Layout(str(state))
    assert sorted(mounts_under(state)) == sorted(
        [where.netns_dir] + [where.rootfs(n) for n in expected] + [where.netns(n) for n in expected]
    )
    # one CNI attachment and one IP reservation per container
    attachments = sorted(os.path.join(where.attachments_dir, f) for f in os.listdir(where.attachments_dir))
    assert attachments == sorted(where.attachment(n) for n in expected)
    reserved = [f for f in os.listdir(where.ipam_store(DEFAULT_NETWORK)) if f[0].isdigit()]
    assert len(reserved) == len(expected), reserved
    assert sorted(os.listdir(where.containers_dir)) == sorted(expected)
    assert [e for e in os.listdir(where.images_dir) if e.startswith(".")] == []
    image_ids = os.listdir(where.images_dir)
    assert not any(i in podman_image_mounts() for i in image_ids)

    assert hp("destroy", str(file), "--yes", state=state).returncode == 0
    assert leftovers(state, [keep, victim]) == []


def test_on_a_terminal_apply_asks_and_shows_progress(tmp_path, state, registry, test_images) -> None:
    name = f"tty-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, containers_toml(test_images["sleeper"], **{name: ""}))
    argv = [HP, "apply", str(file), "--state-dir", str(state)]
    code, out = run_in_pty(argv, b"n\n", b"Apply this plan?")
    assert code == 1 and b"nothing done" in out and ps(state) == {}
    assert b"planning" in out  # the spinner while hp plans
    code, out = run_in_pty(argv, b"y\n", b"Apply this plan?")
    assert code == 0, out
    assert f"  + {name}".encode() in out and b"Apply complete: 1 created" in out
    assert f"hp: {name}: created and started".encode() in out
    assert b"applying" in out and b"1/1" in out  # rich's progress bar: "applying ━━━ 1/1"
    assert ps(state)[name]["status"] == "running"
    assert hp("destroy", str(file), "--yes", state=state).returncode == 0


def test_two_state_dirs_may_use_the_same_container_name(tmp_path, state, registry, test_images) -> None:
    name = f"twin-{uuid.uuid4().hex[:6]}"
    other = tmp_path / "other-state"
    file = write_file(tmp_path, registry, containers_toml(test_images["sleeper"], **{name: 'network = "none"'}))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        second = hp("apply", str(file), "--yes", state=other)
        assert second.returncode == 0, second.stderr
        assert ps(state)[name]["status"] == ps(other)[name]["status"] == "running"
        assert ps(state)[name]["pid"] != ps(other)[name]["pid"]
    finally:
        hp("destroy", str(file), "--yes", state=other)
        for mount in reversed(mounts_under(other)):
            subprocess.run(["umount", "-l", mount], capture_output=True)
    assert leftovers(other, [name]) == []
