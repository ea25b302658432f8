"""USER → process.user (compiler/users.py), against issue 2's pinned rules and the
peers' own test tables:

- containerd pkg/oci/spec_opts_user_test.go: TestWithUser, TestWithUserID,
  TestWithUsername, TestWithAdditionalGIDs (their passwd/group texts, verbatim);
- moby/sys user/user_test.go: TestGetExecUser, TestGetExecUserInvalid,
  TestGetExecUserNilSources (verbatim texts, incl. the "largegroup" of 7500 users).

Where hp's pinned rules differ from a peer, the expectation follows hp's rule and
the case id says so:
- ids outside 0..2147483647 are errors (containerd accepts up to 4294967294);
- `additionalGids` always starts with the primary gid (moby's Sgids does not);
- a uid with no passwd entry gets gid 0 and HOME "/" (moby keeps the caller's defaults).
"""

from __future__ import annotations

import pytest

from compiler.errors import HpError
from compiler.users import PasswdEntry, ResolvedUser, parse_group, parse_passwd, resolve_user

WHERE = "containers.web.user"
MAX_ID = 2**31 - 1


def resolve(spec: str, passwd: str | None, group: str | None) -> ResolvedUser:
    return resolve_user(
        spec,
        WHERE,
        parse_passwd(passwd) if passwd is not None else None,
        parse_group(group) if group is not None else None,
    )


def expect_error(spec: str, passwd: str | None, group: str | None) -> HpError:
    with pytest.raises(HpError) as info:
        resolve(spec, passwd, group)
    err = info.value
    assert str(err).startswith(f"{WHERE}: "), str(err)
    assert "\n" not in str(err)
    return err


# --------------------------------------------------------------------------- containerd

CONTAINERD_PASSWD = """root:x:0:0:root:/root:/bin/ash
guest:x:405:100:guest:/dev/null:/sbin/nologin
"""
CONTAINERD_GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
guest:x:100:guest
"""


@pytest.mark.parametrize(
    "spec, uid, gid",
    [
        ("0", 0, 0),
        ("root:root", 0, 0),
        ("guest", 405, 100),
        ("guest:guest", 405, 100),
        ("405:100", 405, 100),
    ],
    ids=["uid-0", "root-root", "guest", "guest-guest", "405-100"],
)
def test_containerd_with_user(spec: str, uid: int, gid: int) -> None:
    user = resolve(spec, CONTAINERD_PASSWD, CONTAINERD_GROUP)
    assert (user.uid, user.gid) == (uid, gid)
    assert user.additional_gids[0] == gid


@pytest.mark.parametrize(
    "spec",
    [
        "guest:nobody",
        "405:4294967294",
        "405:4294967295",
        "-1000",
        "4294967294",
        "4294967295",
        "999999999999999999999999999999999999",
        "0:999999999999999999999999999999999999",
    ],
    ids=[
        "unknown-group",
        "gid-4294967294-hp-range-max-int32",  # containerd accepts it; hp's pinned range is 0..2^31-1
        "gid-4294967295",
        "uid-minus-1000",
        "uid-4294967294-hp-range-max-int32",  # containerd accepts it; hp's pinned range
        "uid-4294967295",
        "uid-36-digits",
        "gid-36-digits",
    ],
)
def test_containerd_with_user_errors(spec: str) -> None:
    expect_error(spec, CONTAINERD_PASSWD, CONTAINERD_GROUP)


@pytest.mark.parametrize(
    "spec, uid, gid",
    [("0", 0, 0), ("405", 405, 100), ("1000", 1000, 0)],
    ids=["uid-0", "uid-405-has-entry", "uid-1000-no-entry-gid-0"],
)
def test_containerd_with_user_id(spec: str, uid: int, gid: int) -> None:
    user = resolve(spec, CONTAINERD_PASSWD, None)
    assert (user.uid, user.gid) == (uid, gid)


@pytest.mark.parametrize(
    "spec, uid, gid",
    [("root", 0, 0), ("guest", 405, 100)],
    ids=["root", "guest"],
)
def test_containerd_with_username(spec: str, uid: int, gid: int) -> None:
    user = resolve(spec, CONTAINERD_PASSWD, None)
    assert (user.uid, user.gid) == (uid, gid)


def test_containerd_with_username_unknown() -> None:
    err = expect_error("unknown", CONTAINERD_PASSWD, None)
    assert '"unknown"' in str(err)


CONTAINERD_GIDS_PASSWD = """root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
"""
CONTAINERD_GIDS_GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
"""


