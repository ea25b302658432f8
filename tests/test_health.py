"""compiler/health.py: the effective check (image + hp.toml), its state after each check, when a
check is due, and what health_on_failure asks for. Table-driven, named cases."""

from __future__ import annotations

import pytest

from compiler.errors import HpError
from compiler.health import (
    CheckRun,
    HealthCheck,
    HealthState,
    action,
    after_check,
    decode_health,
    describe,
    effective_check,
    encode_health,
    for_run,
    is_due,
    last_words,
    next_due,
    output_tail,
    shown,
    timed_out,
)
from compiler.image import ImageHealthcheck
from compiler.spec import parse_hp_file

S = 10**9  # nanoseconds in a second, as images give durations
IMAGE = ImageHealthcheck(("CMD-SHELL", "test -f /ok"), 2 * S, 3 * S, S, 2)


def spec(extra: str = ""):
    return parse_hp_file(f'[containers.web]\nimage = "img"\n{extra}\n').containers["web"]


# ---------------------------------------------------------------- resolution


@pytest.mark.parametrize(
    "toml, image, expected",
    [
        ("", IMAGE, HealthCheck(("CMD-SHELL", "test -f /ok"), 2.0, 3.0, 1.0, 2)),
        ("", ImageHealthcheck(("CMD", "true")), HealthCheck(("CMD", "true"), 30.0, 30.0, 0.0, 3)),
        ("", None, None),
        ("", ImageHealthcheck(("NONE",)), None),
        ("", ImageHealthcheck(()), None),
        ('healthcheck = { test = ["NONE"] }', IMAGE, None),
        (
            'healthcheck = { test = ["CMD", "/bin/check", "--quick"] }',
            None,
            HealthCheck(("CMD", "/bin/check", "--quick")),
        ),
        (
            'healthcheck = { test = "wget -q -O- http://127.0.0.1/" }',
            None,
            HealthCheck(("CMD-SHELL", "wget -q -O- http://127.0.0.1/")),
        ),
        (
            'healthcheck = { interval = "1m30s", retries = 5 }',
            IMAGE,
            HealthCheck(("CMD-SHELL", "test -f /ok"), 90.0, 3.0, 1.0, 5),
        ),
        (
            'healthcheck = { test = ["CMD", "true"], timeout = 0.5, start_period = "0s" }',
            IMAGE,
            HealthCheck(("CMD", "true"), 2.0, 0.5, 0.0, 2),
        ),
        (
            'healthcheck = { test = ["CMD", "true"], interval = "500ms" }',
            ImageHealthcheck(("NONE",)),
            HealthCheck(("CMD", "true"), 0.5),
        ),
        ('healthcheck = { test = "true" }\nhealth_on_failure = "restart"', None, HealthCheck(("CMD-SHELL", "true"))),
    ],
    ids=[
        "image-only",
        "image-defaults",
        "no-check",
        "image-none",
        "image-empty-test",
        "toml-none-disables",
        "toml-cmd",
        "toml-string-is-cmd-shell",
        "toml-overrides-fields-keeps-image-test",
        "toml-overrides-test-keeps-image-durations",
        "toml-check-over-image-none",
        "on-failure-with-check",
    ],
)
def test_effective_check(toml: str, image, expected) -> None:
    assert effective_check("web", spec(toml), image, "img") == expected


@pytest.mark.parametrize(
    "toml, image, where, words",
    [
        ("healthcheck = { test = [] }", None, "containers.web.healthcheck.test", "empty"),
        ('healthcheck = { test = ["CMD"] }', None, "containers.web.healthcheck.test", "program"),
        ('healthcheck = { test = ["CMD-SHELL", "a", "b"] }', None, "containers.web.healthcheck.test", "exactly one"),
        ('healthcheck = { test = ["CMD-SHELL", " "] }', None, "containers.web.healthcheck.test", "non-empty"),
        ('healthcheck = { test = ["RUN", "x"] }', None, "containers.web.healthcheck.test[0]", '"CMD"'),
        ('healthcheck = { test = ["NONE", "x"] }', None, "containers.web.healthcheck.test", "nothing after"),
        (
            'healthcheck = { test = ["NONE"], interval = "5s" }',
            None,
            "containers.web.healthcheck.interval",
            "does not apply",
        ),
        ('healthcheck = { test = "true", interval = "soon" }', None, "containers.web.healthcheck.interval", '"soon"'),
        ('healthcheck = { test = "true", interval = 0 }', None, "containers.web.healthcheck.interval", "at least 1ms"),
        ('healthcheck = { test = "true", timeout = "25h" }', None, "containers.web.healthcheck.timeout", "24h"),
        (
            'healthcheck = { test = "true", start_period = -1 }',
            None,
            "containers.web.healthcheck.start_period",
            "at least 0",
        ),
        ('healthcheck = { test = "true", retries = 0 }', None, "containers.web.healthcheck.retries", "at least 1"),
        ('healthcheck = { interval = "5s" }', None, "containers.web.healthcheck.test", "no HEALTHCHECK"),
        (
            'healthcheck = { interval = "5s" }',
            ImageHealthcheck(("NONE",)),
            "containers.web.healthcheck.test",
            '["NONE"]',
        ),
        ('health_on_failure = "restart"', None, "containers.web.health_on_failure", "needs a health check"),
        ("", ImageHealthcheck(("CMD-SHELL",), where="Healthcheck"), "image img: Healthcheck.Test", "exactly one"),
        (
            "",
            ImageHealthcheck(("SHELL", "x"), where="Config.Healthcheck"),
            "image img: Config.Healthcheck.Test[0]",
            "CMD",
        ),
    ],
    ids=[
        "empty-test",
        "cmd-without-program",
        "cmd-shell-two-words",
        "cmd-shell-blank",
        "unknown-kind",
        "none-with-args",
        "none-with-interval",
        "bad-duration",
        "zero-interval",
        "timeout-over-a-day",
        "negative-start-period",
        "zero-retries",
        "override-without-any-test",
        "override-over-image-none",
        "on-failure-without-check",
        "bad-image-test",
        "bad-image-kind",
    ],
)
def test_bad_values_name_the_field(toml: str, image, where: str, words: str) -> None:
    with pytest.raises(HpError) as info:
        effective_check("web", spec(toml), image, "img")
    assert info.value.where == where
    assert words in info.value.problem


