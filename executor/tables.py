"""The text tables hp prints (hp ps, hp stats, hp volume ls)."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(table: Sequence[tuple[str, ...]]) -> None:
    """A header row and rows, in columns aligned by their widest cell."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
