"""Container paths: absolute, normalised, and checked, without touching any filesystem."""

from __future__ import annotations

from .errors import HpError, quote


def normalise(path: str) -> str:
    """Lexical clean-up of an absolute path, like Go's filepath.Clean: no '.', '..', '//' or trailing '/'."""
    if path == "/" or (path.startswith("/") and not path.endswith("/") and "//" not in path and "/." not in path):
        return path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def absolute_path(path: str, where: str, what: str = "path") -> str:
    """`path` normalised; an HpError at `where` if it is relative, empty or has a NUL byte."""
    if "\0" in path:
        raise HpError(where, f"{what} contains a NUL byte")
    if not path.startswith("/"):
        raise HpError(where, f"{what} {quote(path)} is not absolute (it must start with /)")
    return normalise(path)


def depth(path: str) -> int:
    """Number of components: / is 0, /a is 1, /a/b is 2."""
    return 0 if path == "/" else path.count("/")


def is_within(path: str, parent: str) -> bool:
    """True if `path` is `parent` or below it (both normalised)."""
    return path == parent or parent == "/" or path.startswith(parent + "/")
