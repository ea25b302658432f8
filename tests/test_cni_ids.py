"""compiler.cni.same_state_dir: which CNI container IDs (the owners of nat rules) are of the
same state dir as an attachment's, as container_id names them."""

from __future__ import annotations

import pytest

from compiler import cni
from compiler.layout import Layout
from compiler.network import container_network
from compiler.spec import parse_hp_file

STATE = "/var/lib/hp"


def _attachment(name: str) -> cni.Attachment:
    f = parse_hp_file(f'[containers.{name}]\nimage = "x"\nports = ["8080:80"]\n')
    return cni.attachment(Layout(STATE), name, container_network(f, name))


CASES = [
    ("itself", cni.container_id(STATE, "web"), True),
    ("another-container-here", cni.container_id(STATE, "db"), True),
    ("a-name-with-dashes-here", cni.container_id(STATE, "web-2"), True),
    ("same-name-other-state-dir", cni.container_id("/srv/hp", "web"), False),
    ("other-state-dir-subdir", cni.container_id(f"{STATE}/x", "web"), False),
    ("podman", "a" * 64, False),
    ("no-tag", "hp-web", False),
    ("empty", "", False),
]


@pytest.mark.parametrize("name,owner,expected", CASES, ids=[c[0] for c in CASES])
def test_same_state_dir(name: str, owner: str, expected: bool) -> None:
    assert cni.same_state_dir(_attachment("web"), owner) is expected