@pytest.mark.parametrize(
    "spec, gids",
    [
        ("root", (0, 1, 2, 3)),
        ("1000", (0,)),
        ("bin:root", (0,)),
        # hp's rule (primary gid first, then memberships in file order, deduplicated);
        # containerd's own table predates the primary-gid fix for these two
        ("bin", (1, 2, 3)),
        ("daemon", (2, 1)),
    ],
    ids=["root", "uid-1000-no-entry", "explicit-group", "bin-hp-rule", "daemon-hp-rule"],
)
def test_containerd_with_additional_gids(spec: str, gids: tuple[int, ...]) -> None:
    assert resolve(spec, CONTAINERD_GIDS_PASSWD, CONTAINERD_GIDS_GROUP).additional_gids == gids


# --------------------------------------------------------------------------- moby/sys


def large_group() -> str:
    return "largegroup:x:1000:user1" + "".join(f",user{i}" for i in range(2, 7501))


MOBY_PASSWD = """
root:x:0:0:root user:/root:/bin/bash
adm:x:42:43:adm:/var/adm:/bin/false
111:x:222:333::/var/garbage
odd:x:111:112::/home/odd:::::
2147483647:x:0:0:maxint32:/root:/bin/bash
2147483648:x:0:0:toolarge:/root:/bin/bash
9223372036854775807:x:0:0:maxint64:/root:/bin/bash
user7456:x:7456:100:Vasya:/home/user7456
this is just some garbage data
"""
MOBY_GROUP = """
root:x:0:root
adm:x:43:
grp:x:1234:root,adm,user7456
444:x:555:111
odd:x:444:
2147483647:x:1235:
2147483648:x:1236:
9223372036854775807:x:1237:
this is just some garbage data
""" + large_group()


@pytest.mark.parametrize(
    "spec, uid, gid, gids, home",
    [
        ("root", 0, 0, (0, 1234), "/root"),
        ("adm", 42, 43, (43, 1234), "/var/adm"),
        ("root:adm", 0, 43, (43,), "/root"),
        ("adm:1234", 42, 1234, (1234,), "/var/adm"),
        ("42:1234", 42, 1234, (1234,), "/var/adm"),
        ("1337:1234", 1337, 1234, (1234,), "/"),
        ("1337", 1337, 0, (0,), "/"),
        ("", 0, 0, (0, 1234), "/root"),
        # 'odd:x:111:112::/home/odd:::::' has 11 fields, 'user7456:x:7456:100:Vasya:/home/user7456'
        # only 6: moby/sys reads the fields that are there
        ("111", 111, 112, (112,), "/home/odd"),
        ("111:444", 111, 444, (444,), "/home/odd"),
        ("7456", 7456, 100, (100, 1234, 1000), "/home/user7456"),
        ("7456:2147483647", 7456, 2147483647, (2147483647,), "/home/user7456"),
        ("2147483647:43", 2147483647, 43, (43,), "/"),
        ("2147483647", 2147483647, 0, (0,), "/"),
    ],
    ids=[
        "root",
        "adm",
        "root-adm",
        "adm-1234",
        "42-1234",
        "1337-1234-no-entry",
        "1337-no-entry",
        "empty-is-root",
        "111-is-uid-not-name-moby-695",
        "111-444-numeric-gid-not-group-name",
        "7456-sgids-moby-3036",
        "7456-maxid-gid",
        "maxid-uid-43",
        "maxid-uid",
    ],
)
def test_moby_get_exec_user(spec: str, uid: int, gid: int, gids: tuple[int, ...], home: str) -> None:
    assert resolve(spec, MOBY_PASSWD, MOBY_GROUP) == ResolvedUser(uid, gid, gids, home)


