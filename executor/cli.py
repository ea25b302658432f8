"""The `hp` command line: argument parsing and rendering only; the work is in
`compiler` (pure) and the executor modules."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

# the defaults the help text names (the compiler loaded here costs only `hp --help` and `hp --version` time:
# every command loads it anyway)
from compiler.defaults import defaults
from compiler.signals import DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, signal_name
from executor.session import DEFAULT_STATE_DIR

if TYPE_CHECKING:  # imported where used: each command loads only what it needs
    from compiler.errors import HpError

app = typer.Typer(
    name="hp",
    help="Run OCI containers on one Linux host through podman and crun, in the plan/apply style.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from executor import __version__

        print(f"hp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print hp's version."),
) -> None:
    pass


@app.command("compile")
def compile_command(
    file: str = typer.Argument(..., metavar="FILE", help="The desired-state file (hp.toml)."),
    container: str | None = typer.Option(
        None,
        "--container",
        "-c",
        metavar="NAME",
        help="The container to compile (may be left out when FILE defines exactly one).",
    ),
    image_config: str = typer.Option(
        ...,
        "--image-config",
        "-i",
        metavar="IMAGE.json",
        help="The image's config: `podman image inspect` output or an OCI image config.",
    ),
    passwd: str | None = typer.Option(
        None, "--passwd", metavar="FILE", help="The image's /etc/passwd, to resolve a user name."
    ),
    group: str | None = typer.Option(
        None, "--group", metavar="FILE", help="The image's /etc/group, to resolve a group name and memberships."
    ),
    netns: str | None = typer.Option(
        None,
        "--netns",
        metavar="PATH",
        help="The network namespace to join (hp apply's: STATE/netns/NAME); default: a fresh one.",
    ),
    seccomp_profile: str | None = typer.Option(
        None,
        "--seccomp-profile",
        metavar="FILE",
        help="The default seccomp profile (containers-common's format); default: the host's, "
        f"{defaults().seccomp_profile}.",
    ),
    kernel: str | None = typer.Option(
        None,
        "--kernel",
        metavar="VERSION",
        help="The kernel version for the profile's minKernel rules; default: uname -r.",
    ),
    arch: str | None = typer.Option(
        None,
        "--arch",
        metavar="ARCH",
        help="The architecture (x86_64, aarch64 ...) to compile the profile for; default: uname -m.",
    ),
) -> None:
    """Print the OCI runtime config.json for one container. Pure: nothing is pulled or run."""
    # executor/main.py runs an ordinary `hp compile` command line without typer; this is the rest
    from executor.compile_command import compile_command as run_compile

    status = run_compile(file, image_config, container, passwd, group, netns, seccomp_profile, kernel, arch)
    if status:
        raise typer.Exit(status)


# ---------------------------------------------------------------- running containers

STATE_DIR = typer.Option(
    None,
    "--state-dir",
    envvar="HP_STATE_DIR",
    metavar="DIR",
    help=f"hp's state directory (default {DEFAULT_STATE_DIR}).",
)
YES = typer.Option(False, "--yes", "-y", help="Do it without asking.")
LOCK_TIMEOUT = typer.Option(
    0.0,
    "--lock-timeout",
    metavar="SECONDS",
    help="How long to wait for another hp working on the same state dir (default: fail at once).",
)


def _fail(e: HpError, files: dict[str, str] | None = None) -> typer.Exit:
    """Print the one error line; exit 3 for a refused saved plan, 1 for anything else."""
    from compiler.errors import error_line, exit_status

    sys.stderr.write(error_line(e, files or {}) + "\n")
    return typer.Exit(exit_status(e))


def _say(message: str) -> None:
    sys.stderr.write(f"hp: {message}\n")
    sys.stderr.flush()


def _emit_json(value) -> None:
    import msgspec

    sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n")
    sys.stdout.flush()


def _read(file: str, missing_ok: bool = False) -> bytes:

    from compiler import HpError
    from executor.inputs import read_input

    try:
        return read_input(file)
    except HpError:
        if missing_ok and not os.path.lexists(file):
            return b""
        raise


def _confirm(yes: bool, question: str) -> None:
    from executor.lifecycle import is_interactive

    if yes:
        return
    if not is_interactive():
        sys.stderr.write("hp: error: refusing to change the host without --yes (stdin is not a terminal)\n")
        raise typer.Exit(1)
    if not typer.confirm(question, err=True):
        sys.stderr.write("hp: nothing done\n")
        raise typer.Exit(1)


def _carry_out(layout, planned, yes: bool, json_output: bool, ask: bool) -> None:
    """Show the plan, ask (unless a saved plan or --yes), apply it, report."""
    from compiler.plan import render_plan
    from executor.applying import apply_plan
    from executor.progress import progress_for

    p = planned.plan
    if not json_output:
        sys.stdout.write(render_plan(p))
        sys.stdout.flush()
    if p.has_changes:
        if ask:
            _confirm(yes, "Apply this plan?")
        progress = progress_for(sum(c.action != "no-op" for c in p.changes), plain=json_output)
        try:
            applied = apply_plan(layout, planned, progress)
        finally:
            progress.close()
        _say(applied.summary())
    else:
        from executor.applying import Applied
        from executor.monitor import remove_monitor_cgroups
        from executor.networking import prune_unused_networks

        prune_unused_networks(layout)  # what an interrupted apply or destroy left: a bridge, the netns mount
        remove_monitor_cgroups(layout)  # and the monitors' cgroup, if its last container is gone
        applied = Applied()
        _say("nothing to do")
    if json_output:
        from compiler.plan import FORMAT_VERSION

        _emit_json({"format_version": FORMAT_VERSION, "plan": p, "applied": applied})


def _planned(layout, file: str, data: bytes, plain: bool, destroy: bool = False, checked=None):
    """make_plan, its pulls and extractions shown as they happen (a spinner on a terminal)."""
    from executor.planning import make_plan
    from executor.progress import PlanningStatus

    status = PlanningStatus(plain)
    try:
        return make_plan(layout, file, data, destroy=destroy, say=status.say, checked=checked)
    finally:
        status.close()


@app.command("plan")
def plan_command(
    file: str = typer.Argument("hp.toml", metavar="FILE", help="The desired-state file."),
    out: str | None = typer.Option(
        None, "--out", "-o", metavar="PLAN", help="Save the plan, for `hp apply PLAN` to carry out exactly."
    ),
    emit: str | None = typer.Option(
        None,
        "--emit",
        metavar="DIR",
        help="Write each container's config.json, hostname, hosts and resolv.conf to DIR/NAME/ for review.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the plan as JSON (with format_version)."),
    destroy: bool = typer.Option(False, "--destroy", help="Plan to remove everything FILE manages."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 4 when there are changes (0: none, 1: error)."
    ),
    diffs: bool = typer.Option(True, "--diff/--no-diff", help="Show config.json diffs of replacements."),
    deny_escalation: bool = typer.Option(
        False,
        "--deny-escalation",
        help="Exit 1 (after the plan) if a create or replace adds a way a container "
        "is less confined than hp's default (its security: list).",
    ),
    state_dir: str | None = STATE_DIR,
    lock_timeout: float = LOCK_TIMEOUT,
) -> None:
    """Show what `hp apply` would do, and why: create, replace (with a diff), destroy, restore.
    Nothing is changed, but a missing image is pulled (and said so)."""
    from compiler import HpError
    from compiler.plan import render_plan
    from executor.lock import state_lock
    from executor.planning import check_input
    from executor.saved import emit as emit_files
    from executor.saved import save_plan
    from executor.session import state_layout

    try:
        data = _read(file, missing_ok=destroy)
        checked = None if destroy else check_input(data)  # refused before the state dir is touched
        layout = state_layout(state_dir)
        with state_lock(layout, lock_timeout):
            planned = _planned(layout, file, data, json_output, destroy=destroy, checked=checked)
        if emit:
            try:
                emit_files(emit, planned)
            except OSError as e:
                raise HpError("--emit", f"cannot write to {emit}: {e.strerror or e}") from None
        if out:
            save_plan(out, planned)
    except HpError as e:
        raise _fail(e, {"spec": file}) from None
    if json_output:
        _emit_json(planned.plan)
    else:
        sys.stdout.write(render_plan(planned.plan, diffs=diffs))
    if out:
        _say(f"plan saved to {out}; `hp apply {out}` carries out exactly this plan")
    if deny_escalation:
        _deny_escalation(planned.plan)
    if detailed_exitcode and planned.plan.has_changes:
        raise typer.Exit(4)


def _deny_escalation(p) -> None:
    """One line naming each container and what its change adds (compiler.plan.escalating), exit 1."""
    from compiler.errors import HpError
    from compiler.plan import escalating

    found = escalating(p)
    if not found:
        return
    by_name: dict[str, list[str]] = {}
    for name, e in found:
        by_name.setdefault(name, []).append(f"{e.kind} {e.detail}".strip())
    problem = "; ".join(f"{name} adds {', '.join(items)}" for name, items in by_name.items())
    raise _fail(HpError("--deny-escalation", problem + " (less confined than hp's default)"))


@app.command("apply")
def apply_command(
    target: str = typer.Argument(
        "hp.toml", metavar="FILE|PLAN", help="The desired-state file (planned now), or a plan saved by `hp plan --out`."
    ),
    yes: bool = YES,
    json_output: bool = typer.Option(False, "--json", help="Plain progress lines; the plan and result as JSON."),
    state_dir: str | None = STATE_DIR,
    lock_timeout: float = LOCK_TIMEOUT,
) -> None:
    """Make the host match FILE: plan, ask, then destroy, replace, restore and create.
    With a saved PLAN: carry out exactly that plan, or refuse (exit 3) if anything changed since."""
    from compiler import HpError
    from compiler.saved_plan import open_saved
    from executor.lock import state_lock
    from executor.planning import check_input
    from executor.saved import looks_like_saved_plan, replan
    from executor.session import state_layout

    try:
        data = _read(target)
        saved = open_saved(data, target) if looks_like_saved_plan(data) else None
        checked = check_input(data) if saved is None else None  # refused before the state dir is touched
        layout = state_layout(state_dir)
        with state_lock(layout, lock_timeout):
            if saved is not None:
                planned = replan(layout, saved, target)
            else:
                planned = _planned(layout, target, data, json_output, checked=checked)
            _carry_out(layout, planned, yes, json_output, ask=saved is None)
    except HpError as e:
        raise _fail(e, {"spec": target}) from None


@app.command("destroy")
def destroy_command(
    file: str = typer.Argument("hp.toml", metavar="FILE", help="The desired-state file."),
    yes: bool = YES,
    json_output: bool = typer.Option(False, "--json", help="Plain progress lines; the plan and result as JSON."),
    volumes: bool = typer.Option(
        False, "--volumes", help="Also delete the volumes these containers mount, and their data."
    ),
    state_dir: str | None = STATE_DIR,
    lock_timeout: float = LOCK_TIMEOUT,
) -> None:
    """Stop and remove every container FILE manages (the file's content does not matter). Their
    volumes are kept (hp volume ls) unless --volumes."""
    from compiler import HpError
    from executor.lock import state_lock
    from executor.planning import make_plan
    from executor.session import state_layout

    try:
        data = _read(file, missing_ok=True)
        layout = state_layout(state_dir)
        with state_lock(layout, lock_timeout):
            planned = make_plan(layout, file, data, destroy=True, remove_volumes=volumes)
            _carry_out(layout, planned, yes, json_output, ask=True)
            if volumes:
                _remove_volumes(layout, sorted({v for c in planned.plan.changes for v in c.removed_volumes}))
    except HpError as e:
        raise _fail(e, {"spec": file}) from None


def _remove_volumes(layout, names: list) -> None:
    """hp destroy --volumes, after its containers are gone: each volume that is still there, unless a
    container (another file's) still mounts it: then the others go, and that one is an error."""
    from compiler import HpError
    from executor import volumes

    refused = None
    present = set(volumes.names(layout))
    for name in names:
        if name not in present:
            continue
        try:
            volumes.remove(layout, name)
        except HpError as e:
            refused = refused or e
            continue
        _say(f"removed volume {name}")
    if refused is not None:
        raise refused


@app.command("show")
def show_command(
    plan_file: str | None = typer.Argument(None, metavar="[PLAN]", help="A plan saved by `hp plan --out`."),
    json_output: bool = typer.Option(False, "--json", help="Print it as JSON."),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Print a saved plan and what it was made from; without PLAN, hp's state: every
    container, the file that manages it, its phase and status."""
    from compiler import HpError
    from compiler.plan import render_plan

    try:
        if plan_file is not None:
            from compiler.saved_plan import open_saved

            saved = open_saved(_read(plan_file), plan_file)
            if json_output:
                _emit_json(saved)
                return
            fp = saved.fingerprint
            sys.stdout.write(
                f"Saved plan{' (destroy)' if fp.destroy else ''} for {fp.file}\n"
                f"  state {fp.state_dir} at serial {fp.state_serial}, made by hp {fp.hp_version}\n"
            )
            for ref, image_id in fp.images.items():
                sys.stdout.write(f"  image {ref} = {image_id}\n")
            sys.stdout.write("\n" + render_plan(saved.plan))
            return
        from executor.session import state_layout
        from executor.state_rows import state_rows

        rows = state_rows(state_layout(state_dir))
    except HpError as e:
        raise _fail(e) from None
    if json_output:
        _emit_json(rows)
        return
    table = [("NAME", "STATUS", "PHASE", "IMAGE", "FILE")] + [
        (r.name, r.status, r.phase, r.image, r.file or "-") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])


@app.command("ps")
def ps_command(
    json_output: bool = typer.Option(False, "--json", help="One JSON list on stdout."),
    state_dir: str | None = STATE_DIR,
) -> None:
    """List hp's containers: name, image, status, exit code, health, pid, IP address, published ports,
    restart policy and restarts by it."""
    from executor.ps_command import ps_command

    code = ps_command(json_output, state_dir)
    if code:
        raise typer.Exit(code)


@app.command("stats")
def stats_command(
    names: list[str] | None = typer.Argument(None, metavar="[NAME...]"),
    json_output: bool = typer.Option(
        False,
        "--json",
        help="Raw numbers (bytes; percentages as floats): one JSON list, or with a stream one list per line.",
    ),
    no_stream: bool = typer.Option(False, "--no-stream", help="One sample, then exit."),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Show running containers' CPU %, memory usage and limit, network and block I/O, and pids,
    every second until Ctrl-C (--no-stream: once). Without NAME: every running container."""

    import msgspec

    from compiler import HpError
    from compiler.stats import HEADER, table_row
    from executor.main import Interrupted
    from executor.session import state_layout
    from executor.stats import watch
    from executor.tables import print_table

    clear = sys.stdout.isatty() and not json_output and not no_stream

    def show(rows) -> None:
        if json_output and no_stream:
            _emit_json(rows)
            return
        if json_output:
            sys.stdout.buffer.write(msgspec.json.encode(rows) + b"\n")
        else:
            if clear:
                sys.stdout.write("\x1b[H\x1b[2J")  # home, then clear the screen: the table is redrawn in place
            print_table([HEADER] + [table_row(s) for s in rows])
        sys.stdout.flush()

    try:
        watch(state_layout(state_dir), tuple(names or ()), show, stream=not no_stream)
    except HpError as e:
        raise _fail(e) from None
    except Interrupted as e:
        raise typer.Exit(128 + e.signum) from None  # Ctrl-C is how a stream ends
    except BrokenPipeError:
        # the reader went away (hp stats --json | head -1): done; nothing more may reach the pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _one(name: str, state_dir: str | None, act, locked: bool = True) -> None:
    """Run act(layout, name); commands that change the state hold the state lock."""
    _each([name], False, state_dir, act, locked)


def _each(names: list[str], all_: bool, state_dir: str | None, act, locked: bool = True, command: str = "") -> None:
    """Run act(layout, name) for each name (or, with all_, each container hp has), in order.
    Every name is checked, and under the lock looked up, before anything is done: an invalid or
    unknown one is one line and nothing is done. A failure is one line and the others still go on
    (then exit 1). Commands that change the state hold the state lock throughout."""
    from compiler import HpError
    from compiler.names import check_container_name
    from executor.lock import state_lock
    from executor.session import state_layout

    failed = False
    try:
        if all_ == bool(names):
            raise _usage_error(command, "give one or more NAMEs, or --all")
        for name in names:
            check_container_name(name)  # before anything is built from it, or touched
        layout = state_layout(state_dir)
        if not locked:
            for name in names:
                act(layout, name)
            return
        from executor import containers
        from executor.applying import tidy
        from executor.store import bump_serial, container_names

        with state_lock(layout):
            if all_:
                names = container_names(layout)
            for name in names:
                if not containers.exists(layout, name):
                    raise HpError(name, "no such container")
            if not names:
                return
            if command in ("start", "stop", "rm"):  # dependencies first; stop and rm dependents first
                from executor.boot import in_dependency_order

                names = in_dependency_order(layout, names, reverse=command != "start")
            bump_serial(layout)  # a plan saved before this command is stale after it
            for name in names:
                try:
                    act(layout, name)
                except HpError as e:
                    if len(names) == 1:
                        raise
                    sys.stderr.write(_error_line(e, name) + "\n")
                    failed = True
            tidy(layout)  # peers' /etc/hosts; what nothing uses any more
    except HpError as e:
        raise _fail(e) from None
    if failed:
        raise typer.Exit(1)


def _error_line(e, name: str) -> str:
    from compiler.errors import error_line

    return error_line(e if name in e.where else e.within(name), {})


NAMES = typer.Argument(None, metavar="NAME...", show_default=False)


@app.command("start")
def start_command(
    names: list[str] | None = NAMES,
    all_: bool = typer.Option(
        False,
        "--all",
        help="Bring back every container that was running when the host went down and "
        'whose restart policy is not "no" (contrib/hp.service runs this at boot).',
    ),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Start stopped containers again (their writable layers, volumes and addresses are kept).
    --all is not the opposite of `hp stop --all`: it brings back what a reboot stopped, never what hp stop did."""
    from executor import containers, lifecycle

    if all_ == bool(names):
        raise _fail(_usage_error("start", "give one or more NAMEs, or --all"))
    if all_:
        _start_all(state_dir)
        return

    def act(layout, name):
        from executor.boot import wait_for_dependencies
        from executor.store import read_record

        lifecycle.require(layout, name)
        record = read_record(layout, name)
        wait_for_dependencies(layout, name, dict(record.depends_on) if record else {})
        containers.start(layout, name)

    _each(list(names or ()), False, state_dir, act, command="start")


def _usage_error(command: str, problem: str):
    from compiler import HpError

    return HpError(f"hp {command}", problem)


def _start_all(state_dir: str | None) -> None:
    from compiler import HpError
    from executor.boot import start_all
    from executor.lock import state_lock
    from executor.session import state_layout

    try:
        layout = state_layout(state_dir)
        with state_lock(layout, timeout=60):
            started, failed = start_all(layout, _say)
    except HpError as e:
        raise _fail(e) from None
    for error in failed:
        sys.stderr.write(f"hp: error: {error}\n")
    _say(f"{len(started)} started" + (f", {len(failed)} failed" if failed else ""))
    if failed:
        raise typer.Exit(1)


@app.command("container-exited", hidden=True)
def container_exited_command(
    name: str = typer.Argument(..., metavar="NAME"),
    start: int = typer.Argument(..., metavar="START"),
    state_dir: str | None = STATE_DIR,
) -> None:
    """conmon's exit command: a container's run ended (executor/supervise.py)."""
    from compiler import HpError
    from compiler.names import check_container_name
    from executor.session import state_layout
    from executor.supervise import container_exited

    try:
        check_container_name(name)
        container_exited(state_layout(state_dir), name, start)
    except HpError as e:
        raise _fail(e) from None


STOP_TIME = typer.Option(
    None,
    "--time",
    "-t",
    min=0,
    help="Seconds to wait after the stop signal before SIGKILL "
    f"(default: the container's stop_timeout, {DEFAULT_STOP_TIMEOUT} s unless set).",
)


@app.command(
    "stop",
    help=f"Stop containers: each one's stop signal (default {signal_name(DEFAULT_STOP_SIGNAL)}), then SIGKILL after "
    "--time. A container\nhp stopped stays stopped: not restarted by its policy, nor by `hp start --all` at boot.",
)
def stop_command(
    names: list[str] | None = NAMES,
    all_: bool = typer.Option(False, "--all", help="Stop every container hp has (of every file)."),
    time_: float | None = STOP_TIME,
    state_dir: str | None = STATE_DIR,
) -> None:
    from executor import containers, lifecycle

    def act(layout, name):
        lifecycle.require(layout, name)
        containers.stop(layout, name, timeout=time_)

    _each(list(names or ()), all_, state_dir, act, command="stop")


@app.command("restart")
def restart_command(
    names: list[str] = typer.Argument(..., metavar="NAME..."),
    time_: float | None = STOP_TIME,
    state_dir: str | None = STATE_DIR,
) -> None:
    """Stop containers as `hp stop` does, then start them as `hp start` does, under one lock (a running
    one is stopped first; a stopped one is just started)."""
    from executor import lifecycle

    _each(list(names), False, state_dir, lambda layout, name: lifecycle.restart(layout, name, time_), command="restart")


@app.command("rm")
def rm_command(
    names: list[str] | None = NAMES,
    all_: bool = typer.Option(False, "--all", help="Remove every container hp has (of every file); volumes are kept."),
    force: bool = typer.Option(
        False, "--force", "-f", help="Kill it at once if it is running (without: stop it as hp stop does)."
    ),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Remove containers and everything hp made for them (also half-made ones). A running one is
    stopped first as `hp stop` does: its stop signal, its stop_timeout, then SIGKILL."""
    from executor import containers

    _each(
        list(names or ()),
        all_,
        state_dir,
        lambda layout, name: containers.remove(layout, name, force=force),
        command="rm",
    )


export_app = typer.Typer(
    name="export", no_args_is_help=True, help="The same hp.toml for another engine (docs/kubernetes.md)."
)
app.add_typer(export_app, name="export")


@export_app.command("kube")
def export_kube_command(
    file: str = typer.Argument("hp.toml", metavar="FILE", help="The desired-state file."),
    container: str | None = typer.Option(
        None, "--container", "-c", metavar="NAME", help="Export only this container (and the volumes it mounts)."
    ),
    out: str = typer.Option("-", "--out", "-o", metavar="FILE|-", help="Write the YAML here (default: stdout)."),
    host_ports: bool = typer.Option(
        False, "--host-ports", help="Keep each HOST_IP:HOST_PORT as hostIP/hostPort (discouraged in Kubernetes)."
    ),
    image_map: list[str] | None = typer.Option(
        None,
        "--image-map",
        metavar="OLD=NEW",
        help="Rewrite the registry prefix OLD of image references to NEW (repeatable).",
    ),
    state_dir: str | None = STATE_DIR,
    lock_timeout: float = LOCK_TIMEOUT,
) -> None:
    """Print Kubernetes manifests (multi-document YAML) for FILE's containers; a field Kubernetes has no place
    for is a warning on stderr. Images are inspected as `hp plan` does (a missing one is pulled, and said so)."""
    from compiler import HpError
    from compiler.kube import KubeOptions, parse_image_map
    from executor.export import check_output, export_file, write_output
    from executor.lock import state_lock
    from executor.planning import check_input
    from executor.session import state_layout

    try:
        options = KubeOptions(container, host_ports, parse_image_map(tuple(image_map or ())))
        if out != "-":
            check_output(out)
        data = _read(file)
        check_input(data)  # refused before the state dir is touched
        layout = state_layout(state_dir)
        with state_lock(layout, lock_timeout):
            exported = export_file(layout, file, data, options, say=_say)
        text = exported.yaml()
        if out != "-":
            write_output(out, text)
    except HpError as e:
        raise _fail(e, {"spec": file}) from None
    for warning in exported.warnings:
        sys.stderr.write(f"hp: warning: {warning}\n")
    if out == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as e:
            sys.stderr.write(f"hp: error: cannot write the manifests to stdout: {e.strerror or e}\n")
            raise typer.Exit(1) from None


healthcheck_app = typer.Typer(
    name="healthcheck", no_args_is_help=True, help="Health checks: the image's HEALTHCHECK, or hp.toml's healthcheck."
)
app.add_typer(healthcheck_app, name="healthcheck")


@healthcheck_app.command("run")
def healthcheck_run_command(
    names: list[str] | None = typer.Argument(None, metavar="[NAME...]", show_default=False),
    all_: bool = typer.Option(
        False,
        "--all",
        help="Every running container with a health check, each only when its check is due (the default without NAME).",
    ),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Run health checks and record the results (hp ps shows them); act on an unhealthy container as its
    health_on_failure says. A NAME's check runs now, due or not; exit 1 if one of theirs fails.
    contrib/hp-healthcheck.timer runs `hp healthcheck run --all` every 5 s."""
    from compiler import HpError
    from compiler.names import check_container_name
    from executor import lifecycle
    from executor.health import run_checks
    from executor.session import state_layout

    names = list(names or ())
    try:
        if all_ and names:
            raise _usage_error("healthcheck run", "give NAMEs or --all, not both")
        for name in names:
            check_container_name(name)  # before anything is built from it, or touched
        layout = state_layout(state_dir)
        for name in names:
            lifecycle.require(layout, name)
        checked, failed = run_checks(layout, names, only_if_due=not names, say=_say)
    except HpError as e:
        raise _fail(e) from None
    for error in failed:
        sys.stderr.write(f"hp: error: {error}\n")
    if failed or (names and any(c.state.log and c.state.log[-1].exit_code != 0 for c in checked)):
        raise typer.Exit(1)


volume_app = typer.Typer(
    name="volume",
    no_args_is_help=True,
    help="Volumes: named ones (a file's volumes tables) and containers' image volumes, kept until removed.",
)
app.add_typer(volume_app, name="volume")
DECLARING_FILE = typer.Option(
    [], "--file", "-f", metavar="FILE", help="Also a file whose [volumes.NAME] tables count as declared (repeatable)."
)


def _human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@volume_app.command("ls")
def volume_ls_command(
    json_output: bool = typer.Option(False, "--json", help="One JSON list on stdout."),
    files: list[str] = DECLARING_FILE,
    state_dir: str | None = STATE_DIR,
) -> None:
    """List volumes: name, size, the containers using it, whether a file declares it."""
    from compiler import HpError
    from executor import volumes
    from executor.session import state_layout
    from executor.tables import print_table

    try:
        layout = state_layout(state_dir)
        rows = volumes.describe(layout, volumes.declarations(layout, tuple(files)))
    except HpError as e:
        raise _fail(e) from None
    if json_output:
        _emit_json(rows)
        return
    table = [("NAME", "SIZE", "CONTAINERS", "DECLARED", "KIND")] + [
        (
            r.name,
            _human_size(r.size),
            ",".join(r.containers) or "-",
            "yes" if r.declared else "no",
            f"image {r.container}:{r.target}" if r.kind == "image" else r.kind or "-",
        )
        for r in rows
    ]
    print_table(table)


@volume_app.command("inspect")
def volume_inspect_command(
    name: str = typer.Argument(..., metavar="NAME"),
    files: list[str] = DECLARING_FILE,
    state_dir: str | None = STATE_DIR,
) -> None:
    """Print one volume as JSON: its path on the host, size, users, origin."""
    from compiler import HpError
    from executor import volumes
    from executor.session import state_layout

    try:
        layout = state_layout(state_dir)
        info = volumes.inspect(layout, name, volumes.declarations(layout, tuple(files)))
    except HpError as e:
        raise _fail(e) from None
    _emit_json(info)


@volume_app.command("rm")
def volume_rm_command(
    name: str = typer.Argument(..., metavar="NAME"),
    state_dir: str | None = STATE_DIR,
    lock_timeout: float = LOCK_TIMEOUT,
) -> None:
    """Delete a volume and its data. Refused while a container uses it (remove that first)."""
    from compiler import HpError
    from compiler.names import check_volume_name
    from executor import volumes
    from executor.lock import state_lock
    from executor.session import state_layout
    from executor.store import bump_serial

    try:
        check_volume_name(name)  # before anything is built from it, or touched
        layout = state_layout(state_dir)
        with state_lock(layout, lock_timeout):
            volumes.check_removable(layout, name)
            bump_serial(layout)  # a plan saved before this command is stale after it
            volumes.remove(layout, name)
    except HpError as e:
        raise _fail(e) from None
    _say(f"removed volume {name}")


@app.command("logs")
def logs_command(
    name: str = typer.Argument(..., metavar="NAME"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the container stops."),
    tail: int | None = typer.Option(None, "--tail", metavar="N", help="Only the last N lines (then new ones)."),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="TIME",
        help="Only lines since TIME: RFC 3339 (2026-12-01T03:00:00Z) or a duration before now (10m, 1h30m).",
    ),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Put each line's time before it."),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Print a container's output: its stdout lines to stdout, its stderr lines to stderr, in order."""
    import time

    from compiler import HpError
    from compiler.logs import check_tail, parse_since
    from executor.logs import show_logs
    from executor.main import Interrupted

    try:
        since_nanos = None if since is None else parse_since(since, time.time_ns())
        check_tail(tail)
    except HpError as e:
        raise _fail(e) from None
    try:
        _one(
            name,
            state_dir,
            lambda layout, name: show_logs(
                layout,
                name,
                follow=follow,
                tail=tail,
                since=since_nanos,
                timestamps=timestamps,
                out=sys.stdout.buffer,
                err=sys.stderr.buffer,
            ),
            locked=False,
        )
    except Interrupted as e:
        raise typer.Exit(128 + e.signum) from None  # Ctrl-C is how a --follow ends
    except BrokenPipeError:
        # the reader went away (hp logs NAME | head): done; nothing more may reach the pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@app.command("exec", context_settings={"allow_interspersed_args": False})
def exec_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    command: list[str] = typer.Argument(..., metavar="[OPTIONS] -- COMMAND [ARG...]"),
    tty: bool = typer.Option(False, "--tty", "-t", help="Give the command a terminal."),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Pass hp's stdin to the command (without: /dev/null, unless --tty)."
    ),
    user: str | None = typer.Option(
        None,
        "--user",
        "-u",
        metavar="USER",
        help="Run as USER: a name or uid, optionally :group or :gid, resolved in the image's /etc/passwd and "
        "/etc/group as hp.toml's user is.",
    ),
    env: list[str] = typer.Option(
        [],
        "--env",
        "-e",
        metavar="NAME=VALUE",
        help="Set an environment variable (repeatable); a bare NAME takes its value from hp's environment.",
    ),
    workdir: str | None = typer.Option(
        None, "--workdir", "-w", metavar="DIR", help="Run in DIR (absolute) instead of the container's directory."
    ),
    state_dir: str | None = STATE_DIR,
) -> None:
    """Run a command in a running container, as its own user, in its directory and environment.
    hp's options may also come between NAME and `--`. The command's exit status is hp's."""
    from compiler import HpError
    from compiler.names import check_container_name
    from executor import lifecycle
    from executor.session import state_layout

    before = [
        *(["-t"] if tty else []),
        *(["-i"] if interactive else []),
        *(["-u", user] if user is not None else []),
        *[w for value in env for w in ("-e", value)],
        *(["-w", workdir] if workdir is not None else []),
    ]
    try:
        options = _exec_words(ctx, before + list(command), state_dir)
        check_container_name(name)
        code = lifecycle.exec_command(state_layout(options.state_dir), name, options)
    except HpError as e:
        raise _fail(e) from None
    raise typer.Exit(code)


def _exec_words(ctx: typer.Context, words: list[str], state_dir: str | None):
    """hp exec's options (those given before NAME first, as words) and the command: compiler.exec_process's
    parse_exec_words. An unknown option or a missing command is a usage error (exit 2); a bad value is
    one line naming the option (HpError)."""

    from compiler.exec_process import ExecOptions, ExecUsageError, parse_exec_words

    try:
        options = parse_exec_words(words, ExecOptions(state_dir=state_dir), os.environ)
    except ExecUsageError as e:
        raise typer.BadParameter(e.problem, ctx, param_hint="'[OPTIONS] -- COMMAND'") from None
    if options.help:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    return options


@app.command("doctor")
def doctor_command(state_dir: str | None = STATE_DIR) -> None:
    """Check that this host can run hp's containers, and say how to fix what is missing."""
    from compiler import HpError
    from executor.doctor import checks
    from executor.session import state_layout

    try:
        layout = state_layout(state_dir, trusted=False)  # an unsafe state dir is reported, below
    except HpError as e:
        raise _fail(e) from None
    results = checks(layout)
    for c in results:
        print(f"{'ok ' if c.ok else 'FIX'}  {c.name}: {c.detail}")
    if not all(c.ok for c in results):
        raise typer.Exit(1)
