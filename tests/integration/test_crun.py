"""crun accepts and honours the configs hp compiles.

Each test compiles a container with hp's Python API against an image config
written here, lays it out as a bundle around a busybox-static rootfs, runs it
with the real crun (private --root, a unique id per container) and checks,
from inside the container or from the host, that what the config says is what
the process gets. Nothing edits the compiled config.json.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from compiler.defaults import defaults
from compiler.env import DEFAULT_PATH  # its value: tests/test_env.py's pin
from compiler.volumes import image_volume_name

from .bundle import CGROUP_V1, Bundle, Crun, cgroup_dirs, make_bundle, require_host

pytestmark = pytest.mark.integration

# An image like a small distro image: a non-root USER with an extra group, a
# WorkingDir, an Env without PATH (so hp's default PATH applies) and a VOLUME.
IMAGE: dict[str, Any] = {
    "os": "linux",
    "architecture": "amd64",
    "config": {
        "User": "app",
        "Env": ["GREETING=hello", "REMOVE_ME=1"],
        "Cmd": ["sh"],
        "WorkingDir": "/srv",
        "Volumes": {"/var/lib/db": {}},
    },
}
MASKED = defaults().masked_paths  # passed to the script as "$@"

# linux/capability.h
CAP_BITS = {
    name: bit
    for bit, name in enumerate(
        (
            "CHOWN",
            "DAC_OVERRIDE",
            "DAC_READ_SEARCH",
            "FOWNER",
            "FSETID",
            "KILL",
            "SETGID",
            "SETUID",
            "SETPCAP",
            "LINUX_IMMUTABLE",
            "NET_BIND_SERVICE",
            "NET_BROADCAST",
            "NET_ADMIN",
            "NET_RAW",
            "IPC_LOCK",
            "IPC_OWNER",
            "SYS_MODULE",
            "SYS_RAWIO",
            "SYS_CHROOT",
            "SYS_PTRACE",
            "SYS_PACCT",
            "SYS_ADMIN",
            "SYS_BOOT",
            "SYS_NICE",
            "SYS_RESOURCE",
            "SYS_TIME",
            "SYS_TTY_CONFIG",
            "MKNOD",
            "LEASE",
            "AUDIT_WRITE",
            "AUDIT_CONTROL",
            "SETFCAP",
            "MAC_OVERRIDE",
            "MAC_ADMIN",
            "SYSLOG",
            "WAKE_ALARM",
            "BLOCK_SUSPEND",
            "AUDIT_READ",
            "PERFMON",
            "BPF",
            "CHECKPOINT_RESTORE",
        )
    )
}


@pytest.fixture
def crun(tmp_path: Path):
    """A crun with its own --root; every container it ran is force-deleted at teardown,
    pass or fail, and no cgroup directory of theirs may be left behind."""
    require_host()
    c = Crun(tmp_path / "crun-root")
    try:
        yield c
    finally:
        left = c.cleanup()
    assert not left, f"cgroup directories left behind: {left}"


def toml_value(value: Any) -> str:
    """A TOML literal for a str, bool, number or list of those (JSON's syntax is TOML's here)."""
    return json.dumps(value)


def spec(**fields: Any) -> str:
    """The body of a [containers.NAME] table: image plus the given fields."""
    lines = ['image = "localhost/busybox:1"']
    for key, value in fields.items():
        lines.append(f"{key} = {value if key == 'mounts' else toml_value(value)}")
    return "\n".join(lines) + "\n"


def run_sh(
    crun: Crun, tmp_path: Path, script: str, image: dict[str, Any] = IMAGE, **fields: Any
) -> tuple[Bundle, subprocess.CompletedProcess[str]]:
    """Compile a container whose command is `sh -c SCRIPT`, run it, return bundle and result."""
    bundle = make_bundle(tmp_path, spec(command=["sh", "-c", script], **fields), image)
    return bundle, crun.run(bundle)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def keyed(output: str) -> dict[str, str]:
    """Lines `key=value` → dict."""
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def cap_mask(names: list[str]) -> int:
    return sum(1 << CAP_BITS[n.removeprefix("CAP_")] for n in names)


# --- process: exit status, args, user, cwd, env ------------------------------------------------


def test_exit_status_and_output_pass_through(crun: Crun, tmp_path: Path) -> None:
    bundle, result = run_sh(crun, tmp_path, "echo to-stdout; echo to-stderr >&2; exit 3")
    assert bundle.config["process"]["args"] == ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"]
    assert result.returncode == 3, result.stderr
    assert result.stdout == "to-stdout\n"
    assert "to-stderr\n" in result.stderr


SHOW_ARGV = 'printf "[%s]" "$0" "$@"'


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, "[ep][a b][c]", id="image-entrypoint-and-cmd"),
        pytest.param({"command": ["x y"]}, "[ep][x y]", id="command-replaces-cmd"),
        pytest.param(
            {"entrypoint": ["/bin/echo", "over"], "command": ["ride"]}, "over ride\n", id="entrypoint-drops-image-cmd"
        ),
        pytest.param(
            {"entrypoint": [], "command": ["/bin/echo", "no", "entrypoint"]}, "no entrypoint\n", id="empty-entrypoint"
        ),
    ],
)
def test_args_as_compiled_reach_the_process(crun: Crun, tmp_path: Path, fields: dict, expected: str) -> None:
    image = {"config": {"Entrypoint": ["/bin/sh", "-c", SHOW_ARGV, "ep"], "Cmd": ["a b", "c"]}}
    bundle = make_bundle(tmp_path, spec(**fields), image)
    assert ok(crun.run(bundle)) == expected


ID_SCRIPT = 'echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"; echo "home=$HOME"'


@pytest.mark.parametrize(
    ("user", "uid", "gid", "groups", "home"),
    [
        pytest.param(None, 1000, 1000, [1000, 2000], "/home/app", id="image-USER-app"),
        pytest.param("root", 0, 0, [0, 10], "/root", id="override-root"),
        pytest.param("app:extra", 1000, 2000, [2000], "/home/app", id="override-explicit-group"),
        pytest.param("1234:5678", 1234, 5678, [5678], "/", id="override-numeric-not-in-passwd"),
    ],
)
def test_user_and_groups(
    crun: Crun, tmp_path: Path, user: str | None, uid: int, gid: int, groups: list[int], home: str
) -> None:
    fields: dict[str, Any] = {"user": user} if user is not None else {}
    bundle, result = run_sh(crun, tmp_path, ID_SCRIPT, **fields)
    assert bundle.config["process"]["user"] == {"uid": uid, "gid": gid, "additionalGids": groups, "umask": 0o022}
    seen = keyed(ok(result))
    assert (int(seen["uid"]), int(seen["gid"])) == (uid, gid)
    assert sorted(int(g) for g in seen["groups"].split()) == sorted(set(groups))
    assert seen["home"] == home


@pytest.mark.parametrize(
    ("fields", "cwd"),
    [
        pytest.param({}, "/srv", id="image-WorkingDir"),
        pytest.param({"workdir": "/work/../work/"}, "/work", id="workdir-normalised"),
    ],
)
def test_cwd(crun: Crun, tmp_path: Path, fields: dict, cwd: str) -> None:
    bundle, result = run_sh(crun, tmp_path, "pwd", **fields)
    assert bundle.config["process"]["cwd"] == cwd
    assert ok(result) == f"{cwd}\n"


def test_env_is_exactly_the_compiled_env(crun: Crun, tmp_path: Path) -> None:
    """`env` run directly (no shell adding PWD/SHLVL) prints the process environment."""
    fields = {"command": ["env"], "env": ["GREETING=bye", "REMOVE_ME", "EXTRA=a = b"]}
    bundle = make_bundle(tmp_path, spec(**fields), IMAGE)
    printed = ok(crun.run(bundle)).splitlines()
    assert printed == bundle.config["process"]["env"]
    env = keyed("\n".join(printed))
    assert env["PATH"] == DEFAULT_PATH  # the image has no PATH
    assert env["HOSTNAME"] == bundle.name  # the hostname defaults to the container's name
    assert env["HOME"] == "/home/app"  # from the image USER's passwd entry
    assert env["GREETING"] == "bye"  # overridden
    assert env["EXTRA"] == "a = b"  # added, split on the first '='
    assert "REMOVE_ME" not in env  # unset by a bare name


def test_image_path_is_kept(crun: Crun, tmp_path: Path) -> None:
    image = {"config": {"Env": ["PATH=/bin:/opt/none"], "Cmd": ["sh", "-c", 'echo "$PATH"']}}
    bundle = make_bundle(tmp_path, spec(), image)
    assert ok(crun.run(bundle)) == "/bin:/opt/none\n"


# --- hostname and the bundle's /etc files ------------------------------------------------------


@pytest.mark.parametrize("hostname", [None, "web-1"], ids=["default-is-the-name", "explicit"])
def test_hostname(crun: Crun, tmp_path: Path, hostname: str | None) -> None:
    fields: dict[str, Any] = {"hostname": hostname} if hostname else {}
    bundle, result = run_sh(crun, tmp_path, "cat /etc/hostname; hostname", **fields)
    expected = hostname or bundle.name
    assert bundle.config["hostname"] == expected
    assert ok(result) == f"{expected}\n{expected}\n"


def test_etc_files_are_the_bundle_files(crun: Crun, tmp_path: Path) -> None:
    """Without read_only, /etc/hosts is the bundle's file, writable: a write lands in the
    bundle, not in the image's rootfs (and / itself is writable)."""
    script = "cat /etc/resolv.conf; echo '10.0.0.9 added' >> /etc/hosts; touch /written-to-root"
    bundle, result = run_sh(crun, tmp_path, script, user="root")
    assert ok(result) == "nameserver 127.0.0.1\n"
    assert (bundle.path / "hosts").read_text().endswith("10.0.0.9 added\n")
    # crun may create an empty mount point in the rootfs; the content never goes there
    target = bundle.rootfs / "etc" / "hosts"
    assert not target.exists() or target.read_text() == ""
    assert (bundle.rootfs / "written-to-root").exists()


