"""config.json mounts (compiler/mounts.py), against issue 2's mounts rule and docs/conversion.md:

the standard set (runc's options), binds of the bundle's own hostname/hosts/resolv.conf
onto /etc (ro with read_only), each image Volume as a rw bind from its volume's directory
(`<volume_dir>/<container>.<12 hex of sha256(container, path)>/_data`, one per container and path), keep_alive's
/run/hp-init, then the container's mounts, which replace any mount at the same target
(one over a standard mount's parent, like /dev, replaces the standard mounts below it);
ordered so that a parent is mounted before its children; deterministic.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.defaults import defaults
from compiler.errors import HpError
from compiler.image import ImageConfig
from compiler.mounts import assemble_mounts, parents_first, user_mounts
from compiler.names import IMAGE_VOLUME_NAME, is_volume_name
from compiler.oci import Mount
from compiler.spec import BindMount, TmpfsMount
from compiler.volumes import image_volume_name, volume_of_source, volume_source

WHERE = "containers.web.mounts"
STANDARD = ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
ETC = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]


def m(destination: str) -> Mount:
    return Mount(destination, "bind", "/src" + destination, ("rbind",))


def dests(mounts) -> list[str]:
    return [x.destination for x in mounts]


def ancestors(path: str) -> list[str]:
    out = []
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


def assert_parents_first(mounts) -> None:
    seen: set[str] = set()
    all_dests = set(dests(mounts))
    for x in mounts:
        for parent in ancestors(x.destination):
            if parent in all_dests:
                assert parent in seen, f"{x.destination} comes before its parent {parent}: {dests(mounts)}"
        seen.add(x.destination)


def assemble(volumes=(), own=(), *, read_only=False, keep_alive=False, config_field="Config"):
    image = ImageConfig(volumes=tuple(sorted(volumes)), config_field=config_field)
    return assemble_mounts(
        defaults(), image, user_mounts(own, WHERE), read_only=read_only, keep_alive=keep_alive, container="web"
    )


# --------------------------------------------------------------------------- parents_first


@pytest.mark.parametrize(
    "given_order, expected",
    [
        (["/a", "/a/b"], ["/a", "/a/b"]),
        (["/a/b", "/a"], ["/a", "/a/b"]),
        (["/a/b/c", "/a/b", "/a"], ["/a", "/a/b", "/a/b/c"]),
        (["/data/x", "/proc", "/data"], ["/proc", "/data", "/data/x"]),
        (["/b", "/a", "/c"], ["/b", "/a", "/c"]),
        (["/ab", "/a"], ["/ab", "/a"]),
        (["/a/bc", "/a/b"], ["/a/bc", "/a/b"]),
        (["/x/y/z", "/x"], ["/x", "/x/y/z"]),
        ([], []),
    ],
    ids=[
        "already-ordered",
        "child-first",
        "chain-reversed",
        "child-moves-after-its-parent",
        "unrelated-keep-order",
        "prefix-is-not-a-parent",
        "sibling-prefix-is-not-a-parent",
        "grandparent-without-parent",
        "empty",
    ],
)
def test_parents_first(given_order: list[str], expected: list[str]) -> None:
    assert dests(parents_first([m(d) for d in given_order])) == expected


def test_parents_first_keeps_the_mount_objects() -> None:
    mounts = [m("/a/b"), m("/a")]
    assert set(parents_first(mounts)) == set(mounts)


_PATHS = st.lists(
    st.lists(st.sampled_from(["a", "b", "ab", "a.b", "c"]), min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    unique=True,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(_PATHS)
def test_parents_first_property(paths: list[str]) -> None:
    """Any list: a permutation of the input, parents before children, and mounts with no
    listed ancestor keep their relative order."""
    out = parents_first([m(p) for p in paths])
    assert sorted(dests(out)) == sorted(paths)
    assert_parents_first(out)
    roots = [p for p in paths if not any(a in paths for a in ancestors(p))]
    assert [d for d in dests(out) if d in roots] == roots
    assert parents_first([m(p) for p in paths]) == out  # deterministic


# --------------------------------------------------------------------------- volume_source


def test_image_volume_name_is_the_container_and_a_digest_of_the_path() -> None:
    name = image_volume_name("web", "/var/lib/db")
    assert name.startswith("web.") and len(name) == len("web.") + 12
    assert image_volume_name("web", "/var/lib/db") == name  # deterministic: a replacement finds it
    assert IMAGE_VOLUME_NAME.fullmatch(name)


def test_image_volume_names_never_collide() -> None:
    paths = ["/a/b", "/a_b", "/a%2Fb", "/a%252Fb", "/a%b", "/a/b%", "/a%/b", "/a/%2F", "/ab", "/a/b/c", "/a/b%2Fc"]
    names = {image_volume_name(c, p) for c in ("web", "db", "x" * 64, "x" * 63) for p in paths}
    assert len(names) == 4 * len(paths)


_COMPONENT = st.text(alphabet="ab%2F5_/. -", min_size=1, max_size=6).filter(lambda c: "/" not in c)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True),
    st.lists(_COMPONENT.filter(lambda c: c not in (".", "..")), min_size=1, max_size=5),
)
def test_image_volume_name_is_a_volume_name_and_its_source_maps_back(container: str, components: list[str]) -> None:
    name = image_volume_name(container, "/" + "/".join(components))
    assert is_volume_name(name)
    assert volume_of_source("/state/volumes", volume_source("/state/volumes", name)) == name


@pytest.mark.parametrize(
    "source",
    [
        None,
        "",
        "/state/volumes",
        "/state/volumes/x",
        "/state/volumes/x/_data/y",
        "/state/volumes/../x/_data",
        "/state/volumesx/y/_data",
        "/other/x/_data",
        "/state/volumes/.new-x/_data",
    ],
)
def test_other_sources_are_no_volume(source) -> None:
    assert volume_of_source("/state/volumes", source) is None


# --------------------------------------------------------------------------- user_mounts


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            BindMount(source="/srv/data", target="/data", readonly=True),
            Mount("/data", "bind", "/srv/data", ("rbind", "rprivate", "ro")),
        ),
        (
            BindMount(source="/srv/data", target="/data"),
            Mount("/data", "bind", "/srv/data", ("rbind", "rprivate", "rw")),
        ),
        (
            BindMount(source="/srv//data/", target="/data/./x/../"),
            Mount("/data", "bind", "/srv/data", ("rbind", "rprivate", "rw")),
        ),
        (TmpfsMount(target="/scratch"), Mount("/scratch", "tmpfs", "tmpfs", ("rw", "nosuid", "nodev", "mode=1777"))),
        (
            TmpfsMount(target="/scratch", size="64m", mode="700", readonly=True),
            Mount("/scratch", "tmpfs", "tmpfs", ("ro", "nosuid", "nodev", "mode=700", "size=67108864")),
        ),
        (
            TmpfsMount(target="/scratch", size=1024, mode=0o755),
            Mount("/scratch", "tmpfs", "tmpfs", ("rw", "nosuid", "nodev", "mode=755", "size=1024")),
        ),
    ],
    ids=[
        "bind-ro",
        "bind-rw-default",
        "paths-normalised",
        "tmpfs-defaults",
        "tmpfs-size-mode-ro",
        "tmpfs-int-size-octal-int-mode",
    ],
)
def test_user_mount(spec, expected: Mount) -> None:
    assert user_mounts([spec], WHERE) == (expected,)


def test_user_mounts_keep_the_files_order() -> None:
    specs: list[TmpfsMount | BindMount] = [
        TmpfsMount(target="/z"),
        BindMount(source="/s", target="/a"),
        TmpfsMount(target="/m"),
    ]
    assert dests(user_mounts(specs, WHERE)) == ["/z", "/a", "/m"]


@pytest.mark.parametrize(
    "specs, where",
    [
        ([TmpfsMount(target="scratch")], f"{WHERE}[0].target"),
        ([TmpfsMount(target="")], f"{WHERE}[0].target"),
        ([TmpfsMount(target="/")], f"{WHERE}[0].target"),
        ([TmpfsMount(target="/..")], f"{WHERE}[0].target"),
        ([TmpfsMount(target="/a"), TmpfsMount(target="/a/")], f"{WHERE}[1].target"),
        ([TmpfsMount(target="/a"), BindMount(source="/s", target="/b/../a")], f"{WHERE}[1].target"),
        ([BindMount(source="srv", target="/a")], f"{WHERE}[0].source"),
        ([BindMount(source="", target="/a")], f"{WHERE}[0].source"),
        ([TmpfsMount(target="/a", size="lots")], f"{WHERE}[0].size"),
        ([TmpfsMount(target="/a", size=0)], f"{WHERE}[0].size"),
        ([TmpfsMount(target="/a", mode="999")], f"{WHERE}[0].mode"),
        ([TmpfsMount(target="/a\0")], f"{WHERE}[0].target"),
    ],
    ids=[
        "relative-target",
        "empty-target",
        "root-target",
        "target-normalising-to-root",
        "duplicate-target",
        "duplicate-after-normalising",
        "relative-source",
        "empty-source",
        "bad-size",
        "zero-size",
        "bad-mode",
        "nul-in-target",
    ],
)
def test_user_mount_errors(specs, where: str) -> None:
    with pytest.raises(HpError) as info:
        user_mounts(specs, WHERE)
    assert info.value.where == where
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- assemble_mounts


def test_default_mounts_in_order() -> None:
    out = assemble()
    assert dests(out) == STANDARD + ETC
    by_dest = {x.destination: x for x in out}
    assert by_dest["/proc"] == Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))
    assert by_dest["/sys"].options is not None and "ro" in by_dest["/sys"].options
    assert by_dest["/sys/fs/cgroup"].options is not None and "ro" in by_dest["/sys/fs/cgroup"].options
    for name in ("hostname", "hosts", "resolv.conf"):
        assert by_dest[f"/etc/{name}"] == Mount(f"/etc/{name}", "bind", name, ("rbind", "rprivate", "rw"))


def test_read_only_makes_the_etc_binds_ro_but_not_volumes() -> None:
    out = {x.destination: x for x in assemble(volumes=["/data"], read_only=True)}
    for name in ETC:
        assert out[name].options is not None and "ro" in out[name].options and "rw" not in out[name].options
    assert out["/data"].options is not None and "rw" in out["/data"].options


def test_volumes_are_sorted_rw_binds_from_their_volume_directories() -> None:
    out = assemble(volumes=["/var/lib/db", "/data", "/cache"])
    assert dests(out) == STANDARD + ETC + ["/cache", "/data", "/var/lib/db"]
    by_dest = {x.destination: x for x in out}
    source = f"volumes/{image_volume_name('web', '/var/lib/db')}/_data"
    assert by_dest["/var/lib/db"] == Mount("/var/lib/db", "bind", source, ("rbind", "rprivate", "rw"))


@pytest.mark.parametrize(
    "volumes, expected",
    [
        (["/data", "/data/"], ["/data"]),
        (["/a/../b"], ["/b"]),
        (["/"], []),
        (["/x//y/."], ["/x/y"]),
    ],
    ids=["duplicate-after-normalising", "dot-dot", "root-volume-skipped", "double-slash"],
)
def test_volumes_are_normalised(volumes: list[str], expected: list[str]) -> None:
    assert dests(assemble(volumes=volumes))[len(STANDARD + ETC) :] == expected


def test_relative_volume_is_an_error_naming_it() -> None:
    with pytest.raises(HpError) as info:
        assemble(volumes=["data"])
    assert info.value.where.startswith("Config.Volumes")
    assert '"data"' in info.value.where


def test_keep_alive_adds_the_init_bind() -> None:
    plain = assemble()
    kept = assemble(keep_alive=True)
    (init,) = [x for x in kept if x not in plain]
    assert init.destination == "/run/hp-init"
    assert init.type == "bind" and init.source == "hp-init"
    assert init.options is not None and "ro" in init.options


@pytest.mark.parametrize(
    "own, gone, present",
    [
        ([TmpfsMount(target="/dev")], ["/dev/pts", "/dev/shm", "/dev/mqueue"], ["/proc", "/sys"]),
        ([TmpfsMount(target="/dev/shm", size="1g")], [], ["/dev", "/dev/pts", "/dev/mqueue"]),
        ([TmpfsMount(target="/sys/fs/cgroup")], [], ["/sys"]),
        ([TmpfsMount(target="/sys")], ["/sys/fs/cgroup"], ["/proc"]),
        ([BindMount(source="/host/hosts", target="/etc/hosts")], [], ["/etc/hostname", "/etc/resolv.conf"]),
        ([TmpfsMount(target="/proc/driver")], [], ["/proc"]),
    ],
    ids=[
        "own-dev-replaces-dev-subtree",
        "own-dev-shm-replaces-only-it",
        "own-cgroup-replaces-only-it",
        "own-sys-replaces-sys-subtree",
        "own-etc-hosts-replaces-generated",
        "own-below-standard-keeps-it",
    ],
)
def test_own_mounts_replace_mounts_at_the_same_target(own, gone: list[str], present: list[str]) -> None:
    out = assemble(own=own)
    own_mounts = user_mounts(own, WHERE)
    for mine in own_mounts:
        assert [x for x in out if x.destination == mine.destination] == [mine]
    for d in gone:
        assert d not in dests(out)
    for d in present:
        assert d in dests(out)
    assert_parents_first(out)


def test_own_mount_replaces_an_image_volume() -> None:
    own = [BindMount(source="/srv/db", target="/var/lib/db")]
    out = assemble(volumes=["/var/lib/db", "/data"], own=own)
    assert [x for x in out if x.destination == "/var/lib/db"] == list(user_mounts(own, WHERE))
    assert "/data" in dests(out)


def test_keep_alive_reserves_the_init_target() -> None:
    """keep_alive needs its init at /run/hp-init: a mount of the container's there is an
    error naming it, rather than a silent replacement that would lose the init."""
    own: list[TmpfsMount | BindMount] = [
        TmpfsMount(target="/data"),
        BindMount(source="/opt/init", target="/run/hp-init", readonly=True),
    ]
    with pytest.raises(HpError) as info:
        assemble(own=own, keep_alive=True)
    assert info.value.where.endswith("[1].target")
    # without keep_alive the target is free
    assert user_mounts(own, WHERE)[1] in assemble(own=own)


@pytest.mark.parametrize(
    "volumes, own",
    [
        (["/data/sub"], [TmpfsMount(target="/data")]),
        (["/data"], [TmpfsMount(target="/data/x/y")]),
        ([], [TmpfsMount(target="/etc")]),
        ([], [TmpfsMount(target="/run")]),
        (["/srv/a", "/srv"], [BindMount(source="/s", target="/srv/a/b"), TmpfsMount(target="/srv/a/b/c/d")]),
    ],
    ids=["volume-below-own", "own-below-volume", "own-etc-above-etc-binds", "own-run-above-init", "mixed-chain"],
)
def test_parents_before_children_across_kinds(volumes, own) -> None:
    out = assemble(volumes=volumes, own=own, keep_alive=True)
    assert_parents_first(out)
    assert set(user_mounts(own, WHERE)) <= set(out)


def test_assembly_is_deterministic_whatever_the_volume_order() -> None:
    a = assemble(volumes=["/b", "/a", "/c/d"], own=[TmpfsMount(target="/c")])
    image = ImageConfig(volumes=("/c/d", "/b", "/a"), config_field="Config")
    b = assemble_mounts(
        defaults(),
        image,
        user_mounts([TmpfsMount(target="/c")], WHERE),
        read_only=False,
        keep_alive=False,
        container="web",
    )
    assert a == b


# An image VOLUME at the destination of a mount hp generates must not shadow it (a bind
# of an empty directory over procfs, or over hp's /etc/hosts); moby lets a mount replace the
# default at the same destination, and hp never lists one destination twice.
@pytest.mark.parametrize(
    "volume",
    ["/dev/shm", "/etc/hosts", "/proc", "/sys/fs/cgroup", "/dev"],
    ids=["dev-shm", "etc-hosts", "proc", "cgroup", "dev"],
)
def test_no_two_mounts_share_a_destination(volume: str) -> None:
    out = assemble(volumes=[volume], keep_alive=True)
    assert len(dests(out)) == len(set(dests(out))), dests(out)
    assert set(assemble(keep_alive=True)) <= set(out)  # the generated mount is the one kept
    assert_parents_first(out)
