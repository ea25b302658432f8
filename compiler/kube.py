"""`hp export kube`: hp.toml and the image facts → Kubernetes objects (docs/kubernetes.md). Pure.

The process (user, groups, command line, environment, directory) is taken from compile_container's
config, so what Kubernetes runs is what hp runs; everything else maps field by field. A field
Kubernetes has no place for is a warning naming it, never dropped silently.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from . import oci, pick_container
from .annotations import is_runtime_key
from .capabilities import capability_sets
from .compile import ImageFacts, check_file, compile_container
from .defaults import defaults
from .env import EnvFile
from .errors import HpError, key_path, quote
from .health import effective_check
from .host import HostFacts
from .image import ImageConfig
from .kube_yaml import dump_documents
from .masking import is_sensitive
from .names import IMAGE_VOLUME_NAME
from .network import container_network, mode_and_name
from .paths import normalise
from .reference import parse_reference
from .resources import cpu_quota, memory_limits, parse_size
from .spec import BindMount, ContainerSpec, HpFile, TmpfsMount, VolumeMount
from .volumes import volume_of_source

MANAGED_BY = "hp"
DEFAULT_VOLUME_SIZE = "1Gi"
# Kubernetes' namespaced "safe" sysctls (1.29): a pod may set them without the kubelet's --allowed-unsafe-sysctls
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")  # RFC 1035: a Service's name
_HOST_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # RFC 1123: a pod's hostname
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")  # Kubernetes 1.29's rule for an env var's name
_SYSCTL = re.compile(r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-_a-z0-9]*[a-z0-9])?")
_DOLLAR = re.compile(r"\$(?=\$|\(([^)]*)\))")

# Every ContainerSpec field, and where it goes: a test checks that none is missing.
FIELDS: dict[str, str] = {
    "image": "containers[0].image (--image-map rewrites a registry prefix)",
    "entrypoint": "containers[0].command/args",
    "command": "containers[0].command/args",
    "env": "containers[0].env",
    "env_file": "containers[0].env",
    "sensitive_env": "a warning for each sensitive value written into the manifest",
    "workdir": "containers[0].workingDir",
    "user": "securityContext.runAsUser/runAsGroup, supplementalGroups",
    "hostname": "pod hostname",
    "terminal": "containers[0].tty/stdin",
    "read_only": "securityContext.readOnlyRootFilesystem",
    "keep_alive": "warning",
    "must_run": "false: a Job",
    "stop_timeout": "terminationGracePeriodSeconds",
    "prevent_destroy": "warning",
    "restart": "Job restartPolicy; warning on a Deployment",
    "restart_max": "Job backoffLimit; warning on a Deployment",
    "log_max_size": "warning",
    "healthcheck": "livenessProbe with health_on_failure = restart; otherwise a warning",
    "health_on_failure": "restart: livenessProbe; kill: warning",
    "depends_on": "warning",
    "labels_to_annotations": "pod annotations",
    "annotations": "pod annotations",
    "memory": "resources.limits/requests.memory",
    "memory_swap": "warning",
    "cpus": "resources.limits/requests.cpu",
    "pids_limit": "warning",
    "mounts": "volumes: hostPath, emptyDir (Memory), PersistentVolumeClaim",
    "cap_add": "securityContext.capabilities",
    "cap_drop": "securityContext.capabilities",
    "ulimits": "warning",
    "sysctls": "pod securityContext.sysctls",
    "seccomp": "securityContext.seccompProfile",
    "privileged": "securityContext.privileged",
    "devices": "warning",
    "network": "Service, hostNetwork; warning for none",
    "ports": "ports, Service ports",
}


class KubeOptions(msgspec.Struct, frozen=True):
    """container: export only this one (and the claims of the volumes it mounts).
    host_ports: keep HOST_IP:HOST_PORT as hostIP/hostPort. image_map: (OLD, NEW) registry prefixes."""

    container: str | None = None
    host_ports: bool = False
    image_map: tuple[tuple[str, str], ...] = ()


class KubeWarning(msgspec.Struct, frozen=True):
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


class KubeExport(msgspec.Struct, frozen=True):
    documents: tuple[dict[str, Any], ...]
    warnings: tuple[KubeWarning, ...]

    def yaml(self) -> str:
        return dump_documents(list(self.documents))


def parse_image_map(entries: tuple[str, ...], where: str = "--image-map") -> tuple[tuple[str, str], ...]:
    """ "OLD=NEW" entries: OLD a registry prefix (host, or host/path), NEW what replaces it."""
    out = []
    for entry in entries:
        old, eq, new = entry.partition("=")
        old, new = old.rstrip("/"), new.rstrip("/")
        if not eq or not old or not new:
            raise HpError(
                where, f"expected OLD=NEW (a registry prefix and its replacement), got {quote(entry)}", source="option"
            )
        out.append((old, new))
    return tuple(out)


def mapped_image(ref: str, image_map: tuple[tuple[str, str], ...], where: str) -> str:
    """`ref` with the longest matching OLD prefix (a whole path component) replaced by its NEW."""
    best = None
    for old, new in image_map:
        if ref.startswith(old + "/") and (best is None or len(old) > len(best[0])):
            best = (old, new)
    if best is None:
        return ref
    out = best[1] + ref[len(best[0]) :]
    try:
        parse_reference(out, where)
    except HpError as e:
        raise HpError(
            "--image-map", f"{best[0]}={best[1]} turns {quote(ref)} into {quote(out)}: {e.problem}", source="option"
        ) from None
    return out


def export_kube(
    hp_file: HpFile,
    images: Mapping[str, ImageFacts],
    options: KubeOptions | None = None,
    env_files: Mapping[str, EnvFile] | None = None,
) -> KubeExport:
    """The Kubernetes objects for `hp_file` (images: the facts of each image reference it names), in a
    fixed order: the volumes' PersistentVolumeClaims, then each container's Service and its
    Deployment or Job, by name. Raises HpError for what cannot be exported."""
    try:
        check_file(hp_file)
    except HpError as e:
        raise e.from_source("spec") from None
    options = options or KubeOptions()
    names = check_exportable(hp_file, options)
    warnings = _Warnings()
    file_warnings(hp_file, names, warnings)
    _unused_image_maps(hp_file, names, options, warnings)
    claims = sorted({m.source for n in names for m in hp_file.containers[n].mounts if isinstance(m, VolumeMount)})
    docs: list[dict[str, Any]] = [volume_claim(v, hp_file, names, warnings) for v in claims]
    for name in names:
        docs.extend(
            container_objects(hp_file, name, images[hp_file.containers[name].image], options, env_files or {}, warnings)
        )
    return KubeExport(tuple(docs), tuple(warnings.items))


def check_exportable(hp_file: HpFile, options: KubeOptions) -> list[str]:
    """The names of the containers to export, once everything that needs no image is checked: names Kubernetes
    takes (the containers', their hostnames, their volumes', their annotation keys and env names) and the
    --image-map results. So a file that cannot be exported fails before anything is pulled."""
    names = sorted(hp_file.containers) if options.container is None else [pick_container(hp_file, options.container)]
    for name in names:
        spec = hp_file.containers[name]
        where = key_path("containers", name)
        k8s_name(name, where)
        if spec.hostname is not None:
            pod_hostname(spec.hostname, f"{where}.hostname")
        mapped_image(spec.image, options.image_map, f"{where}.image")
        check_annotation_keys(spec.annotations or {}, f"{where}.annotations")
        own = spec.env if isinstance(spec.env, dict) else dict.fromkeys(e.split("=", 1)[0] for e in spec.env or ())
        for key in own:
            check_env_name(key, f"{where}.env")
        for m in spec.mounts:
            if isinstance(m, VolumeMount):
                claim_name(m.source)
        pod_sysctls(spec, where, _Warnings())
        seccomp_profile(spec, where, _Warnings())
    _check_localhost_profiles(hp_file, names)
    _check_image_map(hp_file, names, options)
    return names


def _check_localhost_profiles(hp_file: HpFile, names: list[str]) -> None:
    """Two different profile files may not become one localhostProfile name on the node."""
    seen: dict[str, str] = {}
    for name in names:
        setting = hp_file.containers[name].seccomp
        if setting in ("default", "unconfined"):
            continue
        where = f"{key_path('containers', name)}.seccomp"
        base = localhost_profile(setting, where)
        if seen.setdefault(base, setting) != setting:
            raise HpError(
                where,
                f"{quote(setting)} and {quote(seen[base])} would both be the node's seccomp/{base}: "
                "give the profiles different file names",
                source="spec",
            )


def _check_image_map(hp_file: HpFile, names: list[str], options: KubeOptions) -> None:
    """An --image-map OLD given twice is an error (which NEW would win?)."""
    olds = [old for old, _ in options.image_map]
    twice = sorted({old for old in olds if olds.count(old) > 1})
    if twice:
        raise HpError("--image-map", f"{twice[0]} is given more than once", source="option")


def _unused_image_maps(hp_file: HpFile, names: list[str], options: KubeOptions, warnings: _Warnings) -> None:
    """An --image-map OLD that no exported image starts with: a mistyped prefix would otherwise leave the images
    pointing at the old registry without a word."""
    for old, new in options.image_map:
        if not any(hp_file.containers[n].image.startswith(old + "/") for n in names):
            warnings.add(f"--image-map {old}={new}", f"no exported container's image starts with {old}/; unused")


class _Warnings:
    """The warnings, in order, each field once."""

    def __init__(self) -> None:
        self.items: list[KubeWarning] = []
        self._seen: set[str] = set()

    def add(self, where: str, problem: str) -> None:
        if where not in self._seen:
            self._seen.add(where)
            self.items.append(KubeWarning(where, problem))


def file_warnings(hp_file: HpFile, names: list[str], warnings: _Warnings) -> None:
    """What the file's registries and networks set that a cluster decides for itself."""
    for host in sorted(hp_file.registries):
        warnings.add(
            key_path("registries", host),
            "a registry's settings are the nodes' in Kubernetes (their "
            "container runtime's configuration); not exported",
        )
    used = {mode_and_name(hp_file.containers[n].network)[1] for n in names}
    for net in sorted(hp_file.networks):
        if net not in used:
            continue
        spec = hp_file.networks[net]
        where = key_path("networks", net)
        for field in ("subnet", "gateway", "dns", "bridge"):
            if getattr(spec, field) is not None:
                warnings.add(
                    f"{where}.{field}",
                    "no Kubernetes equivalent: pods get the cluster network's addresses and DNS; dropped",
                )
        warnings.add(
            where,
            "pods on every network reach each other in Kubernetes (a NetworkPolicy can keep them "
            "apart as separate hp networks are)",
        )


