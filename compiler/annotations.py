"""config.json annotations: the image's implicit ones, opt-in labels, then the container's own."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import HpError, key_path
from .image import ImageConfig

# Keys that crun or runc act on: an image label must never set them (image-spec PR #1061).
RUNTIME_PREFIXES = ("run.oci.", "org.criu.", "krun.", "org.systemd.property.", "io.kubernetes.cri.")
RUNTIME_KEYS = ("bundle", "module.wasm.image/variant")

_IMPLICIT = "org.opencontainers.image."


def is_runtime_key(key: str) -> bool:
    return key in RUNTIME_KEYS or key.startswith(RUNTIME_PREFIXES)


def build_annotations(
    image: ImageConfig, labels_to_annotations: bool, own: Mapping[str, str] | None, where: str
) -> dict[str, str]:
    """Sorted by key. Precedence: the container's annotations > labels > implicit ones."""
    found: dict[str, str] = {}
    for suffix, value in (
        ("os", image.os),
        ("os.version", image.os_version),
        ("architecture", image.architecture),
        ("variant", image.variant),
        ("author", image.author),
        ("created", image.created),
        ("stopSignal", image.stop_signal),
        ("exposedPorts", ",".join(image.exposed_ports)),
    ):
        if value:
            found[_IMPLICIT + suffix] = value
    if labels_to_annotations:
        for key, value in image.labels:
            if key and not is_runtime_key(key):
                found[key] = value
    for key, value in (own or {}).items():
        if not key:
            raise HpError(where, "an annotation key may not be empty")
        if "\0" in key or "\0" in value:
            raise HpError(key_path(where, key), "contains a NUL byte")
        found[key] = value
    return {key: found[key] for key in sorted(found)}
