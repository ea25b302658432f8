"""compile_container(name, spec, facts) → RuntimeConfig: every conversion rule, composed.

Pure: everything about the world (the image's config, its /etc/passwd and
/etc/group) arrives in `facts`. Same inputs, same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from . import depends, oci
from .annotations import build_annotations
from .args import resolve_args
from .capabilities import capability_sets
from .cgroups import cgroups_path
from .defaults import Defaults, defaults
from .devices import (
    check_with_privileged,
    device_nodes,
    parse_devices,
    privileged_capabilities,
    privileged_defaults,
    privileged_nodes,
)
from .env import EnvFile, file_env, merge_env
from .errors import HpError, key_path, quote
from .health import check_spec as check_health_spec
from .host import HostFacts
from .image import ImageConfig
from .mounts import assemble_mounts, user_mounts
from .network import Mode, check_networks, mode_and_name, namespaces
from .paths import absolute_path
from .reference import ImageRef, parse_reference
from .resources import CPU_PERIOD, cpu_quota, memory_limits, pids_limit, pull_timeout, rlimit
from .seccomp import container_seccomp
from .signals import parse_signal
from .spec import ContainerSpec, HpFile
from .supervision import supervision
from .sysctls import sysctls
from .users import parse_group, parse_passwd, resolve_user
from .volumes import check_volume_mounts

_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


class ImageFacts(msgspec.Struct, frozen=True):
    """What the executor learned about an image: its config, and the text of its
    /etc/passwd and /etc/group (None: the image has no such file)."""

    config: ImageConfig
    passwd: str | None = None
    group: str | None = None


class Settings(msgspec.Struct, frozen=True):
    """The parts of a container's config that do not depend on its image, checked."""

    image: ImageRef
    hostname: str
    cwd: str | None
    mounts: tuple[oci.Mount, ...]
    resources: oci.Resources
    rlimits: tuple[oci.Rlimit, ...]


