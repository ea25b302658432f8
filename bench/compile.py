"""Benchmark of `hp compile` (a script, not a test: it measures and prints, it asserts nothing timed).

    .venv/bin/python bench/compile.py                # the three tables, about a minute
    .venv/bin/python bench/compile.py --profile      # also where the time goes (cProfile, stages)
    .venv/bin/python bench/compile.py --quick        # shorter measurements, for a smoke run

Prints, in one run:
  (a) configs compiled per second in-process on the bundled examples (containers
      web and worker of examples/hp.toml, examples/web-image.json, passwd, group):
      "compile only" (compile_container + encode_config from parsed inputs) and
      "parse + compile" (compile_config_json from the raw bytes), against the
      target of >= 20,000/s;
  (b) the median wall time of start-up commands and of the real `hp compile` and `hp ps`
      as processes, and their ratio to bare `python -c pass`, in this (editable) install;
      (b2) the same in a normal, non-editable `pip install .` into a scratch venv made with
      the same interpreter (the editable install's import hook adds to every start), where
      the target applies: `hp compile` <= 6x `python -c pass`. The venv is built in a
      temporary directory from a copy of this tree (pip fetches the dependencies from the
      package index), or --installed VENV reuses one;
  (c) whether the `hp compile` path imports plumbum, rich or typer (target: none),
      and its slowest imports according to `python -X importtime`.

Measured on the development VM (2 CPUs, shared: absolute times swing; medians of 30), (b2)
normal install: python -c pass 12.7 ms, hp compile 73.1 ms (5.75x: the target is met), hp ps
138.4 ms (10.9x); a later, quieter run (2026-12-02): 11.9 ms, 64.7 ms (5.42x), hp ps 117.2 ms
(9.82x), and in-process 24,404 configs/s compile only, 5,124/s parse + compile; with hp ps's
quick path (executor/ps_command.py): hp compile 58.8 ms (5.09x), hp ps 83.6 ms (7.25x). Before this
was met: hp compile 131 ms (9.5x). An ordinary `hp compile` command line now runs without
typer (executor/compile_command.py; docs/design.md, start-up), without the garbage collector,
and without hashlib or difflib; msgspec's own import is about a third of what is left.
Deferred already: executor.planning (and with it containers, networking, images, volumes and
the plan: hp compile reads env files through executor.inputs), plumbum and rich.

The processes run with this environment as it is. Note PYTHONDONTWRITEBYTECODE:
when it is set and compiler/ and executor/ have no __pycache__, every `hp` run
compiles their sources again; the header says so, and --write-pyc runs the
children without it (their warm-up then writes the gitignored __pycache__ dirs).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler import (  # noqa: E402
    HostFacts,
    HostFile,
    ImageFacts,
    compile_config_json,
    compile_container,
    encode_config,
    parse_hp_file,
    parse_image_config,
)

EXAMPLES = ROOT / "examples"
HP_TOML = EXAMPLES / "hp.toml"
IMAGE = EXAMPLES / "web-image.json"
PASSWD = EXAMPLES / "passwd"
GROUP = EXAMPLES / "group"
CONTAINERS = ("web", "worker")

RATE_TARGET = 20_000  # configs per second, in-process
RATIO_TARGET = 6.0  # hp compile wall time / python -c pass
FORBIDDEN = ("plumbum", "rich", "typer")  # must not be imported by the compile path

BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
HP = str(BIN / "hp")
EMPTY_STATE = tempfile.mkdtemp(prefix="hp-bench-state-")  # hp ps of a state dir with nothing in it
HP_COMPILE_ARGS = [
    "compile",
    str(HP_TOML),
    "-c",
    "web",
    "-i",
    str(IMAGE),
    "--passwd",
    str(PASSWD),
    "--group",
    str(GROUP),
]


# ---------------------------------------------------------------- (a) in-process


def host_facts() -> HostFacts:
    """This host's uname and default seccomp profile, read once, as hp compile gathers them."""
    from compiler import defaults

    path = defaults().seccomp_profile
    with open(path, encoding="utf-8") as f:
        return HostFacts(arch=os.uname().machine, kernel=os.uname().release, default_seccomp=HostFile(path, f.read()))