def test_read_only_root(crun: Crun, tmp_path: Path) -> None:
    """read_only: / refuses writes (even for root); the tmpfs mount, /dev/shm and the image
    volume still take them; /etc/hosts is readable but read-only too (as in Docker)."""
    script = (
        "touch /x 2>/dev/null; echo root=$?\n"
        "touch /tmp/x 2>/dev/null; echo tmp=$?\n"
        "touch /scratch/x; echo scratch=$?\n"
        "touch /dev/shm/x; echo shm=$?\n"
        "touch /var/lib/db/x; echo volume=$?\n"
        "echo hosts=$(cat /etc/hosts | wc -l)\n"
        "echo more >> /etc/hosts 2>/dev/null; echo hosts_write=$?\n"
        "grep -q ' / [^ ]* ro,' /proc/mounts; echo root_ro=$?\n"
    )
    mounts = '[{ type = "tmpfs", target = "/scratch" }]'
    bundle, result = run_sh(crun, tmp_path, script, user="root", read_only=True, mounts=mounts)
    assert bundle.config["root"] == {"path": "rootfs", "readonly": True}
    assert keyed(ok(result)) == {
        "root": "1",
        "tmp": "1",
        "scratch": "0",
        "shm": "0",
        "volume": "0",
        "hosts": "2",
        "hosts_write": "1",
        "root_ro": "0",
    }
    assert not (bundle.rootfs / "x").exists()


