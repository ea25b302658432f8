"""What an apply tells the person watching, on stderr: plain lines ("hp: web: created and
started"), or, when stderr is a terminal, the same lines above a rich progress bar."""

from __future__ import annotations

import sys
import threading
from typing import Protocol


class Progress(Protocol):
    def say(self, message: str) -> None: ...
    def advance(self) -> None: ...
    def close(self) -> None: ...


class PlainProgress:
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()

    def say(self, message: str) -> None:
        with self.lock:
            self.stream.write(f"hp: {message}\n")
            self.stream.flush()

    def advance(self) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("applying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task("apply", total=total)
        self.progress.start()

    def say(self, message: str) -> None:
        self.progress.console.print(f"hp: {message}", highlight=False, markup=False)

    def advance(self) -> None:
        self.progress.advance(self.task)

    def close(self) -> None:
        self.progress.stop()


def progress_for(total: int, plain: bool) -> Progress:
    if plain or total == 0 or not sys.stderr.isatty():
        return PlainProgress()
    return RichProgress(total)


class PlanningStatus:
    """While planning (pulls, extraction): on a terminal a rich spinner with the latest step
    (each step also printed above it); otherwise plain lines."""

    def __init__(self, plain: bool) -> None:
        self.status = None
        if not plain and sys.stderr.isatty():
            from rich.console import Console

            self.console = Console(stderr=True)
            self.status = self.console.status("planning", spinner="dots")
            self.status.start()
        self.plain = PlainProgress()

    def say(self, message: str) -> None:
        if self.status is None:
            self.plain.say(message)
        else:
            self.console.print(f"hp: {message}", highlight=False, markup=False)
            self.status.update(f"planning: {message}")

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