class Inputs:
    def __init__(self) -> None:
        self.toml = HP_TOML.read_bytes()
        self.image = IMAGE.read_bytes()
        self.passwd = PASSWD.read_text()
        self.group = GROUP.read_text()
        self.hp = parse_hp_file(self.toml)
        self.facts = ImageFacts(parse_image_config(self.image), self.passwd, self.group)
        self.specs = [(name, self.hp.containers[name]) for name in CONTAINERS]
        self.host = host_facts()

    def compile_only(self) -> None:
        facts = self.facts
        for name, spec in self.specs:
            encode_config(compile_container(name, spec, facts, host=self.host))

    def parse_and_compile(self) -> None:
        toml, image, passwd, group = self.toml, self.image, self.passwd, self.group
        for name in CONTAINERS:
            compile_config_json(toml, name, image, passwd, group, host=self.host)

    def check_same_bytes(self) -> None:
        """Both paths must give the same config.json (a correctness check, not a timing)."""
        for name, spec in self.specs:
            a = encode_config(compile_container(name, spec, self.facts, host=self.host))
            b = compile_config_json(self.toml, name, self.image, self.passwd, self.group, host=self.host)
            if a != b:
                sys.exit(f"bench: compile only and parse + compile differ for container {name!r}")


def calls_per_second(fn, seconds: float, rounds: int) -> float:
    """Calls of fn per second: the best of `rounds` rounds that together take about `seconds`."""
    # calibrate: how many calls fill one round
    n, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= 0.05:
            break
        n *= 2
    per_round = max(1, int(n * (seconds / rounds) / elapsed))
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = max(best, per_round / (time.perf_counter() - t0))
    return best


def bench_in_process(inputs: Inputs, seconds: float, rounds: int) -> list[tuple[str, float]]:
    per_call = len(CONTAINERS)
    return [
        ("compile only", calls_per_second(inputs.compile_only, seconds, rounds) * per_call),
        ("parse + compile", calls_per_second(inputs.parse_and_compile, seconds, rounds) * per_call),
    ]


# ---------------------------------------------------------------- (b) processes

FLOOR_SCRIPT = """\
import sys
import os
from compiler import HostFacts, HostFile, compile_config_json, defaults
from executor.inputs import read_input, read_text
a = sys.argv[1:]
p = defaults().seccomp_profile
host = HostFacts(arch=os.uname().machine, kernel=os.uname().release, default_seccomp=HostFile(p, read_text(p)))
sys.stdout.buffer.write(compile_config_json(read_input(a[0]), a[1], read_input(a[2]), read_text(a[3]), read_text(a[4]),
                                            host=host))
"""


def commands() -> list[tuple[str, list[str]]]:
    """(label, argv). The first is the baseline; the ones marked * are for reference only."""
    return [
        ("python -c pass", [PYTHON, "-c", "pass"]),
        ("python -c 'import msgspec'", [PYTHON, "-c", "import msgspec"]),
        ("python -c 'import typer'", [PYTHON, "-c", "import typer"]),
        ("* python -c 'import compiler'", [PYTHON, "-c", "import compiler"]),
        (
            "* compile without typer (floor)",
            [PYTHON, "-c", FLOOR_SCRIPT, str(HP_TOML), "web", str(IMAGE), str(PASSWD), str(GROUP)],
        ),
        ("hp --version", [HP, "--version"]),
        ("hp compile (web)", [HP, *HP_COMPILE_ARGS]),
        ("hp ps (empty state dir)", [HP, "ps", "--state-dir", EMPTY_STATE]),
    ]


def installed_commands(venv: Path) -> list[tuple[str, list[str]]]:
    """(b2): the baseline and the two commands, in a non-editable install."""
    python, hp = str(venv / "bin" / "python"), str(venv / "bin" / "hp")
    return [
        ("python -c pass", [python, "-c", "pass"]),
        ("hp compile (web)", [hp, *HP_COMPILE_ARGS]),
        ("hp ps (empty state dir)", [hp, "ps", "--state-dir", EMPTY_STATE]),
    ]


def build_install(tmp: Path) -> Path:
    """A venv of this interpreter with `pip install .` of a copy of this tree (not editable)."""
    import shutil

    source = tmp / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache"
        ),
    )
    venv = tmp / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    for argv in ([base, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "--quiet", str(source)]):
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    return venv


