"""YAML for `hp export kube`, written by hand: block style, every string double-quoted.

A double-quoted scalar means the same in YAML 1.1 (PyYAML, kubectl's sigs.k8s.io/yaml) and 1.2, so
"no", "1.0" or "0755" can never turn into a boolean or a number, and no PyYAML is needed at run time.
Mappings keep the order given (the caller's order is deterministic); documents are separated by "---".
"""

from __future__ import annotations

import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# what YAML's double-quoted style needs escaped: the quote, the backslash, C0/C1 controls, DEL,
# the line and paragraph separators (U+2028/9: line breaks in YAML 1.1), the BOM and the non-characters
_ESCAPED = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]')
# plain words YAML 1.1 reads as booleans or null
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quoted(text: str) -> str:
    return '"' + _ESCAPED.sub(lambda m: _SHORT.get(m[0], f"\\u{ord(m[0]):04x}"), text) + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quoted(value)
    raise TypeError(f"no YAML for {type(value).__name__}")


def _key(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML11_WORDS else quoted(key)


def _lines(value: Any, indent: str, out: list[str]) -> None:
    """`value` (a non-empty dict or list) as block lines at `indent`."""
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{indent}{_key(key)}:"
            if isinstance(item, (dict, list)) and item:
                out.append(head)
                _lines(item, indent + "  ", out)
            else:
                out.append(f"{head} {_inline(item)}")
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub: list[str] = []
                _lines(item, indent + "  ", sub)
                out.append(f"{indent}- {sub[0][len(indent) + 2 :]}")
                out.extend(sub[1:])
            else:
                out.append(f"{indent}- {_inline(item)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """The documents as one multi-document YAML stream, each starting with "---"."""
    out: list[str] = []
    for doc in documents:
        out.append("---")
        _lines(doc, "", out)
    return "\n".join(out) + "\n" if out else ""
