"""Console entry point of `hp`."""

from __future__ import annotations


def main() -> None:
    from executor.cli import app

    app()


if __name__ == "__main__":
    main()