# --- mounts ------------------------------------------------------------------------------------


def test_user_tmpfs_mount(crun: Crun, tmp_path: Path) -> None:
    mounts = '[{ type = "tmpfs", target = "/scratch", size = "1m", mode = "0750" }]'
    bundle, result = run_sh(
        crun, tmp_path, "grep ' /scratch ' /proc/mounts; stat -c %a /scratch", user="root", mounts=mounts
    )
    line, mode = ok(result).splitlines()
    _, target, fstype, options = line.split()[:4]
    assert (target, fstype) == ("/scratch", "tmpfs")
    assert {"rw", "nosuid", "nodev", "size=1024k"} <= set(options.split(","))
    assert mode == "750"


def test_image_volume_is_a_bundle_directory(crun: Crun, tmp_path: Path) -> None:
    bundle, result = run_sh(
        crun, tmp_path, "echo persisted > /var/lib/db/data; grep -c ' /var/lib/db ' /proc/mounts", user="root"
    )
    assert ok(result) == "1\n"
    host_dir = bundle.volume_dir("/var/lib/db")
    assert host_dir == bundle.path / "volumes" / image_volume_name(bundle.name, "/var/lib/db") / "_data"
    assert (host_dir / "data").read_text() == "persisted\n"
    assert not (bundle.rootfs / "var" / "lib" / "db" / "data").exists()


