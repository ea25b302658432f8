"""hp logs for real (issue 11, logs): containers made by `hp apply` under conmon, which writes
their output in the k8s-file format and rotates it at log_max_size. stdout and stderr stay
apart, --tail shows the newest lines of a 20 MB writer whose log stays bounded, --since and
--timestamps select and show the times conmon recorded, a --follow keeps reading across
rotations, and a terminal container's output is logged.

network = "none": the default bridge may be another state dir's while tests run side by side.
Nothing waits a fixed time: each test polls `hp logs` until the output it needs is there."""

from __future__ import annotations

import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from compiler.layout import layout
from compiler.logs import rfc3339_nanos

from .hprun import HP, applying, hp, wait_for_line

pytestmark = pytest.mark.integration

WAIT = 120  # seconds: the limit for output to show up, not a measured time
STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) (.*)")
PAD = "P=x; for k in 1 2 3 4 5 6 7 8 9 10; do P=$P$P; done"  # $P: 1024 x's


def stamped_line(line: str) -> re.Match[str]:
    """A line of `hp logs --timestamps`: [1] its time, [2] the line as written."""
    match = STAMP.fullmatch(line)
    assert match is not None, line
    return match


def container(name: str, image: str, script: str, extra: str = "") -> str:
    """sh -c script, as root (the exiter image's entrypoint is /bin/sh -c)."""
    return f'[containers.{name}]\nimage = "{image}"\ncommand = [\'{script}\']\nnetwork = "none"\n{extra}\n'