MOBY_INVALID_PASSWD = """
root:x:0:0:root user:/root:/bin/bash
adm:x:42:43:adm:/var/adm:/bin/false
-42:x:12:13:broken:/very/broken
2147483647:x:0:0:maxint32:/root:/bin/bash
2147483648:x:0:0:toolarge:/root:/bin/bash
9223372036854775807:x:0:0:maxint64:/root:/bin/bash
9223372036854775808:x:0:0:maxint64plusone:/root:/bin/bash
this is just some garbage data
"""
MOBY_INVALID_GROUP = """
root:x:0:root
adm:x:43:
grp:x:1234:root,adm
2147483647:x:1235:
2147483648:x:1236:
9223372036854775807:x:1237:
9223372036854775808:x:1238:
this is just some garbage data
"""

MOBY_INVALID = [
    "notuser",
    "notuser:notgroup",
    "root:notgroup",
    "notuser:adm",
    "8888:notgroup",
    "notuser:8888",
    "-1:0",
    "0:-3",
    "-5:-2",
    "-42",
    "-43",
    "42:2147483648",
    "2147483648:43",
    "2147483648",
    "7456:9223372036854775807",
    "9223372036854775807:43",
    "9223372036854775807",
    "9223372036854775808",
    "0:9223372036854775808",
]


@pytest.mark.parametrize("spec", MOBY_INVALID, ids=[f"moby-invalid[{s}]" for s in MOBY_INVALID])
def test_moby_get_exec_user_invalid(spec: str) -> None:
    expect_error(spec, MOBY_INVALID_PASSWD, MOBY_INVALID_GROUP)


MOBY_NIL_PASSWD = """
root:x:0:0:root user:/root:/bin/bash
adm:x:42:43:adm:/var/adm:/bin/false
this is just some garbage data
"""
MOBY_NIL_GROUP = """
root:x:0:root
adm:x:43:
grp:x:1234:root,adm
this is just some garbage data
"""


@pytest.mark.parametrize(
    "spec, has_passwd, has_group, expected",
    [
        ("", False, False, ResolvedUser(0, 0, (0,), "/")),
        ("root", True, False, ResolvedUser(0, 0, (0,), "/root")),
        ("0", False, False, ResolvedUser(0, 0, (0,), "/")),
        ("0:0", False, False, ResolvedUser(0, 0, (0,), "/")),
        ("root", True, True, ResolvedUser(0, 0, (0, 1234), "/root")),
    ],
    ids=["empty-no-files", "root-passwd-only", "uid-0-no-files", "0-0-no-files", "root-both-files"],
)
def test_moby_nil_sources(spec: str, has_passwd: bool, has_group: bool, expected: ResolvedUser) -> None:
    user = resolve(spec, MOBY_NIL_PASSWD if has_passwd else None, MOBY_NIL_GROUP if has_group else None)
    assert user == expected


@pytest.mark.parametrize(
    "spec, has_passwd, has_group",
    [("root", False, True), ("0:adm", True, False), ("adm:adm", True, False)],
    ids=["name-without-passwd", "group-name-without-group-file", "user-and-group-name-without-group-file"],
)
def test_names_need_the_files(spec: str, has_passwd: bool, has_group: bool) -> None:
    expect_error(spec, MOBY_NIL_PASSWD if has_passwd else None, MOBY_NIL_GROUP if has_group else None)


# --------------------------------------------------------------------------- numbers vs names

# Every "numeric-looking" name here has an entry, with ids chosen so that treating the
# value as a number would give a different answer than treating it as a name.
NUMERIC_PASSWD = """111:x:222:333::/home/named-111:/bin/sh
odd:x:111:112::/home/odd:/bin/sh
five:x:5:55::/home/five:/bin/sh
\u0661\u0662:x:7001:7001::/home/arabic-12:/bin/sh
 5:x:7002:7002::/home/space-5:/bin/sh
1_000:x:7003:7003::/home/underscore:/bin/sh
\uff15:x:7004:7004::/home/fullwidth-5:/bin/sh
5 :x:7005:7005::/home/5-space:/bin/sh
0x10:x:7006:7006::/home/hex:/bin/sh
1e3:x:7007:7007::/home/exp:/bin/sh
2147483648:x:7008:7008::/home/too-large:/bin/sh
-1:x:7009:7009::/home/minus-1:/bin/sh
root:x:0:0:root:/root:/bin/sh
"""
NUMERIC_GROUP = """555:x:9555:
\u0661\u0662:x:9012:
 5:x:9005:
staff:x:50:
"""