def k8s_name(name: str, where: str) -> str:
    if not _DNS_LABEL.fullmatch(name):
        raise HpError(
            where,
            f"{quote(name)} is not a Kubernetes name: use 1-63 lowercase letters, digits or '-', "
            "starting with a letter and ending with a letter or digit",
            source="spec",
        )
    return name


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": MANAGED_BY}


def quantity(size: int) -> str:
    """Bytes as a Kubernetes quantity: the largest binary suffix that keeps it exact."""
    for suffix, unit in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def claim_name(volume: str) -> str:
    if not _DNS_SUBDOMAIN.fullmatch(volume) or len(volume) > 253:
        raise HpError(
            key_path("volumes", volume),
            f"{quote(volume)} is not a Kubernetes name for its "
            "PersistentVolumeClaim: use lowercase letters, digits, '-' and '.'",
            source="spec",
        )
    return volume


def volume_claim(volume: str, hp_file: HpFile, names: list[str], warnings: _Warnings) -> dict[str, Any]:
    where = key_path("volumes", claim_name(volume))
    size = hp_file.volumes[volume].size
    users = [
        n
        for n in sorted(hp_file.containers)
        if any(isinstance(m, VolumeMount) and m.source == volume for m in hp_file.containers[n].mounts)
    ]
    if len(users) > 1:
        warnings.add(where, f"mounted by {', '.join(users)}: a ReadWriteOnce claim is shared only by pods on one node")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": volume, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {
                "requests": {
                    "storage": quantity(parse_size(size, f"{where}.size")) if size is not None else DEFAULT_VOLUME_SIZE
                }
            },
        },
    }