@pytest.mark.parametrize(
    "toml, where",
    [
        ("healthcheck = { test = 5 }", "containers.web.healthcheck.test"),
        ('healthcheck = { tests = ["CMD", "x"] }', "containers.web.healthcheck.tests"),
        ('health_on_failure = "stop"', "containers.web.health_on_failure"),
    ],
    ids=["test-not-list-or-string", "unknown-key", "unknown-action"],
)
def test_bad_types_are_refused_when_the_file_is_read(toml: str, where: str) -> None:
    with pytest.raises(HpError) as info:
        spec(toml)
    assert info.value.where == where


def test_health_on_failure_words_are_listed() -> None:
    with pytest.raises(HpError) as info:
        spec('health_on_failure = "stop"')
    assert '"none", "restart" or "kill"' in info.value.problem


def test_argv_runs_cmd_shell_through_sh() -> None:
    assert HealthCheck(("CMD-SHELL", "test -f /ok && echo $X")).argv == ("/bin/sh", "-c", "test -f /ok && echo $X")
    assert HealthCheck(("CMD", "/bin/check", "a b")).argv == ("/bin/check", "a b")


def test_describe_tells_checks_apart() -> None:
    a = HealthCheck(("CMD", "true"), 30.0)
    assert describe(None) == "none"
    assert describe(a) == '["CMD", "true"] every 30s, timeout 30s, 3 retries, start_period 0s'
    assert describe(a) != describe(HealthCheck(("CMD", "true"), 30.5))
    assert describe(a) != describe(HealthCheck(("CMD-SHELL", "true"), 30.0))


# ---------------------------------------------------------------- transitions

CHECK = HealthCheck(("CMD", "check"), interval=10.0, timeout=5.0, start_period=30.0, retries=3)
STARTED = 1000.0


def ok(at: float) -> CheckRun:
    return CheckRun(at, at + 0.1, 0, "fine\n")


def bad(at: float, code: int = 1) -> CheckRun:
    return CheckRun(at, at + 0.1, code, "down\n")


def states(results: list[CheckRun], check: HealthCheck = CHECK) -> list[tuple[str, int]]:
    state = HealthState(run=1)
    out: list[tuple[str, int]] = []
    for result in results:
        state = after_check(check, state, STARTED, result)
        out.append((state.status, state.failing_streak))
    return out


@pytest.mark.parametrize(
    "results, expected",
    [
        ([ok(1010)], [("healthy", 0)]),
        ([bad(1010), bad(1020), ok(1025)], [("starting", 0), ("starting", 0), ("healthy", 0)]),
        ([bad(1031), bad(1041), bad(1051)], [("starting", 1), ("starting", 2), ("unhealthy", 3)]),
        (
            [bad(1010), bad(1020), bad(1031), bad(1041), bad(1051)],
            [("starting", 0), ("starting", 0), ("starting", 1), ("starting", 2), ("unhealthy", 3)],
        ),
        (
            [ok(1005), bad(1010), bad(1015), bad(1020)],
            [("healthy", 0), ("healthy", 1), ("healthy", 2), ("unhealthy", 3)],
        ),
        ([ok(1040), bad(1050), bad(1060), ok(1070)], [("healthy", 0), ("healthy", 1), ("healthy", 2), ("healthy", 0)]),
        (
            [bad(1040), bad(1050), bad(1060), ok(1070)],
            [("starting", 1), ("starting", 2), ("unhealthy", 3), ("healthy", 0)],
        ),
        ([bad(1040, -1), bad(1050, 2), bad(1060, 137)], [("starting", 1), ("starting", 2), ("unhealthy", 3)]),
    ],
    ids=[
        "first-pass-healthy",
        "failures-in-start-period-do-not-count",
        "retries-failures-unhealthy",
        "start-period-then-counting",
        "healthy-counts-even-in-start-period",
        "a-pass-resets-the-streak",
        "unhealthy-recovers-on-a-pass",
        "any-nonzero-or-timeout-fails",
    ],
)
def test_transitions(results: list[CheckRun], expected: list[tuple[str, int]]) -> None:
    assert states(results) == expected