@pytest.mark.parametrize(
    "spec, uid, gid, home",
    [
        ("111", 111, 112, "/home/odd"),
        ("+5", 5, 55, "/home/five"),
        ("5", 5, 55, "/home/five"),
        ("00005", 5, 55, "/home/five"),
        ("-0", 0, 0, "/root"),
        ("+0", 0, 0, "/root"),
        ("2147483647", 2147483647, 0, "/"),
        ("\u0661\u0662", 7001, 7001, "/home/arabic-12"),
        (" 5", 7002, 7002, "/home/space-5"),
        ("1_000", 7003, 7003, "/home/underscore"),
        ("\uff15", 7004, 7004, "/home/fullwidth-5"),
        ("5 ", 7005, 7005, "/home/5-space"),
        ("0x10", 7006, 7006, "/home/hex"),
        ("1e3", 7007, 7007, "/home/exp"),
    ],
    ids=[
        "digits-are-a-uid-not-the-user-named-111",
        "plus-sign",
        "plain",
        "leading-zeros",
        "minus-zero",
        "plus-zero",
        "max-id",
        "arabic-indic-digits-are-a-name",
        "leading-space-is-a-name",
        "underscore-is-a-name",
        "fullwidth-digit-is-a-name",
        "trailing-space-is-a-name",
        "hex-is-a-name",
        "exponent-is-a-name",
    ],
)
def test_numbers_and_names(spec: str, uid: int, gid: int, home: str) -> None:
    user = resolve(spec, NUMERIC_PASSWD, NUMERIC_GROUP)
    assert (user.uid, user.gid, user.home) == (uid, gid, home)


@pytest.mark.parametrize(
    "spec",
    ["-1", "-5", "2147483648", "+2147483648", "99999999999999999999", "5:-1", "5:2147483648", "5:+2147483648"],
    ids=[
        "minus-1-is-out-of-range-not-the-user-named-minus-1",
        "minus-5",
        "max-plus-1-is-out-of-range-not-the-user-named-so",
        "plus-max-plus-1",
        "twenty-digits",
        "gid-minus-1",
        "gid-max-plus-1",
        "gid-plus-max-plus-1",
    ],
)
def test_numbers_out_of_range(spec: str) -> None:
    err = expect_error(spec, NUMERIC_PASSWD, NUMERIC_GROUP)
    assert "range" in str(err)


@pytest.mark.parametrize(
    "spec",
    ["\u0661\u0662", " 5", "1_000", "\uff15", "+-5", "--5", "5-", "1.0"],
    ids=[
        "arabic-indic",
        "leading-space",
        "underscore",
        "fullwidth",
        "two-signs",
        "double-minus",
        "trailing-minus",
        "decimal-point",
    ],
)
def test_non_ascii_or_odd_digits_are_names_and_must_exist(spec: str) -> None:
    err = expect_error(spec, "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n")
    assert "not found" in str(err) or "passwd" in str(err)


@pytest.mark.parametrize(
    "spec, gid, gids",
    [
        ("five:555", 555, (555,)),
        ("five:+7", 7, (7,)),
        ("five:-0", 0, (0,)),
        ("five:\u0661\u0662", 9012, (9012,)),
        ("five: 5", 9005, (9005,)),
        ("five:staff", 50, (50,)),
        ("1234:staff", 50, (50,)),
    ],
    ids=[
        "numeric-gid-verbatim-not-the-group-named-555",
        "plus-sign-gid",
        "minus-zero-gid",
        "arabic-indic-group-name",
        "leading-space-group-name",
        "group-name",
        "unknown-uid-with-group-name",
    ],
)
def test_group_part(spec: str, gid: int, gids: tuple[int, ...]) -> None:
    user = resolve(spec, NUMERIC_PASSWD, NUMERIC_GROUP)
    assert (user.gid, user.additional_gids) == (gid, gids)


