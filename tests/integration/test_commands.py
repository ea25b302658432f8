"""The everyday commands, for real (issue 12, item 4): hp exec -u/-e/-w/-i, hp restart, several
names (and --all) for stop/start/rm, env_file. Containers use network = "none": no bridge needed."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from .hprun import HP, hp, leftovers, ps, write_file

pytestmark = pytest.mark.integration


def exec_in(
    state, name: str, *words: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """hp exec with `stdin` as hp's input (hprun.hp gives /dev/null)."""
    return subprocess.run(
        [HP, "exec", "--state-dir", str(state), name, *words],
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_exec_options_do_what_they_say(tmp_path, state, registry, test_images) -> None:
    web = f"web-{uuid.uuid4().hex[:6]}"
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{web}]
image = "{test_images["sleeper"]}"
network = "none"
""",
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        # as the container runs: the image's user app (1000, groups 1000 and 2000), /srv/www, MODE=image
        assert exec_in(state, web, "id").stdout == "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n"

        # -u: names and numbers resolved in the image's passwd and group, HOME from passwd
        assert exec_in(state, web, "-u", "root", "--", "id").stdout == "uid=0(root) gid=0(root) groups=0(root)\n"
        assert exec_in(state, web, "--user=0:extra", "id").stdout == "uid=0(root) gid=2000(extra) groups=2000(extra)\n"
        assert exec_in(state, web, "-u", "root", "sh", "-c", "echo $HOME").stdout == "/root\n"
        # root gets the container's capabilities, app none (the container runs as app)
        caps = exec_in(state, web, "-u", "0", "grep", "CapEff", "/proc/self/status").stdout.split()
        assert caps[0] == "CapEff:" and int(caps[1], 16) != 0
        caps = exec_in(state, web, "grep", "CapEff", "/proc/self/status").stdout.split()
        assert int(caps[1], 16) == 0
        bad = exec_in(state, web, "-u", "nobody2", "id")
        assert (bad.returncode, bad.stdout, bad.stderr) == (
            1,
            "",
            'hp: error: -u: user "nobody2" not found in the image\'s /etc/passwd\n',
        )

        # -e: replaces in place or appends; -e NAME takes NAME from hp's environment, or is ignored
        env = exec_in(
            state,
            web,
            "-e",
            "MODE=cli",
            "-e",
            "A=1",
            "-e",
            "FROM_HP",
            "-e",
            "NOT_IN_HP",
            "--",
            "env",
            env={"FROM_HP": "hp's value"},
        ).stdout.splitlines()
        assert "MODE=cli" in env and "A=1" in env and "FROM_HP=hp's value" in env
        assert "MODE=image" not in env and not any(e.startswith("NOT_IN_HP") for e in env)

        # -w: an absolute directory; a relative one is one line naming the option, nothing run
        assert exec_in(state, web, "-w", "/tmp", "pwd").stdout == "/tmp\n"
        assert exec_in(state, web, "pwd").stdout == "/srv/www\n"
        bad = exec_in(state, web, "-w", "tmp", "touch", "/tmp/ran")
        assert (bad.returncode, bad.stderr) == (
            1,
            'hp: error: -w: directory "tmp" is not absolute (it must start with /)\n',
        )
        assert exec_in(state, web, "ls", "/tmp/ran").returncode != 0

        # -i: hp's stdin reaches the command; without it the command reads /dev/null
        assert exec_in(state, web, "-i", "cat", stdin="typed in\n").stdout == "typed in\n"
        assert exec_in(state, web, "-iu", "root", "--", "sh", "-c", "id -u; cat", stdin="x\n").stdout == "0\nx\n"
        assert exec_in(state, web, "cat", stdin="typed in\n").stdout == ""

        # the options before NAME too
        before = subprocess.run(
            [
                HP,
                "exec",
                "--state-dir",
                str(state),
                "-i",
                "-u",
                "root",
                "-e",
                "B=2",
                "-w",
                "/",
                web,
                "sh",
                "-c",
                "id -u; pwd; echo $B; cat",
            ],
            input="in\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert before.stdout == "0\n/\n2\nin\n", before.stderr
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [web]) == []


def test_restart_and_several_names(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    a, b, c = f"a-{s}", f"b-{s}", f"c-{s}"
    file = write_file(
        tmp_path,
        registry,
        "".join(
            f"""
