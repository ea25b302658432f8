"""`hp plan`: gather the facts (hp's records, crun's status, the images), compile every
container, and compare. The comparison itself is compiler.plan's, pure.

A file manages the containers whose record names it (by real path): `hp plan` of one file
never plans to touch another file's containers, and refuses a name another file holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import msgspec

from compiler import HpFile, check_file, compile_container, depends, parse_hp_file
from compiler.bundle import container_bundle
from compiler.cni import NetworkSetup, network_setup
from compiler.commands import route_list_argv
from compiler.compile import dependency_graph
from compiler.env import EnvFile, env_file_identities
from compiler.errors import HpError, key_path
from compiler.health import HealthCheck, effective_check
from compiler.host import HostFacts
from compiler.layout import Layout
from compiler.network import container_network, parse_routes
from compiler.plan import Current, Plan, current_of, desired_of, plan
from compiler.saved_plan import Fingerprint, file_sha256
from compiler.seccomp import check_profiles, profile_digests, profile_file, profile_identity
from compiler.shared_networks import bridge_of_another_network, default_hint, shared_network_problem
from compiler.signals import image_stop_signal
from compiler.spec import ContainerSpec
from compiler.state import ContainerRecord
from compiler.supervision import stopped_by_hp, supervision

from . import __version__, bridges, ports
from .containers import NewContainer, crun_statuses, read_run_state
from .host import host_facts
from .images import PreparedImage, ensure_image
from .inputs import read_env_files  # in inputs.py: hp compile reads env files without importing planning
from .networking import read_setup
from .run import run
from .session import host_resolv_conf, insecure_registry, registry_timeout
from .store import container_names, read_int, read_or_none, read_record, read_serial
from .volumes import mounted_volumes, tree_size


class Planned(msgspec.Struct, frozen=True):
    """A plan, the fingerprint of the world it was made in, and what its creates are made of."""

    plan: Plan
    fingerprint: Fingerprint
    new: dict[str, NewContainer]


def file_identity(path: str) -> str:
    """The name a file's containers are recorded under: its real path."""
    return os.path.realpath(path)


def make_plan(
    layout: Layout,
    file: str,
    data: bytes,
    *,
    destroy: bool = False,
    pull_missing: bool = True,
    say: Callable[[str], None] = lambda _: None,
    checked: HpFile | None = None,
    remove_volumes: bool = False,
) -> Planned:
    """Plan FILE (its bytes are `data`) against the state in `layout`. With destroy, the
    file wants nothing (and is not parsed: a broken file's containers can still go).
    checked: check_input(data), when the caller has it already.
    remove_volumes: with destroy, `hp destroy --volumes`: the plan deletes the containers' volumes too."""
    owner = file_identity(file)
    hp_file = HpFile() if destroy else checked or check_input(data)
    records = {name: read_record(layout, name) for name in container_names(layout)}
    for name in sorted(hp_file.containers):
        record = records.get(name)
        if name in records and (record is None or record.file != owner):
            holder = record.file if record is not None else ""
            raise HpError(
                key_path("containers", name),
                f"a container named {name} already exists, managed by {holder}"
                if holder
                else f"a container named {name} already exists, but its record is missing or unreadable "
                f"(hp rm --force {name} removes it)",
                source="spec",
            )
    # other files' containers (and unreadable records): how they are networked, read once for both checks
    theirs = {n: read_setup(layout, n) for n, r in sorted(records.items()) if r is None or r.file != owner}
    _check_bridges(layout, hp_file, theirs)
    env_files = read_env_files(file, hp_file)  # before anything is pulled
    host = host_facts(hp_file, os.path.dirname(file))
    check_profiles(host)  # a bad profile fails before anything is pulled
    images: dict[str, PreparedImage] = {}
    pulled = []
    for ref in sorted({spec.image for spec in hp_file.containers.values()}):
        images[ref] = ensure_image(
            ref,
            layout,
            insecure=insecure_registry(hp_file, ref),
            pull_missing=pull_missing,
            pull_timeout=registry_timeout(hp_file, ref),
            say=say,
        )
        if images[ref].pulled:
            pulled.append(ref)
            say(f"pulled {ref}")
    new = _compile_all(layout, hp_file, images, owner, env_files, host) if hp_file.containers else {}
    _check_shared_networks(layout, hp_file, new, theirs)
    depends.check_healthy(
        {n: c.depends_on for n, c in new.items()}, {n for n, c in new.items() if c.healthcheck is None}
    )
    current = _current(layout, {n: r for n, r in records.items() if r is not None and r.file == owner})
    graph = dependency_graph(hp_file)
    desired = {name: desired_of(c, c.network, hp_file.containers[name], graph[name]) for name, c in new.items()}
    content = "" if destroy else file_sha256(data)  # destroying does not depend on the content
    fingerprint = Fingerprint(
        __version__,
        owner,
        content,
        layout.state_dir,
        read_serial(layout),
        {ref: images[ref].image_id for ref in sorted(images)},
        destroy,
        profiles=profile_digests(host),
    )
    steps = plan(
        desired,
        current,
        tuple(pulled),
        destroy,
        remove_volumes=destroy and remove_volumes,
        volumes_dir=layout.volumes_dir,
    )
    ports.check_plan(layout, steps, new)
    return Planned(steps, fingerprint, new)