def test_numeric_uid_without_passwd_file_is_fine() -> None:
    assert resolve("1000", None, None) == ResolvedUser(1000, 0, (0,), "/")


def test_numeric_uid_gid_with_no_group_entry_is_used_verbatim() -> None:
    user = resolve("1000:4242", "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n")
    assert (user.uid, user.gid, user.additional_gids) == (1000, 4242, (4242,))


# --------------------------------------------------------------------------- untrimmed fields


@pytest.mark.parametrize(
    "spec, passwd, group, expected",
    [
        ("app ", "app :x:1000:1000::/home/app:/bin/sh\n", "", ResolvedUser(1000, 1000, (1000,), "/home/app")),
        ("app", "app:x:1000:1000::/home/app :/bin/sh\n", "", ResolvedUser(1000, 1000, (1000,), "/home/app ")),
        (
            "app",
            "app:x:1000:1000::/home/app:/bin/sh\n",
            "staff:x:50:root, app\n",
            ResolvedUser(1000, 1000, (1000,), "/home/app"),
        ),
        (
            "app",
            "app:x:1000:1000::/home/app:/bin/sh\n",
            "staff:x:50:root,app ,app\n",
            ResolvedUser(1000, 1000, (1000, 50), "/home/app"),
        ),
        (
            "app:staff ",
            "app:x:1000:1000::/home/app:/bin/sh\n",
            "staff :x:50:\n",
            ResolvedUser(1000, 50, (50,), "/home/app"),
        ),
    ],
    ids=[
        "name-with-trailing-space-matches-only-itself",
        "home-kept-untrimmed",
        "member-with-leading-space-is-another-name",
        "member-with-trailing-space-is-another-name",
        "group-name-with-trailing-space",
    ],
)
def test_untrimmed_fields(spec: str, passwd: str, group: str, expected: ResolvedUser) -> None:
    assert resolve(spec, passwd, group) == expected


@pytest.mark.parametrize(
    "spec, passwd, group",
    [
        ("app", "app :x:1000:1000::/home/app:/bin/sh\n", ""),
        ("app", " app:x:1000:1000::/home/app:/bin/sh\n", ""),
        ("app:staff", "app:x:1000:1000::/home/app:/bin/sh\n", "staff :x:50:\n"),
        ("app", "app:x: 1000:1000::/home/app:/bin/sh\n", ""),
        ("app", "app:x:1000 :1000::/home/app:/bin/sh\n", ""),
        ("app:staff", "app:x:1000:1000::/home/app:/bin/sh\n", "staff:x: 50:\n"),
    ],
    ids=[
        "name-trailing-space-does-not-match",
        "name-leading-space-does-not-match",
        "group-name-trailing-space-does-not-match",
        "uid-field-with-space-is-malformed",
        "gid-field-with-space-is-malformed",
        "group-gid-field-with-space-is-malformed",
    ],
)
def test_untrimmed_fields_do_not_match(spec: str, passwd: str, group: str) -> None:
    expect_error(spec, passwd, group)


# --------------------------------------------------------------------------- parsing

GARBAGE_PASSWD = """this is just some garbage data
#app:x:1:1::/commented:/bin/sh

a:b
app:x:abc:1::/bad-uid:/bin/sh
app:x:2:-1::/negative-gid:/bin/sh
app:x:-3:3::/negative-uid:/bin/sh
app:x:\u0664:4::/non-ascii-uid:/bin/sh
app:x:1000:1000::/home/app:/bin/sh
app:x:2000:2000::/home/second:/bin/sh
"""


def test_parse_passwd_skips_malformed_lines() -> None:
    assert parse_passwd(GARBAGE_PASSWD) == (
        PasswdEntry("app", 1000, 1000, "/home/app"),
        PasswdEntry("app", 2000, 2000, "/home/second"),
    )


