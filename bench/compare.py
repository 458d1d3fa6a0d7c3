"""Compare cairn with restic and borg on the same data in the same run.

Each round makes a fresh dataset (bench/dataset.py), fresh repositories and runs every scenario
for every tool, tool after tool, before moving to the next scenario:

    initial backup -> no-change backup -> (mutate ~1%) -> backup after the mutation
    -> full restore (verified against the source, not timed)

It records wall time, CPU time and peak memory of each command, and the repository size (du) after
the first and after the last backup. With --rounds N it reports medians. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from hashlib import file_digest
from pathlib import Path
from typing import Any

import psutil

import dataset

BENCH = Path(__file__).resolve().parent
PASSPHRASE = "cairn-bench-passphrase-2026"
TOOLS = ("cairn", "restic", "borg")
BACKUPS = ("initial", "nochange", "mutated")
SCENARIOS = (*BACKUPS, "restore")
OK_CODES = {"cairn": {0, 3}, "restic": {0, 3}, "borg": {0, 1}}  # 3 / 1: done with warnings
MIB = 1024 * 1024


# --------------------------------------------------------------------------- measuring a command


@dataclass
class Run:
    """What one command cost; other_cpu_s is CPU time that other processes used meanwhile."""

    wall_s: float
    cpu_s: float
    peak_pss: int
    peak_rss: int
    returncode: int
    other_cpu_s: float = 0.0
    harness_cpu_s: float = 0.0  # the harness's own CPU meanwhile (mostly the memory sampler)
    attempts: int = 1


def busy(run: Run) -> bool:
    """Whether other processes used enough CPU during the run to distort its figures."""
    return run.other_cpu_s > max(0.2, 0.05 * run.wall_s)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_idle(limit_s: float, threshold: float = 0.1) -> float:
    """Waits (up to limit_s) for a 1 s window in which the machine is busy < threshold of a core.

    Returns the CPU share seen in the last window.
    """
    deadline = time.monotonic() + limit_s
    while True:
        before, own_before = busy_cpu_s(), own_cpu_s()
        time.sleep(1.0)
        share = busy_cpu_s() - before - (own_cpu_s() - own_before)
        if share < threshold or time.monotonic() >= deadline:
            return share


def read_rss_pss(pid: int) -> tuple[int, int] | None:
    """The process's (RSS, PSS) in bytes from /proc/PID/smaps_rollup, or None."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        return None
    return None if rss is None or pss is None else (rss, pss)


