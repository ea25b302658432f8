"""A container's cgroup directories (compiler/cgroups.py), against issue 9 item 6: a failed
`crun create` left /sys/fs/cgroup/*/hp/<tag>-NAME on all 11 hierarchies of a hybrid host. hp
removes exactly its container's directories: the hierarchies come from mountinfo (cgroup and
cgroup2 filesystems under /sys/fs/cgroup only), and any path but /hp/<12 hex>-<container name>
is refused."""

from __future__ import annotations

import pytest

from compiler.cgroups import cgroup_mounts, cgroups_path, container_cgroup_dirs
from compiler.errors import HpError
from compiler.layout import Layout

# /proc/self/mountinfo of a Debian 12 VM with cgroup v1 controllers and an empty v2 hierarchy,
# plus a few mounts that are not cgroups, and one cgroup mounted elsewhere
HYBRID = """\
22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:24 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755
26 25 0:25 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu
27 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory
28 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids
29 25 0:28 / /sys/fs/cgroup/systemd rw,relatime shared:13 - cgroup cgroup rw,name=systemd
30 25 0:29 / /sys/fs/cgroup/unified rw,relatime shared:14 - cgroup2 cgroup2 rw
31 28 0:30 / /srv/my\\040cgroups rw,relatime shared:15 - cgroup cgroup rw,cpuset
32 28 0:31 / /sys/fs/cgroupfoo rw,relatime shared:16 - cgroup cgroup rw,blkio
33 28 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
"""
UNIFIED = "30 25 0:29 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n"
TAG = Layout("/var/lib/hp").tag


def test_cgroups_path_is_under_hp() -> None:
    assert cgroups_path("web") == "/hp/web"
    assert cgroups_path(Layout("/var/lib/hp").cgroup_name("web")) == f"/hp/{TAG}-web"


@pytest.mark.parametrize(
    "mountinfo, expected",
    [
        (
            HYBRID,
            (
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/pids",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified",
            ),
        ),
        (UNIFIED, ("/sys/fs/cgroup",)),
        ("", ()),
        ("garbage\n - \n1 2 3\n", ()),
        ("31 25 0:30 / /sys/fs/cgroup/a\\040b rw - cgroup cgroup rw,cpu\n", ("/sys/fs/cgroup/a b",)),
    ],
    ids=["hybrid", "unified", "empty", "garbage", "escaped-space"],
)
def test_cgroup_mounts(mountinfo: str, expected: tuple[str, ...]) -> None:
    assert cgroup_mounts(mountinfo) == expected


def test_a_containers_directories_are_its_path_on_every_hierarchy() -> None:
    path = cgroups_path(f"{TAG}-web")
    assert container_cgroup_dirs(cgroup_mounts(HYBRID), path) == tuple(
        f"/sys/fs/cgroup/{h}/hp/{TAG}-web" for h in ("cpu", "memory", "pids", "systemd", "unified")
    )
    assert container_cgroup_dirs(cgroup_mounts(UNIFIED), path) == (f"/sys/fs/cgroup/hp/{TAG}-web",)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/hp",
        "/hp/",
        "/hp/web",
        f"/hp/{TAG}-",
        f"/hp/{TAG}-../x",
        f"/hp/{TAG}-web/child",
        f"/hp/{TAG}-a b",
        f"/system.slice/{TAG}-web",
        f"hp/{TAG}-web",
        f"/hp/../{TAG}-web",
        f"/hp//{TAG}-web",
        f"/hp/{TAG.upper()}-web",
        f"/hpx/{TAG}-web",
    ],
    ids=[
        "root",
        "empty",
        "parent",
        "parent-slash",
        "untagged",
        "no-name",
        "dot-dot-name",
        "nested",
        "space",
        "other-parent",
        "relative",
        "dot-dot-parent",
        "double-slash",
        "upper-case-tag",
        "prefix-parent",
    ],
)
def test_any_other_path_is_refused(path: str) -> None:
    with pytest.raises(HpError) as info:
        container_cgroup_dirs(cgroup_mounts(HYBRID), path)
    assert info.value.where == "cgroup" and "\n" not in str(info.value)
