"""Golden cases: every directory under tests/cases/ is one `hp compile` run.

A case holds hp.toml (one container, or a file `container` naming the one to
compile), image.json, and optionally passwd, group and netns (the --netns path). Its expected output is
golden/<case>.txt (the exact one-line error) when compiling must fail; else golden/<case>.json (the
exact config.json) for the baseline and the SHOWCASES, and golden/<case>.diff (what differs from the
baseline's config, see tests/golden.py) for every other case. So a change to one default rewrites the
baseline, the showcases and the cases about that default, not every file.
`pytest --snapshot-update` regenerates golden/ after a deliberate change; review the diff.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from compiler import HpError, compile_config_json, parse_hp_file
from compiler.env import EnvFile
from compiler.errors import error_line

from .golden import GOLDEN_DIR, NO_CHANGES, GoldenChanges, GoldenConfig, GoldenError, apply_changes, canonical, changes
from .host_facts import case_host_facts

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
FILES = {"spec": "hp.toml", "image": "image.json", "passwd": "passwd", "group": "group"}
BASELINE = "baseline"
# Full config.json snapshots a reader can start from; every other success case is a .diff from BASELINE.
SHOWCASES = {
    BASELINE: "the config every .diff is read against",
    "example-web": "the bundled example's web: non-root user, resources, tmpfs, ulimit, cap_drop",
    "example-worker": "the bundled example's worker: keep_alive and read_only",
    "caps-non-root-default": "a non-root user from passwd/group",
    "mounts-read-only-showcase": "a read-only root with binds, a named volume and a tmpfs",
}


def run_case(case: str) -> tuple[bytes | None, str | None]:
    """(config bytes, None) or (None, error line), exactly as `hp compile` would give them."""
    d = CASES_DIR / case

    def optional(name: str) -> str | None:
        # bytes decoded as the CLI decodes them: no newline translation
        return (d / name).read_bytes().decode("utf-8") if (d / name).exists() else None

    container = optional("container")
    try:
        out = compile_config_json(
            (d / "hp.toml").read_bytes(),
            container.strip() if container else None,
            (d / "image.json").read_bytes(),
            optional("passwd"),
            optional("group"),
            (optional("netns") or "").strip() or None,
            env_files(d),
            case_host_facts(d),
        )
    except HpError as e:
        return None, error_line(e, FILES) + "\n"
    return out, None


def env_files(d: Path) -> dict[str, EnvFile]:
    """The case's env files (the hp.toml's env_file paths, relative to the case), as hp plan reads them."""
    try:
        hp_file = parse_hp_file((d / "hp.toml").read_bytes())
    except HpError:
        return {}
    paths = {p for spec in hp_file.containers.values() for p in spec.env_file}
    return {p: EnvFile(p, (d / p).read_bytes().decode("utf-8")) for p in paths if (d / p).is_file()}


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 40, f"only {len(CASES)} golden cases"


@cache
def baseline_config() -> dict[str, Any]:
    config, error = run_case(BASELINE)
    assert config is not None, f"the baseline case fails: {error}"
    return json.loads(config)


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, snapshot) -> None:
    config, error = run_case(case)
    if config is None:
        assert error is not None and error.count("\n") == 1
        assert error == snapshot(extension_class=GoldenError)
    elif case in SHOWCASES:
        assert config == snapshot(extension_class=GoldenConfig)
    else:
        assert changes(baseline_config(), json.loads(config)) == snapshot(extension_class=GoldenChanges)


DIFFS = sorted(p.stem for p in GOLDEN_DIR.glob("*.diff"))


@pytest.mark.parametrize("case", DIFFS)
def test_golden_diff_is_complete(case: str) -> None:
    """Everything a .diff does not show equals the baseline: golden/baseline.json with the
    .diff applied is the case's config, exactly (lists in order, true unlike 1)."""
    config, error = run_case(case)
    assert config is not None, error
    baseline = json.loads((GOLDEN_DIR / f"{BASELINE}.json").read_bytes())
    rebuilt = apply_changes(baseline, (GOLDEN_DIR / f"{case}.diff").read_text())
    assert canonical(rebuilt) == canonical(json.loads(config))


def test_baseline_and_showcases_are_cases() -> None:
    assert set(SHOWCASES) <= set(CASES)