def logs(state: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    result = hp("logs", name, *args, state=state, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    return result


def raw_logs(state: Path, name: str, *args: str) -> bytes:
    """hp logs' stdout as bytes: a terminal's \r\n as it is (text mode would make it \n)."""
    result = subprocess.run(
        [HP, "logs", name, *args, "--state-dir", str(state)],
        check=False,
        capture_output=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0 and result.stderr == b"", result.stderr
    return result.stdout


@pytest.fixture
def applied(tmp_path, state, registry, test_images):
    """apply(name, script, extra) makes one container; all are destroyed at the end, and leave
    nothing behind."""
    with applying(tmp_path, state, registry, timeout=WAIT) as apply_file:

        def apply(script: str, extra: str = "") -> str:
            name = f"log-{uuid.uuid4().hex[:6]}"
            apply_file(name, container(name, test_images["exiter"], script, extra))
            return name

        yield apply


def test_stderr_is_apart_from_stdout(state, applied) -> None:
    name = applied(
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo done; exec sleep 3600", "stop_timeout = 0\n"
    )
    wait_for_line(state, name, "done", "--tail", "3", timeout=WAIT)
    result = logs(state, name)
    assert result.stdout == "out1\nout2\ndone\n"
    assert result.stderr == "err1\nerr2\n"
    stamped = logs(state, name, "--timestamps")
    times = [rfc3339_nanos(stamped_line(line)[1]) for line in stamped.stdout.splitlines()]
    assert times == sorted(times)
    assert [stamped_line(line)[2] for line in stamped.stderr.splitlines()] == ["err1", "err2"]


def test_ctrl_c_ends_a_follow_quietly(state, applied) -> None:
    name = applied("echo ready; exec sleep 3600", "stop_timeout = 0\n")
    wait_for_line(state, name, "ready", "--tail", "3", timeout=WAIT)
    follower = subprocess.Popen(
        [HP, "logs", "--follow", name, "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert follower.stdout is not None  # stdout=PIPE
        assert follower.stdout.readline() == b"ready\n"  # it is following now
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=WAIT)
        assert (follower.returncode, out, err) == (130, b"", b"")
    finally:
        follower.kill()
        follower.wait()


def test_tail_of_a_20_mb_writer_with_a_bounded_log(state, applied) -> None:
    script = f'{PAD}; i=0; while [ $i -lt 20000 ]; do echo "$i $P"; i=$((i+1)); done; echo finished; exec sleep 3600'
    name = applied(script, 'log_max_size = "1m"\nstop_timeout = 0\n')
    wait_for_line(state, name, "finished", "--tail", "3", timeout=WAIT)
    log = Path(layout(str(state)).log(name))
    assert log.stat().st_size <= 2 * 1024**2
    pad = "x" * 1024
    assert logs(state, name, "--tail", "5").stdout.splitlines() == [
        f"19996 {pad}",
        f"19997 {pad}",
        f"19998 {pad}",
        f"19999 {pad}",
        "finished",
    ]
    assert logs(state, name, "--tail", "0").stdout == ""
    kept = logs(state, name).stdout.splitlines()
    assert kept[-1] == "finished" and 0 < len(kept) < 20000  # the oldest output is gone


def test_since_and_timestamps(state, applied) -> None:
    # a pause between the lines: conmon gives all the lines of one read the same time
    name = applied("echo first; sleep 1; echo second; sleep 1; echo third; exec sleep 3600", "stop_timeout = 0\n")
    wait_for_line(state, name, "third", "--tail", "3", timeout=WAIT)
    stamped = [stamped_line(line) for line in logs(state, name, "-t").stdout.splitlines()]
    assert [m[2] for m in stamped] == ["first", "second", "third"]
    second = stamped[1][1]
    assert logs(state, name, "--since", second).stdout == "second\nthird\n"
    assert logs(state, name, "--since", second, "--timestamps", "--tail", "1").stdout.startswith(stamped[2][1])
    assert logs(state, name, "--since", "1h").stdout == "first\nsecond\nthird\n"
    assert logs(state, name, "--since", "2999-01-01T00:00:00Z").stdout == ""
    bad = hp("logs", name, "--since", "soon", state=state)
    assert bad.returncode == 1 and bad.stderr.startswith("hp: error: --since: expected an RFC 3339 time")


def test_follow_reads_across_rotations(state, applied) -> None:
    """~100-byte lines, 8 KiB per file: a rotation every ~80 lines. Lines come 20 ms apart, so a
    follower polling every 0.1 s is never a whole file behind."""
    count = 400
    script = (
        f'{PAD}; P=$(echo $P | cut -c1-90); i=0; while [ $i -lt {count} ]; do echo "$i $P"; '
        f"i=$((i+1)); usleep 20000; done; echo END"
    )
    name = applied(script, 'log_max_size = "8k"\nmust_run = false\n')
    follower = subprocess.Popen(
        [HP, "logs", "-f", name, "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        out, err = follower.communicate(timeout=WAIT)  # it ends by itself once the container has ended
    finally:
        follower.kill()
        follower.wait()
    assert follower.returncode == 0 and err == b""
    lines = out.decode().splitlines()
    assert lines[-1] == "END"
    numbers = [int(line.split()[0]) for line in lines[:-1]]
    assert numbers == list(range(numbers[0], count))  # in order, none missing from the first seen
    assert numbers[0] < count - 200  # it followed through several files
    assert int(logs(state, name).stdout.split()[0]) > numbers[0]  # and they did rotate


def test_terminal_container_output_is_logged(state, applied) -> None:
    name = applied(
        "echo hello-tty; [ -t 1 ] && [ -t 2 ] && echo on-a-tty >&2; echo done; exec sleep 3600",
        "terminal = true\nstop_timeout = 0\n",
    )
    wait_for_line(state, name, "done", "--tail", "3", timeout=WAIT)
    # all of a terminal's output is one stream, stdout, with the terminal's line ends as written
    assert raw_logs(state, name) == b"hello-tty\r\non-a-tty\r\ndone\r\n"


def test_an_old_raw_log_is_shown_as_stdout(state, applied) -> None:
    """A log written before conmon (raw output, no records) is printed as it is, never an error."""
    name = applied("exec sleep 3600", "stop_timeout = 0\n")
    log = layout(str(state)).log(name)
    with open(log, "ab") as f:  # conmon holds it open with O_APPEND: this lands after its records
        f.write(b"raw line\r\nno newline")
    assert raw_logs(state, name) == b"raw line\r\nno newline"
    assert raw_logs(state, name, "--since", "1h", "--timestamps") == b""


def test_follow_goes_on_across_restarts_by_policy(state, applied) -> None:
    """A --follow of a container that its policy restarts reads every run's output, and ends
    once the policy gives up (restart_max)."""
    name = applied("echo run; sleep 1; exit 1", 'must_run = false\nrestart = "on-failure"\nrestart_max = 2\n')
    follower = subprocess.run(
        [HP, "logs", "-f", name, "--state-dir", str(state)],
        capture_output=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert (follower.returncode, follower.stdout, follower.stderr) == (0, b"run\nrun\nrun\n", b"")
