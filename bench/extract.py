"""Benchmark of zero-copy images (issue 15 item 8): the first `hp apply` of an image podman has
but hp has not used yet, with the image copied out of podman's storage (hp before: the "mount"
way, `podman image mount` + `cp -a` into STATE/images/<id>/rootfs) and with podman's own layers
as the overlay's lowers ("layers", now the default); and the disk each way costs per image.
A script, not a test: it measures and prints, it asserts nothing timed.

    .venv/bin/python bench/extract.py                  # 5 runs of each way, a 120 MB image
    .venv/bin/python bench/extract.py --runs 3 --mb 200

Needs root, podman and busybox-static. Builds the image locally (no registry, no network):
`podman import` of a busybox root plus --mb MB of incompressible files in 60 directories.
Each run applies one container (network none) into a fresh state dir with the real hp CLI,
the ways interleaved so that drift in the machine affects them alike, after a warm-up of each
(the page cache holds the layer files for both). The way is chosen by running the CLI with
ensure_image's default method set (bench only: hp has no such option). Disk: the blocks under
STATE/images/<id> (hard links counted once), plus, for "layers", the writable layer podman made
for the reference container. After each run `hp destroy` must leave nothing: no mount, no
reference container, no image directory. The image is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench.common import import_sleeper  # noqa: E402
from compiler.layout import layout  # noqa: E402

WAYS = ("copy", "layers")
METHOD = {"copy": "mount", "layers": "layers"}
# the real CLI, with ensure_image's default way set first
CLI = (
    "import sys; from executor import images; images.ensure_image.__kwdefaults__['method'] = sys.argv.pop(1); "
    "from executor.main import main; sys.argv[0] = 'hp'; sys.exit(main())"
)


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def hp(way: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, METHOD[way], *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=HERE,
        timeout=600,
    )


def build_image(work: Path, megabytes: int) -> tuple[str, int]:
    """A busybox image whose command sleeps, with `megabytes` MB of random files; (ref, tar bytes)."""
    ref = f"localhost/hp-bench-zero-copy-{uuid.uuid4().hex[:8]}:1"
    tar = import_sleeper(work, f"{ref}-base")  # the tests' busybox root, as a tar
    root = work / "root"
    root.mkdir()
    sh("tar", "--extract", "--file", str(tar), "--directory", str(root))
    chunk = os.urandom(1 << 20)
    for i in range(megabytes * 10):  # 100 KiB files
        d = root / "usr" / "share" / f"d{i % 60:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(chunk[(i * 7919) % (900 << 10) :][: 100 << 10])
    big = work / "big.tar"
    sh("tar", "--create", "--file", str(big), "--directory", str(root), "--numeric-owner", ".")
    sh(
        "podman",
        "import",
        "--change",
        'ENTRYPOINT ["/bin/busybox"]',
        "--change",
        'CMD ["sleep", "3600"]',
        "--change",
        "STOPSIGNAL SIGKILL",
        str(big),
        ref,
    )
    sh("podman", "rmi", f"{ref}-base")
    size = big.stat().st_size
    shutil.rmtree(root)
    big.unlink()
    return ref, size


def disk(path: str) -> int:
    """Bytes of the blocks under path, each inode once."""
    seen, total = set(), 0
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def references(image_id: str) -> list[str]:
    return [
        n
        for n in sh("podman", "ps", "--all", "--format", "{{.Names}}").split()
        if n.startswith(f"hp-ref-{image_id[:12]}-")
    ]


def one_apply(way: str, state: Path, hp_toml: Path, image_id: str) -> tuple[float, int, int]:
    """(seconds of the first apply, bytes under STATE/images/<id>, bytes of the reference's layer)."""
    os.sync()  # no dirty data of the previous run
    start = time.perf_counter()
    applied = hp(way, "apply", str(hp_toml), "--yes", "--state-dir", str(state))
    took = time.perf_counter() - start
    if applied.returncode != 0:
        raise SystemExit(f"hp apply ({way}) failed: {applied.stderr.strip()}")
    lay = layout(str(state))
    ours = disk(lay.image_dir(image_id))
    podmans = 0
    for name in references(image_id):
        upper = sh("podman", "container", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", name).strip()
        podmans += disk(str(Path(upper).parent))
    destroyed = hp(way, "destroy", str(hp_toml), "--yes", "--state-dir", str(state))
    left = [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if str(state) in m]
    left += references(image_id) + ([lay.image_dir(image_id)] if os.path.exists(lay.image_dir(image_id)) else [])
    if destroyed.returncode != 0 or left:
        raise SystemExit(f"hp destroy ({way}): exit {destroyed.returncode}, left {left}: {destroyed.stderr.strip()}")
    shutil.rmtree(state)
    return took, ours, podmans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=120, help="MB of files in the image")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (podman's storage, overlay mounts)", file=sys.stderr)
        return 2
    if not shutil.which("podman") or not os.path.isfile("/bin/busybox"):
        print("needs podman and busybox-static (/bin/busybox)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hp-bench-zero-copy-") as tmpdir:
        tmp = Path(tmpdir)
        ref = ""
        try:
            ref, size = build_image(tmp, args.mb)
            image_id = sh("podman", "image", "inspect", "--format", "{{.Id}}", ref).strip()
            name = f"bench-{uuid.uuid4().hex[:6]}"
            hp_toml = tmp / "hp.toml"
            hp_toml.write_text(f'[containers.{name}]\nimage = "{ref}"\nnetwork = "none"\n')
            times: dict[str, list[float]] = {w: [] for w in WAYS}
            ours: dict[str, int] = {}
            podmans: dict[str, int] = {}
            for run in range(args.runs + 1):  # run 0: warm-up, not counted
                for way in WAYS:
                    took, ours[way], podmans[way] = one_apply(way, tmp / f"state-{way}-{run}", hp_toml, image_id)
                    if run:
                        times[way].append(took)
            print(
                f"first hp apply of a {size / 1e6:.0f} MB image podman has ({args.runs} runs each, warm page "
                f"cache, {os.cpu_count()} CPUs): one container, network none, state dir new each run"
            )
            print(f"{'way':<8}{'median s':>10}{'min s':>8}{'STATE/images/<id>':>20}{'podman reference':>18}")
            for way in WAYS:
                t = times[way]
                print(
                    f"{way:<8}{statistics.median(t):>10.2f}{min(t):>8.2f}{ours[way] / 1e6:>17.2f} MB"
                    f"{podmans[way] / 1e3:>15.0f} kB"
                )
            saved = statistics.median(times["copy"]) - statistics.median(times["layers"])
            print(
                f"layers save {saved:.2f} s of the first apply and {(ours['copy'] - ours['layers']) / 1e6:.0f} MB "
                f"of disk per image; hp destroy left nothing either way"
            )
            print(
                json.dumps(
                    {
                        "image_mb": round(size / 1e6),
                        "runs": args.runs,
                        **{f"{w}_median_s": round(statistics.median(times[w]), 3) for w in WAYS},
                        **{f"{w}_disk_bytes": ours[w] + podmans[w] for w in WAYS},
                    }
                )
            )
        finally:
            if ref:
                subprocess.run(["podman", "rmi", "--force", ref], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
