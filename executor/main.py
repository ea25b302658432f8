"""Console entry point of `hp`."""

from __future__ import annotations

import os
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
    # hp's files and directories get the modes hp chose, not whatever the caller's umask makes of them:
    # under umask 077 a container's overlay root would be 0700 and its non-root user could run nothing.
    # What must be private is made so explicitly (the state dir 0700, saved plans and emits 0600).
    os.umask(0o022)
    # Ctrl-C, a service manager's stop or `kill` unwinds: what the interrupted step made is
    # undone and the record says where hp was, instead of dying between two side effects
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        # a signal during the imports is an interruption too
        if sys.argv[1:2] in (["compile"], ["ps"]):
            # the commands scripts and watch loops run start without typer when their command line is
            # ordinary, and without the cyclic garbage collector: a short run that frees everything at
            # exit (collections during its imports cost ~3 ms of a ~70 ms start)
            import gc

            gc.disable()
            if sys.argv[1] == "compile":
                from executor.compile_command import quick
            else:
                from executor.ps_command import quick
            status = quick(sys.argv[2:])
            if status is not None:
                sys.exit(status)
        from executor.cli import app

        app()
    except Interrupted as e:
        _ignore_signals()
        sys.stderr.write(f"hp: interrupted by {signal.Signals(e.signum).name}\n")
        sys.exit(128 + e.signum)
    finally:
        _ignore_signals()


def _ignore_signals() -> None:
    """The command is over (done, or undone and said so): a signal that comes while Python
    shuts down would otherwise kill it by the default action and hide its real exit status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    main()
