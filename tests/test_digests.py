"""compiler.digests: the built-in SHA-256 it uses gives hashlib's digests (names and fingerprints
hp has written before depend on them)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from compiler.digests import sha256_hex


@given(st.binary(max_size=4096))
def test_sha256_hex_is_hashlibs(data):
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_a_known_digest():
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
