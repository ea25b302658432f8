"""The plan's word on data (compiler/plan.py): each replace and destroy names the volumes it keeps
(or, hp destroy --volumes, deletes) and the writable layer it discards, with its size when known."""

from __future__ import annotations

import json

import msgspec

from compiler.plan import Current, Desired, plan, render_plan


def current(**kw) -> Current:
    return Current("localhost/app:1", "sha256:aaa", b'{"a": 1}', "stopped", **kw)


def test_replace_and_destroy_name_kept_volumes_and_the_discarded_layer() -> None:
    want = {"web": Desired("localhost/app:1", "sha256:aaa", b'{"a": 2}')}
    have = {"web": current(volumes=("db", "web.0123456789ab"), layer_size=12288), "old": current(volumes=("db",))}
    p = plan(want, have)
    text = render_plan(p)
    assert "- keeps volumes db, web.0123456789ab\n" in text
    assert "- discards its writable layer (12.0 KiB)\n" in text
    assert "- keeps volume db\n" in text and "- discards its writable layer\n" in text  # old: size unknown
    changes = {c["name"]: c for c in json.loads(msgspec.json.encode(p))["changes"]}
    assert changes["web"]["kept_volumes"] == ["db", "web.0123456789ab"] and changes["web"]["discarded_bytes"] == 12288
    assert changes["old"]["kept_volumes"] == ["db"] and changes["old"]["discarded_bytes"] is None
    assert changes["old"]["removed_volumes"] == []


def test_destroy_with_volumes_says_it_deletes_them() -> None:
    p = plan({}, {"web": current(volumes=("db",), layer_size=0)}, destroy=True, remove_volumes=True)
    (change,) = p.changes
    assert (change.kept_volumes, change.removed_volumes, change.discarded_bytes) == ((), ("db",), 0)
    assert "- DELETES volume db and the data in it\n" in render_plan(p)


def test_creates_and_no_ops_say_nothing_about_data() -> None:
    want = {
        "new": Desired("localhost/app:1", "sha256:aaa", b'{"a": 1}', must_run=False),
        "same": Desired("localhost/app:1", "sha256:aaa", b'{"a": 1}', must_run=False),
    }
    p = plan(want, {"same": current(volumes=("db",), layer_size=5)})
    assert all(c.kept_volumes == () and c.discarded == "" for c in p.changes)


def test_an_older_hps_image_volumes_in_the_bundle_are_adopted_not_deleted(tmp_path) -> None:
    """hp before STATE/volumes kept image volumes in bundle/volumes/<escaped path>: removing such a
    container (a replace after the upgrade) moves them into the store, where its successor finds them."""
    from compiler.layout import layout
    from compiler.volumes import image_volume_name
    from executor import volumes

    lay = layout(str(tmp_path / "state"))
    legacy = tmp_path / "state" / "containers" / "web" / "bundle" / "volumes"
    (legacy / "var%2Flib%2Fdb").mkdir(parents=True)
    (legacy / "var%2Flib%2Fdb" / "rows").write_text("kept\n")
    (legacy / "100%25").mkdir()
    (legacy / "stray-file").write_text("")  # not hp's kind of entry: left alone
    (tmp_path / "elsewhere").mkdir()
    (legacy / "link").symlink_to(tmp_path / "elsewhere")  # never followed
    adopted = volumes.adopt_legacy(lay, "web")
    db, percent = image_volume_name("web", "/var/lib/db"), image_volume_name("web", "/100%")
    assert sorted(adopted) == sorted([db, percent])
    assert (tmp_path / "state" / "volumes" / db / "_data" / "rows").read_text() == "kept\n"
    assert volumes.origin(lay, db) == volumes.VolumeOrigin(db, "image", "web", "/var/lib/db")
    assert sorted(volumes.names(lay)) == sorted([db, percent])
    assert volumes.adopt_legacy(lay, "web") == []  # nothing left to move
