"""SHA-256 digests as hex, for names and fingerprints.

The digests are of short names and of one seccomp profile: CPython's own built-in SHA-256 does
them without hashlib, whose import loads OpenSSL (~3 ms of a ~65 ms `hp compile`; docs/design.md,
start-up). hashlib where the built-in module is missing (it is optional in a CPython build).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _sha256() -> Callable[[bytes], Any]:
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # CPython >= 3.12's built-in module
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.11's
        except ImportError:
            from hashlib import sha256
    return sha256  # type: ignore[no-any-return]  # each returns a hash object with hexdigest()


_SHA256 = _sha256()


def sha256_hex(data: bytes) -> str:
    return str(_SHA256(data).hexdigest())
