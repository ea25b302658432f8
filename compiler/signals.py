"""Stop signals: names and numbers as Docker and podman accept them (Linux x86_64/arm64 numbering)."""

from __future__ import annotations

import re

from .errors import HpError, quote

SIGNALS = {
    "HUP": 1,
    "INT": 2,
    "QUIT": 3,
    "ILL": 4,
    "TRAP": 5,
    "ABRT": 6,
    "IOT": 6,
    "BUS": 7,
    "FPE": 8,
    "KILL": 9,
    "USR1": 10,
    "SEGV": 11,
    "USR2": 12,
    "PIPE": 13,
    "ALRM": 14,
    "TERM": 15,
    "STKFLT": 16,
    "CHLD": 17,
    "CLD": 17,
    "CONT": 18,
    "STOP": 19,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "XCPU": 24,
    "XFSZ": 25,
    "VTALRM": 26,
    "PROF": 27,
    "WINCH": 28,
    "IO": 29,
    "POLL": 29,
    "PWR": 30,
    "SYS": 31,
}
SIGRTMIN, SIGRTMAX = 34, 64
SIGKILL = SIGNALS["KILL"]  # what ends a stop that took longer than its stop_timeout
DEFAULT_STOP_SIGNAL = SIGNALS["TERM"]  # an image without StopSignal, and a container without a record
DEFAULT_STOP_TIMEOUT = 10  # seconds from the stop signal to SIGKILL, unless hp.toml sets stop_timeout
_RT = re.compile(r"RTM(IN|AX)([+-][0-9]+)?", re.ASCII)


def parse_signal(text: str, where: str) -> int:
    """ "SIGTERM", "term", "15", "SIGRTMIN+3" → the signal number; an HpError otherwise."""
    if re.fullmatch(r"[0-9]+", text, re.ASCII):
        number = int(text)
        if 1 <= number <= SIGRTMAX:
            return number
        raise HpError(where, f"signal number {text} is out of range (1 to {SIGRTMAX})")
    name = text.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in SIGNALS:
        return SIGNALS[name]
    m = _RT.fullmatch(name)
    if m:
        base = SIGRTMIN if m[1] == "IN" else SIGRTMAX
        number = base + int(m[2] or 0)
        if SIGRTMIN <= number <= SIGRTMAX:
            return number
    raise HpError(where, f"unknown signal {quote(text)}")


def image_stop_signal(stop_signal: str, ref: str) -> int:
    """The signal that stops a container of image `ref`: its StopSignal, else SIGTERM."""
    return parse_signal(stop_signal, f"image {ref}: StopSignal") if stop_signal else DEFAULT_STOP_SIGNAL


def describe_stop(signal: int, timeout: int) -> str:
    """How hp stops a running container, for plans and progress lines: "SIGTERM, then SIGKILL
    after 10 s", "SIGTERM, then SIGKILL at once" (timeout 0), "SIGKILL, at once"."""
    if signal == SIGKILL:
        return "SIGKILL, at once"
    if timeout == 0:
        return f"{signal_name(signal)}, then SIGKILL at once"
    return f"{signal_name(signal)}, then SIGKILL after {timeout} s"


def signal_name(number: int) -> str:
    """15 → "SIGTERM", 36 → "SIGRTMIN+2" (the first name of an aliased number)."""
    for name, value in SIGNALS.items():
        if value == number:
            return f"SIG{name}"
    if SIGRTMIN <= number <= SIGRTMAX:
        return f"SIGRTMIN+{number - SIGRTMIN}"
    return f"signal {number}"
