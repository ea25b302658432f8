"""Image configs (compiler/image.py: parse_image_config), against issue 2: either form a
user has at hand (`podman image inspect` / `docker inspect` output: a one-element list or
an object with Config, Os, Architecture, Author, Created; or an OCI image config with
architecture, os, config); runtime-spec: null = absent; hp runs linux images only; the
fields hp reads are type-checked, errors naming them as spelled in the file
(`[0].Config.Env`). image-spec config_test.go: a numeric User, a numeric Env item and
Volumes as an array must fail."""

from __future__ import annotations

import json

import pytest

from compiler.errors import HpError
from compiler.image import ImageConfig, ImageHealthcheck, parse_image_config

RUN = {
    "User": "app",
    "Env": ["PATH=/usr/bin", "LANG=C.UTF-8"],
    "Entrypoint": ["/bin/busybox"],
    "Cmd": ["httpd", "-f"],
    "WorkingDir": "/srv",
    "Labels": {"b": "2", "a": "1"},
    "StopSignal": "SIGQUIT",
    "ExposedPorts": {"8080/tcp": {}, "1234/tcp": {}, "2000": {}},
    "Volumes": {"/var/lib/db": {}, "/data": {}},
}
INSPECT = {
    "Id": "6f1e0a2d4b8c",
    "RepoTags": ["127.0.0.1:5000/library/web:1"],
    "Created": "2026-11-01T10:00:00Z",
    "Author": "hp examples",
    "Architecture": "amd64",
    "Variant": "v8",
    "Os": "linux",
    "OsVersion": "6.1",
    "Config": RUN,
    "RootFS": {"Type": "layers", "Layers": []},
}
OCI = {
    "created": "2026-11-01T10:00:00Z",
    "author": "hp examples",
    "architecture": "amd64",
    "variant": "v8",
    "os": "linux",
    "os.version": "6.1",
    "config": RUN,
    "rootfs": {"type": "layers", "diff_ids": []},
    "history": [{"created_by": "x"}],
}


def parse(doc) -> ImageConfig:
    return parse_image_config(json.dumps(doc))


def error_of(doc) -> HpError:
    with pytest.raises(HpError) as info:
        parse_image_config(doc if isinstance(doc, (str, bytes)) else json.dumps(doc))
    line = str(info.value)
    assert line and "\n" not in line, repr(line)
    return info.value


def expected_fields(section: str) -> ImageConfig:
    return ImageConfig(
        os="linux",
        os_version="6.1",
        architecture="amd64",
        variant="v8",
        author="hp examples",
        created="2026-11-01T10:00:00Z",
        user="app",
        env=("PATH=/usr/bin", "LANG=C.UTF-8"),
        entrypoint=("/bin/busybox",),
        cmd=("httpd", "-f"),
        working_dir="/srv",
        labels=(("a", "1"), ("b", "2")),
        stop_signal="SIGQUIT",
        exposed_ports=("1234/tcp", "2000", "8080/tcp"),
        volumes=("/data", "/var/lib/db"),
        config_field=section,
    )


@pytest.mark.parametrize(
    "doc, section",
    [(INSPECT, "Config"), ([INSPECT], "[0].Config"), (OCI, "config")],
    ids=["inspect-object", "inspect-list-of-one", "oci-image-config"],
)
def test_both_forms(doc, section: str) -> None:
    assert parse(doc) == expected_fields(section)


def test_bytes_and_str() -> None:
    assert parse_image_config(json.dumps(OCI).encode()) == parse_image_config(json.dumps(OCI))


def test_key_order_does_not_matter() -> None:
    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    assert parse(reverse(INSPECT)) == parse(INSPECT)
    assert parse(reverse(OCI)) == parse(OCI)


@pytest.mark.parametrize(
    "doc, expected",
    [
        ({"Os": "linux"}, ImageConfig(os="linux", config_field="Config")),
        ({"Config": None, "Os": "linux"}, ImageConfig(os="linux", config_field="Config")),
        ({"Config": {}}, ImageConfig(config_field="Config")),
        (
            {"Config": {k: None for k in RUN}, "Os": None, "Architecture": None, "Author": None, "Created": None},
            ImageConfig(config_field="Config"),
        ),
        (
            {"config": None, "os": "linux", "architecture": "arm64"},
            ImageConfig(os="linux", architecture="arm64", config_field="config"),
        ),
        (
            {"config": {k: None for k in RUN}, "os": None, "architecture": "amd64"},
            ImageConfig(architecture="amd64", config_field="config"),
        ),
        ({"architecture": "amd64"}, ImageConfig(architecture="amd64", config_field="config")),
        (
            [{"Architecture": "amd64", "Config": {"Env": None}}],
            ImageConfig(architecture="amd64", config_field="[0].Config"),
        ),
    ],
    ids=[
        "inspect-no-config",
        "inspect-null-config",
        "inspect-empty-config",
        "inspect-all-null",
        "oci-null-config",
        "oci-all-null",
        "oci-architecture-only",
        "list-null-env",
    ],
)
def test_nulls_are_absent(doc, expected: ImageConfig) -> None:
    assert parse(doc) == expected


