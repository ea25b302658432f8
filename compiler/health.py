"""Health checks, decided purely: a container's effective check (the image's HEALTHCHECK, or
hp.toml's `healthcheck` over it), its state after each check, whether a check is due, and what
`health_on_failure` asks for. Docker's semantics and defaults:

- the check runs in the container as its own process does (user, env, cwd); ["CMD", ARG...] runs
  ARG... directly, ["CMD-SHELL", "COMMAND"] runs `/bin/sh -c COMMAND`, ["NONE"] means no check;
- hp.toml's `healthcheck` overrides the image's field by field (a field it leaves out is the
  image's), as `docker run --health-*` does; interval 30s, timeout 30s, retries 3, start_period 0;
- a run starts "starting"; one passing check makes it "healthy"; `retries` consecutive failures
  make it "unhealthy", but while it is still "starting", a failure within `start_period` of its
  start does not count; a check that passes resets the streak;
- the first check is due one interval after the start, each next one an interval after the
  previous one began (executor/health.py runs them; nothing here reads the clock).

The state (STATE/containers/NAME/health.json) belongs to one run of the container (run.json's
start number): a new start begins again at "starting".
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from .errors import HpError, key_path, quote
from .image import ImageHealthcheck
from .logs import duration_nanos
from .spec import ContainerSpec, HealthcheckSpec

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_RETRIES = 3
MIN_DURATION = 0.001  # Docker's: 1 ms
MAX_DURATION = 24 * 3600.0
KEEP_RUNS = 5  # the latest checks kept in health.json, as Docker keeps in its inspect output
OUTPUT_LIMIT = 4096  # bytes of a check's output kept (its end), as Docker's

OnFailure = Literal["none", "restart", "kill"]
Status = Literal["starting", "healthy", "unhealthy"]
TEST_KINDS = ("CMD", "CMD-SHELL", "NONE")


class HealthCheck(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A container's effective check, in seconds; kept in its record (compiler.state)."""

    test: tuple[str, ...]  # ("CMD", ARG, ...) or ("CMD-SHELL", COMMAND)
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    start_period: float = DEFAULT_START_PERIOD
    retries: int = DEFAULT_RETRIES

    @property
    def argv(self) -> tuple[str, ...]:
        """What runs in the container."""
        if self.test[0] == "CMD-SHELL":
            return ("/bin/sh", "-c", self.test[1])
        return self.test[1:]


# ---------------------------------------------------------------- the effective check


def check_spec(name: str, spec: ContainerSpec) -> None:
    """What can be checked of hp.toml's healthcheck and health_on_failure without the image."""
    own = spec.healthcheck
    if own is None:
        return
    where = f"{key_path('containers', name)}.healthcheck"
    test = _own_test(own.test, f"{where}.test") if own.test is not None else None
    _own_durations(own, where)
    if test == ("NONE",):
        for field in ("interval", "timeout", "start_period", "retries"):
            if getattr(own, field) is not None:
                raise HpError(f"{where}.{field}", 'does not apply: test = ["NONE"] disables the health check')


