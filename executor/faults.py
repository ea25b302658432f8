"""Fault injection for the crash-safety tests: `HP_KILL_AT=POINT` makes hp SIGKILL itself
when it reaches POINT, so a test can stop a real `hp apply` between two side effects and
check that the next apply converges and leaks nothing.

The points, in the order an apply passes them:
  after-pull          an image was pulled
  image-mounted       `podman image mount` ran, the copy out of it has not
  removing            a removal's record says "removing"; nothing is undone yet
  after-stop          the container is stopped, unmounted and deleted from crun
  after-gone          its directory was renamed away, not yet deleted
  after-dir           a new container's directory is in place (record: "creating")
  after-mount         its overlay is mounted
  after-netns         its network namespace is mounted
  after-cni-add       CNI ADD gave it its address (bridge networks)
  after-crun-create   crun created it (its process waits in crun's init)
  after-start         crun started it; the record still says "creating"
Without HP_KILL_AT (always, outside tests) a checkpoint is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def checkpoint(point: str) -> None:
    if os.environ.get("HP_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
