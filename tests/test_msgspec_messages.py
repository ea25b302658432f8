"""msgspec's validation messages, word for word, as compiler.spec.decode_error reads them.

msgspec's ValidationError carries only its message (no path or kind as data), so decode_error parses
the text, and pyproject pins msgspec to the releases these messages were checked against. A new
release that words them differently fails here, before hp's errors silently lose their field paths.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import pytest

from compiler.errors import HpError
from compiler.spec import ContainerSpec, decode_error


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    count: int
    restart: Literal["no", "on-failure", "always"] = "no"
    env: dict[str, str] = {}
    limits: dict[str, int] = {}
    inner: _Inner | None = None


class _Inner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: tuple[int, ...] = ()


def _message(value: object, kind: type) -> str:
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.convert(value, kind, strict=True)
    return str(raised.value)


# (input, type, msgspec's exact message, decode_error's where, problem)
CASES = [
    (
        {"count": 1, "cuont": 2},
        _Table,
        "Object contains unknown field `cuont`",
        "cuont",
        'unknown field (did you mean "count"?)',
    ),
    (
        {"count": 1, "inner": {"itmes": []}},
        _Table,
        "Object contains unknown field `itmes` - at `$.inner`",
        "inner.itmes",
        "unknown field",
    ),
    ({}, _Table, "Object missing required field `count`", "count", "required field is missing"),
    ({"count": "1"}, _Table, "Expected `int`, got `str` - at `$.count`", "count", "expected an integer, got a string"),
    (
        {"count": 1, "inner": {"items": [1, "2"]}},
        _Table,
        "Expected `int`, got `str` - at `$.inner.items[1]`",
        "inner.items[1]",
        "expected an integer, got a string",
    ),
    (
        {"count": 1, "inner": 3},
        _Table,
        "Expected `object | null`, got `int` - at `$.inner`",
        "inner",
        "expected a table, got an integer",
    ),
    (
        {"count": 1, "limits": {"a": "b"}},
        _Table,
        "Expected `int`, got `str` - at `$.limits[...]`",
        "limits[...]",
        "expected an integer, got a string",
    ),
    (
        {"count": 1, "limits": {1: 2}},
        _Table,
        "Expected `str`, got `int` - at `key` in `$.limits`",
        "limits",
        "expected a string, got an integer",
    ),
    (
        {"count": 1, "restart": "sometimes"},
        _Table,
        "Invalid enum value 'sometimes' - at `$.restart`",
        "restart",
        'expected "no", "on-failure" or "always", got \'sometimes\'',
    ),
    ([1], _Table, "Expected `object`, got `array`", "(top level)", "expected a table, got a list"),
    (
        {"image": "x", "mounts": [{"type": "nfs"}]},
        ContainerSpec,
        "Invalid value 'nfs' - at `$.mounts[0].type`",
        "mounts[0].type",
        'unknown mount type "nfs" (expected "bind", "tmpfs" or "volume")',
    ),
]


@pytest.mark.parametrize(("value", "kind", "message", "where", "problem"), CASES, ids=[c[2] for c in CASES])
def test_msgspec_words_its_errors_as_decode_error_reads_them(
    value: object, kind: type, message: str, where: str, problem: str
) -> None:
    assert _message(value, kind) == message
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.convert(value, kind, strict=True)
    err = decode_error(raised.value, kind)
    assert isinstance(err, HpError)
    assert (err.where, err.problem) == (where, problem)
