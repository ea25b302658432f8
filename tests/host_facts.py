"""Fixed host facts for tests that compile: the same on every machine, so outputs are byte-stable.

The default seccomp profile is a copy of containers-common's (tests/fixtures/seccomp.json, as
Debian's podman installs it); arch and kernel are fixed. A golden case may override any field
in an optional `host.json` (HostFacts' fields, e.g. devices), and its `seccomp = PATH` files are
read from the case's directory.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from compiler import HostFacts, HostFile, HpError, parse_hp_file

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_PROFILE = HostFile(
    "/usr/share/containers/seccomp.json", (FIXTURES / "seccomp.json").read_bytes().decode("utf-8")
)
TEST_HOST = HostFacts(arch="x86_64", kernel="6.1.0-28-amd64", default_seccomp=DEFAULT_PROFILE)


def this_host() -> HostFacts:
    """The facts `hp compile` gathers here when no option overrides them: uname, the host's default profile."""
    import os

    from compiler import defaults

    path = defaults().seccomp_profile
    return HostFacts(
        arch=os.uname().machine,
        kernel=os.uname().release,
        default_seccomp=HostFile(path, Path(path).read_bytes().decode("utf-8")),
    )


def case_host_facts(case_dir: Path) -> HostFacts:
    """TEST_HOST, with the case's host.json over it and the profile files its hp.toml names."""
    host = TEST_HOST
    if (case_dir / "host.json").exists():
        fields = msgspec.json.decode((case_dir / "host.json").read_bytes())
        host = msgspec.convert({**msgspec.to_builtins(host), **fields}, HostFacts)
    try:
        hp_file = parse_hp_file((case_dir / "hp.toml").read_bytes())
    except HpError:
        return host
    paths = {s.seccomp for s in hp_file.containers.values()} - {"default", "unconfined"}
    files = {
        p: HostFile(p, (case_dir / p).read_bytes().decode("utf-8"))
        for p in sorted(paths)
        if p and (case_dir / p).is_file()
    }
    return msgspec.structs.replace(host, seccomp_files=files) if files else host
