"""Every golden case's config.json validates against the OCI runtime-spec JSON Schema (issue 2):
the full snapshots and the configs that golden/<case>.diff shows as changes from the baseline.

The schema is not part of the project: HP_OCI_SCHEMA_DIR names the runtime-spec
`schema/` directory (locally /work/shared/oci-schema/runtime-spec; `.ci/run` sets it).
Without it these tests skip, except in CI (HP_REQUIRE_ALL=1), where they fail.
The validator is built as shared/oci-schema/validate.py does: every *.json of the
directory registered under its basename, draft-04.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from .needs import schema_dir
from .test_golden import run_case

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
GOLDEN_CONFIGS = sorted(GOLDEN.glob("*.json"))
SUCCESS_CASES = sorted(p.stem for p in GOLDEN.iterdir() if p.suffix in (".json", ".diff"))


@cache
def _validator(directory: str):
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    root = Path(directory)
    resources = [
        (p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
        for p in sorted(root.glob("*.json"))
    ]
    schema = json.loads((root / "config-schema.json").read_text())
    return Draft4Validator(schema, registry=Registry().with_resources(resources))


def validator():
    return _validator(schema_dir())


def errors(doc) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator().iter_errors(doc)]


def test_there_are_golden_configs() -> None:
    assert GOLDEN_CONFIGS, "golden/ holds no config.json snapshots"


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_golden_config_validates(case: str) -> None:
    config, error = run_case(case)
    assert config is not None, error
    assert errors(json.loads(config)) == []


# The validator must really be checking: the schema's own examples, and mutations of a
# golden config that the schema is known to reject (oci-conversion.md §2.3).


def test_schema_own_examples() -> None:
    root = Path(schema_dir()) / "test" / "config"
    good = sorted((root / "good").glob("*.json"))
    bad = [p for p in sorted((root / "bad").glob("*.json")) if p.name != "invalid-json.json"]
    assert good and bad
    for p in good:
        assert errors(json.loads(p.read_text())) == [], p.name
    for p in bad:
        assert errors(json.loads(p.read_text())) != [], p.name


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["process"]["rlimits"].append({"type": "NOFILE", "soft": 1, "hard": 1}),
        lambda c: c["process"]["user"].__setitem__("uid", 2**32),
        lambda c: c["process"]["user"].__setitem__("gid", -1),
        lambda c: c["mounts"].append({"type": "tmpfs"}),
        lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
        lambda c: c.__setitem__("ociVersion", 1),
        lambda c: c["linux"].__setitem__("rootfsPropagation", "rprivate"),
    ],
    ids=[
        "rlimit-type-pattern",
        "uid-beyond-uint32",
        "negative-gid",
        "mount-without-destination",
        "unknown-namespace",
        "numeric-oci-version",
        "rprivate-propagation",
    ],
)
def test_schema_rejects_known_bad_mutations(mutate) -> None:
    if not GOLDEN_CONFIGS:
        pytest.fail("no golden config to mutate")
    doc = json.loads(GOLDEN_CONFIGS[0].read_text())
    doc["process"].setdefault("rlimits", [])
    doc.setdefault("mounts", [])
    doc.setdefault("linux", {}).setdefault("namespaces", [])
    mutate(doc)
    assert errors(doc) != []
