"""hp's state as rows: what `hp show` prints without a plan."""

from __future__ import annotations

import msgspec

from compiler.layout import Layout

from . import containers
from .store import container_names, read_record, read_serial


class StateRow(msgspec.Struct, frozen=True):
    name: str
    status: str
    phase: str
    image: str
    image_id: str
    file: str
    serial: int


def state_rows(layout: Layout) -> list[StateRow]:
    serial = read_serial(layout)
    statuses = containers.crun_statuses(layout)
    rows = []
    for name in container_names(layout):
        record = read_record(layout, name)
        status = statuses.get(name, "stopped")
        if record is None:
            rows.append(StateRow(name, status, "unknown", "", "", "", serial))
        else:
            rows.append(StateRow(name, status, record.phase, record.image, record.image_id, record.file, serial))
    return rows
