"""The seccomp profile files hp.toml names, as hp plan and hp export kube read them (executor/host.py):
relative to hp.toml's directory; one that cannot be read names the container's field, the file, and
for a word that is no file the keyword that was probably meant."""

from __future__ import annotations

import pytest

from compiler import HpError, parse_hp_file
from executor.host import seccomp_files


def files_of(tmp_path, setting: str):
    hp_file = parse_hp_file(f'[containers.a]\nimage = "x.io/a:1"\nseccomp = "{setting}"\n')
    return seccomp_files(hp_file, str(tmp_path))


def test_a_profile_is_read_relative_to_the_files_directory(tmp_path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "web.json").write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    got = files_of(tmp_path, "profiles/web.json")
    assert list(got) == ["profiles/web.json"]
    assert got["profiles/web.json"].text == '{"defaultAction": "SCMP_ACT_ALLOW"}'


@pytest.mark.parametrize(
    "setting, hint",
    [
        ("defualt", '(did you mean "default"?)'),
        ("unconfind", '(did you mean "unconfined"?)'),
        ("strict", '(expected "default", "unconfined" or a file)'),
        ("missing.json", "No such file or directory"),
    ],
    ids=["misspelt-default", "misspelt-unconfined", "a-word", "a-missing-file"],
)
def test_an_unreadable_profile_names_the_field_and_the_file(tmp_path, setting: str, hint: str) -> None:
    with pytest.raises(HpError) as error:
        files_of(tmp_path, setting)
    assert error.value.where == "containers.a.seccomp" and error.value.source == "spec"
    assert f"profile file {tmp_path / setting}: cannot read" in error.value.problem
    assert error.value.problem.endswith(hint)


def test_default_and_unconfined_read_no_file(tmp_path) -> None:
    assert files_of(tmp_path, "default") == {} and files_of(tmp_path, "unconfined") == {}