def container_objects(
    hp_file: HpFile,
    name: str,
    facts: ImageFacts,
    options: KubeOptions,
    env_files: Mapping[str, EnvFile],
    warnings: _Warnings,
) -> list[dict[str, Any]]:
    """The container's Service (when it publishes ports or shares its network) and its Deployment or Job."""
    spec = hp_file.containers[name]
    where = key_path("containers", name)
    k8s_name(name, where)
    config = process_config(name, spec, facts, env_files)
    pod = pod_spec(hp_file, name, spec, facts.config, config, options, warnings)
    template = {"metadata": {"labels": labels(name)}, "spec": pod}
    annotations = pod_annotations(spec, facts.config, f"{where}.annotations")
    if annotations:
        template["metadata"]["annotations"] = annotations
    docs = []
    service = service_of(hp_file, name)
    if service is not None:
        docs.append(service)
    if spec.must_run:
        docs.append(deployment(name, template, spec, warnings))
    else:
        docs.append(job(name, template, spec, warnings))
    return docs


def process_config(
    name: str, spec: ContainerSpec, facts: ImageFacts, env_files: Mapping[str, EnvFile]
) -> oci.RuntimeConfig:
    """hp's own config for the container, for its process. Seccomp, devices and privileged are left out: they
    need the host's facts, and Kubernetes gets them as fields of their own; keep_alive's init is not exported."""
    bare = msgspec.structs.replace(spec, seccomp="unconfined", devices=(), privileged=False, keep_alive=False)
    try:
        return compile_container(name, bare, facts, env_files=env_files, host=HostFacts())
    except HpError as e:
        raise e.from_source("spec") from None


