"""Every document `hp export kube` writes for the golden cases validates against Kubernetes' OpenAPI schemas,
strict (no field the API does not know), for Kubernetes 1.29: the oldest version the export targets. The
schemas come with the kubernetes-validate package (pyproject's test extras pin it); they are read offline."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import HpError, ImageFacts, parse_hp_file, parse_image_config
from compiler.kube import KubeOptions, export_kube

from .test_kube import CASES, run_kube_case
from .test_properties import CONTAINER, GROUP, NAMES, PASSWD, image_docs, mostly, pick, toml_file, toml_str, toml_value

KUBERNETES_VERSION = "1.29.0"
NEWEST = "1.37.0"  # the newest the pinned package has: nothing exported is gone from it


def validate(document: dict, version: str = KUBERNETES_VERSION) -> None:
    """Raise kubernetes_validate's ValidationError (or SchemaNotFoundError for an unknown kind)."""
    kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, NEWEST])
@pytest.mark.parametrize("case", CASES)
def test_every_exported_document_validates(case: str, version: str) -> None:
    text, error = run_kube_case(case)
    if text is None:
        return
    documents = list(yaml.safe_load_all(text))
    assert documents
    for document in documents:
        validate(document, version)


def test_the_schemas_are_the_pinned_version_and_strict() -> None:
    """A field the API does not know, or a value of the wrong type, fails: the check is real."""
    text, _ = run_kube_case("example")
    assert text is not None
    deployment = next(d for d in yaml.safe_load_all(text) if d["kind"] == "Deployment")
    assert kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True) == "1.29"
    unknown = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(unknown)
    wrong = {**deployment, "spec": {**deployment["spec"], "replicas": "1"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(wrong)


# ---- properties: generated hp files give one clean error line, or YAML that validates -----------------------

KUBE_NAMES = mostly(st.sampled_from(["web", "db-1", "app", "a" * 63]), NAMES, 6)
KUBE_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "ports": st.lists(
            pick(["8080:80", "127.0.0.1:5353:53/udp", "8443:443/tcp", "9000:80"], ["80", "x:1"]),
            max_size=3,
            unique=True,
        ),
        "network": pick(["bridge", "back", "none", "host"], ["nowhere"], 10),
        "sysctls": st.dictionaries(
            pick(["net.ipv4.ping_group_range", "net/core/somaxconn", "kernel.shm_rmid_forced"], ["vm.swappiness"]),
            st.sampled_from(["0 0", "1", "x y"]),
            max_size=2,
        ),
        "must_run": st.booleans(),
        "restart": st.sampled_from(["no", "on-failure", "always"]),
        "restart_max": st.integers(0, 3),
        "stop_timeout": st.sampled_from([0, 10, 3600]),
        "sensitive_env": st.just(["A"]),
        "volume": st.sampled_from(["data", "cache.db"]),
    },
)
VOLUME_SIZES = mostly(st.sampled_from([None, "10g", "512m", 1000]), st.sampled_from(["lots", 0, True]), 10)


@st.composite
def kube_inputs(draw):
    containers = {}
    for name in draw(st.lists(KUBE_NAMES, min_size=1, max_size=3, unique=True)):
        table = {k: v for k, v in draw(CONTAINER).items() if v is not None}
        extras = draw(KUBE_EXTRAS)
        volume = extras.pop("volume", None)
        if volume is not None:
            table["mounts"] = [*table.get("mounts", []), {"type": "volume", "source": volume, "target": "/vol"}]
        if extras.get("restart") != "on-failure":
            extras.pop("restart_max", None)
        if extras.get("network") in ("none", "host") and "ports" in extras:
            del extras["network"]
        table.update(extras)
        containers[name] = table
    volumes = {v: draw(VOLUME_SIZES) for v in ("data", "cache.db")}
    text = (
        toml_file(containers)
        + '[networks.back]\nsubnet = "10.30.0.0/24"\n'
        + "".join(
            f"[volumes.{toml_str(v)}]\n" + (f"size = {toml_value(s)}\n" if s is not None else "")
            for v, s in volumes.items()
        )
    )
    options = KubeOptions(host_ports=draw(st.booleans()))
    return text, draw(image_docs()), draw(PASSWD), draw(GROUP), options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kube_inputs())
def test_generated_files_give_a_clean_error_or_valid_manifests(case) -> None:
    text, image, passwd, group, options = case
    try:
        hp_file = parse_hp_file(text)
        facts = ImageFacts(parse_image_config(json.dumps(image)), passwd, group)
        out = export_kube(hp_file, {s.image: facts for s in hp_file.containers.values()}, options)
    except HpError as e:
        line = str(e)
        assert line.strip() and "\n" not in line and "\r" not in line, repr(line)
        return
    for warning in out.warnings:
        assert "\n" not in str(warning) and "\r" not in str(warning)
    documents = list(yaml.safe_load_all(out.yaml()))
    assert documents == list(out.documents)
    for document in documents:
        validate(document)
