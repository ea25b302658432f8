"""The commands hp runs, as argv tuples: decided here, purely; run by executor/run.py.

Everything that reaches an argv is an argument, never shell text. Showing a
command to a person is shlex.join(argv).
"""

from __future__ import annotations

from .layout import Layout


def crun(layout: Layout, *args: str) -> tuple[str, ...]:
    """crun with hp's own --root: hp never sees or touches other tools' containers."""
    return ("crun", "--root", layout.crun_root, *args)


def conmon_argv(
    layout: Layout,
    name: str,
    *,
    conmon: str,
    runtime: str,
    terminal: bool,
    log_max_size: int,
    exit_command: tuple[str, ...],
) -> tuple[str, ...]:
    """conmon, the container's monitor for its whole life (as podman runs it, see docs/executor.md):
    it runs `crun create`, holds the container's stdio (a console socket if `terminal`), writes
    its log (k8s-file, started afresh past `log_max_size` bytes), its exit status to
    exits/NAME, and then runs `exit_command`. `conmon` and `runtime`: absolute paths."""
    exit_args = tuple(x for arg in exit_command[1:] for x in ("--exit-command-arg", arg))
    return (
        conmon,
        "--api-version",
        "1",
        "--cid",
        name,
        "--cuuid",
        name,
        "--name",
        name,
        "--runtime",
        runtime,
        "--bundle",
        layout.bundle(name),
        "--container-pidfile",
        layout.pid_file(name),
        "--conmon-pidfile",
        layout.conmon_pid_file(name),
        "--exit-dir",
        layout.exits_dir(name),
        "--log-path",
        f"k8s-file:{layout.log(name)}",
        "--log-size-max",
        str(log_max_size),
        "--log-level",
        "warning",
        "--full-attach",
        "--socket-dir-path",
        layout.container_dir(name),
        "--runtime-arg",
        "--root",
        "--runtime-arg",
        layout.crun_root,
        "--runtime-arg",
        "--log-format=json",
        "--runtime-arg",
        f"--log={layout.runtime_log(name)}",
        *(("--terminal",) if terminal else ()),
        "--exit-command",
        exit_command[0],
        *exit_args,
    )


def exit_command(python: str, layout: Layout, name: str, start: int) -> tuple[str, ...]:
    """What conmon runs when run number `start` of `name` ends: hp's hidden `container-exited`
    (executor/supervise.py), through the Python that runs hp, so no PATH lookup is involved.
    -I (isolated): neither the working directory nor PYTHON* variables can put other code first
    on the module path of what runs as root at every exit."""
    return (python, "-I", "-m", "executor", "container-exited", "--state-dir", layout.state_dir, name, str(start))


def crun_start(layout: Layout, name: str) -> tuple[str, ...]:
    return crun(layout, "start", name)


def crun_state(layout: Layout, name: str) -> tuple[str, ...]:
    return crun(layout, "state", name)


def crun_list(layout: Layout) -> tuple[str, ...]:
    """Every container under hp's root with its status, as JSON: one process for a whole plan."""
    return crun(layout, "list", "--format", "json")


def crun_kill(layout: Layout, name: str, signal: int | str) -> tuple[str, ...]:
    return crun(layout, "kill", name, str(signal))


def crun_delete(layout: Layout, name: str, force: bool = False) -> tuple[str, ...]:
    return crun(layout, "delete", *(("--force",) if force else ()), name)


def crun_exec(layout: Layout, name: str, process_file: str, tty: bool) -> tuple[str, ...]:
    return crun(layout, "exec", "--process", process_file, *(("--tty",) if tty else ()), name)


def mount_overlay(lower: str, upper: str, work: str, target: str) -> tuple[str, ...]:
    return ("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", target)


def umount(target: str) -> tuple[str, ...]:
    return ("umount", target)


# ---- images: podman, and copying a root filesystem with its owners, modes and xattrs


def image_exists_argv(ref: str) -> tuple[str, ...]:
    return ("podman", "image", "exists", ref)


def pull_argv(ref: str, insecure: bool = False) -> tuple[str, ...]:
    return ("podman", "pull", "--quiet", *(("--tls-verify=false",) if insecure else ()), ref)


def inspect_argv(ref: str) -> tuple[str, ...]:
    return ("podman", "image", "inspect", ref)


def reference_create_argv(name: str, image_id: str) -> tuple[str, ...]:
    # never started: while it exists, `podman rmi` and image prunes leave the image (its layers) alone;
    # no anonymous volumes for the image's VOLUMEs, no network
    return (
        "podman",
        "create",
        "--pull=never",
        "--image-volume=ignore",
        "--network=none",
        "--name",
        name,
        image_id,
        "/hp-reference",
    )


def container_exists_argv(name: str) -> tuple[str, ...]:
    return ("podman", "container", "exists", name)


def rm_argv(name: str) -> tuple[str, ...]:
    return ("podman", "rm", "--force", "--volumes", name)


def image_mount_argv(image: str) -> tuple[str, ...]:
    return ("podman", "image", "mount", image)


def image_unmount_argv(image: str) -> tuple[str, ...]:
    return ("podman", "image", "unmount", image)


def copy_tree_argv(source: str, dest: str) -> tuple[str, ...]:
    # SOURCE/. into DEST: the contents (and the root's own attributes), not a subdirectory
    return ("cp", "-a", "--preserve=all", "--no-target-directory", f"{source}/.", dest)


def copy_volume_argv(source: str, dest: str) -> tuple[str, ...]:
    """A new volume directory as a copy of the image's directory: owner, mode, content."""
    return ("cp", "-a", "--no-dereference", "--preserve=all", source, dest)


# ---- networking: network namespaces (executor/netns.py) and CNI plugins (executor/cni.py)


def netns_create_argv(path: str) -> tuple[str, ...]:
    """A new network namespace, bind-mounted on the existing file `path` (util-linux unshare:
    Python 3.11 has no os.unshare), with its loopback brought up from inside it."""
    return ("unshare", f"--net={path}", "ip", "link", "set", "lo", "up")


def bind_self_argv(directory: str) -> tuple[str, ...]:
    return ("mount", "--bind", directory, directory)


def make_private_argv(target: str) -> tuple[str, ...]:
    return ("mount", "--make-private", target)


def make_shared_argv(target: str) -> tuple[str, ...]:
    return ("mount", "--make-shared", target)


def cni_plugin_argv(plugin_path: str) -> tuple[str, ...]:
    # a CNI plugin takes no arguments: the CNI_* environment and stdin say everything
    return (plugin_path,)


def link_show_argv(name: str) -> tuple[str, ...]:
    return ("ip", "-o", "link", "show", "dev", name)


def link_delete_argv(name: str) -> tuple[str, ...]:
    return ("ip", "link", "delete", "dev", name)


def address_list_argv(device: str) -> tuple[str, ...]:
    return ("ip", "-o", "-4", "address", "show", "dev", device)


def address_delete_argv(address: str, device: str) -> tuple[str, ...]:
    return ("ip", "address", "delete", address, "dev", device)


def route_list_argv() -> tuple[str, ...]:
    return ("ip", "-o", "-4", "route", "show")


def iptables_save_argv(table: str) -> tuple[str, ...]:
    return ("iptables-save", "-t", table)


def iptables_argv(table: str, *args: str) -> tuple[str, ...]:
    """One iptables change; --wait: the plugins hold the xtables lock while they work."""
    return ("iptables", "--wait", "-t", table, *args)