def pod_spec(
    hp_file: HpFile,
    name: str,
    spec: ContainerSpec,
    image: ImageConfig,
    config: oci.RuntimeConfig,
    options: KubeOptions,
    warnings: _Warnings,
) -> dict[str, Any]:
    where = key_path("containers", name)
    process = config.process
    assert process is not None and config.hostname is not None
    container: dict[str, Any] = {"name": name, "image": mapped_image(spec.image, options.image_map, f"{where}.image")}
    env = environment(name, spec, image, process.env, warnings)
    names = frozenset(item["name"] for item in env)
    container.update(command_and_args(image, spec, process.args, names))
    if env:
        container["env"] = [{"name": item["name"], "value": escaped(item["value"], names)} for item in env]
    container["workingDir"] = process.cwd
    ports = container_ports(hp_file, name, options, warnings)
    if ports:
        container["ports"] = ports
    resources = resources_of(spec, where, warnings)
    if resources:
        container["resources"] = resources
    volumes, mounts = volumes_of(name, spec, config, warnings)
    if mounts:
        container["volumeMounts"] = mounts
    probe = liveness_probe(name, spec, image, names, warnings)
    if probe:
        container["livenessProbe"] = probe
    container["securityContext"] = security_context(name, spec, process.user, warnings)
    if spec.terminal:
        container["tty"] = True
        container["stdin"] = True
    pod: dict[str, Any] = {"hostname": pod_hostname(config.hostname, f"{where}.hostname")}
    mode = mode_and_name(spec.network)[0]
    if mode == "host":
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"  # so it still finds its peers' Services
    elif mode == "none":
        warnings.add(f"{where}.network", '"none" has no Kubernetes equivalent: the pod joins the cluster network')
    # hp gives a container no API credentials and no variables for other containers' services
    pod["automountServiceAccountToken"] = False
    pod["enableServiceLinks"] = False
    pod["terminationGracePeriodSeconds"] = spec.stop_timeout
    pod_security: dict[str, Any] = {}
    if process.user.additional_gids:
        pod_security["supplementalGroups"] = list(process.user.additional_gids)
    sysctls = pod_sysctls(spec, where, warnings)
    if sysctls:
        pod_security["sysctls"] = sysctls
    if pod_security:
        pod["securityContext"] = pod_security
    pod["containers"] = [container]
    if volumes:
        pod["volumes"] = volumes
    container_warnings(spec, where, warnings)
    return pod


def pod_hostname(hostname: str, where: str) -> str:
    if not _HOST_LABEL.fullmatch(hostname):
        raise HpError(
            where,
            f"{quote(hostname)} is not a Kubernetes hostname: use 1-63 lowercase letters, digits "
            "or '-', starting and ending with a letter or digit",
            source="spec",
        )
    return hostname


def escaped(text: str, names: frozenset[str]) -> str:
    """`text` as Kubernetes must be given it to pass it on as it is: in command, args and env values it reads
    $$ as $ and replaces $(NAME) when NAME is one of the container's env (`names`), so such a $ is doubled.
    Any other $ stays, so "$(hostname)" for a shell reads the same to a person and to a runtime that does
    not expand (podman kube play)."""
    return _DOLLAR.sub(lambda m: "$$" if m[1] is None or m[1] in names else "$", text)


