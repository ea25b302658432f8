"""Golden cases: every directory under tests/cases/ is one `hp compile` run.

A case holds hp.toml (one container, or a file `container` naming the one to
compile), image.json, and optionally passwd, group and netns (the --netns path). Its expected output is
golden/<case>.json (the exact config.json) or, when compiling must fail,
golden/<case>.txt (the exact one-line error). `pytest --snapshot-update`
regenerates golden/ after a deliberate change; review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler import HpError, compile_config_json, parse_hp_file
from compiler.env import EnvFile
from compiler.errors import error_line

from .golden import GoldenConfig, GoldenError
from .host_facts import case_host_facts

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
FILES = {"spec": "hp.toml", "image": "image.json", "passwd": "passwd", "group": "group"}


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


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, snapshot) -> None:
    config, error = run_case(case)
    if config is not None:
        assert config == snapshot(extension_class=GoldenConfig)
    else:
        assert error is not None and error.count("\n") == 1
        assert error == snapshot(extension_class=GoldenError)


def test_golden_dir_holds_exactly_one_file_per_case() -> None:
    """syrupy does not see stale files in a custom directory, so check by hand:
    a file left over from a renamed case, or a case that switched between success
    and error, fails here (delete the stale file)."""
    golden = GoldenConfig.dirname(test_location=None)  # type: ignore[arg-type]
    files = sorted(p.name for p in Path(golden).iterdir())
    stems = [f.rsplit(".", 1)[0] for f in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    assert twice == [], f"cases with both a .json and a .txt: {twice}"
    assert [s for s in stems if s not in CASES] == [], "golden files without a case"
    assert all(f.endswith((".json", ".txt")) for f in files)