class TreeSampler(threading.Thread):
    """Samples the summed PSS and RSS of a process and all its descendants at an interval.

    Finding the descendants means reading every /proc/PID/stat (~1 ms), so the tree is listed
    again every `rescan` samples, and at once when a process of it has gone; memory is read
    at every sample.
    """

    def __init__(self, pid: int, interval: float, rescan: int = 5) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.rescan = rescan
        self.done = threading.Event()
        self.peak_pss = 0
        self.peak_rss = 0
        self.samples = 0

    def run(self) -> None:
        procs: list[psutil.Process] = []
        stale = True
        while True:
            if stale or self.samples % self.rescan == 0:
                procs = self.tree()
            stale = self.sample(procs)
            if self.done.wait(self.interval):
                return

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return [self.root]

    def sample(self, procs: list[psutil.Process]) -> bool:
        """Adds up the tree's memory; returns whether a process was gone."""
        pss = rss = 0
        gone = False
        for proc in procs:
            sizes = read_rss_pss(proc.pid)
            if sizes is None:  # no smaps_rollup (old kernel, or the process is a zombie)
                try:
                    sizes = (proc.memory_info().rss,) * 2
                except psutil.Error:
                    gone = True
                    continue
            rss += sizes[0]
            pss += sizes[1]
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_rss = max(self.peak_rss, rss)
        self.samples += 1
        return gone


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Ends the process group that `proc` leads (and only that one)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_measured(
    argv: list[str],
    env: dict[str, str],
    cwd: Path | None,
    log: Path,
    timeout: float,
    interval: float,
) -> Run:
    """Runs argv in its own process group; output goes to log.out / log.err."""
    with open(f"{log}.out", "wb") as out, open(f"{log}.err", "wb") as err:
        busy_before, own_before = busy_cpu_s(), own_cpu_s()
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid, interval)
        sampler.start()
        timer = threading.Timer(timeout, kill_group, (proc,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: end the command too, then pass the interruption on
            kill_group(proc)
            os.waitpid(proc.pid, 0)
            raise
        finally:
            timer.cancel()
            sampler.done.set()
        wall = time.perf_counter() - started
        sampler.join()
        machine = busy_cpu_s() - busy_before
        own = own_cpu_s() - own_before
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    other = max(0.0, machine - cpu - own)
    return Run(wall, cpu, sampler.peak_pss, sampler.peak_rss, proc.returncode, other, own)


# --------------------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Command:
    argv: list[str]
    cwd: Path | None = None


@dataclass
class Tool:
    """One program under test, with its repository, local state and restore folders."""

    name: str
    exe: str
    base: Path  # this round's folder for the tool
    archives: list[str] = field(default_factory=list)

    @property
    def repo(self) -> Path:
        return self.base / "repo"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def restore_dir(self) -> Path:
        return self.base / "restore"

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BORG_", "CAIRN_"))
        }
        if self.name == "cairn":
            env |= {"CAIRN_HOME": str(self.home), "CAIRN_PASSPHRASE": PASSPHRASE}
        elif self.name == "restic":
            env |= {"RESTIC_PASSWORD": PASSPHRASE, "RESTIC_CACHE_DIR": str(self.home / "cache")}
        else:
            env |= {
                "BORG_PASSPHRASE": PASSPHRASE,
                "BORG_BASE_DIR": str(self.home),
                "BORG_DISPLAY_PASSPHRASE": "no",
            }
        return env

    def init(self) -> list[Command]:
        repo = str(self.repo)
        if self.name == "cairn":
            return [
                Command([self.exe, "vault", "create", repo]),
                Command([self.exe, "register", repo]),
            ]
        if self.name == "restic":
            return [Command([self.exe, "init", "--repo", repo, "--repository-version", "2"])]
        return [Command([self.exe, "init", "-e", "repokey-blake2", repo])]

    def backup(self, src: Path, label: str) -> Command:
        self.archives.append(label)
        if self.name == "cairn":
            return Command([self.exe, "backup", str(src)])
        if self.name == "restic":
            return Command([self.exe, "backup", "--repo", str(self.repo), str(src)])
        return Command(
            [self.exe, "create", "--compression", "zstd,3", f"{self.repo}::{label}", str(src)]
        )

    def restore(self) -> Command:
        target = self.restore_dir
        if self.name == "cairn":
            return Command([self.exe, "restore", "latest", "--target", str(target)])
        if self.name == "restic":
            return Command(
                [self.exe, "restore", "latest", "--repo", str(self.repo), "--target", str(target)]
            )
        return Command([self.exe, "extract", f"{self.repo}::{self.archives[-1]}"], cwd=target)

    def restored(self, src: Path) -> Path:
        """Where the restore puts the source tree: TARGET/<absolute path without the '/'>."""
        return self.restore_dir / src.relative_to(src.anchor)


def version_of(exe: str, name: str) -> str:
    argv = [exe, "version"] if name == "restic" else [exe, "--version"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    if done.returncode != 0 or not lines:
        return f"unknown (version query exited {done.returncode}, printed {len(lines)} lines)"
    return lines[0]


def executables(args: argparse.Namespace) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in args.tools:
        wanted = getattr(args, name)
        exe = shutil.which(wanted)
        if exe is None:
            hint = (
                " (run bash bench/setup.sh)"
                if name != "cairn"
                else " (install cairn, or pass --cairn, or --tools restic,borg)"
            )
            raise SystemExit(f"{name}: {wanted} not found{hint}")
        found[name] = exe
    return found


# ------------------------------------------------------------------------ files: warm, du, diff


def walk_files(root: Path) -> Iterator[Path]:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            yield Path(dirpath, name)


def warm(root: Path) -> None:
    """Reads every file once so that every tool starts with a page-cache-warm source."""
    buf = bytearray(MIB)
    for path in walk_files(root):
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def disk_usage(root: Path) -> tuple[int, int]:
    """(allocated bytes as du counts them, apparent bytes) of a folder tree."""
    seen: set[tuple[int, int]] = set()
    allocated = apparent = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            allocated += st.st_blocks * 512
            apparent += st.st_size
    return allocated, apparent


Entry = tuple[str, int, int, str, int]  # kind, mode, size, sha256 or link target, mtime_ns


def describe(path: Path) -> Entry:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "link", 0, 0, os.readlink(path), 0
    if stat.S_ISDIR(st.st_mode):
        return "dir", st.st_mode & 0o7777, 0, "", 0
    if not stat.S_ISREG(st.st_mode):
        return "other", st.st_mode, 0, "", 0
    with open(path, "rb") as f:
        digest = file_digest(f, "sha256").hexdigest()
    return "file", st.st_mode & 0o7777, st.st_size, digest, st.st_mtime_ns


def tree_digest(root: Path) -> dict[str, Entry]:
    paths: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        paths.extend(Path(dirpath, name) for name in [*dirnames, *filenames])
    with ThreadPoolExecutor(2) as pool:
        entries = pool.map(describe, paths, chunksize=64)
        return {str(p.relative_to(root)): entry for p, entry in zip(paths, entries, strict=True)}


def compare_trees(want: dict[str, Entry], got: dict[str, Entry]) -> tuple[list[str], int]:
    """(differences in paths, kinds, modes, sizes or contents; count of file mtimes off > 1 us)."""
    problems = [f"missing: {p}" for p in sorted(want.keys() - got.keys())]
    problems += [f"extra: {p}" for p in sorted(got.keys() - want.keys())]
    mtimes_off = 0
    for path in sorted(want.keys() & got.keys()):
        w, g = want[path], got[path]
        if w[:4] != g[:4]:
            problems.append(f"differs: {path} ({w[:3]} vs {g[:3]})")
        elif w[0] == "file" and abs(w[4] - g[4]) > 1000:
            mtimes_off += 1
    return problems, mtimes_off


# ----------------------------------------------------------------------------------- one round


@dataclass
class ToolResult:
    runs: dict[str, Run] = field(default_factory=dict)
    init_s: float = 0.0
    repo_initial: int = 0
    repo_final: int = 0
    repo_final_apparent: int = 0
    state_final: int = 0
    verified: str = "not run"
    mtimes_off: int = 0
    error: str = ""


class Round:
    """One pass over every scenario for every tool, in fresh folders."""

    def __init__(
        self, number: int, args: argparse.Namespace, exes: dict[str, str], workdir: Path
    ) -> None:
        self.number = number
        self.args = args
        self.base = workdir / f"round{number}"
        self.src = self.base / "src"
        self.logs = workdir / "logs"
        order = list(exes)
        shift = (number - 1) % len(order)
        order = order[shift:] + order[:shift]  # rotate the order from round to round
        self.tools = [Tool(name, exes[name], self.base / name) for name in order]
        self.results = {tool.name: ToolResult() for tool in self.tools}
        self.dataset_initial: dataset.Summary | None = None
        self.dataset_final: dataset.Summary | None = None

    def say(self, text: str) -> None:
        print(f"[round {self.number}] {text}", file=sys.stderr, flush=True)

    def run(self) -> dict[str, ToolResult]:
        try:
            self.make_dataset()
            for tool in self.tools:
                self.guarded(tool, self.init_tool)
            for scenario in BACKUPS:
                if scenario == "mutated":
                    self.mutate_dataset()
                for tool in self.tools:
                    self.guarded(tool, lambda t, s=scenario: self.backup(t, s))
            for tool in self.tools:
                self.guarded(tool, self.measure_repo)
            want = tree_digest(self.src)
            for tool in self.tools:
                self.guarded(tool, lambda t: self.restore(t, want))
        finally:
            if not self.args.keep:
                shutil.rmtree(self.base, ignore_errors=True)
        return self.results

    def guarded(self, tool: Tool, step: Callable[[Tool], None]) -> None:
        """Runs one step unless the tool already failed in this round; records a failure."""
        result = self.results[tool.name]
        if result.error:
            return
        try:
            step(tool)
        except StepFailed as e:
            result.error = str(e)
            self.say(f"{tool.name} FAILED: {e}")

    def make_dataset(self) -> None:
        started = time.perf_counter()
        summary = dataset.make(self.src, self.args.scale, self.args.seed)
        self.say(f"dataset: {summary} in {time.perf_counter() - started:.1f} s")
        self.dataset_initial = summary

    def mutate_dataset(self) -> None:
        summary = dataset.mutate(self.src, self.args.scale, self.args.seed)
        self.say(f"mutated: {summary}")
        self.dataset_final = summary

    def command(self, tool: Tool, what: str, command: Command) -> Run:
        """Runs one command, measured; raises StepFailed if it did not succeed."""
        os.sync()  # earlier commands' writes are not flushed on this command's time
        if self.args.wait_idle > 0:
            share = wait_idle(self.args.wait_idle)
            if share >= 0.1:
                self.say(
                    f"machine still busy ({share:.0%} of a core) after {self.args.wait_idle} s"
                )
        log = self.logs / f"round{self.number}-{tool.name}-{what}"
        run = run_measured(
            command.argv, tool.env(), command.cwd, log, self.args.timeout, self.args.interval
        )
        if run.returncode not in OK_CODES[tool.name]:
            tail = Path(f"{log}.err").read_text(errors="replace").strip().splitlines()[-15:]
            raise StepFailed(
                f"{' '.join(command.argv)} exited {run.returncode}:\n    " + "\n    ".join(tail)
            )
        return run

    def measured(
        self,
        tool: Tool,
        what: str,
        command: Command,
        prepare: Callable[[], None],
        rollback: bool = True,
    ) -> Run:
        """Runs a scenario's command; reruns it (up to --retry-busy times) if other processes
        competed for the CPU meanwhile, after putting the tool's repository and local state
        back as they were before if rollback is set (prepare() readies anything else before
        each attempt, e.g. an empty restore target)."""
        retries = self.args.retry_busy
        saved = self.save_state(tool) if retries and rollback else None
        attempt = 1
        try:
            while True:
                prepare()
                run = self.command(tool, what, command)
                run.attempts = attempt
                if not busy(run) or attempt > retries:
                    return run
                self.say(
                    f"{what} {tool.name}: other processes used {run.other_cpu_s:.1f} CPU s in "
                    f"{run.wall_s:.1f} s; rolling back and retrying ({attempt}/{retries})"
                )
                if saved is not None:
                    self.load_state(tool, saved)
                wait_idle(max(self.args.wait_idle, 60.0))
                attempt += 1
        finally:
            if saved is not None:
                shutil.rmtree(saved, ignore_errors=True)

    def save_state(self, tool: Tool) -> Path:
        saved = self.base / f"{tool.name}-saved"
        for part in (tool.repo, tool.home):
            shutil.copytree(part, saved / part.name, symlinks=True)
        return saved

    def load_state(self, tool: Tool, saved: Path) -> None:
        for part in (tool.repo, tool.home):
            shutil.rmtree(part)
            shutil.copytree(saved / part.name, part, symlinks=True)

    def init_tool(self, tool: Tool) -> None:
        tool.base.mkdir(parents=True)
        tool.home.mkdir()
        for n, command in enumerate(tool.init(), 1):
            self.results[tool.name].init_s += self.command(tool, f"init{n}", command).wall_s

    def backup(self, tool: Tool, scenario: str) -> None:
        command = tool.backup(self.src, scenario)
        run = self.measured(tool, scenario, command, lambda: warm(self.src))
        self.record(tool, scenario, run)
        if scenario == "initial":
            self.results[tool.name].repo_initial = disk_usage(tool.repo)[0]

    def measure_repo(self, tool: Tool) -> None:
        result = self.results[tool.name]
        result.repo_final, result.repo_final_apparent = disk_usage(tool.repo)
        result.state_final = disk_usage(tool.home)[0]

    def restore(self, tool: Tool, want: dict[str, Entry]) -> None:
        def empty_target() -> None:
            shutil.rmtree(tool.restore_dir, ignore_errors=True)
            tool.restore_dir.mkdir()

        run = self.measured(tool, "restore", tool.restore(), empty_target, rollback=False)
        self.record(tool, "restore", run)
        self.verify(tool, want)
        shutil.rmtree(tool.restore_dir)

    def verify(self, tool: Tool, want: dict[str, Entry]) -> None:
        result = self.results[tool.name]
        restored = tool.restored(self.src)
        if not restored.is_dir():
            top = sorted(
                str(p.relative_to(tool.restore_dir)) for p in tool.restore_dir.glob("*/*")
            )[:5]
            raise StepFailed(f"restore: {restored} does not exist (found: {top})")
        problems, result.mtimes_off = compare_trees(want, tree_digest(restored))
        if problems:
            result.verified = f"FAILED: {len(problems)} differences"
            raise StepFailed(
                "restore differs from the source:\n    " + "\n    ".join(problems[:15])
            )
        result.verified = "ok"
        self.say(
            f"{tool.name} restore verified: {len(want):,} entries identical"
            f" ({result.mtimes_off} file mtimes differ)"
        )

    def record(self, tool: Tool, scenario: str, run: Run) -> None:
        self.results[tool.name].runs[scenario] = run
        warning = f", exit {run.returncode}" if run.returncode else ""
        if run.attempts > 1:
            warning += f", attempt {run.attempts}"
        if busy(run):
            warning += f", WARNING: other processes used {run.other_cpu_s:.1f} CPU s meanwhile"
        self.say(
            f"{scenario:<8} {tool.name:<6} {run.wall_s:7.2f} s wall {run.cpu_s:7.2f} s cpu "
            f"{run.peak_pss / MIB:7.1f} MiB pss {run.peak_rss / MIB:7.1f} MiB rss{warning}"
        )


class StepFailed(Exception):
    pass


# ------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Metric:
    label: str
    get: Callable[[ToolResult], float | None]
    target: float | None = None  # cairn/restic at most
    ratios: bool = True


def scenario_get(
    scenario: str, attr: str, scale: float = 1.0
) -> Callable[[ToolResult], float | None]:
    def get(result: ToolResult) -> float | None:
        run = result.runs.get(scenario)
        return None if run is None else float(getattr(run, attr)) / scale

    return get


def peak_get(attr: str) -> Callable[[ToolResult], float | None]:
    def get(result: ToolResult) -> float | None:
        values = [getattr(run, attr) / MIB for run in result.runs.values()]
        return max(values) if len(values) == len(SCENARIOS) else None

    return get


def size_get(attr: str) -> Callable[[ToolResult], float | None]:
    def get(result: ToolResult) -> float | None:
        value = getattr(result, attr)
        return value / 1e6 if value and not result.error else None

    return get


def other_get(result: ToolResult) -> float | None:
    runs = result.runs.values()
    return sum(run.other_cpu_s for run in runs) if len(runs) == len(SCENARIOS) else None


METRICS = [
    Metric("initial backup, wall s", scenario_get("initial", "wall_s"), 0.8),
    Metric("no-change backup, wall s", scenario_get("nochange", "wall_s"), 0.5),
    Metric("backup after mutation, wall s", scenario_get("mutated", "wall_s"), 0.7),
    Metric("full restore, wall s", scenario_get("restore", "wall_s"), 0.8),
    Metric("repo size after 3 backups, MB (du)", size_get("repo_final"), 1.0),
    Metric("peak memory, PSS sum MiB (max of scenarios)", peak_get("peak_pss"), 1.0),
    Metric("peak memory, RSS sum MiB (max of scenarios)", peak_get("peak_rss")),
    Metric("repo size after initial backup, MB (du)", size_get("repo_initial")),
    Metric("local cache/state after 3 backups, MB", size_get("state_final")),
    Metric("init (create repo), wall s", lambda r: None if r.error else r.init_s),
    *[Metric(f"{s} CPU s (user+sys)", scenario_get(s, "cpu_s")) for s in SCENARIOS],
    Metric("other processes' CPU s during the 4 commands", other_get, ratios=False),
    *[Metric(f"{s} peak PSS MiB", scenario_get(s, "peak_pss", MIB)) for s in SCENARIOS],
]


def median_of(rounds: list[dict[str, ToolResult]], tool: str, metric: Metric) -> float | None:
    values = [v for r in rounds if tool in r and (v := metric.get(r[tool])) is not None]
    return statistics.median(values) if len(values) == len(rounds) else None


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def table(rounds: list[dict[str, ToolResult]], tools: list[str]) -> tuple[str, dict[str, Any]]:
    """The Markdown table of medians, and the same figures for the JSON file."""
    peers = [t for t in tools if t != "restic"]
    header = ["metric", *tools]
    if "restic" in tools:
        header += [f"{t}/restic" for t in peers]
        if "cairn" in tools:
            header.insert(header.index("cairn/restic") + 1, "cairn target")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    medians: dict[str, Any] = {}
    for metric in METRICS:
        values = {t: median_of(rounds, t, metric) for t in tools}
        row = [metric.label, *[fmt(values[t]) for t in tools]]
        ratios = {
            t: ratio(values[t], values.get("restic")) if metric.ratios else None for t in peers
        }
        if "restic" in tools:
            for t in peers:
                row.append(fmt_ratio(ratios[t]))
                if t == "cairn":
                    row.append(target_cell(metric.target, ratios[t]))
        lines.append("| " + " | ".join(row) + " |")
        medians[metric.label] = {
            "values": values,
            "ratios_to_restic": ratios,
            "cairn_target": metric.target,
        }
    return "\n".join(lines), medians


def target_cell(target: float | None, value: float | None) -> str:
    if target is None:
        return ""
    verdict = "" if value is None else (" met" if value <= target else " MISSED")
    return f"≤ {target:.1f}x{verdict}"


# --------------------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated subset of cairn,restic,borg (default: all three)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument("--scale", type=float, default=1.0, help="dataset size factor")
    parser.add_argument("--seed", type=int, default=1, help="dataset seed")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="a temporary folder is made (and removed) inside it",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep datasets, repos and logs")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per command")
    parser.add_argument("--interval", type=float, default=0.02, help="memory sampling, seconds")
    parser.add_argument(
        "--retry-busy",
        type=int,
        default=2,
        metavar="N",
        help="rerun a command (after rolling its repository back) up to N times when other "
        "processes used over 5%% of its wall time in CPU (default 2; 0 = never)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measured command, wait up to this long for other processes to go idle",
    )
    parser.add_argument("--cairn", default=str(Path(sys.executable).parent / "cairn"))
    parser.add_argument("--restic", default="restic")
    parser.add_argument("--borg", default=str(BENCH / ".venv-borg" / "bin" / "borg"))
    args = parser.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(args.tools) - set(TOOLS)
    if unknown or not args.tools:
        parser.error(f"--tools: choose from {', '.join(TOOLS)}")
    args.tools = [t for t in TOOLS if t in args.tools]
    return args


def header(args: argparse.Namespace, versions: dict[str, str], first: Round) -> list[str]:
    return [
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.platform()}",
        "versions: " + "; ".join(f"{name}: {v}" for name, v in versions.items()),
        f"dataset: scale {args.scale}, seed {args.seed}: {first.dataset_initial} "
        f"(after the mutation: {first.dataset_final})",
        f"rounds: {args.rounds} (medians); memory sampled every {args.interval * 1000:.0f} ms",
    ]