def test_user_bind_mounts(crun: Crun, tmp_path: Path) -> None:
    """A readonly bind of a host directory is readable and refuses writes (even for root);
    a read-write one takes writes that appear on the host."""
    ro, rw = tmp_path / "host-ro", tmp_path / "host-rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "file").write_text("from the host\n")
    mounts = (
        f'[{{ type = "bind", source = {toml_value(str(ro))}, target = "/data", readonly = true }},'
        f' {{ type = "bind", source = {toml_value(str(rw))}, target = "/out" }}]'
    )
    script = (
        "echo read=$(cat /data/file)\n"
        "touch /data/new 2>/dev/null; echo ro_write=$?\n"
        "echo from-container > /out/file; echo rw_write=$?\n"
    )
    bundle, result = run_sh(crun, tmp_path, script, user="root", mounts=mounts)
    assert keyed(ok(result)) == {"read": "from the host", "ro_write": "1", "rw_write": "0"}
    assert sorted(p.name for p in ro.iterdir()) == ["file"]
    assert (rw / "file").read_text() == "from-container\n"


def test_standard_mounts_devices_and_namespaces(crun: Crun, tmp_path: Path) -> None:
    script = (
        "echo pid=$$\n"
        "echo net=$(ls /sys/class/net)\n"
        "echo dev=$(ls /dev | grep -E '^(null|zero|full|random|urandom|tty|ptmx|pts|shm|mqueue)$' | wc -l)\n"
        "echo null_write=$(echo x > /dev/null; echo $?)\n"
        "echo zero=$(head -c 3 /dev/zero 2>/dev/null | wc -c)\n"
        "for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys /sys/fs/cgroup /proc/sys; do\n"
        '  echo "$m=$(grep " $m " /proc/mounts | tail -n 1 | cut -d \' \' -f 3,4 | cut -d , -f 1)"\n'
        "done\n"
        "echo cgroup_ro=$(grep -c ' /sys/fs/cgroup/[^ ]* cgroup ro,' /proc/mounts)\n"
        "echo cgroup_rw=$(grep -c ' /sys/fs/cgroup/[^ ]* cgroup rw,' /proc/mounts)\n"
        "echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; echo limit_write=$?\n"
    )
    bundle, result = run_sh(crun, tmp_path, script, user="root", memory="64m")
    seen = keyed(ok(result))
    assert seen["pid"] == "1"  # pid namespace
    assert seen["net"] == "lo"  # network namespace: loopback only
    assert seen["dev"] == "10"
    assert seen["null_write"] == "0"
    assert seen["zero"] == "3"
    # mount types, and read-only where the config says so
    assert seen["/proc"] == "proc rw"
    assert seen["/dev"] == "tmpfs rw"
    assert seen["/dev/pts"] == "devpts rw"
    assert seen["/dev/shm"] == "tmpfs rw"
    assert seen["/dev/mqueue"] == "mqueue rw"
    assert seen["/sys"] == "sysfs ro"
    # /sys/fs/cgroup "ro": on cgroup v1 crun mounts a tmpfs there (left rw by crun 1.8.1,
    # harmless) and each hierarchy below it read-only: root cannot raise its own limits
    assert seen["/sys/fs/cgroup"] == "tmpfs rw"
    assert int(seen["cgroup_ro"]) >= 5 and seen["cgroup_rw"] == "0"
    assert seen["limit_write"] == "1"
    assert seen["/proc/sys"] == "proc ro"  # readonlyPaths


