"""Waiting for something on the host to happen, polling with a growing pause and a limit."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(done: Callable[[], bool], timeout: float, longest: float = 0.2) -> bool:
    """True as soon as done(); False once `timeout` seconds passed without it. Pauses start at
    10 ms and double up to `longest`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, longest)
    return True