def effective_check(
    name: str, spec: ContainerSpec, image_healthcheck: ImageHealthcheck | None, image_ref: str = ""
) -> HealthCheck | None:
    """The check the container runs (None: none), or an HpError naming the field: hp.toml's
    (containers.NAME.healthcheck.FIELD) or the image's (image REF: Healthcheck.FIELD)."""
    check_spec(name, spec)
    own = spec.healthcheck or HealthcheckSpec()
    where = f"{key_path('containers', name)}.healthcheck"
    image = image_healthcheck
    image_where = (
        f"image {image_ref}: {image.where}"
        if image is not None and image_ref
        else (image.where if image is not None else "")
    )
    if own.test is not None:
        test = _own_test(own.test, f"{where}.test")
    elif image is not None and image.test:
        test = _image_test(image.test, f"{image_where}.Test")
    else:
        test = None
    if test is None or test == ("NONE",):
        if own.test is None and own != HealthcheckSpec():
            raise HpError(
                f"{where}.test",
                "is required: the image has no HEALTHCHECK to take it from"
                if test is None
                else 'is required: the image\'s HEALTHCHECK is ["NONE"]',
            )
        if spec.health_on_failure != "none":
            raise HpError(
                f"{key_path('containers', name)}.health_on_failure",
                f"{quote(spec.health_on_failure)} needs a health check (the image has none, "
                "and healthcheck.test sets none)",
            )
        return None
    durations = _own_durations(own, where)

    def pick(field: str, image_field: str, default: float) -> float:
        own_value = durations[field]
        if own_value is not None:
            return own_value
        nanos = getattr(image, image_field) if image is not None else 0
        return nanos / 1e9 if nanos else default

    retries = own.retries if own.retries is not None else (image.retries if image is not None else 0)
    return HealthCheck(
        test,
        pick("interval", "interval", DEFAULT_INTERVAL),
        pick("timeout", "timeout", DEFAULT_TIMEOUT),
        pick("start_period", "start_period", DEFAULT_START_PERIOD),
        retries or DEFAULT_RETRIES,
    )


def _own_test(value: tuple[str, ...] | str, where: str) -> tuple[str, ...]:
    """hp.toml's test: a string is ["CMD-SHELL", it] (compose's rule)."""
    test = ("CMD-SHELL", value) if isinstance(value, str) else tuple(value)
    return _test(test, where)


def _image_test(value: tuple[str, ...], where: str) -> tuple[str, ...]:
    return _test(value, where)


