"""hp's compiler: pure functions from (hp.toml, image facts) to an OCI runtime config.

No I/O happens here: no files, no processes, no environment, no clock. Callers
(the executor, or any Python code) read the inputs and pass them in.

    from compiler import parse_hp_file, parse_image_config, HostFacts, HostFile, ImageFacts, compile_container, \
        encode_config
    hp = parse_hp_file(open("hp.toml", "rb").read())
    facts = ImageFacts(parse_image_config(open("image.json", "rb").read()), passwd=..., group=...)
    host = HostFacts(arch="x86_64", kernel="6.1.0", default_seccomp=HostFile("seccomp.json", ...))
    print(encode_config(compile_container("web", hp.containers["web"], facts, host=host)).decode())
"""

from collections.abc import Mapping

from .compile import ImageFacts, Settings, check_file, compile_container, container_settings
from .defaults import Defaults, defaults
from .env import EnvFile
from .errors import HpError
from .host import HostDevice, HostFacts, HostFile
from .image import ImageConfig, parse_image_config
from .network import check_networks
from .oci import RuntimeConfig, encode_config
from .spec import ContainerSpec, HpFile, parse_hp_file
from .volumes import check_volume_mounts


def compile_config_json(
    hp_toml: bytes | str,
    container: str | None,
    image_config: bytes | str,
    passwd: str | None = None,
    group: str | None = None,
    netns_path: str | None = None,
    env_files: Mapping[str, EnvFile] | None = None,
    host: HostFacts | None = None,
) -> bytes:
    """The whole `hp compile` as one pure call: input texts in, config.json bytes out.

    `container` may be None when the file has exactly one container. `netns_path`: the
    network namespace to join (hp apply's is STATE/netns/NAME); without it a fresh one.
    `env_files`: the text of each env_file the container names, by the path as written.
    `host`: the host's facts (compiler/host.py): arch, kernel, seccomp profiles, devices.
    Raises HpError (its `source` says which input is at fault).
    """
    try:
        hp_file = parse_hp_file(hp_toml)
    except HpError as e:
        raise e.from_source("spec") from None
    return compile_hp_file(hp_file, container, image_config, passwd, group, netns_path, env_files, host)


def compile_hp_file(
    hp_file: HpFile,
    container: str | None,
    image_config: bytes | str,
    passwd: str | None = None,
    group: str | None = None,
    netns_path: str | None = None,
    env_files: Mapping[str, EnvFile] | None = None,
    host: HostFacts | None = None,
) -> bytes:
    """compile_config_json of a file parsed already (parse_hp_file): its cross-table checks, then the config."""
    try:
        check_networks(hp_file)
        check_volume_mounts(hp_file)
    except HpError as e:
        raise e.from_source("spec") from None
    name = pick_container(hp_file, container)
    try:
        image = parse_image_config(image_config)
    except HpError as e:
        raise e.from_source("image") from None
    return encode_config(
        compile_container(
            name,
            hp_file.containers[name],
            ImageFacts(image, passwd, group),
            netns_path=netns_path,
            env_files=env_files,
            host=host,
        )
    )


def pick_container(hp_file: HpFile, container: str | None) -> str:
    names = sorted(hp_file.containers)
    if container is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise HpError("containers", "the file defines no containers", source="spec")
        raise HpError(
            "--container", f"the file defines several containers; choose one of: {', '.join(names)}", source="option"
        )
    if container not in hp_file.containers:
        have = ", ".join(names) if names else "none"
        raise HpError("--container", f"no container named {container!r} in the file (it has: {have})", source="option")
    return container


__all__ = [
    "ContainerSpec",
    "Defaults",
    "HostDevice",
    "HostFacts",
    "HostFile",
    "HpError",
    "HpFile",
    "ImageConfig",
    "ImageFacts",
    "RuntimeConfig",
    "Settings",
    "check_file",
    "compile_config_json",
    "compile_hp_file",
    "compile_container",
    "container_settings",
    "defaults",
    "encode_config",
    "parse_hp_file",
    "parse_image_config",
    "pick_container",
]
