"""`hp export kube` of the bundled example (examples/apply.toml), run by a real Kubernetes runtime here:
`podman kube play`. Inside its containers `id`, `pwd` and `env` are what they are under `hp apply` of
the same file, and the web container answers.

The example is taken as it is but for what a test on a shared host needs: the image is the test registry's
busybox image (the example's own is built by scripts/example), the names get a suffix, the host port is a
free one, the network is the test's own; and oneshot's command stays up after its line ("exec sleep"):
keep_alive has no Kubernetes equivalent (a warning), so the exported oneshot would end, and `podman exec`
needs it running.

podman kube play (4.3.1) does not implement Services, so no name resolves a peer: the web container is
reached through its pod's published port (exported with --host-ports: hostIP 127.0.0.1, hostPort) from
the host, and through the pod's address from its peer. `podman kube down` removes everything in a finally.
podman needs default ulimits on this host: CONTAINERS_CONF points at a containers.conf holding them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from .hprun import HP, hp
from .test_hp_network import free_port, free_subnet

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "apply.toml"
EXAMPLE_IMAGE = "localhost/hp-example/busybox:2"
TIMEOUT = 120  # a guard against a hang, never a speed check


def podman(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["podman", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env} if env else None,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def example_file(tmp_path: Path, registry, image: str, suffix: str, port: int) -> Path:
    """examples/apply.toml with the test's image, names, port and network (the module's docstring says why)."""
    text = EXAMPLE.read_text()
    assert text.count(EXAMPLE_IMAGE) == 2 and '"127.0.0.1:18080:8080"' in text
    text = text.replace(EXAMPLE_IMAGE, image).replace('"127.0.0.1:18080:8080"', f'"127.0.0.1:{port}:8080"')
    text = text.replace(
        'command = ["echo", "one-shot job done"]', 'command = ["sh", "-c", "echo one-shot job done; exec sleep 3600"]'
    )
    text = text.replace("[containers.hello]", f'[containers.hello-{suffix}]\nnetwork = "kp{suffix}"')
    text = text.replace("[containers.oneshot]", f'[containers.oneshot-{suffix}]\nnetwork = "kp{suffix}"')
    path = tmp_path / "hp.toml"
    path.write_text(
        f'[registries."{registry.host}"]\ninsecure = true\n\n'
        f'[networks.kp{suffix}]\nsubnet = "{free_subnet()}"\nbridge = "hpk{suffix}"\n\n' + text
    )
    return path


def inside(run, name: str) -> dict[str, str | list[str]]:
    """`id`, `pwd` and `env` in the container, as `run(name, *argv)` gives them."""
    env = sorted(run(name, "env").splitlines())
    return {"id": run(name, "id").strip(), "pwd": run(name, "pwd").strip(), "env": env}


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # only ever 127.0.0.1
        return response.read().decode()


def eventually(check, what: str, timeout: float = 60.0):
    """Poll until check() gives a true value; the limit only bounds a failing test, nothing is timed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, AssertionError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def test_the_exported_example_runs_under_podman_kube_play_as_under_hp(tmp_path, state, registry, test_images) -> None:
    s = uuid.uuid4().hex[:6]
    hello, oneshot, port = f"hello-{s}", f"oneshot-{s}", free_port()
    file = example_file(tmp_path, registry, test_images["sleeper"], s, port)
    manifest = tmp_path / "example.yaml"
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')
    podman_env = {"CONTAINERS_CONF": str(conf)}

    exported = hp("export", "kube", str(file), "--host-ports", "--out", str(manifest), state=state)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == ""
    warnings = [line for line in exported.stderr.splitlines() if line.startswith("hp: warning: ")]
    assert f"hp: warning: containers.{oneshot}.keep_alive" in "\n".join(warnings)
    documents = list(yaml.safe_load_all(manifest.read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("Service", hello),
        ("Deployment", hello),
        ("Service", oneshot),
        ("Deployment", oneshot),
    ]

    # under hp
    try:
        applied = hp("apply", str(file), "--yes", state=state, timeout=TIMEOUT)
        assert applied.returncode == 0, applied.stderr

        def hp_run(name: str, *argv: str) -> str:
            return hp("exec", name, "--", *argv, state=state, check=True).stdout

        under_hp = {name: inside(hp_run, name) for name in (hello, oneshot)}
        assert eventually(
            lambda: "hello from hp-test" in fetch(f"http://127.0.0.1:{port}/index.html"),
            "hp's hello answers on its published port",
        )
    finally:
        destroyed = hp("destroy", str(file), "--yes", state=state, timeout=TIMEOUT)
    assert destroyed.returncode == 0, destroyed.stderr

    # under podman kube play
    pods = {name: f"{name}-pod-0" for name in (hello, oneshot)}
    try:
        played = podman("kube", "play", "--tls-verify=false", str(manifest), env=podman_env, check=False)
        assert played.returncode == 0, played.stderr
        containers = {name: f"{pods[name]}-{name}" for name in (hello, oneshot)}
        for container in containers.values():
            eventually(
                lambda c=container: (
                    podman("inspect", "--format", "{{.State.Running}}", c, env=podman_env).stdout.strip() == "true"
                ),
                f"{container} runs",
            )

        def kube_run(name: str, *argv: str) -> str:
            return podman("exec", containers[name], *argv, env=podman_env).stdout

        under_kube = {name: inside(kube_run, name) for name in (hello, oneshot)}
        # the web container answers: through its pod's published port from the host ...
        assert (
            eventually(lambda: fetch(f"http://127.0.0.1:{port}/index.html"), "hello answers on its pod's port")
            == "hello from hp-test\n"
        )
        # ... and through its pod's address from its peer (podman kube play resolves no Service name)
        infra = json.loads(podman("pod", "inspect", pods[hello], env=podman_env).stdout)["InfraContainerID"]
        networks = json.loads(podman("inspect", infra, env=podman_env).stdout)[0]["NetworkSettings"]["Networks"]
        address = next(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))
        peer = kube_run(oneshot, "wget", "-q", "-O", "-", f"http://{address}:8080/index.html")
        assert peer == "hello from hp-test\n"
        logs = podman("logs", containers[hello], env=podman_env).stdout
        assert f"hello from {hello} as app in /srv/www" in logs
    finally:
        down = podman("kube", "down", str(manifest), env=podman_env, check=False)
    assert down.returncode == 0, down.stderr
    left = podman("ps", "--all", "--format", "{{.Names}}", env=podman_env).stdout.split()
    assert [n for n in left if s in n] == []

    assert under_kube == under_hp
    assert under_hp[hello]["id"] == "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)"
    assert under_hp[hello]["pwd"] == "/srv/www"
    assert f"HOSTNAME={hello}" in under_hp[hello]["env"] and "MODE=image" in under_hp[hello]["env"]


