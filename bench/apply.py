"""Benchmark: hp apply against podman run, and hp's per-container cost against raw crun.

    .venv/bin/python bench/apply.py [--count 20]

Prints, measured side by side in one run (root; podman, crun, busybox-static installed),
like against like:
 (1) `hp apply` of N containers of one already-pulled image on hp's default bridge network
     (CNI: bridge, host-local, portmap, firewall), against `podman run -d` of the same N on
     podman's default network (netavark on Debian 12);
 (2) the same with no network (hp `network = "none"`, podman `--network none`);
 (3) hp's cost to create and start one more container (the planned create, Python API,
     without the started check's 0.5 s grace, which an apply pays once per phase),
     with no network against raw `crun run -d` of a ready bundle (a fresh, empty network
     namespace: the same work), and on the bridge;
 (4) the disk used per extra container (near zero: the overlay's lowers are podman's layers);
 (5) listing them: `hp ps` of its 2N containers against `podman ps -a` of podman's 2N
     (filtered to this run's names), each median of 7, with every container running.
Everything it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import HP, import_sleeper, sh  # noqa: E402

PODMAN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    sh(argv)
    return time.perf_counter() - t


def du(path: Path) -> int:
    # -x: not into the mounted overlays (their lower layer is the shared image)
    return int(sh(["du", "-sx", "--block-size=1", str(path)]).stdout.split()[0])


def write_file(path: Path, image: str, names: list[str], network: str = "bridge", extra: str = "") -> None:
    path.write_text("".join(f'[containers.{n}]\nimage = "{image}"\nnetwork = "{network}"\n{extra}\n' for n in names))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    n = parser.parse_args().count
    tag = secrets.token_hex(3)
    work = Path(tempfile.mkdtemp(prefix="hp-bench-"))
    image = f"localhost/hp-bench-{tag}/sleeper:1"
    state = work / "state"
    names = [f"b{tag}-{i}" for i in range(n)]
    lone_names = [f"l{tag}-{i}" for i in range(n)]
    podman_names = [f"pb{tag}-{i}" for i in range(n)]
    podman_lone = [f"pl{tag}-{i}" for i in range(n)]
    (work / "none").mkdir()
    crun_root = work / "crun"
    try:
        import_sleeper(work, image)
        # warm-up: hp extracts the image once; podman's first run warms its storage
        write_file(work / "warm.toml", image, [f"w{tag}"])
        sh([HP, "apply", str(work / "warm.toml"), "--yes", "--state-dir", str(state)])
        sh([HP, "destroy", str(work / "warm.toml"), "--yes", "--state-dir", str(state)])
        sh(["podman", "run", "-d", "--rm", *PODMAN_LIMITS, "--name", f"pw{tag}", image, "true"])

        # (1) N containers
        write_file(work / "hp.toml", image, names)
        hp_total = timed([HP, "apply", str(work / "hp.toml"), "--yes", "--state-dir", str(state)])
        t = time.perf_counter()
        for name in podman_names:
            sh(["podman", "run", "-d", *PODMAN_LIMITS, "--name", name, image])
        podman_total = time.perf_counter() - t
        write_file(work / "none" / "hp.toml", image, lone_names, "none")
        hp_lone = timed([HP, "apply", str(work / "none" / "hp.toml"), "--yes", "--state-dir", str(state)])
        # like podman run -d, which does not wait to see the container stay up: must_run = false
        quick_names = [f"q{tag}-{i}" for i in range(n)]
        (work / "quick").mkdir()
        write_file(work / "quick" / "hp.toml", image, quick_names, "none", "must_run = false\n")
        hp_quick = timed([HP, "apply", str(work / "quick" / "hp.toml"), "--yes", "--state-dir", str(state)])
        sh([HP, "destroy", str(work / "quick" / "hp.toml"), "--yes", "--state-dir", str(state)])
        t = time.perf_counter()
        for name in podman_lone:
            sh(["podman", "run", "-d", "--network", "none", *PODMAN_LIMITS, "--name", name, image])
        podman_lone_total = time.perf_counter() - t

        # (5) listing: both sides hold 2N running containers here
        hp_ps = statistics.median(timed([HP, "ps", "--state-dir", str(state)]) for _ in range(7))
        podman_ps = statistics.median(timed(["podman", "ps", "-a", "--filter", f"name=^p[bl]{tag}-"]) for _ in range(7))

        # (3) disk per extra container: the containers dir (bundles, upper layers, logs)
        containers_bytes = du(state / "containers") / 2  # both files' containers
        image_bytes = du(state / "images")

        # (2) one more container: hp's own create+start (the Python API apply uses, with the image
        # already prepared and the config compiled by the plan, as in every apply)
        from compiler.layout import layout
        from executor import containers
        from executor.planning import make_plan

        lay = layout(str(state))
        per_hp: dict[str, list[float]] = {}
        for network, file, listed in (
            ("bridge", work / "hp.toml", names),
            ("none", work / "none" / "hp.toml", lone_names),
        ):
            extra = [f"x{network[0]}{tag}-{i}" for i in range(7)]
            write_file(file, image, listed + extra, network)
            planned = make_plan(lay, str(file), file.read_bytes())
            for name in extra:
                t = time.perf_counter()
                containers.create(lay, planned.new[name], confirm=False)  # like crun: no grace wait
                per_hp.setdefault(network, []).append(time.perf_counter() - t)
            listed += extra
        noop = statistics.median(
            timed([HP, "apply", str(work / "hp.toml"), "--yes", "--state-dir", str(state)]) for _ in range(3)
        )
        bundle = work / "bundle"
        shutil.copytree(
            state / "containers" / names[0] / "bundle",
            bundle,
            symlinks=True,
            ignore=shutil.ignore_patterns("rootfs", "attach", "ctl", "winsz"),
        )
        (bundle / "rootfs").mkdir()
        sh(["tar", "-C", str(bundle / "rootfs"), "-xf", str(work / "rootfs.tar")])
        import json

        config = json.loads((bundle / "config.json").read_text())
        config["linux"]["cgroupsPath"] = f"/hp-bench/{tag}"
        (bundle / "config.json").write_text(json.dumps(config))
        per_crun = []
        for i in range(7):
            cid = f"c{tag}-{i}"
            config["linux"]["cgroupsPath"] = f"/hp-bench/{cid}"
            (bundle / "config.json").write_text(json.dumps(config))
            t = time.perf_counter()
            subprocess.run(
                ["crun", "--root", str(crun_root), "run", "--detach", "--bundle", str(bundle), cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            per_crun.append(time.perf_counter() - t)
            subprocess.run(["crun", "--root", str(crun_root), "delete", "--force", cid], capture_output=True)

        hp_one = statistics.median(per_hp["none"])
        hp_one_bridge = statistics.median(per_hp["bridge"])
        crun_one = statistics.median(per_crun)
        print(f"hp apply benchmark: {n} containers of one pulled busybox image, on {os.cpu_count()} CPUs\n")
        print(f"  {'measurement':<50} {'hp':>10} {'peer':>10} {'peer/hp':>8}")
        print(f"  {'-' * 50} {'-' * 10} {'-' * 10} {'-' * 8}")
        print(
            f"  {f'(1) {n} on a bridge: hp apply vs podman run -d':<50} {hp_total:>9.2f}s {podman_total:>9.2f}s "
            f"{podman_total / hp_total:>7.1f}x"
        )
        print(
            f"  {f'(2) {n}, no network: hp apply vs podman run -d':<50} {hp_lone:>9.2f}s {podman_lone_total:>9.2f}s "
            f"{podman_lone_total / hp_lone:>7.1f}x"
        )
        print(
            f"  {'    the same, must_run = false (no 0.5 s wait)':<50} {hp_quick:>9.2f}s {podman_lone_total:>9.2f}s "
            f"{podman_lone_total / hp_quick:>7.1f}x"
        )
        print(
            f"  {'(3) one more, no network: hp vs crun run -d':<50} {hp_one * 1000:>8.1f}ms "
            f"{crun_one * 1000:>8.1f}ms {crun_one / hp_one:>7.2f}x"
        )
        print(f"  {'    one more, on the bridge (CNI ADD: 3 plugins)':<50} {hp_one_bridge * 1000:>8.1f}ms")
        print(
            f"      (median of 7; hp's fixed cost per run is apart: `hp apply` with nothing to do takes "
            f"{noop * 1000:.0f} ms; crun's bundle is ready-made, hp's includes compiling and writing it;\n"
            f"       not counted: the 0.5 s an apply waits, once per phase, to confirm its containers stayed up)"
        )
        per = containers_bytes / n
        print(
            f"  {'(4) disk per container (bundle, upper, log)':<50} {per / 1024:>8.1f}KiB "
            f"  near zero; the image is podman's layers (STATE/images: {image_bytes / 1024:.0f} KiB)"
        )
        print(
            f"  {f'(5) listing {2 * n}: hp ps vs podman ps -a':<50} {hp_ps * 1000:>8.1f}ms "
            f"{podman_ps * 1000:>8.1f}ms {podman_ps / hp_ps:>7.2f}x"
        )
    finally:
        for file in (work / "hp.toml", work / "none" / "hp.toml"):
            subprocess.run([HP, "destroy", str(file), "--yes", "--state-dir", str(state)], capture_output=True)
        for name in podman_names + podman_lone:
            subprocess.run(["podman", "rm", "-f", name], capture_output=True)
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True)
        subprocess.run(["umount", "-R", str(state)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
