"""Every document `hp export kube` writes for the golden cases validates against Kubernetes' OpenAPI schemas,
strict (no field the API does not know), for Kubernetes 1.29: the oldest version the export targets. The
schemas come with the kubernetes-validate package (pyproject's test extras pin it); they are read offline."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from .test_kube import CASES, run_kube_case

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
