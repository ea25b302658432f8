"""devices = [...] and privileged = true under the real hp and crun (issue 13 items 2, 3): the facts
hp gathers (executor/devices.py) reach the container. network = "none" throughout.

A device a container was given exists with the host's major:minor and opens; one it was not given
does not exist; read-only permission refuses an open for writing (the devices cgroup). privileged
sees and opens the host's devices, has hp's own bounding set as CapEff, /sys read-write and no
masked paths (/proc/timer_list)."""

from __future__ import annotations

import os
import uuid

import pytest

from .hprun import hp, leftovers, write_file

pytestmark = pytest.mark.integration

FUSE = "/dev/fuse"
TUN = "/dev/net/tun"
# masked by default (a bind mount of /dev/null), there on any kernel; /proc/kcore may not be
MASKED = "/proc/timer_list"


def needs(path: str) -> os.stat_result:
    if not os.path.exists(path):
        pytest.skip(f"the host has no {path}")
    return os.stat(path)


def table(name: str, image: str, extra: str = "") -> str:
    return f'[containers.{name}]\nimage = "{image}"\nnetwork = "none"\nuser = "0:0"\n{extra}\n'


def sh(state, name: str, script: str):
    return hp("exec", name, "--", "sh", "-c", script, state=state)


OPEN_READ = "exec 3<{0} && echo opened"
OPEN_WRITE = "exec 3>{0} && echo opened"


def test_a_device_is_there_with_the_hosts_numbers_and_opens(tmp_path, state, registry, test_images) -> None:
    fuse, tun = needs(FUSE), needs(TUN)
    s = uuid.uuid4().hex[:6]
    given, bare = f"dev-{s}", f"bare-{s}"
    image = test_images["sleeper"]
    file = write_file(
        tmp_path, registry, table(given, image, f'devices = ["{FUSE}", "{TUN}:/dev/xtun:r"]') + table(bare, image)
    )
    try:
        result = hp("apply", str(file), "--yes", state=state)
        assert result.returncode == 0, result.stderr
        seen = sh(state, given, f"stat -c '%t:%T %a' {FUSE} /dev/xtun")
        assert seen.stdout.split("\n")[:2] == [
            f"{os.major(fuse.st_rdev):x}:{os.minor(fuse.st_rdev):x} {fuse.st_mode & 0o777:o}",
            f"{os.major(tun.st_rdev):x}:{os.minor(tun.st_rdev):x} {tun.st_mode & 0o777:o}",
        ], seen
        assert sh(state, given, OPEN_READ.format(FUSE)).stdout == "opened\n"
        assert sh(state, given, OPEN_WRITE.format(FUSE)).stdout == "opened\n"
        # "r": reading opens, writing is refused by the devices cgroup
        assert sh(state, given, OPEN_READ.format("/dev/xtun")).stdout == "opened\n"
        refused = sh(state, given, OPEN_WRITE.format("/dev/xtun"))
        assert refused.returncode != 0 and "not permitted" in refused.stderr.lower(), refused
        # a container not given it has no such node (and no CAP_MKNOD to make one)
        absent = sh(state, bare, OPEN_READ.format(FUSE))
        assert absent.returncode != 0 and "opened" not in absent.stdout
        assert sh(state, bare, f"test -e {FUSE}").returncode == 1
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [given, bare]) == []


def test_privileged_sees_host_devices_all_capabilities_and_no_masks(tmp_path, state, registry, test_images) -> None:
    needs(FUSE)
    needs(MASKED)
    s = uuid.uuid4().hex[:6]
    priv, plain = f"priv-{s}", f"plain-{s}"
    image = test_images["sleeper"]
    file = write_file(tmp_path, registry, table(priv, image, "privileged = true") + table(plain, image))
    with open("/proc/self/status") as f:
        bounding = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    try:
        result = hp("apply", str(file), "--yes", state=state)
        assert result.returncode == 0, result.stderr
        assert sh(state, priv, OPEN_WRITE.format(FUSE)).stdout == "opened\n"
        caps = sh(state, priv, "grep -E '^Cap(Eff|Bnd):' /proc/self/status").stdout.split()
        assert caps == ["CapEff:", bounding, "CapBnd:", bounding]
        # /sys and its cgroup read-write; nothing masked or read-only under /proc
        mounts = {
            line.split()[4]: line.split()[5] for line in sh(state, priv, "cat /proc/self/mountinfo").stdout.splitlines()
        }
        assert mounts["/sys"].startswith("rw") and mounts["/sys/fs/cgroup"].startswith("rw")
        assert MASKED not in mounts and "/proc/sys" not in mounts
        # the same image, not privileged: masked, read-only, and no fuse
        plain_mounts = {
            line.split()[4]: line.split()[5]
            for line in sh(state, plain, "cat /proc/self/mountinfo").stdout.splitlines()
        }
        assert MASKED in plain_mounts and plain_mounts["/sys"].startswith("ro")
        assert sh(state, plain, f"test -e {FUSE}").returncode == 1
    finally:
        hp("destroy", str(file), "--yes", state=state)
    assert leftovers(state, [priv, plain]) == []


@pytest.mark.parametrize(
    ("devices", "problem"),
    [
        pytest.param('["/dev/nope-hp-test"]', "devices[0]: /dev/nope-hp-test does not exist on the host", id="missing"),
        pytest.param(
            '["/etc/hostname"]', "devices[0]: /etc/hostname is not a device (a regular file)", id="not-a-device"
        ),
        pytest.param('["/dev/null", "dev/zero"]', 'devices[1]: host path "dev/zero" is not absolute', id="relative"),
    ],
)
def test_a_bad_device_is_a_one_line_plan_error(devices, problem, tmp_path, state, registry, test_images) -> None:
    name = f"bad-{uuid.uuid4().hex[:6]}"
    file = write_file(tmp_path, registry, table(name, test_images["sleeper"], f"devices = {devices}"))
    result = hp("plan", str(file), state=state)
    # before anything is pulled: one line
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("hp: error: ") and problem in result.stderr and "Traceback" not in result.stderr
    assert leftovers(state, [name]) == []