def test_parse_passwd_fields() -> None:
    (entry,) = parse_passwd("web:x:33:44:Web Server,,,:/var/www:/usr/sbin/nologin")
    assert entry == PasswdEntry("web", 33, 44, "/var/www")


def test_parse_passwd_empty() -> None:
    assert parse_passwd("") == ()


GARBAGE_GROUP = """garbage
#staff:x:1:app
staff:x:abc:app
staff:x:-5:app
staff:x:\u0665:app
staff:x:50:app,,root,
staff:x:60:
wheel:x:10:
"""


def test_parse_group_skips_malformed_lines() -> None:
    groups = parse_group(GARBAGE_GROUP)
    assert [(g.name, g.gid) for g in groups] == [("staff", 50), ("staff", 60), ("wheel", 10)]
    assert {"app", "root"} <= set(groups[0].members)
    assert not any(m for m in groups[1].members)


def test_parse_group_members_are_not_trimmed() -> None:
    (entry,) = parse_group("g:x:1:a, b ,c")
    assert entry.members == ("a", " b ", "c")


def test_garbage_passwd_first_valid_match_wins() -> None:
    user = resolve("app", GARBAGE_PASSWD, "")
    assert (user.uid, user.home) == (1000, "/home/app")


@pytest.mark.parametrize(
    "spec, passwd, group, expected",
    [
        (
            "app",
            "app:x:1000:1000::/first:/bin/sh\napp:x:2000:2000::/second:/bin/sh\n",
            "",
            ResolvedUser(1000, 1000, (1000,), "/first"),
        ),
        (
            "1000",
            "a:x:1000:10::/a:/bin/sh\nb:x:1000:20::/b:/bin/sh\n",
            "ga:x:30:a\ngb:x:40:b\n",
            ResolvedUser(1000, 10, (10, 30), "/a"),
        ),
        ("0:grp", "", "grp:x:10:\ngrp:x:20:\n", ResolvedUser(0, 10, (10,), "/")),
        (
            "root:adm",
            "root:x:0:0:root:/root:/bin/sh\n",
            "adm:x:43:\nadm:x:4343:root,adm-duplicate\n",
            ResolvedUser(0, 43, (43,), "/root"),
        ),
    ],
    ids=["passwd-by-name", "passwd-by-uid", "group-by-name", "moby-duplicate-adm-group"],
)
def test_first_match_wins(spec: str, passwd: str, group: str, expected: ResolvedUser) -> None:
    assert resolve(spec, passwd, group) == expected


# --------------------------------------------------------------------------- additionalGids


@pytest.mark.parametrize(
    "spec, group, gids",
    [
        ("app", "a:x:10:app\nb:x:10:app\nc:x:20:app,app\n", (10, 20)),
        ("app", "low:x:5:app\nprimary:x:10:app\n", (10, 5)),
        ("app", "z:x:30:app\ny:x:20:app\nx:x:25:app\n", (10, 30, 20, 25)),
        ("app", "other:x:99:bob\n", (10,)),
        ("app", "", (10,)),
        ("app:low", "low:x:5:app\nmore:x:6:app\n", (5,)),
        ("app:7", "low:x:5:app\n", (7,)),
        ("app:10", "low:x:5:app\n", (10,)),
        ("1000", "low:x:5:app\n", (10, 5)),
        ("APP", "low:x:5:app\n", None),
        ("root", "r:x:3:root\n", (0, 3)),
        ("root", "all:x:0:root\n", (0,)),
    ],
    ids=[
        "deduplicated",
        "primary-gid-first",
        "memberships-in-file-order",
        "not-a-member",
        "empty-group-file",
        "explicit-group-name-drops-memberships",
        "explicit-gid-drops-memberships",
        "explicit-primary-gid-drops-memberships",
        "uid-with-entry-gets-memberships",
        "names-are-case-sensitive",
        "root-memberships",
        "root-group-listing-root-not-repeated",
    ],
)
def test_additional_gids(spec: str, group: str, gids: tuple[int, ...] | None) -> None:
    passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:10::/home/app:/bin/sh\n"
    if gids is None:
        expect_error(spec, passwd, group)
        return
    user = resolve(spec, passwd, group)
    assert user.additional_gids == gids
    assert user.additional_gids[0] == user.gid
    assert len(set(user.additional_gids)) == len(user.additional_gids)