def container_settings(name: str, spec: ContainerSpec, d: Defaults | None = None) -> Settings:
    """Check everything in `spec` that can be checked without the image."""
    d = d or defaults()
    where = key_path("containers", name)
    image = parse_reference(spec.image, f"{where}.image")
    hostname = spec.hostname if spec.hostname is not None else name
    if not _HOSTNAME.fullmatch(hostname):
        raise HpError(
            f"{where}.hostname", f"invalid hostname {quote(hostname)}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    cwd = absolute_path(spec.workdir, f"{where}.workdir", "workdir") if spec.workdir is not None else None
    limit, swap = memory_limits(spec.memory, spec.memory_swap, where)
    quota = cpu_quota(spec.cpus, f"{where}.cpus")
    pids = pids_limit(spec.pids_limit if spec.pids_limit is not None else d.pids_limit, f"{where}.pids_limit")
    resources = oci.Resources(
        devices=d.devices,
        memory=oci.Memory(limit=limit, swap=swap) if limit is not None else None,
        cpu=oci.Cpu(quota=quota, period=CPU_PERIOD) if quota is not None else None,
        pids=oci.Pids(limit=pids) if pids is not None else None,
    )
    limits = {r.type: r for r in d.rlimits}
    named: dict[str, str] = {}
    ulimits = spec.ulimits or {}
    for key in sorted(ulimits):
        at = key_path(f"{where}.ulimits", key)
        kind, soft, hard = rlimit(key, ulimits[key], at)
        if kind in named:
            raise HpError(at, f"sets {kind} again (already set by {named[kind]})")
        named[kind] = at
        limits[kind] = oci.Rlimit(kind, hard, soft)
    sysctls(spec.sysctls, mode_and_name(spec.network)[0], f"{where}.sysctls")
    if spec.privileged:
        check_with_privileged(spec.cap_drop, spec.devices, where)
    parse_devices(spec.devices, f"{where}.devices")
    if spec.cap_add or spec.cap_drop:
        capability_sets(d.capabilities, spec.cap_add, spec.cap_drop, root=True, where=where)
    return Settings(
        image=image,
        hostname=hostname,
        cwd=cwd,
        mounts=user_mounts(spec.mounts, f"{where}.mounts", d.volume_dir),
        resources=resources,
        rlimits=tuple(limits[k] for k in sorted(limits)),
    )


def check_file(hp_file: HpFile) -> None:
    """Raise the first HpError among all containers' image-independent settings and the
    file's networks (bad subnets, unknown networks, ports published twice ...) and registries' settings."""
    for name, spec in hp_file.containers.items():
        container_settings(name, spec)
        supervision(name, spec)
        check_health_spec(name, spec)
    depends.check(dependency_graph(hp_file))
    for host, registry in hp_file.registries.items():
        pull_timeout(registry.timeout, f"{key_path('registries', host)}.timeout")
    check_networks(hp_file)
    check_volume_mounts(hp_file)


def dependency_graph(hp_file: HpFile) -> dict[str, dict[str, depends.Condition]]:
    """Each container's depends_on as {dependency: condition} (compiler/depends.py)."""
    return {
        name: depends.normalize(spec.depends_on, f"{key_path('containers', name)}.depends_on")
        for name, spec in sorted(hp_file.containers.items())
    }


def compile_container(
    name: str,
    spec: ContainerSpec,
    facts: ImageFacts,
    d: Defaults | None = None,
    netns_path: str | None = None,
    cgroup_name: str | None = None,
    volumes_dir: str | None = None,
    env_files: Mapping[str, EnvFile] | None = None,
    host: HostFacts | None = None,
) -> oci.RuntimeConfig:
    """The OCI runtime config for container `name`, or an HpError whose `source`
    says which input ("spec", "image", "passwd", "group") the path is in.

    netns_path: where the executor mounts the container's network namespace (bridge
    networks); without it (`hp compile`), and always for network "none", the runtime makes
    a fresh one with only loopback. Network "host" has no network namespace of its own.

    cgroup_name: the container's cgroup under /hp (default: its name); hp apply makes it
    unique per state directory (Layout.cgroup_name).

    volumes_dir: where volumes live (Layout.volumes_dir); without it (`hp compile`), the relative `volumes`.

    env_files: the text of each of spec.env_file's files, by the path as written there."""
    d = d or defaults()
    if volumes_dir is not None:
        d = msgspec.structs.replace(d, volume_dir=volumes_dir)
    if spec.privileged:
        d = privileged_defaults(d)
    host = host or HostFacts()
    where = key_path("containers", name)
    rules: tuple[oci.DeviceRule, ...]
    try:
        settings = container_settings(name, spec, d)
        if spec.privileged:
            nodes, rules = privileged_nodes(host), ()
        else:
            nodes, rules = device_nodes(parse_devices(spec.devices, f"{where}.devices"), host, f"{where}.devices")
    except HpError as e:
        raise e.from_source("spec") from None
    image = facts.config
    section = image.config_field

    def image_error(e: HpError) -> HpError:
        return e.from_source("image" if e.where.startswith(section) or e.where.startswith("[0]") else "spec")

    try:
        if image.stop_signal:
            parse_signal(image.stop_signal, f"{section}.StopSignal")
        for field, values in (("Entrypoint", image.entrypoint), ("Cmd", image.cmd)):
            for i, arg in enumerate(values or ()):
                if "\0" in arg:
                    raise HpError(f"{section}.{field}[{i}]", "contains a NUL byte")
        args = resolve_args(image.entrypoint, image.cmd, spec.entrypoint, spec.command, where)
        if spec.keep_alive:
            args = (d.init_path, "--keep-alive", "--") + args
        if spec.user is not None:
            user_spec, user_where = spec.user, f"{where}.user"
        else:
            user_spec, user_where = image.user, f"{section}.User"
        passwd = parse_passwd(facts.passwd) if facts.passwd is not None else None
        group = parse_group(facts.group) if facts.group is not None else None
        user = resolve_user(user_spec, user_where, passwd, group)
        if settings.cwd is not None:
            cwd = settings.cwd
        elif image.working_dir:
            cwd = absolute_path(image.working_dir, f"{section}.WorkingDir", "WorkingDir")
        else:
            cwd = "/"
        env = merge_env(
            image.env,
            f"{section}.Env",
            spec.env,
            f"{where}.env",
            hostname=settings.hostname,
            terminal=spec.terminal,
            home=user.home,
            file_env=file_env(spec.env_file, env_files or {}, f"{where}.env_file"),
        )
        if spec.privileged:
            caps = privileged_capabilities(host, spec.cap_add, root=user.uid == 0, where=where)
        else:
            caps = capability_sets(d.capabilities, spec.cap_add, spec.cap_drop, root=user.uid == 0, where=where)
        annotations = build_annotations(image, spec.labels_to_annotations, spec.annotations, f"{where}.annotations")
        mounts = assemble_mounts(
            d,
            image,
            settings.mounts,
            read_only=spec.read_only,
            keep_alive=spec.keep_alive,
            container=name,
            where=f"{where}.mounts",
        )
    except HpError as e:
        raise image_error(e) from None
    seccomp = container_seccomp(
        spec.seccomp, privileged=spec.privileged, bounding=caps.bounding, host=host, where=f"{where}.seccomp"
    )
    return oci.RuntimeConfig(
        oci_version=d.oci_version,
        process=oci.Process(
            terminal=spec.terminal,
            user=oci.User(uid=user.uid, gid=user.gid, additional_gids=user.additional_gids, umask=d.umask),
            args=args,
            env=env,
            cwd=cwd,
            capabilities=oci.ProcessCapabilities(
                bounding=caps.bounding,
                effective=caps.effective,
                inheritable=caps.inheritable,
                permitted=caps.permitted,
                ambient=caps.ambient,
            ),
            rlimits=settings.rlimits,
            no_new_privileges=True,
        ),
        root=oci.Root(path="rootfs", readonly=spec.read_only),
        hostname=settings.hostname,
        mounts=mounts,
        annotations=annotations or None,
        linux=oci.Linux(
            resources=msgspec.structs.replace(settings.resources, devices=(settings.resources.devices or ()) + rules),
            cgroups_path=cgroups_path(cgroup_name or name, d),
            namespaces=_namespaces(d.namespaces, mode_and_name(spec.network)[0], netns_path),
            devices=nodes or None,
            seccomp=seccomp,
            masked_paths=d.masked_paths or None,
            readonly_paths=d.readonly_paths or None,
            sysctl=sysctls(
                spec.sysctls, mode_and_name(spec.network)[0], f"{key_path('containers', name)}.sysctls", dict(d.sysctls)
            ),
        ),
    )


def _namespaces(kinds: tuple[str, ...], mode: Mode, netns_path: str | None) -> tuple[oci.Namespace, ...]:
    """A bridged container joins the namespace hp made (by path); "none" gets a fresh one
    from the runtime (crun brings its loopback up); "host" has none of its own."""
    if netns_path and mode == "bridge":
        return namespaces(kinds, mode, netns_path)
    return tuple(oci.Namespace(type=k) for k in kinds if not (k == "network" and mode == "host"))