def test_one_retry_is_unhealthy_at_the_first_counted_failure() -> None:
    check = HealthCheck(("CMD", "x"), retries=1)
    assert states([bad(1001)], check) == [("unhealthy", 1)]


def test_log_keeps_the_last_five() -> None:
    state = HealthState(run=1)
    for i in range(7):
        state = after_check(CHECK, state, STARTED, ok(1100 + i))
    assert [r.start for r in state.log] == [1102, 1103, 1104, 1105, 1106]


@pytest.mark.parametrize(
    "log, now, due",
    [
        ((), 1009.9, False),
        ((), 1010.0, True),
        ((ok(1010),), 1019.0, False),
        ((ok(1010),), 1020.0, True),
        ((ok(1010),), 900.0, True),
    ],
    ids=["first-not-before-an-interval", "first-after-an-interval", "next-not-yet", "next-due", "clock-set-back"],
)
def test_is_due(log, now: float, due: bool) -> None:
    state = HealthState(run=1, log=log)
    assert is_due(CHECK, state, STARTED, now) is due
    assert next_due(CHECK, state, STARTED) == (log[-1].start if log else STARTED) + CHECK.interval


def test_a_new_run_starts_again() -> None:
    old = HealthState(run=1, status="unhealthy", failing_streak=3, log=(bad(1),))
    assert for_run(old, 1) is old
    assert for_run(old, 2) == HealthState(run=2)
    assert for_run(None, 4) == HealthState(run=4)


@pytest.mark.parametrize(
    "on_failure, status, expected",
    [
        ("none", "unhealthy", "none"),
        ("restart", "unhealthy", "restart"),
        ("kill", "unhealthy", "kill"),
        ("restart", "starting", "none"),
        ("kill", "healthy", "none"),
    ],
    ids=["none", "restart-unhealthy", "kill-unhealthy", "nothing-while-starting", "nothing-while-healthy"],
)
def test_action(on_failure, status, expected) -> None:
    assert action(on_failure, HealthState(status=status)) == expected


@pytest.mark.parametrize(
    "check, state, run, running, expected",
    [
        (None, None, 1, True, "-"),
        (CHECK, None, 1, True, "starting"),
        (CHECK, HealthState(1, "healthy"), 1, True, "healthy"),
        (CHECK, HealthState(1, "healthy"), 2, True, "starting"),
        (CHECK, HealthState(1, "unhealthy"), 1, False, "-"),
    ],
    ids=["no-check", "no-result-yet", "recorded", "recorded-for-an-older-run", "not-running"],
)
def test_shown(check, state, run, running, expected) -> None:
    assert shown(check, state, run, running) == expected


def test_output_keeps_the_last_4k() -> None:
    out = output_tail("a" * 5000, "err\n")
    assert len(out.encode()) == 4096 and out.endswith("aerr\n")
    assert timed_out(CHECK, 1.0, 6.0) == CheckRun(1.0, 6.0, -1, "Health check exceeded timeout (5s)")


def test_last_words() -> None:
    assert last_words(HealthState()) == "no check has finished yet"
    assert (
        last_words(HealthState(log=(CheckRun(1, 2, 7, "no\nconnection\n"),)))
        == "the last check exited 7: no connection"
    )
    assert last_words(HealthState(log=(timed_out(CHECK, 1, 6),))) == "the last check timed out"


def test_health_json_round_trip() -> None:
    state = HealthState(3, "unhealthy", 3, (bad(1), bad(2)))
    assert decode_health(encode_health(state)) == state
    with pytest.raises(HpError):
        decode_health(b'{"run": "x"}')


# ---------------------------------------------------------------- plans


def test_a_changed_check_is_an_update_of_the_record() -> None:
    from compiler.plan import Current, Desired, plan

    check = describe(HealthCheck(("CMD", "true"), interval=5.0))
    want = Desired("img", "sha256:1", b"{}", healthcheck=check, health_on_failure="restart")
    have = Current("img", "sha256:1", b"{}", "running")
    change = plan({"web": want}, {"web": have}).changes[0]
    assert (change.action, change.changed_fields) == ("update", ("healthcheck", "health_on_failure"))
    assert change.reasons == (f"healthcheck: none -> {check}", "health_on_failure: none -> restart")
    same = Current("img", "sha256:1", b"{}", "running", healthcheck=check, health_on_failure="restart")
    assert plan({"web": want}, {"web": same}).changes[0].action == "no-op"
