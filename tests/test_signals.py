"""Stop signals (compiler/signals.py: parse_signal), against oci-conversion.md F12 and
pitfall 11 (moby/sys signal.ParseSignal, podman): a number 1..64, or a name with or
without SIG, any case, including RTMIN+n / RTMAX-n; 0 and "SIG" are invalid. Numbers
follow Linux x86_64/arm64 (signal(7)). The annotation itself stays verbatim (tested
through compile in test_properties / golden cases)."""

from __future__ import annotations

import pytest

from compiler.errors import HpError
from compiler.signals import parse_signal

WHERE = "Config.StopSignal"


@pytest.mark.parametrize(
    "text, number",
    [
        ("SIGTERM", 15),
        ("TERM", 15),
        ("sigterm", 15),
        ("term", 15),
        ("SigTerm", 15),
        ("15", 15),
        ("SIGKILL", 9),
        ("9", 9),
        ("1", 1),
        ("SIGHUP", 1),
        ("SIGINT", 2),
        ("SIGQUIT", 3),
        ("SIGUSR1", 10),
        ("SIGUSR2", 12),
        ("SIGPIPE", 13),
        ("SIGALRM", 14),
        ("SIGCHLD", 17),
        ("SIGCONT", 18),
        ("SIGSTOP", 19),
        ("SIGWINCH", 28),
        ("SIGPWR", 30),
        ("SIGSYS", 31),
        ("SIGIOT", 6),
        ("SIGABRT", 6),
        ("SIGCLD", 17),
        ("SIGPOLL", 29),
        ("SIGIO", 29),
        ("SIGSTKFLT", 16),
        ("SIGRTMIN", 34),
        ("RTMIN", 34),
        ("SIGRTMIN+3", 37),
        ("sigrtmin+3", 37),
        ("RTMIN+30", 64),
        ("SIGRTMAX", 64),
        ("SIGRTMAX-1", 63),
        ("RTMAX-30", 34),
        ("SIGRTMIN+0", 34),
        ("SIGRTMAX-0", 64),
        ("37", 37),
        ("64", 64),
        ("015", 15),
    ],
    ids=lambda v: str(v),
)
def test_parse_signal(text: str, number: int) -> None:
    assert parse_signal(text, WHERE) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "SIG",
        "sig",
        "65",
        "-1",
        "+15",
        " 15",
        "15 ",
        "SIGTERM ",
        " SIGTERM",
        "SIG TERM",
        "SIGSIGTERM",
        "TERMINATE",
        "SIGRTMIN-1",
        "SIGRTMAX+1",
        "SIGRTMIN+31",
        "RTMIN+",
        "RTMIN+x",
        "RTMIN3",
        "SIGRT",
        "\u0661\u0665",
        "\uff11\uff15",
        "1.5",
        "0x0f",
        "99999999999999999999",
    ],
    ids=[
        "empty",
        "zero",
        "bare-sig",
        "bare-sig-lower",
        "above-rtmax",
        "negative",
        "plus-sign",
        "leading-space",
        "trailing-space",
        "name-trailing-space",
        "name-leading-space",
        "inner-space",
        "double-prefix",
        "unknown",
        "below-rtmin",
        "above-rtmax-name",
        "rtmin-overflow",
        "rtmin-dangling-plus",
        "rtmin-non-number",
        "rtmin-no-sign",
        "rt-only",
        "arabic-indic-digits",
        "fullwidth-digits",
        "fraction",
        "hex",
        "huge",
    ],
)
def test_parse_signal_invalid(text: str) -> None:
    with pytest.raises(HpError) as info:
        parse_signal(text, WHERE)
    assert info.value.where == WHERE
    assert "\n" not in str(info.value)


def test_error_quotes_the_value() -> None:
    with pytest.raises(HpError) as info:
        parse_signal("SIGNOPE", WHERE)
    assert '"SIGNOPE"' in info.value.problem