def k8s_process(image: ImageConfig, command: tuple[str, ...] | None, args: tuple[str, ...] | None) -> tuple[str, ...]:
    """What a Kubernetes runtime runs (before $(VAR) expansion): command replaces the image's Entrypoint and, given
    alone, drops its Cmd; args replace the Cmd."""
    if command:
        return tuple(command) + tuple(args or ())
    return tuple(image.entrypoint or ()) + tuple(args or image.cmd or ())


def command_and_args(
    image: ImageConfig, spec: ContainerSpec, hp_args: tuple[str, ...], names: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """entrypoint → command and command → args, as Kubernetes reads them; where its rules give another process
    than hp's Docker rules (entrypoint = [] or [""], an image Entrypoint of [""]), hp's whole command line, as
    command and args."""
    if spec.entrypoint is None:
        command, args = None, spec.command or None
    elif spec.entrypoint and spec.entrypoint != ("",):
        command, args = spec.entrypoint, spec.command or None
    else:
        command, args = None, None
    if command is None and args is None and spec.entrypoint is not None or k8s_process(image, command, args) != hp_args:
        command, args = hp_args[:1], hp_args[1:] or None
    out = {}
    if command:
        out["command"] = [escaped(a, names) for a in command]
    if args:
        out["args"] = [escaped(a, names) for a in args]
    return out


def environment(
    name: str, spec: ContainerSpec, image: ImageConfig, env: tuple[str, ...], warnings: _Warnings
) -> list[dict[str, str]]:
    """What hp's environment adds to or changes in the image's (Kubernetes merges the image's Env itself), values
    unescaped; a variable hp unsets is set to "" (Kubernetes cannot unset one), with a warning. HOSTNAME is
    written too: CRI runtimes set it to the pod's hostname (hp's), podman kube play does not."""
    where = f"{key_path('containers', name)}.env"
    own = dict(e.split("=", 1) for e in image.env if "=" in e)
    out = []
    seen = set()
    for entry in env:
        key, _, value = entry.partition("=")
        seen.add(key)
        if own.get(key) == value:
            continue
        check_env_name(key, where)
        if is_sensitive(key, spec.sensitive_env):
            warnings.add(
                key_path(where, key),
                "a sensitive value, written into the manifest as it is (a Secret and valueFrom keep it out)",
            )
        out.append({"name": key, "value": value})
    for key in sorted(own):
        if key not in seen:
            warnings.add(
                key_path(where, key),
                f'unsets the image\'s {key}: Kubernetes cannot unset a variable the image sets, so it is set to ""',
            )
            out.append({"name": key, "value": ""})
    return out


def check_env_name(key: str, where: str) -> None:
    if not _ENV_NAME.fullmatch(key):
        raise HpError(
            key_path(where, key),
            f"{quote(key)} is not a name Kubernetes takes for a variable (letters, "
            "digits, '_', '-' and '.', not starting with a digit)",
            source="spec",
        )


def container_ports(hp_file: HpFile, name: str, options: KubeOptions, warnings: _Warnings) -> list[dict[str, Any]]:
    """Each published port's container port (once per port and protocol, unless --host-ports keeps each host port)."""
    where = key_path("containers", name)
    out: list[dict[str, Any]] = []
    seen = set()
    for i, port in enumerate(container_network(hp_file, name).ports):
        item: dict[str, Any] = {"containerPort": port.container_port, "protocol": port.protocol.upper()}
        if options.host_ports:
            if port.host_ip:
                item["hostIP"] = port.host_ip
            item["hostPort"] = port.host_port
        else:
            warnings.add(
                f"{where}.ports[{i}]",
                f"host port {port.host_port} is not exported (hostPort is discouraged "
                "in Kubernetes; --host-ports keeps it): reach the container through "
                "its Service",
            )
            if (port.container_port, port.protocol) in seen:
                continue
        seen.add((port.container_port, port.protocol))
        out.append(item)
    return out


def service_of(hp_file: HpFile, name: str) -> dict[str, Any] | None:
    """A headless Service named like the container, when it publishes ports or shares its network with another
    container of the file: its name resolves to the pod's address, so peers reach every port by the same name as
    under hp (a ClusterIP Service would pass only the ports it lists)."""
    net = container_network(hp_file, name)
    if net.mode != "bridge":
        return None
    assert net.network is not None
    peers = [
        n
        for n in hp_file.containers
        if n != name
        and mode_and_name(hp_file.containers[n].network)[0] == "bridge"
        and container_network(hp_file, n).network == net.network
    ]
    if not net.ports and not peers:
        return None
    spec: dict[str, Any] = {"clusterIP": "None", "selector": {"app.kubernetes.io/name": name}}
    ports = sorted({(p.container_port, p.protocol) for p in net.ports})
    if ports:
        spec["ports"] = [
            {"name": f"{proto}-{port}", "port": port, "targetPort": port, "protocol": proto.upper()}
            for port, proto in ports
        ]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels(name)}, "spec": spec}