def test_masked_paths_are_unreadable(crun: Crun, tmp_path: Path) -> None:
    """Each masked path that exists on this kernel reads as empty in the container (a file
    is covered by /dev/null, a directory by an empty read-only tmpfs). /proc/kcore in
    particular must give nothing, whether or not this kernel has it."""
    bundle = make_bundle(
        tmp_path,
        spec(
            user="root",
            command=[
                "sh",
                "-c",
                (
                    'for p in "$@"; do\n'
                    '  if [ -d "$p" ]; then echo "$p=dir:$(ls -A "$p" | wc -l)"\n'
                    '  elif [ -e "$p" ]; then echo "$p=file:$(cat "$p" 2>/dev/null | wc -c)"\n'
                    '  else echo "$p=absent"; fi\n'
                    "done\n"
                ),
                "sh",
                *MASKED,
            ],
        ),
        IMAGE,
    )
    masked = bundle.config["linux"]["maskedPaths"]
    assert masked == list(MASKED) and "/proc/kcore" in masked
    seen = keyed(ok(crun.run(bundle)))
    assert seen["/proc/kcore"] in ("absent", "file:0")
    checked = 0
    for path in masked:
        host = Path(path)
        if not host.exists():
            continue
        checked += 1
        assert seen.get(path) in ("dir:0", "file:0"), (path, seen.get(path))
    assert checked >= 3
    # masking is not vacuous: the host sees content where the container sees none
    assert Path("/proc/timer_list").read_text()
    assert seen["/proc/timer_list"] == "file:0"


# --- capabilities, privileges, rlimits --------------------------------------------------------


CAPS_SCRIPT = (
    "grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|CapInh|NoNewPrivs):' /proc/self/status | tr -d '\\t' | tr : =\n"
    "touch /tmp/f; chown 2000 /tmp/f 2>/dev/null; echo chown=$?\n"
)


@pytest.mark.parametrize(
    ("fields", "can_chown"),
    [
        pytest.param({"user": "root"}, True, id="root-default-set"),
        pytest.param({"user": "root", "cap_drop": ["ALL"]}, False, id="root-cap_drop-ALL"),
        pytest.param(
            {"user": "root", "cap_add": ["net_admin"], "cap_drop": ["CAP_CHOWN"]}, False, id="root-add-and-drop"
        ),
        pytest.param({}, False, id="non-root-bounding-only"),
    ],
)
def test_capabilities_match_the_config(crun: Crun, tmp_path: Path, fields: dict, can_chown: bool) -> None:
    bundle, result = run_sh(crun, tmp_path, CAPS_SCRIPT, **fields)
    caps = bundle.config["process"]["capabilities"]
    seen = keyed(ok(result))
    for field, key in (
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("bounding", "CapBnd"),
        ("ambient", "CapAmb"),
        ("inheritable", "CapInh"),
    ):
        assert int(seen[key], 16) == cap_mask(caps[field]), (field, caps[field], seen[key])
    assert seen["NoNewPrivs"] == "1"
    assert seen["chown"] == ("0" if can_chown else "1")
    if fields.get("cap_drop") == ["ALL"]:
        assert int(seen["CapBnd"], 16) == 0
    if "cap_add" in fields:
        assert int(seen["CapEff"], 16) & (1 << CAP_BITS["NET_ADMIN"])
        assert not int(seen["CapEff"], 16) & (1 << CAP_BITS["CHOWN"])


