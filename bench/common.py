"""What the benchmark scripts share: the hp under test, running a command, the test image."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
from tests.integration.registry import rootfs_tar  # noqa: E402

HP = str(Path(sys.executable).with_name("hp"))


def sh(argv: list[str], ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run argv (stdin empty); stop the benchmark with its stderr unless it exits with one of `ok`."""
    r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def import_sleeper(work: Path, image: str) -> Path:
    """The tests' busybox rootfs as a local podman image whose command sleeps; returns the tar.
    STOPSIGNAL SIGKILL: busybox sleep as PID 1 ignores SIGTERM, and hp now waits stop_timeout (10 s)
    for it before each removal, as podman does; the benchmarks time creation, not that wait."""
    tar = rootfs_tar(work / "rootfs.tar")
    sh(
        [
            "podman",
            "import",
            "--change",
            'ENTRYPOINT ["/bin/busybox"]',
            "--change",
            'CMD ["sleep", "3600"]',
            "--change",
            "STOPSIGNAL SIGKILL",
            str(tar),
            image,
        ]
    )
    return tar
