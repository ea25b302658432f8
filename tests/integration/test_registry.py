"""The registry and test-image fixtures work: the registry serves what was pushed, a pull
gives back the configuration and the root filesystem that were built (ownership, modes,
xattrs, a file capability), a missing tag is an error, and the registry helper copes with
a taken port and says why it could not start."""

from __future__ import annotations

import os
import socket
import stat
import uuid
from pathlib import Path

import pytest

from . import registry as helpers
from .registry import (
    PROBES,
    CommandError,
    Registry,
    inspect_image,
    mounted_image,
    podman_rmi,
    pull_image,
    run,
    xattrs_of,
)

pytestmark = pytest.mark.integration

# What `podman image inspect` must show for each test image; keys not listed must be unset.
EXPECTED: dict[str, dict] = {
    "sleeper": {
        "Entrypoint": ["/bin/busybox"],
        "Cmd": ["sleep", "3600"],
        "User": "app",
        "WorkingDir": "/srv/www",
        "Env": ["MODE=image"],
        "Volumes": {"/data": {}},
        "Labels": {"org.opencontainers.image.title": "hp-test-sleeper"},
        "StopSignal": "9",
    },  # STOPSIGNAL SIGKILL: busybox sleep as PID 1 ignores SIGTERM
    "exiter": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["exit 3"]},
    "noshell": {"Cmd": ["/bin/busybox", "true"]},
    # podman import stores STOPSIGNAL SIGUSR1 as the number, "10"
    "stopsig": {"Entrypoint": ["/bin/sh", "-c"], "StopSignal": "10", "ExposedPorts": {"8080/tcp": {}}},
}
CONFIG_KEYS = ("Entrypoint", "User", "WorkingDir", "Env", "Volumes", "Labels", "StopSignal", "ExposedPorts")


@pytest.fixture
def pull_throwaway():
    """pull(ref) -> a throwaway local name for the pulled image; ref itself is untagged
    again at once, and the throwaway name removed at teardown."""
    made: list[str] = []

    def pull(ref: str) -> str:
        throwaway = f"localhost/hp-throwaway-{uuid.uuid4().hex[:8]}:1"
        made.extend((ref, throwaway))
        pull_image(ref)
        run(["podman", "tag", ref, throwaway])
        podman_rmi(ref)
        return throwaway

    yield pull
    podman_rmi(*made)


def test_registry_serves_the_v2_api(registry: Registry) -> None:
    host, port = registry.host.split(":")
    assert host == "127.0.0.1" and int(port) == registry.port > 0
    assert registry.url == f"http://{registry.host}"
    status, body = registry.get("/v2/")
    assert status == 200 and body.strip() == b"{}"
    assert registry.process.poll() is None
    assert registry.log.is_file()


def test_every_test_image_is_in_the_catalog(
    registry: Registry, test_images: dict[str, str], test_image_namespace: str
) -> None:
    assert set(EXPECTED) <= set(test_images)
    catalog = registry.catalog()
    for name, ref in test_images.items():
        assert ref == f"{registry.host}/{test_image_namespace}/{name}:1"
        repository = f"{test_image_namespace}/{name}"
        assert repository in catalog
        assert registry.tags(repository) == ["1"]
        status, _ = registry.get(f"/v2/{repository}/manifests/1")
        assert status == 200


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_pull_gives_back_the_image_config(name: str, test_images: dict[str, str], pull_throwaway) -> None:
    image = inspect_image(pull_throwaway(test_images[name]))
    assert (image["Os"], image["Architecture"]) == ("linux", "amd64")
    config = image["Config"]
    assert config.get("Cmd") == EXPECTED[name].get("Cmd", config.get("Cmd"))
    for key in CONFIG_KEYS:
        assert (config.get(key) or None) == EXPECTED[name].get(key), key


def test_a_pull_gives_back_the_root_filesystem(test_images: dict[str, str], pull_throwaway) -> None:
    with mounted_image(pull_throwaway(test_images["sleeper"])) as root:
        for path, probe in PROBES.items():
            st = (root / path).lstat()
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (probe.uid, probe.gid, probe.mode), path
            assert xattrs_of(root / path) == probe.xattrs, path
        assert (root / "bin" / "sh").readlink() == Path("busybox")
        assert (root / "etc" / "passwd").read_text() == helpers.PASSWD
        assert (root / "etc" / "group").read_text() == helpers.GROUP
        assert (root / "data" / "seed").stat().st_uid == 1000
        assert (root / "srv" / "www").stat().st_uid == 1000
        assert (root / "bin" / "busybox").read_bytes() == helpers.BUSYBOX.read_bytes()

    with mounted_image(pull_throwaway(test_images["noshell"])) as root:
        found = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        assert found == ["bin", "bin/busybox"]


@pytest.mark.parametrize("what", ["tag", "repository"])
def test_a_pull_of_something_missing_fails(what: str, registry: Registry, test_images: dict[str, str]) -> None:
    ref = test_images["sleeper"]
    missing_ref = ref.rsplit(":", 1)[0] + ":nope" if what == "tag" else ref.replace("/sleeper:", "/nothere:")
    try:
        with pytest.raises(CommandError) as failed:
            pull_image(missing_ref)
        assert "manifest unknown" in failed.value.stderr
        assert missing_ref in str(failed.value)
        status, _ = registry.get("/v2/" + missing_ref.split("/", 1)[1].replace(":", "/manifests/"))
        assert status == 404
    finally:
        podman_rmi(missing_ref)


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_a_taken_port_is_retried_and_stop_stops(tmp_path: Path, monkeypatch) -> None:
    helpers.require_registry()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1]]
        real = helpers.free_port
        monkeypatch.setattr(helpers, "free_port", lambda: ports.pop(0) if ports else real())
        reg = helpers.start_registry(tmp_path)
        try:
            assert reg.port != taken.getsockname()[1]
            assert reg.get("/v2/")[0] == 200
            assert len(list(tmp_path.glob("registry-*.log"))) == 2
        finally:
            reg.stop()
    assert reg.process.returncode is not None
    assert refused(reg.port)
    reg.stop()  # twice is fine


def test_a_registry_that_cannot_start_says_why(tmp_path: Path, monkeypatch) -> None:
    helpers.require_registry()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(helpers, "free_port", lambda: port)
        with pytest.raises(RuntimeError, match=r"(?s)exited.*registry-\d+\.log.*address already in use"):
            helpers.start_registry(tmp_path, attempts=2)


def test_a_failing_command_names_itself_and_its_stderr() -> None:
    helpers.require_podman()
    with pytest.raises(CommandError, match=r"(?s)exited 125: podman image inspect 'no such;image'.*stderr: .+"):
        run(["podman", "image", "inspect", "no such;image"])
    with pytest.raises(CommandError, match="timed out after 0.2s: /bin/busybox sleep 5"):
        run(["/bin/busybox", "sleep", "5"], timeout=0.2)


def test_a_registry_that_never_answers_times_out_and_is_stopped(tmp_path: Path, monkeypatch) -> None:
    helpers.require_registry()
    helpers.require_podman()  # for /bin/busybox
    stub = tmp_path / "stub-registry"
    pid_file = tmp_path / "stub.pid"
    stub.write_text(f"#!/bin/busybox sh\necho $$ > {pid_file}\necho stub says hi\nexec /bin/busybox sleep 30\n")
    stub.chmod(0o755)
    monkeypatch.setattr(helpers, "REGISTRY_BIN", str(stub))
    with pytest.raises(RuntimeError, match=r"(?s)not ready after 0\.5s.*stub says hi"):
        helpers.start_registry(tmp_path / "reg", timeout=0.5, attempts=1)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
