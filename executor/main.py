"""Console entry point of `hp`."""

from __future__ import annotations

import signal
import sys


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException that is not KeyboardInterrupt, so that
    Click does not turn it into "Aborted!": it unwinds through every step's undo like any
    failure, and main() reports it in one line."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def main() -> None:
    # Ctrl-C, a service manager's stop or `kill` unwinds: what the interrupted step made is
    # undone and the record says where hp was, instead of dying between two side effects
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        from executor.cli import app  # a signal during the imports is an interruption too

        app()
    except Interrupted as e:
        sys.stderr.write(f"hp: interrupted by {signal.Signals(e.signum).name}\n")
        sys.exit(128 + e.signum)


if __name__ == "__main__":
    main()
