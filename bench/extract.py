"""Benchmark of the two ways to extract an image's root filesystem (a script, not a test:
it measures and prints, it asserts nothing timed).

    .venv/bin/python bench/extract.py              # 7 runs of each way on each image
    .venv/bin/python bench/extract.py --runs 3 --files 1000

Needs root, podman and busybox-static. Builds two images locally with `podman import` (no
registry, no network): "busybox" (/bin/busybox and its applets as symlinks, /etc/passwd,
/etc/group) and "large" (the same plus --files files of 1-40 KiB in 60 directories, every
tenth a hard link). Each run extracts into a fresh state directory with
executor.images.extract_once (scratch dir, extraction, syncfs, rename into place), the
ways interleaved so that drift in the machine affects them alike; the page cache is warm
for all of them (podman's layer files are read once before timing). Prints the median
and min wall times side by side, checks that the ways produced the same tree, and that
no temporary container, mount or scratch file is left. The images are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.layout import layout  # noqa: E402
from executor import images  # noqa: E402

METHODS = ("export", "mount", "mount-tar")


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def busybox_root(root: Path) -> None:
    (root / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in sh("/bin/busybox", "--list").split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    (root / "tmp").mkdir(mode=0o1777)
    os.chmod(root / "tmp", 0o1777)


def large_root(root: Path, files: int) -> None:
    busybox_root(root)
    data = os.urandom(40 * 1024)
    dirs = [root / "usr" / "share" / f"d{i:02d}" for i in range(60)]
    for d in dirs:
        d.mkdir(parents=True)
    for i in range(files):
        path = dirs[i % len(dirs)] / f"f{i:05d}"
        if i % 10 == 9:
            os.link(dirs[(i - 1) % len(dirs)] / f"f{i - 1:05d}", path)
        else:
            path.write_bytes(data[: 1024 + (i * 7919) % (39 * 1024)])


def build_image(tmp: Path, name: str, files: int) -> tuple[str, int, int]:
    root = tmp / f"root-{name}"
    busybox_root(root) if files == 0 else large_root(root, files)
    tar = tmp / f"{name}.tar"
    sh("tar", "--create", "--file", str(tar), "--directory", str(root), "--numeric-owner",
       "--xattrs", "--xattrs-include=*", ".")
    ref = f"localhost/hp-bench-extract-{name}-{uuid.uuid4().hex[:8]}:1"
    sh("podman", "import", str(tar), ref)
    count = sum(len(f) + len(d) for _, d, f in os.walk(root))
    size = tar.stat().st_size
    shutil.rmtree(root)
    tar.unlink()
    return ref, count, size


def image_id(ref: str) -> str:
    return sh("podman", "image", "inspect", "--format", "{{.Id}}", ref).strip()


def tree(root: str) -> list[tuple]:
    """Everything the extraction must keep, per path (the root's own mode aside)."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            xattrs = tuple(sorted((k, os.getxattr(path, k, follow_symlinks=False))
                                  for k in os.listxattr(path, follow_symlinks=False)))
            link = os.readlink(path) if os.path.islink(path) else None
            out.append((os.path.relpath(path, root), st.st_mode, st.st_uid, st.st_gid,
                        st.st_size if not os.path.isdir(path) else 0, st.st_nlink if os.path.isfile(path) else 0,
                        link, xattrs))
    return sorted(out)


