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
How: `HP_KILL_SIGNAL` (KILL, the default, INT or TERM) is the signal; with
`HP_KILL_GROUP=1` it goes to hp's whole process group, as Ctrl-C on a terminal or a
service manager's stop does (children such as crun and the CNI plugins get it too), but only
when hp leads its group: it never signals a group it was merely started in.
Without HP_KILL_AT (always, outside tests) a checkpoint is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

# not passed on to conmon, so never to the exit command it runs: a fault is meant for one hp run
FAULT_VARIABLES = ("HP_KILL_AT", "HP_KILL_SIGNAL", "HP_KILL_GROUP")
SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "TERM": signal.SIGTERM}


def checkpoint(point: str) -> None:
    if os.environ.get("HP_KILL_AT") == point:
        sig = SIGNALS[os.environ.get("HP_KILL_SIGNAL", "KILL")]
        if os.environ.get("HP_KILL_GROUP") == "1" and os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), sig)
        else:
            os.kill(os.getpid(), sig)