@pytest.mark.parametrize(
    "run, entrypoint, cmd",
    [
        ({}, None, None),
        ({"Entrypoint": None, "Cmd": None}, None, None),
        ({"Entrypoint": [], "Cmd": []}, (), ()),
        ({"Entrypoint": [""], "Cmd": ["sh"]}, ("",), ("sh",)),
    ],
    ids=["absent", "null", "empty-lists", "empty-string-entrypoint-kept-for-args-rule"],
)
def test_entrypoint_and_cmd(run, entrypoint, cmd) -> None:
    image = parse({"Os": "linux", "Config": run})
    assert (image.entrypoint, image.cmd) == (entrypoint, cmd)


def test_env_order_and_duplicates_are_kept_for_merge_env() -> None:
    image = parse({"config": {"Env": ["B=1", "A=2", "B=3"]}, "os": "linux"})
    assert image.env == ("B=1", "A=2", "B=3")


def test_unused_fields_are_ignored() -> None:
    doc = dict(INSPECT, Size=5, GraphDriver={"Name": "overlay"})
    doc["Config"] = dict(RUN, OnBuild=None, Shell=["/bin/sh"], ArgsEscaped=True)
    assert parse(doc) == expected_fields("Config")


SECOND = 10**9


@pytest.mark.parametrize(
    "doc, expected",
    [
        # podman image inspect: at the top level, not under Config (which podman leaves without it)
        (
            dict(
                INSPECT,
                Healthcheck={
                    "Test": ["CMD-SHELL", "test -f /ok"],
                    "Interval": 2 * SECOND,
                    "Timeout": 3 * SECOND,
                    "StartPeriod": SECOND,
                    "Retries": 2,
                },
            ),
            ImageHealthcheck(("CMD-SHELL", "test -f /ok"), 2 * SECOND, 3 * SECOND, SECOND, 2, "Healthcheck"),
        ),
        # the top level wins over Config's
        (
            dict(INSPECT, Healthcheck={"Test": ["CMD", "true"]}, Config=dict(RUN, Healthcheck={"Test": ["NONE"]})),
            ImageHealthcheck(("CMD", "true"), where="Healthcheck"),
        ),
        # docker inspect, and a docker-format image config: under Config / config
        (
            dict(INSPECT, Config=dict(RUN, Healthcheck={"Test": ["NONE"]})),
            ImageHealthcheck(("NONE",), where="Config.Healthcheck"),
        ),
        (
            {"os": "linux", "config": {"Healthcheck": {"Test": ["CMD", "x"], "Retries": 0, "StartInterval": 5}}},
            ImageHealthcheck(("CMD", "x"), where="config.Healthcheck"),
        ),
        (dict(INSPECT, Healthcheck=None), None),
        (INSPECT, None),
    ],
    ids=[
        "podman-top-level",
        "top-level-wins",
        "docker-under-config",
        "oci-config-unknown-keys-ignored",
        "null",
        "absent",
    ],
)
def test_healthcheck(doc, expected) -> None:
    assert parse(doc).healthcheck == expected


@pytest.mark.parametrize(
    "doc, where",
    [
        (dict(INSPECT, Healthcheck={"Test": "CMD true"}), "Healthcheck.Test"),
        (dict(INSPECT, Healthcheck={"Test": ["CMD"], "Interval": -1}), "Healthcheck.Interval"),
        (dict(INSPECT, Healthcheck={"Test": ["CMD", "a\0b"]}), "Healthcheck.Test[1]"),
        ([dict(INSPECT, Healthcheck={"Retries": "3"})], "[0].Healthcheck.Retries"),
    ],
    ids=["test-not-a-list", "negative-interval", "nul-byte", "retries-not-a-number"],
)
def test_bad_healthcheck_names_the_field(doc, where) -> None:
    assert error_of(doc).where == where


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "doc",
    [[], [INSPECT, INSPECT], [OCI, OCI, OCI]],
    ids=["list-of-0", "list-of-2", "list-of-3"],
)
def test_list_must_hold_exactly_one_image(doc) -> None:
    err = error_of(doc)
    assert str(len(doc)) in err.problem


@pytest.mark.parametrize(
    "doc, where",
    [
        ({"Os": "windows", "Config": {}}, "Os"),
        ([{"Os": "windows"}], "[0].Os"),
        ({"os": "windows", "architecture": "amd64"}, "os"),
        ({"os": "freebsd"}, "os"),
        ({"os": "Linux"}, "os"),
        ({"Os": "darwin"}, "Os"),
    ],
    ids=["inspect-windows", "list-windows", "oci-windows", "oci-freebsd", "capitalised-linux", "darwin"],
)
def test_non_linux_os_is_an_error(doc, where: str) -> None:
    err = error_of(doc)
    assert err.where == where
    assert "linux" in err.problem


