"""What hp records about each container it made (STATE/containers/NAME/container.json)."""

from __future__ import annotations

import hashlib

import msgspec


class ContainerRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    image: str
    image_id: str
    config_hash: str
    stop_signal: int = 15


class ContainerStatus(msgspec.Struct, frozen=True):
    """One row of `hp ps`. status: "created", "running" or "stopped"; exit_code and pid may be None."""

    name: str
    image: str
    status: str
    exit_code: int | None
    pid: int | None


def config_hash(config_json: bytes) -> str:
    return "sha256:" + hashlib.sha256(config_json).hexdigest()


def encode_record(record: ContainerRecord) -> bytes:
    return msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"


def decode_record(data: bytes) -> ContainerRecord:
    return msgspec.json.decode(data, type=ContainerRecord)