def check_input(data: bytes) -> HpFile:
    """hp.toml's bytes parsed and checked as far as possible without the host (HpError, source "spec")."""
    try:
        hp_file = parse_hp_file(data)
        check_file(hp_file)
    except HpError as e:
        raise e.from_source("spec") from None
    return hp_file


def _compile_all(
    layout: Layout,
    hp_file: HpFile,
    images: dict[str, PreparedImage],
    owner: str,
    env_files: dict[str, EnvFile],
    host: HostFacts,
) -> dict[str, NewContainer]:
    resolv = host_resolv_conf()
    graph = dependency_graph(hp_file)
    new = {}
    for name in sorted(hp_file.containers):
        spec = hp_file.containers[name]
        image = images[spec.image]
        net = container_network(hp_file, name)
        try:
            config = compile_container(
                name,
                spec,
                image.facts,
                netns_path=layout.netns(name),
                cgroup_name=layout.cgroup_name(name),
                volumes_dir=layout.volumes_dir,
                env_files=env_files,
                host=host,
            )
        except HpError as e:
            raise e.from_source("spec") from None
        stop_signal = image_stop_signal(image.facts.config.stop_signal, spec.image)
        hostname = config.hostname or name
        setup = network_setup(layout, name, hostname, net)
        bundle = container_bundle(layout, name, config, net, setup, resolv, keep_alive=spec.keep_alive)
        new[name] = NewContainer(
            name,
            spec.image,
            image,
            config,
            bundle,
            stop_signal,
            setup,
            owner,
            spec.must_run,
            spec.stop_timeout,
            spec.prevent_destroy,
            supervision(name, spec),
            depends_on={**graph[name]},
            healthcheck=_healthcheck(name, spec, image),
            health_on_failure=spec.health_on_failure,
            seccomp_profile=profile_identity(profile_file(spec.seccomp, spec.privileged, host)),
            env_files=env_file_identities(spec.env_file, env_files),
        )
    return new


def _healthcheck(name: str, spec: ContainerSpec, image: PreparedImage) -> HealthCheck | None:
    """The container's effective check: the image's HEALTHCHECK, or hp.toml's over it."""
    try:
        return effective_check(name, spec, image.facts.config.healthcheck, spec.image)
    except HpError as e:
        raise (e.from_source("spec") if e.where.startswith("containers.") else e) from None


def _current(layout: Layout, records: dict[str, ContainerRecord]) -> dict[str, Current]:
    statuses = crun_statuses(layout) if records else {}
    current = {}
    for name, record in records.items():
        current[name] = current_of(
            record,
            statuses.get(name),
            read_int(layout.exit_file(name)),
            config_json=read_or_none(layout.config_json(name)) or b"",
            network_json=read_or_none(layout.network_file(name)) or b"",
            volumes=tuple(mounted_volumes(layout, name)),
            layer_size=tree_size(layout.upper(name)),
            stopped_by_hp=stopped_by_hp(read_run_state(layout, name)),
        )
    return current


def _check_shared_networks(
    layout: Layout, hp_file: HpFile, new: dict[str, NewContainer], theirs: dict[str, NetworkSetup | None]
) -> None:
    """compiler.shared_networks' checks, with the host's routes (read only if a container is bridged)."""
    attachments = {name: c.network.attachment for name, c in new.items()}
    routes = (
        parse_routes(run(route_list_argv(), "listing the host's routes"))
        if any(att is not None for att in attachments.values())
        else ()
    )
    nets = {name: container_network(hp_file, name) for name in attachments}
    problem = shared_network_problem(hp_file, nets, attachments, theirs, routes)
    if problem is not None:
        raise problem


def _check_bridges(layout: Layout, hp_file: HpFile, theirs: dict[str, NetworkSetup | None]) -> None:
    """Each network's bridge on this host, before anything is pulled or made: an interface of that
    name must be a bridge (hp never uses or deletes another kind), no other hp state dir may be
    using it, and no network of another file of this state dir may be on it under another name
    (each network has its own address store: one bridge would get the same address twice)."""
    nets = {
        net.name: net
        for name in sorted(hp_file.containers)
        if (net := container_network(hp_file, name).network) is not None
    }
    for network in sorted(nets):
        net = nets[network]
        shared = bridge_of_another_network(hp_file, net, theirs)
        if shared is not None:
            raise shared
        problem = bridges.problem(layout, net.bridge)
        if problem:
            declared = hp_file.networks.get(network)
            where = key_path("networks", network) if declared is not None else "networks"
            where += ".bridge" if declared is not None and declared.bridge else ""
            raise HpError(where, problem + default_hint(hp_file, net), source="spec")