def test_golden_dir_holds_exactly_one_file_per_case() -> None:
    """syrupy does not see stale files in a custom directory, so check by hand:
    a file left over from a renamed case, or a case that switched between success
    and error, fails here (delete the stale file)."""
    golden = GoldenConfig.dirname(test_location=None)  # type: ignore[arg-type]  # GoldenConfig's dirname ignores it
    files = sorted(p.name for p in Path(golden).iterdir() if p.is_file())  # golden/kube: tests/test_kube.py
    stems = [f.rsplit(".", 1)[0] for f in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    assert twice == [], f"cases with more than one golden file: {twice}"
    assert [s for s in stems if s not in CASES] == [], "golden files without a case"
    assert all(f.endswith((".json", ".diff", ".txt")) for f in files)
    assert [f for f in files if f.endswith(".json") and f[:-5] not in SHOWCASES] == [], "full configs not showcases"
    assert [f for f in files if f.endswith(".diff") and f[:-5] in SHOWCASES] == [], "showcases as diffs"


# The .diff format itself: what `changes` writes, `apply_changes` reads back exactly.

BASE = {
    "process": {"args": ["/bin/app"], "env": ["A=1"], "terminal": False, "user": {"uid": 0}},
    "mounts": [{"destination": "/proc"}, {"destination": "/dev"}, {"destination": "/sys"}],
    "annotations": {"org.example.a": "1"},
    "linux": {"maskedPaths": ["/proc/kcore"], "namespaces": [{"type": "pid"}]},
}


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: None, [NO_CHANGES]),
        (lambda c: c["process"]["user"].__setitem__("uid", 1000), ["process.user.uid: 1000"]),
        (lambda c: c["process"].__setitem__("terminal", 0), ["process.terminal: 0"]),
        (lambda c: c["process"]["env"].append("B=2"), ['process.env: ["A=1", "B=2"]']),
        (lambda c: c["linux"].pop("maskedPaths"), ["linux.maskedPaths: (removed)"]),
        (
            lambda c: c["linux"].__setitem__("sysctl", {"net.ipv4.ip_forward": "1"}),
            ['linux.sysctl: {"net.ipv4.ip_forward": "1"} (added)'],
        ),
        (lambda c: c["annotations"].__setitem__("org.example.a", "2"), ['annotations["org.example.a"]: "2"']),
        (lambda c: c["annotations"].__setitem__("a: b]", "x"), ['annotations["a: b]"]: "x" (added)']),
        (
            lambda c: c["mounts"].insert(1, {"destination": "/data", "type": "bind"}),
            ['mounts[1]: + {"destination": "/data", "type": "bind"}'],
        ),
        (
            lambda c: c["mounts"].reverse(),
            [
                'mounts[0]: + {"destination": "/sys"}',
                'mounts[1]: + {"destination": "/dev"}',
                'mounts[1]: - {"destination": "/dev"}',
                'mounts[2]: - {"destination": "/sys"}',
            ],
        ),
        (
            lambda c: c["mounts"].__setitem__(slice(0, 2), [{"destination": "/a"}, {"destination": "/b"}]),
            [
                'mounts[0]: - {"destination": "/proc"}',
                'mounts[0]: + {"destination": "/a"}',
                'mounts[1]: - {"destination": "/dev"}',
                'mounts[1]: + {"destination": "/b"}',
            ],
        ),
        (
            lambda c: c.__setitem__("mounts", [{"destination": "/a"}, {"destination": "/b"}]),
            ["mounts: []", 'mounts[0]: + {"destination": "/a"}', 'mounts[1]: + {"destination": "/b"}'],
        ),
        (
            lambda c: c["linux"].__setitem__("devices", [{"path": "/dev/fuse"}]),
            ["linux.devices: [] (added)", 'linux.devices[0]: + {"path": "/dev/fuse"}'],
        ),
        (
            lambda c: c["process"].__setitem__("args", [f"--flag-{i}" for i in range(12)]),
            ['process.args[0]: - "/bin/app"'] + [f'process.args[{i}]: + "--flag-{i}"' for i in range(12)],
        ),
        (
            lambda c: c["linux"].__setitem__("namespaces", {"pid": "x" * 120}),
            ["linux.namespaces: {}", f'linux.namespaces.pid: "{"x" * 120}" (added)'],
        ),
    ],
    ids=[
        "none",
        "scalar",
        "bool-to-int",
        "short-list",
        "removed",
        "added-dict",
        "quoted-key",
        "odd-key",
        "item-inserted",
        "items-reordered",
        "items-replaced",
        "list-afresh",
        "long-list-added",
        "long-scalar-list",
        "type-change",
    ],
)
def test_changes_round_trip(edit, expected: list[str]) -> None:
    config = json.loads(json.dumps(BASE))
    edit(config)
    text = changes(BASE, config)
    assert text.splitlines() == expected
    assert canonical(apply_changes(BASE, text)) == canonical(config)


@pytest.mark.parametrize(
    "text",
    [
        "process.user.uid: (removed)\nprocess.user.uid: 1\n",  # set after removed: not there
        "process.user.gid: 1\n",  # a replaced value that the baseline lacks
        "process.user.uid: 1 (added)\n",  # added, but the baseline has it
        'mounts[0]: - {"destination": "/dev"}\n',  # not the baseline's item 0
        'mounts[9]: + {"destination": "/x"}\n',  # no such position
        "process.user.uid 1\n",
        "process..uid: 1\n",
        "process.user.uid: 1 trailing\n",
        'process.args[0]: * "x"\n',
    ],
)
def test_apply_changes_refuses_what_does_not_fit(text: str) -> None:
    with pytest.raises(ValueError):
        apply_changes(BASE, text)