def resources_of(spec: ContainerSpec, where: str, warnings: _Warnings) -> dict[str, Any]:
    """memory and cpus as limits, and the same as requests (a pod is scheduled where they fit)."""
    limit, _ = memory_limits(spec.memory, spec.memory_swap, where)
    quota = cpu_quota(spec.cpus, f"{where}.cpus")
    amounts = {}
    if quota is not None:
        milli = max(1, round(quota / 100))
        amounts["cpu"] = str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
    if limit is not None:
        amounts["memory"] = quantity(limit)
    if spec.memory_swap is not None:
        warnings.add(f"{where}.memory_swap", "no Kubernetes equivalent (swap is the node's setting); dropped")
    if spec.pids_limit is not None:
        warnings.add(
            f"{where}.pids_limit", "no per-pod limit in Kubernetes (the kubelet's podPidsLimit is per node); dropped"
        )
    return {"limits": amounts, "requests": dict(amounts)} if amounts else {}


def volumes_of(
    name: str, spec: ContainerSpec, config: oci.RuntimeConfig, warnings: _Warnings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's volumes and the container's mounts of them: its own mounts in order, then its image's volumes."""
    where = f"{key_path('containers', name)}.mounts"
    volumes, mounts = [], []
    for i, m in enumerate(spec.mounts):
        vol = f"mount-{i}"
        if isinstance(m, BindMount):
            source = normalise(m.source)  # checked absolute by check_file; Kubernetes refuses a ".." in it
            volumes.append({"name": vol, "hostPath": {"path": source}})
            warnings.add(
                f"{where}[{i}]",
                f"the host path {source} becomes a hostPath volume: it ties the pod to a node that has it",
            )
        elif isinstance(m, TmpfsMount):
            empty: dict[str, Any] = {"medium": "Memory"}
            if m.size is not None:
                empty["sizeLimit"] = quantity(parse_size(m.size, f"{where}[{i}].size"))
            volumes.append({"name": vol, "emptyDir": empty})
            if m.mode is not None:
                warnings.add(f"{where}[{i}].mode", "an emptyDir has no mode (Kubernetes makes it 0777); dropped")
        else:
            volumes.append({"name": vol, "persistentVolumeClaim": {"claimName": m.source}})
        mount: dict[str, Any] = {"name": vol, "mountPath": normalise(m.target)}
        if m.readonly:
            mount["readOnly"] = True
        mounts.append(mount)
    image_volumes = [
        m.destination
        for m in config.mounts
        if IMAGE_VOLUME_NAME.fullmatch(volume_of_source(defaults().volume_dir, m.source) or "")
    ]
    for j, target in enumerate(image_volumes):
        vol = f"image-volume-{j}"
        volumes.append({"name": vol, "emptyDir": {}})
        mounts.append({"name": vol, "mountPath": target})
        warnings.add(
            f"{key_path('containers', name)}.image: Volumes[{quote(target)}]",
            f"the image's volume {target} becomes an emptyDir: its data does not persist (a [volumes.NAME] "
            "mounted there keeps it)",
        )
    return volumes, mounts


def security_context(name: str, spec: ContainerSpec, user: oci.User, warnings: _Warnings) -> dict[str, Any]:
    """The user, hp's exact capability set (runtimes' defaults differ: drop ALL, add hp's), the read-only root,
    no privilege escalation (hp's no_new_privileges) and the seccomp profile."""
    where = key_path("containers", name)
    out: dict[str, Any] = {"runAsUser": user.uid, "runAsGroup": user.gid}
    if spec.privileged:
        out["privileged"] = True
    else:
        caps = capability_sets(defaults().capabilities, spec.cap_add, spec.cap_drop, root=True, where=where).bounding
        out["capabilities"] = {"drop": ["ALL"], "add": [c.removeprefix("CAP_") for c in caps]}
        if "CAP_SYS_ADMIN" in caps:
            warnings.add(
                f"{where}.cap_add",
                "with SYS_ADMIN Kubernetes refuses allowPrivilegeEscalation: false, so "
                "the process may gain privileges (hp sets no_new_privileges)",
            )
        else:
            out["allowPrivilegeEscalation"] = False
        if user.uid != 0 and spec.cap_add:
            warnings.add(
                f"{where}.cap_add",
                "a non-root user gets added capabilities in its effective set under hp "
                "(ambient), in Kubernetes only in its bounding set",
            )
    if spec.read_only:
        out["readOnlyRootFilesystem"] = True
    out["seccompProfile"] = seccomp_profile(spec, where, warnings)
    return out


def seccomp_profile(spec: ContainerSpec, where: str, warnings: _Warnings) -> dict[str, str]:
    if spec.seccomp == "unconfined" or spec.seccomp == "default" and spec.privileged:
        return {"type": "Unconfined"}
    if spec.seccomp == "default":
        return {"type": "RuntimeDefault"}
    base = localhost_profile(spec.seccomp, f"{where}.seccomp")
    warnings.add(f"{where}.seccomp", f"the profile must be on every node, as the kubelet's seccomp/{base} (Localhost)")
    return {"type": "Localhost", "localhostProfile": base}


def localhost_profile(setting: str, where: str) -> str:
    """A profile file's name under the kubelet's seccomp directory: the path as hp.toml writes it, cleaned,
    when it is relative and stays below hp.toml's directory (profiles/web.json); otherwise its file name."""
    clean = posixpath.normpath(setting)
    if setting.startswith("/") or clean == ".." or clean.startswith("../"):
        clean = posixpath.basename(clean)
    if clean in ("", ".", ".."):
        raise HpError(where, f"{quote(setting)} names no file for Kubernetes' localhostProfile", source="spec")
    return clean


def pod_sysctls(spec: ContainerSpec, where: str, warnings: _Warnings) -> list[dict[str, str]]:
    out = []
    sysctls = spec.sysctls or {}
    for key in sorted(sysctls):
        name = key.replace("/", ".")
        if not _SYSCTL.fullmatch(name):
            raise HpError(
                key_path(f"{where}.sysctls", key),
                f"{quote(key)} is not a sysctl name Kubernetes takes "
                "(each part starts and ends with a letter or digit)",
                source="spec",
            )
        if name not in SAFE_SYSCTLS:
            warnings.add(
                key_path(f"{where}.sysctls", key),
                "not one of Kubernetes' safe sysctls: the kubelet must allow it (--allowed-unsafe-sysctls)",
            )
        out.append({"name": name, "value": sysctls[key]})
    return out


def pod_annotations(spec: ContainerSpec, image: ImageConfig, where: str) -> dict[str, str]:
    """The container's annotations (over the image's labels with labels_to_annotations), checked as Kubernetes
    keys: [PREFIX/]NAME, PREFIX a DNS subdomain, NAME 1-63 letters, digits, '-', '_' or '.'."""
    found = {k: v for k, v in image.labels if k and not is_runtime_key(k)} if spec.labels_to_annotations else {}
    found.update(spec.annotations or {})
    check_annotation_keys(found, where)
    return {k: found[k] for k in sorted(found)}


def check_annotation_keys(annotations: Mapping[str, str], where: str) -> None:
    for key in annotations:
        prefix, slash, rest = key.rpartition("/")
        if (
            not _QUALIFIED_NAME.fullmatch(rest)
            or slash
            and not (_DNS_SUBDOMAIN.fullmatch(prefix) and len(prefix) <= 253)
        ):
            raise HpError(
                key_path(where, key),
                f"{quote(key)} is not a Kubernetes annotation key ([PREFIX/]NAME: "
                "NAME 1-63 letters, digits, '-', '_' or '.')",
                source="spec",
            )


def liveness_probe(
    name: str, spec: ContainerSpec, image: ImageConfig, names: frozenset[str], warnings: _Warnings
) -> dict[str, Any]:
    """hp's health check (hp.toml's or the image's) with health_on_failure = "restart": a livenessProbe, which
    restarts the container after `retries` failures in a row, as hp does; whole seconds (rounded up). Any other
    health_on_failure only reports health under hp: a warning (a readinessProbe would also take the pod out of
    its Service, which hp never does)."""
    where = key_path("containers", name)
    try:
        check = effective_check(name, spec, image.healthcheck, spec.image)
    except HpError as e:
        raise e.from_source("spec" if e.where.startswith("containers") else "image") from None
    if check is None:
        return {}
    own = spec.healthcheck is not None and spec.healthcheck.test is not None
    if spec.health_on_failure == "kill":
        warnings.add(
            f"{where}.health_on_failure",
            '"kill" stops the container; a livenessProbe would restart it: the check is not exported',
        )
        return {}
    if spec.health_on_failure != "restart":
        whose = "its" if own else "the image's"
        warnings.add(
            f"{where}.healthcheck",
            f"{whose} check only reports health under hp: not exported "
            '(health_on_failure = "restart" makes it a livenessProbe; a '
            "readinessProbe would take the pod out of its Service)",
        )
        return {}
    seconds = {
        "initialDelaySeconds": check.start_period,
        "periodSeconds": check.interval,
        "timeoutSeconds": check.timeout,
    }
    if any(v != math.ceil(v) for v in seconds.values()):
        warnings.add(f"{where}.healthcheck", "Kubernetes counts probe times in whole seconds: rounded up")
    probe: dict[str, Any] = {"exec": {"command": [escaped(a, names) for a in check.argv]}}
    probe.update({k: max(math.ceil(v), 1) for k, v in seconds.items() if k != "initialDelaySeconds" or v > 0})
    probe["failureThreshold"] = check.retries
    return probe


def container_warnings(spec: ContainerSpec, where: str, warnings: _Warnings) -> None:
    """The fields that have no Kubernetes equivalent, when set."""
    dropped: list[tuple[str, bool, str]] = [
        (
            "keep_alive",
            spec.keep_alive,
            (
                "no Kubernetes equivalent (a pod's container is its main process; "
                "hp-init is not exported): once its command ends, the Deployment starts "
                "it again, in a loop with back-off; give it a command that keeps running, "
                "or must_run = false for a Job; dropped"
            ),
        ),
        (
            "ulimits",
            bool(spec.ulimits),
            ("no per-pod limits in Kubernetes (the container runtime's defaults apply); dropped"),
        ),
        ("devices", bool(spec.devices), "no Kubernetes field for host devices (a device plugin gives them); dropped"),
        ("log_max_size", spec.log_max_size is not None, "the kubelet's containerLogMaxSize is per node; dropped"),
        ("prevent_destroy", spec.prevent_destroy, "no Kubernetes equivalent; dropped"),
        (
            "depends_on",
            bool(spec.depends_on),
            (
                "no start order in Kubernetes: pods start together (an "
                "initContainer or a readinessProbe can wait); dropped"
            ),
        ),
    ]
    for field, is_set, problem in dropped:
        if is_set:
            warnings.add(f"{where}.{field}", problem)


def deployment(name: str, template: dict[str, Any], spec: ContainerSpec, warnings: _Warnings) -> dict[str, Any]:
    """One replica, replaced by stopping it first (as hp replaces a container, and as a ReadWriteOnce claim needs)."""
    where = key_path("containers", name)
    if spec.restart == "on-failure":
        warnings.add(f"{where}.restart", 'a Deployment restarts its pod whenever it ends, not only "on-failure"')
    if spec.restart_max:
        warnings.add(f"{where}.restart_max", "a Deployment has no restart limit; dropped")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"type": "Recreate"},
            "template": template,
        },
    }


def job(name: str, template: dict[str, Any], spec: ContainerSpec, warnings: _Warnings) -> dict[str, Any]:
    """A container that may end by itself (must_run = false): run to completion, restarted as `restart` says."""
    where = key_path("containers", name)
    policy: Literal["OnFailure", "Never"] = "OnFailure" if spec.restart == "on-failure" else "Never"
    warnings.add(
        f"{where}.must_run",
        "false: a Job, run to completion once (hp keeps an ended container and runs it again when a plan replaces it)",
    )
    if spec.restart == "always":
        warnings.add(f"{where}.restart", 'a Job cannot restart a container that succeeded; "always" becomes Never')
    # hp's restart_max 0 is "no limit": the largest limit Kubernetes takes
    backoff = (spec.restart_max or 2**31 - 1) if policy == "OnFailure" else 0
    template["spec"] = {**template["spec"], "restartPolicy": policy}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {"backoffLimit": backoff, "template": template},
    }
