"""How cairn's cost grows with the work, beside restic and borg in the same run (issue 14, Scale).

    make bench-scale                                  # every part, as bench/README.md reports it
    .venv/bin/python bench/scale.py --parts growth --sizes 0.1,0.3 --tools cairn,restic

Parts (each tool: a fresh repository, an initial backup, then a no-change backup; the time and
the peak PSS of the process tree are measured as bench/compare.py measures them):

    growth    the bench set (bench/dataset.py) at --sizes (default 0.1, 0.3, 1, 3): time and memory
              against size, plotted to bench/scale.png
    million   --files small files (default 1,000,000; 0.5-4 KiB) in folders 4 levels deep
    real      a tree nobody here wrote: this Python's standard library (no site-packages) and
              /usr/share, copied into the work folder
    bigfile   cairn alone on one 1 GiB file and one 10 GiB file (--big-gib): memory flat in size

Times on a shared 2-core machine drift: read the ratios of one run. The report goes to stdout
(Markdown), the raw figures to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # bench/compare.py: the measuring harness and the tools' command lines
import dataset

MIB = 1 << 20
GIB = 1 << 30
HERE = Path(__file__).resolve().parent
# Files made here get an mtime long past, as bench/dataset.py's do: a file modified within
# seconds of a backup is "racily clean" to cairn (and to git) and is read again next time, which
# would measure the set's age, not the tool.
OLD = time.time() - 30 * 86400


@dataclass
class Figure:
    part: str
    size: str  # the x value as shown: a scale, a file count, a name
    x: float  # for the plot: bytes of the source
    files: int
    tool: str
    initial_s: float | None = None
    initial_pss_mib: float | None = None
    nochange_s: float | None = None
    nochange_pss_mib: float | None = None
    error: str = ""


def say(text: str) -> None:
    print(f"[scale] {text}", file=sys.stderr, flush=True)


def count_files(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            files += 1
            size += st.st_size
    return files, size


def warm(root: Path) -> None:
    """Read every regular file once (a real tree has dangling symlinks: skip links)."""
    buf = bytearray(MIB)
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass


def make_million(root: Path, files: int, seed: int = 1) -> None:
    """`files` small files (0.5-4 KiB, half text, half random), 100 per folder, in folders
    4 levels deep (fan-out 10: up to 10,000 leaf folders)."""
    rng = random.Random(seed)
    words = [
        bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(4000)
    ]
    made = 0
    leaf = 0
    while made < files:
        a, b, c, d = (leaf // 1000) % 10, (leaf // 100) % 10, (leaf // 10) % 10, leaf % 10
        folder = root / f"d{a}" / f"d{a}{b}" / f"d{a}{b}{c}" / f"d{a}{b}{c}{d}-{leaf // 10000}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(min(100, files - made)):
            size = rng.randint(512, 4096)
            if i % 2:
                data = rng.randbytes(size)
            else:
                data = b" ".join(rng.choices(words, k=size // 5))[:size]
            path = folder / f"f{i:03d}.txt"
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (OLD, OLD))
            made += 1
        leaf += 1


def make_real(root: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    ignore = shutil.ignore_patterns("site-packages", "__pycache__")
    shutil.copytree(stdlib, root / "python-stdlib", symlinks=True, ignore=ignore)
    subprocess.run(["cp", "-a", "/usr/share", str(root / "usr-share")], check=True)


def make_big(root: Path, gib: int, seed: int = 7) -> None:
    """One file of `gib` GiB of distinct random data (no dedup inside it)."""
    root.mkdir(parents=True)
    rng = random.Random(seed)
    path = root / f"big-{gib}g.bin"
    with open(path, "wb") as f:
        for _ in range(gib * 128):
            f.write(rng.randbytes(8 * MIB))
    os.utime(path, (OLD, OLD))


class Scale:
    def __init__(self, args: argparse.Namespace, exes: dict[str, str], workdir: Path) -> None:
        self.args = args
        self.exes = exes
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir()
        self.figures: list[Figure] = []

    def run_tools(self, part: str, size: str, src: Path, tools: list[str]) -> None:
        slug = "".join(c if c.isalnum() or c in ".-" else "_" for c in f"{part}-{size}")
        files, nbytes = count_files(src)
        say(f"{part} {size}: {files:,} files, {nbytes / MIB:,.0f} MiB")
        for name in tools:
            fig = Figure(part, size, nbytes, files, name)
            self.figures.append(fig)
            tool = compare.Tool(name, self.exes[name], self.workdir / f"{slug}-{name}")
            tool.base.mkdir(parents=True)
            tool.home.mkdir()
            try:
                for n, command in enumerate(tool.init(), 1):
                    self.command(tool, f"{slug}-init{n}", command)
                for scenario in ("initial", "nochange"):
                    warm(src)
                    run = self.command(tool, f"{slug}-{scenario}", tool.backup(src, scenario))
                    setattr(fig, f"{scenario}_s", round(run.wall_s, 2))
                    setattr(fig, f"{scenario}_pss_mib", round(run.peak_pss / MIB, 1))
                    say(
                        f"  {name} {scenario}: {run.wall_s:.2f} s, {run.peak_pss / MIB:.0f} MiB"
                        f" (others used {run.other_cpu_s:.1f} CPU-s)"
                    )
            except compare.StepFailed as e:
                fig.error = str(e)
                say(f"  {name} FAILED: {e}")
            finally:
                shutil.rmtree(tool.base, ignore_errors=True)

    def command(self, tool: compare.Tool, what: str, command: compare.Command) -> compare.Run:
        os.sync()
        if self.args.wait_idle > 0:
            compare.wait_idle(self.args.wait_idle)
        log = self.logs / f"{what}-{tool.name}"
        run = compare.run_measured(
            command.argv, tool.env(), command.cwd, log, self.args.timeout, 0.02
        )
        if run.returncode not in compare.OK_CODES[tool.name]:
            tail = Path(f"{log}.err").read_text(errors="replace").strip().splitlines()[-10:]
            raise compare.StepFailed(f"{' '.join(command.argv)} exited {run.returncode}: {tail}")
        return run

    # --- the parts ---------------------------------------------------------------------------

    def growth(self) -> None:
        for s in self.args.sizes:
            src = self.workdir / f"growth-{s}"
            dataset.make(src, scale=s, seed=1)
            self.run_tools("growth", f"{s:g}x", src, self.args.tools)
            shutil.rmtree(src)

    def million(self) -> None:
        src = self.workdir / "million"
        started = time.monotonic()
        make_million(src, self.args.files)
        say(f"wrote {self.args.files:,} files in {time.monotonic() - started:.0f} s")
        self.run_tools("million", f"{self.args.files:,} files", src, self.args.tools)
        shutil.rmtree(src)

    def real(self) -> None:
        src = self.workdir / "real"
        make_real(src)
        self.run_tools("real", "stdlib + /usr/share", src, self.args.tools)
        shutil.rmtree(src)

    def bigfile(self) -> None:
        for gib in self.args.big_gib:
            src = self.workdir / f"big-{gib}"
            make_big(src, gib)
            self.run_tools("bigfile", f"{gib} GiB file", src, ["cairn"])
            shutil.rmtree(src)


# ------------------------------------------------------------------------------------ report


def cell(v: float | None, unit: str = "") -> str:
    return "failed" if v is None else f"{v:g}{unit}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def report(figures: list[Figure], tools: list[str]) -> str:
    lines = []
    for part in ("growth", "million", "real", "bigfile"):
        rows = [f for f in figures if f.part == part]
        if not rows:
            continue
        lines += [
            f"### {part}",
            "",
            "| set | files | MiB | tool | initial s | initial PSS MiB | no-change s"
            " | no-change PSS MiB | initial / restic | no-change / restic | PSS / restic |",
            "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for f in rows:
            base = next((g for g in rows if g.size == f.size and g.tool == "restic"), None)
            peak = max(filter(None, (f.initial_pss_mib, f.nochange_pss_mib)), default=None)
            base_peak = (
                max(filter(None, (base.initial_pss_mib, base.nochange_pss_mib)), default=None)
                if base
                else None
            )
            lines.append(
                f"| {f.size} | {f.files:,} | {f.x / MIB:,.0f} | {f.tool} | {cell(f.initial_s)}"
                f" | {cell(f.initial_pss_mib)} | {cell(f.nochange_s)} | {cell(f.nochange_pss_mib)}"
                f" | {ratio(f.initial_s, base.initial_s if base else None)}"
                f" | {ratio(f.nochange_s, base.nochange_s if base else None)}"
                f" | {ratio(peak, base_peak)} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(figures: list[Figure], tools: list[str], out: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [f for f in figures if f.part == "growth" and not f.error]
    if not rows:
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("initial_s", "initial backup, s"),
        ("nochange_s", "no-change backup, s"),
        ("initial_pss_mib", "peak memory (initial backup), PSS MiB"),
    )
    for ax, (attr, title) in zip(axes, panels, strict=True):
        for tool in tools:
            pts = sorted((f.x / GIB, getattr(f, attr)) for f in rows if f.tool == tool)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=tool)
        ax.set_xscale("log")
        if attr.endswith("_s"):
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_xlabel("bench set size, GiB (log)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("cairn, restic and borg as the bench set grows (bench/scale.py)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--parts", default="growth,million,real,bigfile")
    p.add_argument("--tools", default="cairn,restic,borg")
    p.add_argument("--sizes", default="0.1,0.3,1,3")
    p.add_argument("--files", type=int, default=1_000_000)
    p.add_argument("--big-gib", default="1,10")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    p.add_argument("--wait-idle", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=7200.0)
    p.add_argument("--json", type=Path)
    p.add_argument("--plot", type=Path, default=HERE / "scale.png")
    p.add_argument("--cairn", default=str(Path(sys.executable).with_name("cairn")))
    p.add_argument("--restic", default="restic")
    p.add_argument("--borg", default=str(HERE / ".venv-borg" / "bin" / "borg"))
    args = p.parse_args(argv)
    args.parts = [x for x in args.parts.split(",") if x]
    args.tools = [x for x in args.tools.split(",") if x]
    args.sizes = [float(x) for x in args.sizes.split(",") if x]
    args.big_gib = [int(x) for x in args.big_gib.split(",") if x]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    exes = compare.executables(argparse.Namespace(**{**vars(args), "tools": args.tools}))
    versions = {name: compare.version_of(exe, name) for name, exe in exes.items()}
    workdir = Path(tempfile.mkdtemp(prefix="cairn-scale-", dir=args.workdir))
    scale = Scale(args, exes, workdir)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        for part in args.parts:
            getattr(scale, part)()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(scale.figures, args.tools)
    print(f"bench/scale.py, {started}; " + "; ".join(f"{k}: {v}" for k, v in versions.items()))
    print()
    print(text)
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in scale.figures], indent=1))
    if "growth" in args.parts:
        plot(scale.figures, args.tools, args.plot)
    return 1 if any(f.error for f in scale.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