def to_json(
    args: argparse.Namespace,
    lines: list[str],
    rounds: list[dict[str, ToolResult]],
    medians: dict[str, Any],
) -> dict[str, Any]:
    return {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "header": lines,
        "medians": medians,
        "rounds": [{tool: asdict(result) for tool, result in r.items()} for r in rounds],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    exes = executables(args)
    versions = {name: version_of(exe, name) for name, exe in exes.items()}
    print("versions: " + "; ".join(f"{n}: {v}" for n, v in versions.items()), file=sys.stderr)
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="cairn-bench-", dir=args.workdir))
    (workdir / "logs").mkdir()
    rounds: list[dict[str, ToolResult]] = []
    try:
        first: Round | None = None
        for number in range(1, args.rounds + 1):
            current = Round(number, args, exes, workdir)
            first = first or current
            rounds.append(current.run())
        assert first is not None
        lines = header(args, versions, first)
        text, medians = table(rounds, args.tools)
    finally:
        if args.keep:
            print(f"kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(to_json(args, lines, rounds, medians), indent=2) + "\n")
    failures = [
        f"{tool} in round {n}: {res.error}"
        for n, r in enumerate(rounds, 1)
        for tool, res in r.items()
        if res.error
    ]
    print("\n".join([*lines, "", text, *(f"FAILED: {failure}" for failure in failures)]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