# ---- the command line: one error line, nothing half-written; stdout and --out agree ---------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        (["missing.toml"], "hp: error: missing.toml: cannot read: No such file or directory"),
        (
            ["hp.toml", "--container", "nope"],
            "hp: error: --container: no container named 'nope' in the file (it has: web)",
        ),
        (
            ["hp.toml", "--image-map", "nothing"],
            'hp: error: --image-map: expected OLD=NEW (a registry prefix and its replacement), got "nothing"',
        ),
        (
            ["bad.toml"],
            (
                'hp: error: bad.toml: containers.web.memory: expected a size like "256m" (b, k, m or g) or a '
                'number of bytes, got "lots"'
            ),
        ),
        (
            ["upper.toml"],
            (
                'hp: error: upper.toml: containers.Web: "Web" is not a Kubernetes name: use 1-63 lowercase '
                "letters, digits or '-', starting with a letter and ending with a letter or digit"
            ),
        ),
        (["hp.toml", "--out", "no/such/dir/out.yaml"], None),
        (
            ["hp.toml", "--image-map", "a.io=b.io", "--image-map", "a.io=c.io"],
            "hp: error: --image-map: a.io is given more than once",
        ),
        (["nofile.toml"], None),  # seccomp = a profile that is not there: as hp plan, an error naming the field
        (["badjson.toml"], None),
        (
            ["twoprofiles.toml"],
            (
                'hp: error: twoprofiles.toml: containers.b.seccomp: "p.json" and "/abs/x/p.json" '
                "would both be the node's seccomp/p.json: give the profiles different file names"
            ),
        ),
    ],
    ids=[
        "no-file",
        "no-container",
        "bad-image-map",
        "bad-field",
        "bad-name",
        "bad-out",
        "image-map-twice",
        "seccomp-no-file",
        "seccomp-bad-json",
        "seccomp-same-name",
    ],
)
def test_an_export_error_is_one_line_and_writes_nothing(tmp_path, state, registry, test_images, args, error) -> None:
    image = test_images["sleeper"]
    (tmp_path / "hp.toml").write_text(
        f'[registries."{registry.host}"]\ninsecure = true\n[containers.web]\nimage = "{image}"\n'
    )
    (tmp_path / "bad.toml").write_text(f'[containers.web]\nimage = "{image}"\nmemory = "lots"\n')
    (tmp_path / "nofile.toml").write_text(f'[containers.web]\nimage = "{image}"\nseccomp = "nope.json"\n')
    (tmp_path / "broken.json").write_text("{ not json")
    (tmp_path / "badjson.toml").write_text(f'[containers.web]\nimage = "{image}"\nseccomp = "broken.json"\n')
    (tmp_path / "twoprofiles.toml").write_text(
        f'[containers.a]\nimage = "{image}"\nseccomp = "/abs/x/p.json"\n'
        f'[containers.b]\nimage = "{image}"\nseccomp = "p.json"\n'
    )
    (tmp_path / "upper.toml").write_text(
        f'[registries."{registry.host}"]\ninsecure = true\n[containers.Web]\nimage = "{image}"\n'
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    result = subprocess.run(
        [HP, "export", "kube", *args, "--state-dir", str(state)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("hp: error: "), result.stderr
    assert "Traceback" not in result.stderr
    if error is not None:
        assert result.stderr.strip() == error
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "state") == before


def test_stdout_and_out_give_the_same_yaml_and_warnings(tmp_path, state, registry, test_images) -> None:
    file = tmp_path / "hp.toml"
    file.write_text(
        f'[registries."{registry.host}"]\ninsecure = true\n'
        f'[containers.web]\nimage = "{test_images["sleeper"]}"\npids_limit = 5\nports = ["8080:80"]\n'
    )
    printed = hp("export", "kube", str(file), state=state)
    written = hp("export", "kube", str(file), "--out", str(tmp_path / "web.yaml"), state=state)
    assert printed.returncode == written.returncode == 0
    assert printed.stdout == (tmp_path / "web.yaml").read_text() and written.stdout == ""
    lines = [line for line in printed.stderr.splitlines() if line.startswith("hp: warning: ")]
    assert lines == [line for line in written.stderr.splitlines() if line.startswith("hp: warning: ")]
    fields = [
        f'registries."{registry.host}"',
        "containers.web.ports[0]",
        "containers.web.pids_limit",
        'containers.web.image: Volumes["/data"]',
    ]
    assert len(lines) == len(fields)
    assert all(line.startswith(f"hp: warning: {f}: ") for line, f in zip(lines, fields, strict=True))
    assert oct((tmp_path / "web.yaml").stat().st_mode & 0o777) == "0o600"
    assert [d["kind"] for d in yaml.safe_load_all(printed.stdout)] == ["Service", "Deployment"]
