"""`hp export kube`: gather what `hp plan` gathers about the images (podman inspect, the image's
/etc/passwd and /etc/group, pulling a missing image as plan does), convert purely
(compiler/kube.py), write the YAML. The seccomp profile files hp.toml names are read and checked as
hp plan checks them; no other host facts."""

from __future__ import annotations

import os
from collections.abc import Callable

from compiler.errors import HpError
from compiler.host import HostFacts
from compiler.kube import KubeExport, KubeOptions, check_exportable, export_kube
from compiler.layout import Layout
from compiler.seccomp import check_profiles

from .host import seccomp_files
from .images import PreparedImage, ensure_image
from .planning import check_input, read_env_files
from .session import insecure_registry, registry_timeout
from .store import write_atomic


def export_file(
    layout: Layout, file: str, data: bytes, options: KubeOptions, say: Callable[[str], None] = lambda _: None
) -> KubeExport:
    """The export of FILE (its bytes are `data`): the file is checked and its env files read before any image
    is pulled; only the images of the exported containers are prepared."""
    hp_file = check_input(data)
    try:
        chosen = {name: hp_file.containers[name] for name in check_exportable(hp_file, options)}
    except HpError as e:
        raise e.from_source("spec") from None
    env_files = read_env_files(file, type(hp_file)(containers=chosen))
    # the profile files are the user's own input, checked as hp plan checks them (the node needs the same file)
    check_profiles(HostFacts(seccomp_files=seccomp_files(type(hp_file)(containers=chosen), os.path.dirname(file))))
    images: dict[str, PreparedImage] = {}
    for ref in sorted({spec.image for spec in chosen.values()}):
        images[ref] = ensure_image(
            ref, layout, insecure=insecure_registry(hp_file, ref), pull_timeout=registry_timeout(hp_file, ref), say=say
        )
        if images[ref].pulled:
            say(f"pulled {ref}")
    try:
        return export_kube(hp_file, {ref: image.facts for ref, image in images.items()}, options, env_files)
    except HpError as e:
        raise e.from_source("spec") from None


def check_output(out: str) -> None:
    """--out FILE's directory exists (checked before anything is pulled)."""
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise HpError("--out", f"{directory}: no such directory")


def write_output(out: str, text: str) -> None:
    """--out FILE: written whole or not at all (a temporary file renamed over it), readable only by its owner:
    a manifest may hold the values of sensitive variables."""
    check_output(out)
    path = os.path.abspath(out)
    try:
        write_atomic(path, text.encode("utf-8"), mode=0o600)
    except OSError as e:
        raise HpError("--out", f"cannot write {out}: {e.strerror or e}") from None