def leftovers(state: str, iid: str) -> list[str]:
    found = [f"container {n}" for n in sh("podman", "ps", "-a", "--format", "{{.Names}}").split()
             if n.startswith(f"hp-extract-{iid[:12]}-")]
    mounted = json.loads(sh("podman", "image", "mount", "--format", "json") or "[]") or []
    found += [f"mount {m.get('mountpoint')}" for m in mounted if m.get("id") == iid]
    for dirpath, dirs, files in os.walk(state):
        found += [f"scratch {os.path.join(dirpath, d)}" for d in dirs if d.startswith(".extract-")]
        dirs[:] = [d for d in dirs if d != "rootfs"]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=3000, help="files in the large image")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (podman's storage and extraction with ownership)", file=sys.stderr)
        return 2
    for tool in ("podman", "tar", "cp"):
        if not shutil.which(tool):
            print(f"needs {tool}", file=sys.stderr)
            return 2
    if not os.path.isfile("/bin/busybox"):
        print("needs busybox-static (/bin/busybox)", file=sys.stderr)
        return 2

    refs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hp-bench-extract-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            specs = []
            for name, files in (("busybox", 0), ("large", args.files)):
                ref, count, size = build_image(tmp, name, files)
                refs.append(ref)
                specs.append((name, ref, image_id(ref), count, size))
            times: dict[tuple[str, str], list[float]] = {}
            syncs: dict[tuple[str, str], list[float]] = {}
            written: dict[tuple[str, str], list[float]] = {}
            real_syncfs = images._syncfs
            synced: list[float] = []

            def timed_syncfs(path: str) -> None:
                start = time.perf_counter()
                real_syncfs(path)
                synced.append(time.perf_counter() - start)

            images._syncfs = timed_syncfs
            trees: dict[tuple[str, str], list] = {}
            for name, ref, iid, _, _ in specs:
                images.extract_once(iid, layout(str(tmp / "warm" / name)), images.EXTRACTORS["mount"])
                shutil.rmtree(tmp / "warm" / name)
                for run in range(args.runs):
                    for method in METHODS:
                        state = str(tmp / f"s-{name}-{method}-{run}")
                        os.sync()  # start each run with no dirty data of the previous one
                        synced.clear()
                        blocks = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
                        start = time.perf_counter()
                        rootfs = images.extract_once(iid, layout(state), images.EXTRACTORS[method])
                        times.setdefault((name, method), []).append(time.perf_counter() - start)
                        syncs.setdefault((name, method), []).append(sum(synced))
                        blocks = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - blocks
                        written.setdefault((name, method), []).append(blocks * 512 / 1e6)
                        if run == 0:
                            trees[(name, method)] = tree(rootfs)
                        left = leftovers(state, iid)
                        if left:
                            print(f"LEFT BEHIND by {method}: {left}", file=sys.stderr)
                            return 1
                        shutil.rmtree(state)
            # reuse: the second call finds the rootfs and extracts nothing
            name, ref, iid, _, _ = specs[0]
            lay = layout(str(tmp / "reuse"))
            images.extract_once(iid, lay, images.EXTRACTORS[images.DEFAULT_METHOD])
            start = time.perf_counter()
            for _ in range(50):
                images.extract_once(iid, lay)
            reuse = (time.perf_counter() - start) / 50
            warm = []
            for _ in range(5):
                start = time.perf_counter()
                images.ensure_image(ref, lay)
                warm.append(time.perf_counter() - start)

            print(f"extracting an image's rootfs with extract_once, {args.runs} runs each, warm page cache, "
                  f"{os.cpu_count()} CPUs;\nmedian (min) wall time in seconds, whole call (scratch dir, "
                  f"copy, syncfs, rename); then the syncfs part alone")
            header = f"{'image':<34}" + "".join(f"{m:>18}" for m in METHODS) + f"{'export/mount':>14}"
            print(header)
            print("-" * len(header))
            for name, ref, iid, count, size in specs:
                label = f"{name} ({count} entries, {size / 1e6:.1f} MB)"
                row = f"{label:<34}"
                for method in METHODS:
                    t = times[(name, method)]
                    row += f"{statistics.median(t):>11.3f} ({min(t):.3f})"
                ratio = statistics.median(times[(name, 'export')]) / statistics.median(times[(name, 'mount')])
                print(row + f"{ratio:>13.1f}x")
                row = f"{'  of which syncfs':<34}"
                for method in METHODS:
                    t = syncs[(name, method)]
                    row += f"{statistics.median(t):>11.3f} ({min(t):.3f})"
                print(row)
                row = f"{'  MB written by the commands':<34}"
                for method in METHODS:
                    row += f"{statistics.median(written[(name, method)]):>18.1f}"
                print(row)
            print()
            for name, *_ in specs:
                same = all(trees[(name, m)] == trees[(name, "export")] for m in METHODS)
                print(f"{name}: trees identical across ways (paths, modes, owners, sizes, links, xattrs): "
                      f"{'yes' if same else 'NO'}")
            print(f"reuse of an extracted rootfs (extract_once finds it): {reuse * 1e6:.0f} us")
            print(f"ensure_image of an image already pulled and extracted (podman image exists + inspect, "
                  f"passwd, group): {statistics.median(warm) * 1e3:.0f} ms")
            print(f"default way: {images.DEFAULT_METHOD}; nothing left behind (containers, mounts, scratch)")
        finally:
            for ref in refs:
                subprocess.run(["podman", "rmi", "--force", ref], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