[containers.{n}]
image = "{test_images["sleeper"]}"
network = "none"
stop_timeout = 1
"""
            for n in (a, b, c)
        ),
    )
    try:
        hp("apply", str(file), "--yes", state=state, check=True)
        before = ps(state)

        # restart: a new process of the same container, the others untouched
        hp("restart", a, state=state, check=True)
        after = ps(state)
        assert after[a]["status"] == "running" and after[a]["pid"] != before[a]["pid"]
        assert after[b]["pid"] == before[b]["pid"] and after[c]["pid"] == before[c]["pid"]

        # an unknown name among several: one line, nothing done
        bad = hp("stop", a, "nosuch", b, state=state)
        assert (bad.returncode, bad.stderr) == (1, "hp: error: nosuch: no such container\n")
        assert {n: r["status"] for n, r in ps(state).items()} == {a: "running", b: "running", c: "running"}

        # several names
        hp("stop", a, b, state=state, check=True)
        assert {n: r["status"] for n, r in ps(state).items()} == {a: "stopped", b: "stopped", c: "running"}
        # restart of a stopped one starts it; of a running one stops and starts it
        pid_c = ps(state)[c]["pid"]
        hp("restart", a, c, state=state, check=True)
        rows = ps(state)
        assert rows[a]["status"] == rows[c]["status"] == "running" and rows[c]["pid"] != pid_c
        hp("start", b, state=state, check=True)
        assert {r["status"] for r in ps(state).values()} == {"running"}

        # --all
        hp("stop", "--all", state=state, check=True)
        assert {r["status"] for r in ps(state).values()} == {"stopped"}
        hp("start", a, b, c, state=state, check=True)
        assert {r["status"] for r in ps(state).values()} == {"running"}
        usage = hp("stop", a, "--all", state=state)
        assert (usage.returncode, usage.stderr) == (1, "hp: error: hp stop: give one or more NAMEs, or --all\n")
        hp("rm", "--all", state=state, check=True)
        assert ps(state) == {}
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [a, b, c]) == []


def test_env_file_values_arrive_and_an_edit_plans_a_replace(tmp_path, state, registry, test_images) -> None:
    web = f"web-{uuid.uuid4().hex[:6]}"
    (tmp_path / "conf").mkdir()
    env_file = tmp_path / "conf" / "app.env"
    env_file.write_text("# app settings\nGREETING=hello world\nLEVEL=file\n\nMODE=from-file\n")
    (tmp_path / "override.env").write_text("LEVEL=override\n")
    file = write_file(
        tmp_path,
        registry,
        f"""
[containers.{web}]
image = "{test_images["sleeper"]}"
network = "none"
env_file = ["conf/app.env", "override.env"]
env = {{ MODE = "from-toml" }}
""",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        # relative to hp.toml's directory, whatever the current directory
        subprocess.run(
            [HP, "apply", str(file), "--yes", "--state-dir", str(state)],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        env = hp("exec", web, "--", "env", state=state, check=True).stdout.splitlines()
        assert "GREETING=hello world" in env and "LEVEL=override" in env and "MODE=from-toml" in env
        assert hp("plan", str(file), "--detailed-exitcode", state=state).returncode == 0

        # editing the file: the plan replaces the container, the diff shows the variable
        env_file.write_text("GREETING=bonjour\nLEVEL=file\nMODE=from-file\n")
        plan = hp("plan", str(file), "--detailed-exitcode", state=state)
        assert plan.returncode == 4, plan.stderr
        assert f"-/+ {web}" in plan.stdout and "changed: process.env" in plan.stdout
        assert '"GREETING=hello world"' in plan.stdout and '"GREETING=bonjour"' in plan.stdout
        hp("apply", str(file), "--yes", state=state, check=True)
        assert "GREETING=bonjour" in hp("exec", web, "--", "env", state=state, check=True).stdout.splitlines()
        # a saved plan made before an edit is refused (exit 3), nothing done
        saved = tmp_path / "saved.plan"
        hp("plan", str(file), "--out", str(saved), state=state, check=True)
        env_file.write_text("GREETING=hallo\nLEVEL=file\nMODE=from-file\n")
        stale = hp("apply", str(saved), state=state)
        assert stale.returncode == 3 and "run hp plan again" in stale.stderr, stale.stderr
        assert "GREETING=bonjour" in hp("exec", web, "--", "env", state=state, check=True).stdout.splitlines()

        # a bad line: one line naming file and line, nothing changed; a missing file likewise
        pid = ps(state)[web]["pid"]
        env_file.write_text("GREETING=bonjour\nSECRET_FROM_ENV\n")
        bad = hp("apply", str(file), "--yes", state=state, env={"SECRET_FROM_ENV": "x"})
        assert bad.returncode == 1 and bad.stderr.startswith(f"hp: error: {env_file}:2: no '='"), bad.stderr
        assert bad.stderr.count("\n") == 1
        env_file.unlink()
        bad = hp("apply", str(file), "--yes", state=state)
        assert (bad.returncode, bad.stderr) == (1, f"hp: error: {env_file}: cannot read: No such file or directory\n")
        assert ps(state)[web]["pid"] == pid
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [web]) == []
