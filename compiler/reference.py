"""Image references ([registry[:port]/]path[:tag][@digest]), checked with the grammar of
distribution/reference, so a bad one is refused before anything is pulled."""

from __future__ import annotations

import re
from functools import lru_cache

import msgspec

from .errors import HpError, quote

_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
# go-digest's registered algorithms: lowercase hex of exactly the hash's length
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}", re.ASCII)


class ImageRef(msgspec.Struct, frozen=True):
    domain: str
    path: str
    tag: str
    digest: str

    def __str__(self) -> str:
        name = f"{self.domain}/{self.path}" if self.domain else self.path
        return name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


@lru_cache(maxsize=1024)  # pure; a file names few images, many times
def parse_reference(text: str, where: str) -> ImageRef:
    def bad(why: str) -> HpError:
        return HpError(where, f"invalid image reference {quote(text)}: {why}")

    if not text:
        raise bad("it is empty")
    if not (text.isascii() and text.isprintable()) or " " in text:
        raise bad("it may not contain spaces, control or non-ASCII characters")
    rest, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise bad(f"{quote(digest)} is not a digest like sha256:<64 lowercase hex digits>")
    name, tag = rest, ""
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        name, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise bad(f"{quote(tag)} is not a valid tag (letters, digits, '_', '.', '-'; at most 128)")
    domain, slash, path = name.partition("/")
    if not slash or not ("." in domain or ":" in domain or domain == "localhost" or domain != domain.lower()):
        domain, path = "", name
    elif not _DOMAIN_RE.fullmatch(domain):
        raise bad(f"{quote(domain)} is not a valid registry host[:port]")
    if not path:
        raise bad("the repository name is missing")
    if not _PATH.fullmatch(path):
        raise bad("the repository name must be lowercase letters, digits and separators (. _ __ -) between '/'")
    if len(name) > 255:
        raise bad("the name is longer than 255 characters")
    return ImageRef(domain, path, tag, digest)
