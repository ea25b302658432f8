"""`python -m executor.init`: build hp-init and install it at installed_path() (scripts/setup
runs this once; it needs gcc and libc6-dev, which only the installing host needs)."""

from __future__ import annotations

import os

from executor.init import build_argv, installed_path
from executor.run import run


def install() -> str:
    target = installed_path()
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        run(build_argv(tmp), "building hp-init (needs gcc and libc6-dev)", timeout=120)
        os.chmod(tmp, 0o755)
        os.rename(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


if __name__ == "__main__":
    print(install())
