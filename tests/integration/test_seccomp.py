"""seccomp under the real hp and crun (issue 13 item 1): the filter hp compiles from the host's
containers-common profile is the one the container runs under. network = "none" throughout.

busybox has no program that calls add_key or keyctl (containers-common's profile allows keyctl
anyway), so the blocked call is swapon(2): the profile refuses it for everyone (EPERM), while
without a filter a process with CAP_SYS_ADMIN reaches the kernel, which refuses a file without a
swap signature (EINVAL) - on an overlay file that can never become swap, so nothing on the host
changes either way. A profile file of the test's own shows a chosen errno arriving."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from compiler.layout import layout

from .hprun import hp, leftovers, write_file

pytestmark = pytest.mark.integration

# an OCI LinuxSeccomp: everything allowed but sethostname, which fails with EAFNOSUPPORT (97)
ODD_ERRNO = 97
PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": ODD_ERRNO}],
}


def table(name: str, image: str, extra: str = "") -> str:
    return f'[containers.{name}]\nimage = "{image}"\nnetwork = "none"\nuser = "0:0"\n{extra}\n'


def sh(state, name: str, script: str):
    return hp("exec", name, "--", "sh", "-c", script, state=state)


def swapon(state, name: str):
    """swapon(2) on a fresh file of zeros in the container's own layer."""
    return sh(state, name, "dd if=/dev/zero of=/tmp/swap bs=4096 count=16 2>/dev/null && swapon /tmp/swap")


def profile_errno(state, name: str, syscall: str) -> int:
    """The errno the container's own config.json gives `syscall` (the first rule naming it)."""
    with open(os.path.join(layout(str(state)).bundle(name), "config.json")) as f:
        seccomp = json.load(f)["linux"]["seccomp"]
    return next(rule["errnoRet"] for rule in seccomp["syscalls"] if syscall in rule["names"])


def test_the_default_profile_filters_and_unconfined_does_not(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    confined, free, custom = f"sc-default-{s}", f"sc-none-{s}", f"sc-file-{s}"
    image = test_images["sleeper"]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "odd.json").write_text(json.dumps(PROFILE))
    file = write_file(
        tmp_path,
        registry,
        table(confined, image, 'cap_add = ["SYS_ADMIN"]')
        + table(free, image, 'cap_add = ["SYS_ADMIN"]\nseccomp = "unconfined"')
        + table(custom, image, 'cap_add = ["SYS_ADMIN"]\nseccomp = "profiles/odd.json"'),
    )
    try:
        result = hp("apply", str(file), "--yes", state=state)
        assert result.returncode == 0, result.stderr
        status = "grep -E '^Seccomp(_filters)?:' /proc/self/status"
        assert sh(state, confined, status).stdout.split() == ["Seccomp:", "2", "Seccomp_filters:", "1"]
        assert sh(state, free, status).stdout.split() == ["Seccomp:", "0", "Seccomp_filters:", "0"]
        # swapon: the profile's errno under the default filter; the kernel's own refusal without one
        denied, reached = swapon(state, confined), swapon(state, free)
        errno = profile_errno(state, confined, "swapon")
        assert denied.returncode != 0 and os.strerror(errno) in denied.stderr, denied
        assert reached.returncode != 0 and os.strerror(errno) not in reached.stderr, reached
        assert os.strerror(22) in reached.stderr, reached  # EINVAL: no swap signature
        # a profile file (relative to hp.toml): its errno, and everything else allowed
        odd = sh(state, custom, "hostname other")
        assert odd.returncode != 0 and os.strerror(ODD_ERRNO) in odd.stderr, odd
        assert sh(state, custom, status).stdout.split() == ["Seccomp:", "2", "Seccomp_filters:", "1"]
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [confined, free, custom]) == []


def test_a_bad_profile_is_a_one_line_plan_error(tmp_path, state, registry, test_images) -> None:
    name = f"sc-bad-{uuid.uuid4().hex[:6]}"
    (tmp_path / "bad.json").write_text(
        '{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [], '
        '"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}'
    )
    for setting, problem in (
        ("bad.json", 'bad.json: syscalls[0].action: unknown action "SCMP_ACT_ALOW"'),
        ("nope.json", "nope.json: cannot read: No such file or directory"),
    ):
        file = write_file(tmp_path, registry, table(name, test_images["sleeper"], f'seccomp = "{setting}"'))
        result = hp("plan", str(file), state=state)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("hp: error: ") and problem in result.stderr, result.stderr
    assert leftovers(state, [name]) == []


def test_a_changed_profile_is_a_replace_that_says_so_and_makes_a_saved_plan_stale(
    tmp_path, state, registry, test_images
) -> None:
    name = f"sc-edit-{uuid.uuid4().hex[:6]}"
    profile = tmp_path / "odd.json"
    profile.write_text(json.dumps(PROFILE))
    file = write_file(tmp_path, registry, table(name, test_images["sleeper"], 'seccomp = "odd.json"'))
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert "No changes" in hp("plan", str(file), state=state).stdout
        saved = tmp_path / "p.plan"
        assert hp("plan", str(file), "--out", str(saved), state=state).returncode == 0
        profile.write_text(json.dumps(PROFILE).replace(str(ODD_ERRNO), "95"))
        # the replace names the profile; the saved plan made before the edit is refused, nothing done
        planned = hp("plan", str(file), state=state)
        assert planned.returncode == 0 and f"seccomp profile {profile} changed" in planned.stdout, planned.stdout
        refused = hp("apply", str(saved), state=state)
        assert refused.returncode == 3 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"seccomp profile {profile} changed since the plan was made" in refused.stderr
        assert sh(state, name, "hostname other").returncode != 0
        assert os.strerror(ODD_ERRNO) in sh(state, name, "hostname other").stderr  # still the old filter
        assert hp("apply", str(file), "--yes", state=state).returncode == 0
        assert os.strerror(95) in sh(state, name, "hostname other").stderr  # EOPNOTSUPP: the new one
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [name]) == []
