"""Benchmark: hp plan and hp apply of a 200-container file, side by side with peers.

    .venv/bin/python bench/plan.py [--count 200]

Prints, measured in one run (root; podman, crun, busybox-static installed):
 (1) bare Python start-up (`python -c pass`): the floor of any hp command;
 (2) `hp plan` of N containers of one cached image, nothing applied yet;
 (3) `hp apply --yes` of them, total and per container;
 (4) `hp plan` of the unchanged deployment (target: under 2 s; it must neither pull nor
     extract: checked, not just timed), against `crun list` of the same N containers (the
     cheapest way to read their status) and `podman ps -a` over N podman containers;
 (5) `hp apply` with nothing to do.
Everything it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HP, import_sleeper, sh  # noqa: E402


def timed(argv: list[str], runs: int = 1) -> tuple[float, subprocess.CompletedProcess]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = sh(argv, ok=(0, 4))
        times.append(time.perf_counter() - t)
    return statistics.median(times), result  # type: ignore[return-value]  # runs >= 1: result is set


def tree_stamp(path: Path) -> tuple:
    """What would change if hp extracted or pruned an image: the entries and their inodes."""
    return tuple(sorted((e.name, e.inode()) for e in os.scandir(path)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    n = parser.parse_args().count
    tag = secrets.token_hex(3)
    work = Path(tempfile.mkdtemp(prefix="hp-bench-plan-"))
    image = f"localhost/hp-bench-{tag}/sleeper:1"
    state = work / "state"
    file = work / "hp.toml"
    names = [f"p{tag}-{i}" for i in range(n)]
    podman_names = [f"pp{tag}-{i}" for i in range(n)]
    try:
        import_sleeper(work, image)
        file.write_text("".join(f'[containers.{name}]\nimage = "{image}"\n\n' for name in names))
        # warm-up: the image's rootfs is extracted and hp's helpers built once, as on any used host
        warm = work / "warm.toml"
        warm.write_text(f'[containers.w{tag}]\nimage = "{image}"\n')
        sh([HP, "apply", str(warm), "--yes", "--state-dir", str(state)])

        python_start, _ = timed([sys.executable, "-c", "pass"], runs=5)
        plan_fresh, _ = timed([HP, "plan", str(file), "--state-dir", str(state)], runs=3)
        apply_all, applied = timed([HP, "apply", str(file), "--yes", "--state-dir", str(state)])
        images_before = tree_stamp(state / "images")
        plan_same, planned = timed([HP, "plan", str(file), "--state-dir", str(state)], runs=5)
        assert planned.stdout == "No changes. The host matches the file.\n", planned.stdout[:500]
        assert "pulled" not in planned.stderr, planned.stderr
        assert tree_stamp(state / "images") == images_before, "hp plan touched the image cache"
        apply_noop, _ = timed([HP, "apply", str(file), "--yes", "--state-dir", str(state)], runs=3)
        crun_list, _ = timed(["crun", "--root", str(state / "crun"), "list", "--format", "json"], runs=5)

        for name in podman_names:
            sh(["podman", "create", "--name", name, image])
        podman_ps, _ = timed(["podman", "ps", "-a", "--format", "json"], runs=5)

        ms = lambda s: f"{s * 1000:8.0f} ms"  # noqa: E731
        print(f"hp plan/apply benchmark: {n} containers of one cached busybox image, {os.cpu_count()} CPUs")
        print("(medians: 5 runs, plans of an empty state 3, the apply 1)\n")
        rows = [
            ("python -c pass (interpreter start-up)", python_start, ""),
            (f"hp plan, {n} to create", plan_fresh, ""),
            (f"hp apply --yes, {n} created and started", apply_all, f"{apply_all / n * 1000:.1f} ms per container"),
            (
                f"hp plan, {n} unchanged",
                plan_same,
                f"target < 2 s: {'met' if plan_same < 2 else 'NOT met'}; no pull, no extraction (checked)",
            ),
            ("hp apply, nothing to do", apply_noop, ""),
            (f"peer: crun list of the same {n}", crun_list, ""),
            (f"peer: podman ps -a of {n} podman containers", podman_ps, ""),
        ]
        for label, seconds, note in rows:
            print(f"  {label:<46} {ms(seconds)}  {note}")
        print(
            f"\n  hp plan of {n} unchanged = {plan_same / python_start:.1f}x python start-up, "
            f"{plan_same / podman_ps:.1f}x podman ps -a; per container beyond start-up: "
            f"{(plan_same - python_start) / n * 1000:.2f} ms"
        )
    finally:
        for f in (file, work / "warm.toml"):
            if f.exists():
                subprocess.run(
                    [HP, "destroy", str(f), "--yes", "--state-dir", str(state)],
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                )
        for name in podman_names:
            subprocess.run(["podman", "rm", "-f", name], capture_output=True)
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True)
        subprocess.run(["umount", "-R", str(state)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