def child_env(write_pyc: bool) -> dict[str, str]:
    env = dict(os.environ)
    if write_pyc:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(argv: list[str], env: dict[str, str], cwd: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        again = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=cwd)
        sys.exit(f"bench: {argv} exited {proc.returncode}:\n{again.stderr.decode(errors='replace')}")
    return elapsed


def bench_processes(
    runs: int, warmup: int, env: dict[str, str], cwd: str, cmds: list[tuple[str, list[str]]] | None = None
) -> list[tuple[str, list[float]]]:
    cmds = cmds or commands()
    for _ in range(warmup):
        for _, argv in cmds:
            run_once(argv, env, cwd)
    times: dict[str, list[float]] = {label: [] for label, _ in cmds}
    for _ in range(runs):  # interleaved, so that a slow moment of the machine hits every command alike
        for label, argv in cmds:
            times[label].append(run_once(argv, env, cwd))
    return [(label, times[label]) for label, _ in cmds]


# ---------------------------------------------------------------- (c) imports

WRAPPER = """\
import json, sys
argv = json.loads(sys.argv[1])
from executor.main import main
sys.argv = argv
code = 0
try:
    main()
except SystemExit as e:
    code = e.code
mods = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})
sys.stderr.write("HP-BENCH " + json.dumps({{"code": code, "modules": mods}}) + "\\n")
"""


def imports_of(hp_args: list[str], env: dict[str, str], cwd: str, importtime: bool) -> tuple[dict, str]:
    """Run executor.main as `hp` would with argv ['hp', *hp_args]; (its report, its -X importtime text)."""
    code = WRAPPER.format(forbidden=set(FORBIDDEN))
    argv = [PYTHON, *(["-X", "importtime"] if importtime else []), "-c", code, json.dumps([HP, *hp_args])]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=cwd)
    report, lines = None, []
    for line in proc.stderr.splitlines():
        if line.startswith("HP-BENCH "):
            report = json.loads(line[len("HP-BENCH ") :])
        else:
            lines.append(line)
    if report is None:
        sys.exit(f"bench: the import probe failed:\n{proc.stderr}")
    return report, "\n".join(lines)


