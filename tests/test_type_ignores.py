"""Every `# type: ignore` names its error code and says why on the same line (issue 15 item 4).

mypy's ignore-without-code check (pyproject) catches a missing code, but not a missing reason:
this does, in every tree .ci/run lints.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ("compiler", "executor", "tests", "bench")
IGNORE = re.compile(r"#\s*type:\s*ignore")
WITH_REASON = re.compile(r"# type: ignore\[[a-z-]+(, [a-z-]+)*\]  # \S")


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    bare = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            shown = path.relative_to(ROOT).as_posix()
            if shown == "tests/test_type_ignores.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if IGNORE.search(line) and not WITH_REASON.search(line):
                    bare.append(f"{shown}:{number}: {line.strip()}")
    assert bare == []