@pytest.mark.parametrize(
    "doc, where",
    [
        ({"Config": {"Env": "A=1"}}, "Config.Env"),
        ([{"Config": {"Env": "A=1"}}], "[0].Config.Env"),
        ([{"Config": {"Env": ["A=1", 5]}}], "[0].Config.Env[1]"),
        ({"config": {"Env": ["A=1", None]}}, "config.Env[1]"),
        ({"Config": {"User": 1000}}, "Config.User"),
        ({"config": {"User": 0}}, "config.User"),
        ({"Config": {"Entrypoint": "/bin/sh"}}, "Config.Entrypoint"),
        ({"Config": {"Cmd": ["a", ["b"]]}}, "Config.Cmd[1]"),
        ({"Config": {"WorkingDir": ["/srv"]}}, "Config.WorkingDir"),
        ({"Config": {"Volumes": ["/data"]}}, "Config.Volumes"),
        ({"config": {"Volumes": "/data"}}, "config.Volumes"),
        ({"Config": {"ExposedPorts": ["80/tcp"]}}, "Config.ExposedPorts"),
        ({"Config": {"StopSignal": 15}}, "Config.StopSignal"),
        ({"Config": {"Labels": ["a=b"]}}, "Config.Labels"),
        ({"Config": "oops"}, "Config"),
        ({"config": []}, "config"),
        ({"Os": 5}, "Os"),
        ({"Architecture": ["amd64"]}, "Architecture"),
        ([{"Os": "linux", "Created": 5}], "[0].Created"),
        ({"os": "linux", "author": {}}, "author"),
        ({"os": "linux", "os.version": 6}, "os.version"),
    ],
    ids=[
        "env-string",
        "list-env-string",
        "list-env-item",
        "oci-env-null-item",
        "numeric-user",
        "oci-numeric-user",
        "entrypoint-string",
        "cmd-nested",
        "workingdir-list",
        "volumes-list",
        "oci-volumes-string",
        "exposed-ports-list",
        "stopsignal-int",
        "labels-list",
        "config-string",
        "oci-config-list",
        "os-int",
        "architecture-list",
        "list-created-int",
        "oci-author-object",
        "oci-os-version-int",
    ],
)
def test_wrong_types_name_the_field_path(doc, where: str) -> None:
    err = error_of(doc)
    assert err.where == where, str(err)
    assert str(err).startswith(f"{where}: ")


@pytest.mark.parametrize(
    "doc, where",
    [
        ({"Config": {"Labels": {"a": 1}}}, 'Config.Labels["a"]'),
        ([{"Config": {"Labels": {"team": None}}}], '[0].Config.Labels["team"]'),
        ({"config": {"Labels": {"x y": ["y"]}}}, 'config.Labels["x y"]'),
    ],
    ids=["label-int", "list-label-null", "oci-label-list"],
)
def test_bad_label_values_name_the_label(doc, where: str) -> None:
    assert error_of(doc).where == where


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1,", "nul", '{"Os": "linux",}', "\xff"],
    ids=["empty", "unclosed-object", "unclosed-list", "bad-literal", "trailing-comma", "not-utf8-text"],
)
def test_invalid_json(text: str) -> None:
    assert "JSON" in str(error_of(text))


@pytest.mark.parametrize(
    "data",
    [
        b'{"Os": "\xff"}',
        b'{"config": {"Env": ["A=\xc3"]}, "os": "linux"}',
        b"\xff",
    ],
    ids=["invalid-byte-in-string", "truncated-sequence-in-env", "invalid-byte-outside-string"],
)
def test_invalid_utf8_bytes_are_a_clean_error(data: bytes) -> None:
    error_of(data)


@pytest.mark.parametrize(
    "doc",
    [{}, {"foo": 1}, {"Id": "abc", "RepoTags": []}, "linux", 5, None, [5], [None], [[INSPECT]]],
    ids=[
        "empty-object",
        "unknown-object",
        "inspect-without-image-fields",
        "string",
        "number",
        "null",
        "list-of-number",
        "list-of-null",
        "nested-list",
    ],
)
def test_not_an_image_config(doc) -> None:
    err = error_of(doc)
    assert err.where == ""


def test_exposed_ports_and_volumes_sorted_as_strings() -> None:
    image = parse(
        {
            "Os": "linux",
            "Config": {
                "ExposedPorts": {"80/udp": {}, "8080/tcp": {}, "443": {}},
                "Volumes": {"/z": {}, "/a/b": {}, "/a": {}},
            },
        }
    )
    assert image.exposed_ports == ("443", "80/udp", "8080/tcp")  # '/' sorts before '8'

    assert image.volumes == ("/a", "/a/b", "/z")