def parse_importtime(text: str) -> list[tuple[str, int, int, int]]:
    """[(module, depth, self µs, cumulative µs)] in the order printed (children before parents)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line.split(":", 1)[1].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((name.strip(), depth, int(self_us), int(cum_us)))
    return rows


def importers(rows: list[tuple[str, int, int, int]]) -> dict[str, str]:
    """module → the module whose import first imported it (the next row with a smaller depth)."""
    parent: dict[str, str] = {}
    pending: list[tuple[str, int]] = []
    for name, depth, _, _ in rows:
        while pending and pending[-1][1] > depth:
            parent.setdefault(pending.pop()[0], name)
        pending.append((name, depth))
    return parent


Summary = tuple[list[tuple[str, float, float, str]], list[tuple[str, float]], float]


def importtime_summary(samples: list[str]) -> Summary:
    """Over several -X importtime runs: top modules by median cumulative time, the median
    self time summed by top-level package, and the median total self time (all in ms)."""
    self_us: dict[str, list[int]] = defaultdict(list)
    cum_us: dict[str, list[int]] = defaultdict(list)
    parent: dict[str, str] = {}
    totals = []
    for text in samples:
        rows = parse_importtime(text)
        parent.update(importers(rows))
        totals.append(sum(r[2] for r in rows))
        for name, _, s, c in rows:
            self_us[name].append(s)
            cum_us[name].append(c)
    top = sorted(cum_us, key=lambda m: statistics.median(cum_us[m]), reverse=True)[:10]
    modules = [
        (m, statistics.median(self_us[m]) / 1000, statistics.median(cum_us[m]) / 1000, parent.get(m, "(run time)"))
        for m in top
    ]
    by_package: dict[str, float] = defaultdict(float)
    for m, values in self_us.items():
        by_package[m.split(".")[0]] += statistics.median(values) / 1000
    packages = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:8]
    return modules, packages, statistics.median(totals) / 1000


# ---------------------------------------------------------------- --profile


def profile_in_process(inputs: Inputs, seconds: float) -> None:
    print("\n(p1) where one in-process compile spends its time (µs per call; best of 3)")
    hp, facts = inputs.hp, inputs.facts
    spec = hp.containers["web"]
    config = compile_container("web", spec, facts, host=inputs.host)
    import msgspec

    from compiler.users import parse_group, parse_passwd

    raw = msgspec.json.encode(config)
    parse_group.cache_clear()
    stages = [
        ("parse_hp_file(hp.toml)", lambda: parse_hp_file(inputs.toml)),
        ("  tomllib.loads alone", lambda: __import__("tomllib").loads(inputs.toml.decode())),
        ("parse_image_config(image.json)", lambda: parse_image_config(inputs.image)),
        ("compile_container('web') → struct", lambda: compile_container("web", spec, facts, host=inputs.host)),
        ("  parse_passwd (not cached)", lambda: parse_passwd(inputs.passwd)),
        ("encode_config(struct) → bytes", lambda: encode_config(config)),
        ("  msgspec.json.encode", lambda: msgspec.json.encode(config)),
        ("  msgspec.json.format(indent=2)", lambda: msgspec.json.format(raw, indent=2)),
        (
            "compile_config_json('web'), all of it",
            lambda: compile_config_json(
                inputs.toml, "web", inputs.image, inputs.passwd, inputs.group, host=inputs.host
            ),
        ),
    ]
    width = max(len(s) for s, _ in stages)
    for label, fn in stages:
        rate = calls_per_second(fn, seconds / 3, 3)
        print(f"  {label:<{width}}  {1e6 / rate:8.1f} µs")
    for title, fn in (("compile only", inputs.compile_only), ("parse + compile", inputs.parse_and_compile)):
        prof = cProfile.Profile()
        deadline = time.perf_counter() + seconds / 2
        prof.enable()
        while time.perf_counter() < deadline:
            fn()
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(12)
        body = out.getvalue()
        body = body[body.find("   ncalls") :].rstrip()
        print(f"\n(p2) cProfile, {title}: top 12 functions by own time (times include the profiler's overhead)")
        print("\n".join("  " + line for line in body.splitlines()))


# ---------------------------------------------------------------- main


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def table(header: list[str], rows: list[list[str]], align: str) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = zip(row, widths, align, strict=True)
        return "  ".join(c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in cells).rstrip()

    print("  " + fmt(header))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print("  " + fmt(row))


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("heropods", "msgspec", "typer", "pydantic"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            pass
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per in-process measurement (default 2)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per in-process measurement; the best counts")
    ap.add_argument("--runs", type=int, default=30, help="timed runs of each process (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs of each process first (default 3)")
    ap.add_argument("--importtime-runs", type=int, default=5, help="-X importtime samples (median)")
    ap.add_argument("--profile", action="store_true", help="also profile the in-process compile")
    ap.add_argument("--quick", action="store_true", help="short measurements (a smoke run; numbers are rougher)")
    ap.add_argument(
        "--installed",
        metavar="VENV",
        help="a venv with hp pip-installed (not editable) for (b2); default: build one in a temp dir",
    )
    ap.add_argument(
        "--write-pyc",
        action="store_true",
        help="run the processes without PYTHONDONTWRITEBYTECODE (writes compiler/ and executor/ __pycache__)",
    )
    opts = ap.parse_args()
    if opts.quick:
        opts.seconds, opts.runs, opts.warmup, opts.importtime_runs = 0.3, 5, 1, 1

    env = child_env(opts.write_pyc)
    dont_write = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    cached = all((ROOT / pkg / "__pycache__").is_dir() for pkg in ("compiler", "executor"))
    print(
        f"hp compile benchmark: Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {versions()}"
    )
    print(
        f"  processes: PYTHONDONTWRITEBYTECODE={'set' if dont_write else 'unset'}; "
        f"compiler/ and executor/ bytecode cached: {'yes' if cached else 'no'}"
        + (" (each hp run compiles their sources)" if dont_write and not cached else "")
    )

    inputs = Inputs()
    inputs.check_same_bytes()
    rates = bench_in_process(inputs, opts.seconds, opts.rounds)
    print(
        f"\n(a) in-process, configs per second (examples: {', '.join(CONTAINERS)}; "
        f"best of {opts.rounds} rounds over ~{opts.seconds:g} s each)"
    )
    table(
        ["measurement", "configs/s", "µs/config", "target", "met"],
        [
            [label, f"{rate:,.0f}", f"{1e6 / rate:.1f}", f">= {RATE_TARGET:,}/s", yes(rate >= RATE_TARGET)]
            for label, rate in rates
        ],
        "<>>><",
    )

    with tempfile.TemporaryDirectory(prefix="hp-bench-") as cwd:  # a neutral cwd: '' on sys.path finds nothing
        results = bench_processes(opts.runs, opts.warmup, env, cwd)
        base = statistics.median(results[0][1])
        print(
            f"\n(b) processes, wall time (median of {opts.runs} runs after {opts.warmup} warm-up runs, interleaved; "
            f"* = for reference)"
        )
        rows = []
        for label, ts in results:
            med = statistics.median(ts)
            rows.append(
                [label, f"{med * 1000:.1f}", f"{min(ts) * 1000:.1f}", f"{max(ts) * 1000:.1f}", f"{med / base:.2f}x"]
            )
        table(["command", "median ms", "min ms", "max ms", "vs python -c pass"], rows, "<>>>>")
        hp_med = statistics.median(dict(results)["hp compile (web)"])
        ratio = hp_med / base
        by_min = min(dict(results)["hp compile (web)"]) / min(results[0][1])
        print(
            f"  hp compile / python -c pass = {ratio:.2f}x (medians; {by_min:.2f}x by the minimums)   "
            f"(the target is for a normal install: b2)"
        )

        with tempfile.TemporaryDirectory(prefix="hp-bench-install-") as scratch:
            venv = Path(opts.installed) if opts.installed else build_install(Path(scratch))
            results = bench_processes(opts.runs, opts.warmup, env, cwd, installed_commands(venv))
        base = statistics.median(results[0][1])
        built = "" if opts.installed else ", built for this run"
        print(
            f"\n(b2) a normal install (pip install ., not editable: {venv}{built}): "
            f"median of {opts.runs} runs, interleaved"
        )
        rows = [
            [
                label,
                f"{statistics.median(ts) * 1000:.1f}",
                f"{min(ts) * 1000:.1f}",
                f"{statistics.median(ts) / base:.2f}x",
            ]
            for label, ts in results
        ]
        table(["command", "median ms", "min ms", "vs python -c pass"], rows, "<>>>")
        ratio = statistics.median(dict(results)["hp compile (web)"]) / base
        ps_ratio = statistics.median(dict(results)["hp ps (empty state dir)"]) / base
        print(
            f"  hp compile / python -c pass = {ratio:.2f}x   target <= {RATIO_TARGET:g}x   "
            f"met: {yes(ratio <= RATIO_TARGET)}; hp ps / python -c pass = {ps_ratio:.2f}x"
        )

        print("\n(c) imports (executor.main run in-process with sys.argv set, as the hp script does)")
        probes = [
            ("hp compile", HP_COMPILE_ARGS),
            ("hp ps (empty state dir)", ["ps", "--state-dir", EMPTY_STATE]),
            ("hp --version", ["--version"]),
            ("usage error (no -i)", ["compile", str(HP_TOML)]),
        ]
        rows = []
        for label, args in probes:
            report, _ = imports_of(args, env, cwd, importtime=False)
            found = report["modules"]
            tops = sorted({m.split(".")[0] for m in found})
            rows.append(
                [
                    label,
                    str(report["code"]),
                    ", ".join(tops) or "none",
                    str(len(found)),
                    yes(not found) if label == "hp compile" else "",
                ]
            )
        table(["path", "exit", f"imports of {'/'.join(FORBIDDEN)}", "modules", "target met"], rows, "<><><")
        samples = [imports_of(HP_COMPILE_ARGS, env, cwd, importtime=True)[1] for _ in range(opts.importtime_runs)]
        modules, packages, total = importtime_summary(samples)
        print(
            f"\n  hp compile, -X importtime (median of {opts.importtime_runs}): all imports {total:.1f} ms "
            f"(importtime inflates this); top 10 by cumulative time;\n"
            f"  (run time) = imported by code running, not by another module's import"
        )
        table(
            ["module", "cumulative ms", "self ms", "first imported by"],
            [[m, f"{c:.1f}", f"{s:.1f}", p] for m, s, c, p in modules],
            "<>><",
        )
        print("\n  self time summed by top-level package")
        table(["package", "self ms"], [[p, f"{ms:.1f}"] for p, ms in packages], "<>")

    if opts.profile:
        profile_in_process(inputs, opts.seconds)


if __name__ == "__main__":
    main()