def _test(test: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not test:
        raise HpError(where, 'is empty: give ["CMD", ARG...], ["CMD-SHELL", "COMMAND"] or ["NONE"]')
    kind = test[0]
    for i, word in enumerate(test):
        if "\0" in word:
            raise HpError(f"{where}[{i}]", "contains a NUL byte")
    if kind not in TEST_KINDS:
        raise HpError(f"{where}[0]", f'expected "CMD", "CMD-SHELL" or "NONE", got {quote(kind)}')
    if kind == "NONE" and len(test) != 1:
        raise HpError(where, '["NONE"] takes nothing after it')
    if kind == "CMD" and (len(test) < 2 or not test[1]):
        raise HpError(where, '["CMD", ...] needs the program to run after "CMD"')
    if kind == "CMD-SHELL" and (len(test) != 2 or not test[1].strip()):
        raise HpError(where, '["CMD-SHELL", "COMMAND"] takes exactly one non-empty command')
    return test


def _own_durations(own: HealthcheckSpec, where: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for field in ("interval", "timeout", "start_period"):
        value = getattr(own, field)
        out[field] = (
            None if value is None else parse_duration(value, f"{where}.{field}", zero_ok=field == "start_period")
        )
    if own.retries is not None and own.retries < 1:
        raise HpError(f"{where}.retries", f"must be at least 1, got {own.retries}")
    return out


_DURATION = re.compile(r"(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ms|s|m|h))+")


def parse_duration(value: float | str, where: str, zero_ok: bool = False) -> float:
    """Seconds from a number of seconds or a duration like "30s", "1m30s", "500ms", "1.5h"; at least
    1 ms (or 0 if `zero_ok`) and at most 24 h."""
    if isinstance(value, bool):
        raise HpError(where, "expected a duration, got a boolean")
    if isinstance(value, str):
        if not _DURATION.fullmatch(value):
            raise HpError(
                where, f'expected a duration like "30s", "1m30s" or "500ms", or a number of seconds, got {quote(value)}'
            )
        seconds = duration_nanos(value) / 1e9
    else:
        seconds = float(value)
    low = 0.0 if zero_ok else MIN_DURATION
    if not low <= seconds <= MAX_DURATION:  # also refuses nan
        shown = quote(value) if isinstance(value, str) else value
        floor = "0" if zero_ok else "1ms"
        raise HpError(where, f"must be at least {floor} and at most 24h, got {shown}")
    return seconds


def describe(check: HealthCheck | None) -> str:
    """The check in words, for plans ("none" if there is none); two different checks never read the same."""
    if check is None:
        return "none"
    test = "[" + ", ".join(quote(word) for word in check.test) + "]"
    return (
        f"{test} every {_seconds(check.interval)}, timeout {_seconds(check.timeout)}, "
        f"{check.retries} retries, start_period {_seconds(check.start_period)}"
    )


def _seconds(value: float) -> str:
    return f"{value:g}s"


# ---------------------------------------------------------------- the state of a run


class CheckRun(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One check: wall-clock start and end, exit status (-1: it did not finish within the
    check's timeout), and the end of what it wrote (stdout, then stderr)."""

    start: float
    end: float
    exit_code: int
    output: str = ""


class HealthState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """STATE/containers/NAME/health.json: `run` is the start number (run.json) it belongs to."""

    run: int = 0
    status: Status = "starting"
    failing_streak: int = 0
    log: tuple[CheckRun, ...] = ()


def encode_health(state: HealthState) -> bytes:
    return msgspec.json.encode(state) + b"\n"


def decode_health(data: bytes) -> HealthState:
    try:
        return msgspec.json.decode(data, type=HealthState)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise HpError("health.json", f"unreadable: {e}") from None


def for_run(state: HealthState | None, run: int) -> HealthState:
    """The state of run `run`: what is recorded if it is that run's, else a fresh "starting"."""
    return state if state is not None and state.run == run else HealthState(run=run)


def next_due(check: HealthCheck, state: HealthState, started_at: float) -> float:
    """When the next check is due (wall clock): an interval after the previous one began, or after
    the start for the first."""
    return (state.log[-1].start if state.log else started_at) + check.interval


def is_due(check: HealthCheck, state: HealthState, started_at: float, now: float) -> bool:
    last = state.log[-1].start if state.log else started_at
    return now >= last + check.interval or now < last  # a clock set back does not stop the checks


def after_check(check: HealthCheck, state: HealthState, started_at: float, result: CheckRun) -> HealthState:
    """The state once `result` is in, as Docker's: a pass makes it healthy and ends the streak; a
    failure counts (unhealthy at `retries`), unless it is still starting within start_period."""
    log = (*state.log, result)[-KEEP_RUNS:]
    if result.exit_code == 0:
        return HealthState(state.run, "healthy", 0, log)
    if state.status == "starting" and result.start - started_at < check.start_period:
        return HealthState(state.run, state.status, state.failing_streak, log)
    streak = state.failing_streak + 1
    return HealthState(state.run, "unhealthy" if streak >= check.retries else state.status, streak, log)


def timed_out(check: HealthCheck, start: float, end: float) -> CheckRun:
    return CheckRun(start, end, -1, f"Health check exceeded timeout ({_seconds(check.timeout)})")


def output_tail(stdout: str, stderr: str) -> str:
    """The last OUTPUT_LIMIT bytes of what a check wrote (stdout, then stderr), as text."""
    data = (stdout + stderr).encode("utf-8", "surrogateescape")[-OUTPUT_LIMIT:]
    return data.decode("utf-8", "replace")


def action(on_failure: OnFailure, state: HealthState) -> OnFailure:
    """What health_on_failure asks for now: only an unhealthy container is acted on."""
    return on_failure if state.status == "unhealthy" else "none"


def shown(check: HealthCheck | None, state: HealthState | None, run: int, running: bool) -> str:
    """`hp ps`'s HEALTH: "-" without a check or while not running."""
    if check is None or not running:
        return "-"
    return for_run(state, run).status


def last_words(state: HealthState) -> str:
    """The latest check in one line, for an error message."""
    if not state.log:
        return "no check has finished yet"
    last = state.log[-1]
    text = " ".join(line.strip() for line in last.output.strip().splitlines() if line.strip())
    if len(text) > 200:
        text = text[:200] + "..."
    what = "timed out" if last.exit_code == -1 else f"exited {last.exit_code}"
    return f"the last check {what}" + (f": {text}" if text and last.exit_code != -1 else "")