@pytest.mark.parametrize(
    ("ulimits", "soft", "hard"),
    [
        pytest.param(None, 1024, 1024, id="default-nofile"),
        pytest.param("{ nofile = [256, 512] }", 256, 512, id="ulimits-nofile"),
    ],
)
def test_rlimits(crun: Crun, tmp_path: Path, ulimits: str | None, soft: int, hard: int) -> None:
    script = 'echo "soft=$(ulimit -Sn)"; echo "hard=$(ulimit -Hn)"'
    body = spec(command=["sh", "-c", script]) + (f"ulimits = {ulimits}\n" if ulimits else "")
    bundle = make_bundle(tmp_path, body, IMAGE)
    assert bundle.config["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": hard, "soft": soft}]
    assert keyed(ok(crun.run(bundle))) == {"soft": str(soft), "hard": str(hard)}


# --- cgroup resources and clean-up ------------------------------------------------------------


def test_resources_are_applied_to_the_container_cgroup(crun: Crun, tmp_path: Path) -> None:
    """With a cgroup namespace the container sees its own cgroup as the root of each v1
    hierarchy: the limits hp compiled are the ones in force."""
    script = (
        "echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\n"
        "echo memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes)\n"
        "echo pids=$(cat /sys/fs/cgroup/pids/pids.max)\n"
        "echo quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)\n"
        "echo period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)\n"
        "echo cgroup=$(grep ':memory:' /proc/self/cgroup)\n"
    )
    bundle, result = run_sh(crun, tmp_path, script, memory="64m", memory_swap="96m", pids_limit=64, cpus=0.5)
    res = bundle.config["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20, "swap": 96 << 20}
    assert (res["cpu"]["quota"], res["cpu"]["period"]) == (50000, 100000)
    assert res["pids"] == {"limit": 64}
    seen = keyed(ok(result))
    assert seen.pop("cgroup").endswith(":memory:/")  # the process is in the namespace's root
    assert seen == {"memory": str(64 << 20), "memsw": str(96 << 20), "pids": "64", "quota": "50000", "period": "100000"}


def test_host_cgroup_while_running_and_gone_after_delete(crun: Crun, tmp_path: Path) -> None:
    """From the host: the cgroup /hp/<name> of the config holds the memory limit while the
    container exists, and `crun delete -f` removes it from every hierarchy."""
    bundle = make_bundle(tmp_path, spec(command=["sleep", "30"], memory="48m"), IMAGE)
    assert bundle.config["linux"]["cgroupsPath"] == f"/hp/{bundle.name}"
    memory = CGROUP_V1 / "memory" / "hp" / bundle.name
    crun.create(bundle, tmp_path / "container.log")
    assert crun.state(bundle.name) == "created"
    subprocess.run(crun.argv("start", bundle.name), check=True, capture_output=True, timeout=30)
    assert crun.state(bundle.name) == "running"
    assert (memory / "memory.limit_in_bytes").read_text() == f"{48 << 20}\n"
    pids = (memory / "cgroup.procs").read_text().split()
    assert len(pids) == 1
    # the container's one process is the compiled command (once crun's init has exec'd it)
    deadline = time.monotonic() + 5
    while (cmdline := Path(f"/proc/{pids[0]}/cmdline").read_bytes()) != b"sleep\x0030\x00":
        assert time.monotonic() < deadline, cmdline
        time.sleep(0.01)
    deleted = crun.delete(bundle.name)
    assert deleted.returncode == 0, deleted.stderr
    assert crun.state(bundle.name) == "absent"
    assert not memory.exists()
    assert cgroup_dirs(bundle.name) == []


def test_foreground_run_leaves_nothing_behind(crun: Crun, tmp_path: Path) -> None:
    bundle, result = run_sh(crun, tmp_path, "true", memory="32m")
    ok(result)
    assert crun.state(bundle.name) == "absent"
    assert cgroup_dirs(bundle.name) == []