def test_moby_large_group_membership_with_a_7_field_entry() -> None:
    """moby/sys #3036 with a well-formed passwd line: membership found deep in a 7500-member list."""
    passwd = "user7456:x:7456:100:Vasya:/home/user7456:/bin/sh\n"
    assert resolve("7456", passwd, MOBY_GROUP) == ResolvedUser(7456, 100, (100, 1234, 1000), "/home/user7456")


# --------------------------------------------------------------------------- ids from the files

# moby/sys rejects ids beyond 2^31-1 (ErrRange, "group entry with out-of-range gid"), and the
# output must stay in hp's range (and the schema's uint32) whatever the files say.


@pytest.mark.parametrize(
    "spec, passwd, group",
    [
        ("big", "big:x:99999999999:0::/:/bin/sh\n", ""),
        ("big", "big:x:2147483648:0::/:/bin/sh\n", ""),
        ("big", "big:x:5:4294967296::/:/bin/sh\n", ""),
        ("0:toolarge", "", "toolarge:x:2147483648:\n"),
        ("0:huge", "", "huge:x:99999999999:\n"),
    ],
    ids=[
        "uid-beyond-uint32",
        "uid-beyond-max-int32",
        "passwd-gid-beyond-uint32",
        "group-gid-moby-toolarge",
        "group-gid-beyond-uint32",
    ],
)
def test_out_of_range_ids_in_the_files_are_errors(spec: str, passwd: str, group: str) -> None:
    expect_error(spec, passwd, group)


def test_membership_in_an_out_of_range_group_never_reaches_the_output() -> None:
    passwd = "app:x:1000:1000::/home/app:/bin/sh\n"
    group = "ok:x:20:app\ntoolarge:x:2147483648:app\n"
    try:
        user = resolve("app", passwd, group)
    except HpError:
        return  # refusing the file is acceptable too
    assert all(0 <= g <= MAX_ID for g in user.additional_gids), user.additional_gids


# --------------------------------------------------------------------------- as Go reads the files


@pytest.mark.parametrize(
    "spec, passwd, group, expected",
    [
        (
            "app",
            "app:x:1000:1000::/home/app:/bin/sh\r\n",
            "staff:x:50:app\r\n",
            ResolvedUser(1000, 1000, (1000, 50), "/home/app"),
        ),
        ("app", "app:x:1000:1000::/home/app\r\n", "", ResolvedUser(1000, 1000, (1000,), "/home/app")),
        (
            "app:",
            "app:x:1000:1000::/home/app:/bin/sh\n",
            "staff:x:50:app\n",
            ResolvedUser(1000, 1000, (1000, 50), "/home/app"),
        ),
        ("app", "app:x:1000:1000\n", "", ResolvedUser(1000, 1000, (1000,), "/")),
    ],
    ids=[
        "crlf-line-endings",
        "crlf-after-home-of-a-6-field-line",
        "empty-group-part-is-implicit-form",
        "4-field-line-without-home",
    ],
)
def test_read_as_moby_sys_reads_them(spec: str, passwd: str, group: str, expected: ResolvedUser) -> None:
    """Go's line scanner drops a CR before the LF; `user:` is `user` (strings.Cut, then an empty
    group argument means the implicit form); a short line gives what it has."""
    assert resolve(spec, passwd, group) == expected


# --------------------------------------------------------------------------- misc


def test_error_names_the_field_and_the_user() -> None:
    err = expect_error("nobody", "root:x:0:0:root:/root:/bin/sh\n", None)
    assert '"nobody"' in str(err)
    assert err.where == WHERE


def test_group_not_found_names_the_group() -> None:
    err = expect_error("root:nogroup", "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n")
    assert '"nogroup"' in str(err)


def test_home_default_for_uid_without_entry() -> None:
    assert resolve("4242", "root:x:0:0:root:/root:/bin/sh\n", "").home == "/"
