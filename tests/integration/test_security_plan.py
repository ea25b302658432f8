"""The security review with the real `hp plan` (issue 13, item 6): a create lists its escalations in
the text and --json, a replace what it adds and removes, and `--deny-escalation` exits 1 (one line
naming the container and what it adds) only when a change adds one; a saved plan still applies.

network = "none" for what is applied; the host-networked container is only planned."""

from __future__ import annotations

import json
import uuid

import pytest

from .hprun import container_dirs, hp, write_file

pytestmark = pytest.mark.integration


def table(name: str, image: str, extra: str = "") -> str:
    return f'[containers.{name}]\nimage = "{image}"\nnetwork = "none"\n{extra}'


def security_lines(text: str, name: str) -> list[str]:
    """The lines under the `security:` heading of NAME's change in a rendered plan."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.split()[1:2] == [name])
    out: list[str] = []
    heading = None
    for line in lines[start + 1 :]:
        if heading is None:
            if not line.startswith("   ") or not line.strip():
                return []
            if line.strip() == "security:":
                heading = len(line) - len(line.lstrip())
            continue
        if len(line) - len(line.lstrip()) <= heading or not line.strip():
            break
        out.append(line.strip())
    return out


def test_a_create_lists_each_escalation_in_text_and_json_and_is_denied(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    web, edge, plain, su, dev, own = (f"{n}-{s}" for n in ("web", "edge", "plain", "su", "dev", "own"))
    (tmp_path / "host").mkdir()
    (tmp_path / "strict.json").write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}],
            }
        )
    )
    image = test_images["sleeper"]  # USER app: not root unless hp.toml says so
    file = write_file(
        tmp_path,
        registry,
        table(
            web,
            image,
            (
                'cap_add = ["NET_ADMIN", "CHOWN"]\nuser = "0"\nseccomp = "unconfined"\n'
                'sysctls = { "kernel.shmmax" = "65536" }\n'
                f'mounts = [{{ type = "bind", source = "{tmp_path}/host", target = "/host" }},\n'
                '  { type = "bind", source = "/etc/ssl", target = "/ssl", readonly = true }]\n'
            ),
        )
        + f'[containers.{edge}]\nimage = "{image}"\nnetwork = "host"\n'
        + table(plain, image)
        + table(su, image, "privileged = true\n")
        + table(dev, image, 'devices = ["/dev/fuse:/dev/fuse:rw"]\n')
        + table(own, image, 'seccomp = "strict.json"\n'),
    )
    text = hp("plan", str(file), state=state, check=True).stdout
    lines = {
        web: [
            "capability CAP_NET_ADMIN (not in hp's default set)",
            "seccomp unconfined: no syscall filter",
            "bind mount of host path /etc/ssl at /ssl (read-only)",
            f"bind mount of host path {tmp_path}/host at /host (read-write)",
            "sysctl kernel.shmmax=65536",
            "runs as root (uid 0)",
        ],
        edge: ["host network: the host's interfaces and ports, no network namespace of its own"],
        su: [
            "privileged: every capability, the host's devices, no masked or read-only paths, /sys writable",
            "seccomp unconfined: no syscall filter",
        ],
        dev: ["device /dev/fuse (c 10:229 rw)"],
        own: ["seccomp profile strict.json"],
    }
    for name, expected in lines.items():
        assert security_lines(text, name) == expected, text
    assert "CAP_CHOWN" not in text  # a default capability added again is no escalation
    assert security_lines(text, plain) == [] and f"  + {plain}" in text  # hp's default: no security heading

    changes = {
        c["name"]: c for c in json.loads(hp("plan", str(file), "--json", state=state, check=True).stdout)["changes"]
    }
    assert {"kind": "capability", "detail": "CAP_NET_ADMIN"} in changes[web]["security"]
    assert {"kind": "bind-mount", "detail": f"{tmp_path}/host at /host (read-write)"} in changes[web]["security"]
    assert {"kind": "sysctl", "detail": "kernel.shmmax=65536"} in changes[web]["security"]
    assert {"kind": "root", "detail": ""} in changes[web]["security"]
    assert {"kind": "host-network", "detail": ""} in changes[edge]["security"]
    assert changes[su]["security"] == [
        {"kind": "privileged", "detail": ""},
        {"kind": "seccomp", "detail": "unconfined"},
    ]
    assert changes[dev]["security"] == [{"kind": "device", "detail": "/dev/fuse (c 10:229 rw)"}]
    assert changes[own]["security"] == [{"kind": "seccomp", "detail": "strict.json"}]
    assert changes[web]["security_added"] == changes[web]["security"] and changes[web]["security_removed"] == []

    denied = hp("plan", str(file), "--deny-escalation", state=state)
    assert denied.returncode == 1 and denied.stdout.endswith(text.split("\n\n", 1)[1])  # the plan first
    assert denied.stderr.count("\n") == 1 and "Traceback" not in denied.stderr
    error = denied.stderr.strip()
    assert error.startswith("hp: error: --deny-escalation: ") and error.endswith(" (less confined than hp's default)")
    # by container (in the plan's order), what each adds; the plain container adds nothing
    added = {
        part.split(" adds ", 1)[0]: part.split(" adds ", 1)[1].split(", ")
        for part in error[len("hp: error: --deny-escalation: ") : -len(" (less confined than hp's default)")].split(
            "; "
        )
    }
    assert added[web] == [
        "capability CAP_NET_ADMIN",
        "seccomp unconfined",
        "bind-mount /etc/ssl at /ssl (read-only)",
        f"bind-mount {tmp_path}/host at /host (read-write)",
        "sysctl kernel.shmmax=65536",
    ]
    assert added[edge] == ["host-network"] and plain not in added
    assert added[su] == ["privileged", "seccomp unconfined"] and added[dev] == ["device /dev/fuse (c 10:229 rw)"]
    # a create's root user does not count (most images run as root: podman's and Docker's default too)
    assert not any(item == "root" for items in added.values() for item in items)
    assert container_dirs(state) == []


def test_a_replace_says_what_it_adds_and_removes_and_only_adding_is_denied(
    tmp_path, state, registry, test_images
) -> None:
    s = uuid.uuid4().hex[:6]
    web = f"web-{s}"
    (tmp_path / "host").mkdir()
    image = test_images["sleeper"]
    bind = f'mounts = [{{ type = "bind", source = "{tmp_path}/host", target = "/host" }}]\n'
    file = write_file(tmp_path, registry, table(web, image, bind))
    saved = tmp_path / "escalating.plan"
    try:
        assert hp("apply", str(file), "--yes", state=state).returncode == 0

        # adds NET_ADMIN: said, and denied
        write_file(tmp_path, registry, table(web, image, bind + 'cap_add = ["NET_ADMIN"]\n'))
        text = hp("plan", str(file), state=state, check=True).stdout
        assert "security:\n" in text and "+ capability CAP_NET_ADMIN (not in hp's default set)\n" in text
        assert "bind mount of host path" not in text  # kept: a replace lists only what it adds or removes
        change = json.loads(hp("plan", str(file), "--json", state=state, check=True).stdout)["changes"][0]
        assert change["action"] == "replace"
        assert change["security_added"] == [{"kind": "capability", "detail": "CAP_NET_ADMIN"}]
        assert change["security_removed"] == []
        denied = hp("plan", str(file), "--deny-escalation", "--detailed-exitcode", "--out", str(saved), state=state)
        assert denied.returncode == 1, denied.stderr
        assert denied.stderr.splitlines()[-1] == (
            f"hp: error: --deny-escalation: {web} adds capability CAP_NET_ADMIN (less confined than hp's default)"
        )
        assert (
            "+ capability CAP_NET_ADMIN (not in hp's default set)\n"
            in hp("show", str(saved), state=state, check=True).stdout
        )
        as_json = hp("plan", str(file), "--json", "--deny-escalation", state=state)
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["changes"][0]["security_added"]
        # the gate is hp plan's: a saved plan (reviewed) is carried out as it is
        applied = hp("apply", str(saved), state=state)
        assert applied.returncode == 0, applied.stderr

        # takes the bind mount and the capability away: said, and not denied
        write_file(tmp_path, registry, table(web, image))
        tighter = hp("plan", str(file), "--deny-escalation", "--detailed-exitcode", state=state)
        assert tighter.returncode == 4, tighter.stderr  # changes, none adding an escalation
        assert "- capability CAP_NET_ADMIN (not in hp's default set)\n" in tighter.stdout
        assert f"- bind mount of host path {tmp_path}/host at /host (read-write)\n" in tighter.stdout
        assert all(line.startswith("- ") for line in security_lines(tighter.stdout, web)), tighter.stdout
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state)
    assert destroyed.returncode == 0, destroyed.stderr
