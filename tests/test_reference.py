"""Image references (compiler/reference.py: parse_reference), checked with the grammar of
distribution/reference (reference.go / regexp.go):

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain '/'] remote-name
    domain     := host [ ":" port-number ]      (host: DNS labels, or an [IPv6] literal)
    remote     := path-component ['/' path-component]*
    path-comp  := [a-z0-9]+ (separator [a-z0-9]+)*      separator := [_.] | __ | [-]+
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex (at least 32 hex digits)
    a name is at most 255 characters.

The first component is a registry only when it contains '.' or ':' or is `localhost`
(the docker normalisation rule), so `foo/bar` is the path `foo/bar`.
"""

from __future__ import annotations

import pytest

from compiler.errors import HpError
from compiler.reference import ImageRef, parse_reference

WHERE = "containers.web.image"
SHA = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:5000/library/web:1", ImageRef("127.0.0.1:5000", "library/web", "1", "")),
        ("localhost/x", ImageRef("localhost", "x", "", "")),
        ("localhost:5000/x:latest", ImageRef("localhost:5000", "x", "latest", "")),
        ("[::1]:5000/a", ImageRef("[::1]:5000", "a", "", "")),
        ("[::1]/a:b", ImageRef("[::1]", "a", "b", "")),
        ("[2001:db8::1]:443/ns/app:v2", ImageRef("[2001:db8::1]:443", "ns/app", "v2", "")),
        ("busybox", ImageRef("", "busybox", "", "")),
        ("busybox:1.36", ImageRef("", "busybox", "1.36", "")),
        ("library/busybox", ImageRef("", "library/busybox", "", "")),
        ("docker.io/library/busybox:latest", ImageRef("docker.io", "library/busybox", "latest", "")),
        ("quay.io/org/sub/app:v1.2.3-rc_1", ImageRef("quay.io", "org/sub/app", "v1.2.3-rc_1", "")),
        (f"busybox@{SHA}", ImageRef("", "busybox", "", SHA)),
        (f"127.0.0.1:5000/web:1@{SHA}", ImageRef("127.0.0.1:5000", "web", "1", SHA)),
        ("a/b@sha512:" + "ab" * 64, ImageRef("", "a/b", "", "sha512:" + "ab" * 64)),
        ("a__b/c-d/e.f/g--h_i", ImageRef("", "a__b/c-d/e.f/g--h_i", "", "")),
        ("my-registry.example.com:8443/a:TAG_Upper", ImageRef("my-registry.example.com:8443", "a", "TAG_Upper", "")),
        ("web:" + "t" * 128, ImageRef("", "web", "t" * 128, "")),
        ("web:_under", ImageRef("", "web", "_under", "")),
        ("0/1:2", ImageRef("", "0/1", "2", "")),
    ],
    ids=[
        "ip-port-registry-with-tag",
        "localhost",
        "localhost-port-tag",
        "ipv6-with-port",
        "ipv6-without-port",
        "ipv6-full",
        "bare-name",
        "bare-name-tag",
        "two-components-no-registry",
        "docker-hub-explicit",
        "deep-path-rich-tag",
        "digest",
        "tag-and-digest",
        "sha512-digest",
        "all-separators",
        "dashed-host-uppercase-tag",
        "tag-128-chars",
        "tag-starting-underscore",
        "digits-only",
    ],
)
def test_valid(text: str, expected: ImageRef) -> None:
    ref = parse_reference(text, WHERE)
    assert ref == expected
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "library/Web",
        "Web",
        "127.0.0.1:5000/Library/web",
        "web app",
        " web",
        "web ",
        "web\tapp",
        "web\n",
        "web;rm -rf /",
        "web;x",
        "$(x)",
        "web$(x)",
        "`id`",
        "'web'",
        '"web"',
        "web:",
        "web:-tag",
        "web:.tag",
        "web:tag!",
        "web:" + "t" * 129,
        "web@",
        "web@sha256:xyz",
        "web@sha256:abc",
        "web@sha256",
        "web@:" + "a" * 64,
        "web@sha256:" + "g" * 64,
        # distribution/reference's Parse validates the digest with go-digest: a sha256 digest is
        # exactly 64 lowercase hex digits (sha384: 96, sha512: 128)
        "web@sha256:" + "a" * 40,
        "web@sha256:" + "A" * 64,
        "web@sha512:" + "a" * 64,
        "/web",
        "web/",
        "a//b",
        "-web",
        "web-",
        "a..b",
        "a___b",
        "a/.b",
        ":tag",
        "@" + SHA,
        "example.com:port/a",
        "exa_mple.com/a",
        "-host.com/a",
        "wéb",
        "web\0",
        "a&b",
        "a|b",
        "a>b",
        "a*",
        "a" * 256,
        "reg.io/" + "a" * 249,
    ],
    ids=[
        "empty",
        "uppercase-repo",
        "uppercase-single",
        "uppercase-after-registry",
        "space-inside",
        "leading-space",
        "trailing-space",
        "tab",
        "newline",
        "semicolon-command",
        "semicolon",
        "command-substitution",
        "command-substitution-suffix",
        "backticks",
        "single-quotes",
        "double-quotes",
        "empty-tag",
        "tag-starting-dash",
        "tag-starting-dot",
        "tag-bang",
        "tag-129-chars",
        "empty-digest",
        "digest-not-hex",
        "digest-too-short",
        "digest-no-hex-part",
        "digest-no-algorithm",
        "digest-bad-hex",
        "sha256-digest-wrong-length",
        "sha256-digest-uppercase-hex",
        "sha512-digest-wrong-length",
        "leading-slash",
        "trailing-slash",
        "empty-component",
        "leading-dash",
        "trailing-dash",
        "double-dot",
        "triple-underscore",
        "component-starting-dot",
        "only-tag",
        "only-digest",
        "non-numeric-port",
        "underscore-in-host",
        "host-leading-dash",
        "non-ascii",
        "nul",
        "ampersand",
        "pipe",
        "redirect",
        "glob",
        "name-too-long",
        "name-with-registry-too-long",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(HpError) as info:
        parse_reference(text, WHERE)
    err = info.value
    assert err.where == WHERE
    assert err.problem.startswith("invalid image reference")
    assert "\n" not in str(err)
    assert str(err).startswith(f"{WHERE}: ")


def test_longest_valid_name() -> None:
    """255 characters is the limit for the name (domain/path), not counting the tag."""
    name = "reg.io/" + "a" * 248
    assert len(name) == 255
    assert parse_reference(name + ":t", WHERE).path == "a" * 248


def test_first_component_is_a_path_unless_it_looks_like_a_host() -> None:
    assert parse_reference("foo/bar", WHERE).domain == ""
    assert parse_reference("foo.com/bar", WHERE).domain == "foo.com"
    assert parse_reference("foo:5000/bar", WHERE).domain == "foo:5000"


def test_a_colon_in_the_registry_is_not_a_tag() -> None:
    ref = parse_reference("reg:5000/app", WHERE)
    assert (ref.domain, ref.path, ref.tag) == ("reg:5000", "app", "")
