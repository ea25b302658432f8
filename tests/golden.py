"""syrupy extensions that keep hp's golden files in golden/: one file per case,
holding exactly hp's bytes (config.json as hp writes it, or the one error line),
named after the case. `pytest --snapshot-update` rewrites and prunes them."""

from __future__ import annotations

from pathlib import Path

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


def case_id(test_location: PyTestLocation) -> str:
    """The parametrize id of a test: test_golden[env-dedupe] → env-dedupe."""
    name = test_location.nodename or ""
    return name[name.index("[") + 1: -1] if name.endswith("]") else name


class _Golden(SingleFileSnapshotExtension):
    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(GOLDEN_DIR)

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(GOLDEN_DIR)

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index=0) -> str:
        return case_id(test_location)

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        path = Path(snapshot_location)
        return path.parent == GOLDEN_DIR and path.name == f"{case_id(test_location)}.{cls.file_extension}"

    def owns_snapshot_collection(self, *, filepath: str, test_location: PyTestLocation) -> bool:
        path = Path(filepath)
        return path.parent == GOLDEN_DIR and path.suffix == f".{self.file_extension}"


class GoldenConfig(_Golden):
    """golden/<case>.json: the exact config.json bytes."""

    file_extension = "json"
    _write_mode = WriteMode.BINARY


class GoldenError(_Golden):
    """golden/<case>.txt: the exact error line `hp compile` prints."""

    file_extension = "txt"
    _write_mode = WriteMode.TEXT
