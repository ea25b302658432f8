"""Session fixtures for the executor's integration tests: a real registry on 127.0.0.1 and
tiny busybox-static images pushed to it (registry.py says what they contain).

    registry             -> registry.Registry: .host "127.0.0.1:PORT", .url "http://127.0.0.1:PORT",
                            .catalog(), .tags(repo), .get(path), .log, .log_tail(), .stop()
    test_images          -> dict[str, str]: name -> "127.0.0.1:PORT/hp-test/SUFFIX/NAME:1" for
                            "sleeper", "exiter", "noshell", "stopsig"; pushed, then removed from
                            local podman storage, so the first use of each really pulls
    test_image_namespace -> str: "hp-test/SUFFIX", unique per session

Without root, podman, docker-registry or /bin/busybox (busybox-static) a test using them is
skipped, or fails under HP_REQUIRE_ALL=1 (CI). At session end the registry is stopped and
every local image under this session's namespace (pulled by a test or by hp) is removed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ..needs import missing
from .hprun import remove_everything
from .registry import (
    Registry,
    local_images,
    podman_rmi,
    push_test_images,
    require_podman,
    require_registry,
    running_registry,
)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """docker-registry serving on 127.0.0.1:a free port for the whole session."""
    require_registry()
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def test_image_namespace() -> str:
    return f"hp-test/{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def test_images(
    registry: Registry, test_image_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """name -> reference of the test images in `registry`, absent from local storage."""
    require_podman()
    refs = push_test_images(registry, tmp_path_factory.mktemp("images"), test_image_namespace)
    try:
        yield dict(refs)
    finally:
        podman_rmi(*local_images(f"{registry.host}/{test_image_namespace}/"))


@pytest.fixture
def state(tmp_path):
    """A fresh hp state dir; at the end, whatever a failed test left in it is removed."""
    if os.geteuid() != 0:
        missing("root")
    path = tmp_path / "state"
    yield path
    remove_everything(path)
