"""hp's executor: the imperative shell around the pure compiler.

It reads files, gathers facts, runs commands (podman, crun, mounts) and owns
the CLI. Every decision it needs comes from `compiler`.
"""

__version__ = "0.1.0"  # kept equal to pyproject.toml's version (tests/test_cli.py checks)
