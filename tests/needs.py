"""Skipping a test that needs something this machine lacks, except in CI.

`.ci/run` sets HP_REQUIRE_ALL=1: there a missing requirement fails the test
instead of skipping it, so nothing is silently left out of CI.
"""

from __future__ import annotations

import os

import pytest


def missing(what: str) -> None:
    """Skip (or, under HP_REQUIRE_ALL=1, fail) because `what` is not available."""
    if os.environ.get("HP_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI but missing: {what}", pytrace=False)
    pytest.skip(f"missing: {what}")


def schema_dir() -> str:
    """The OCI runtime-spec schema directory from HP_OCI_SCHEMA_DIR, or skip/fail."""
    path = os.environ.get("HP_OCI_SCHEMA_DIR", "")
    if not path or not os.path.isfile(os.path.join(path, "config-schema.json")):
        missing("HP_OCI_SCHEMA_DIR (the runtime-spec schema directory with config-schema.json)")
    return path
