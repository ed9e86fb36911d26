#!/usr/bin/env python3
"""Engine overhead, hypersweep against rustuna 0.2, in one invocation.

Runs rustuna's random-search study (rustuna_random.py, in this directory's
.venv) and hypersweep's `cargo bench --bench throughput` one after the other,
alternating, `--repeat` times each, and prints every figure and the medians
side by side. Both run 10,000 trials of x * x + y over the same two-parameter
space with a random sampler in memory; the machine is the same and so is its
load, which is what makes the ratio meaningful on a shared machine.

    python3 benches/overhead/run.py --setup        # creates .venv with rustuna
    python3 benches/overhead/run.py                # both, 3 times each
    python3 benches/overhead/run.py --rows memory  # hypersweep's memory rows only
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV_PYTHON = HERE / ".venv" / "bin" / "python"


def setup():
    if not VENV_PYTHON.exists():
        venv.create(HERE / ".venv", with_pip=True)
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "-r", str(HERE / "requirements.txt")],
        check=True,
    )


def rustuna_seconds(trials):
    out = subprocess.run(
        [str(VENV_PYTHON), str(HERE / "rustuna_random.py"), str(trials)],
        check=True, capture_output=True, text=True,
    ).stdout
    print(out.strip(), flush=True)
    match = re.search(r"in ([0-9.]+) s, cpu ([0-9.]+) s", out)
    if not match:
        sys.exit(f"unexpected rustuna output: {out!r}")
    return float(match.group(1)), float(match.group(2))


def hypersweep_rows(trials, rows):
    env = dict(os.environ, HYPERSWEEP_BENCH_TRIALS=str(trials), HYPERSWEEP_BENCH_REPEAT="1")
    cmd = ["cargo", "bench", "--quiet", "--bench", "throughput", "--", *rows]
    out = subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        if not line.startswith("overhead:"):
            continue
        print(line, flush=True)
        match = re.match(r"overhead: (throughput/[^:]+): \d+ trials in ([0-9.]+) s.*cpu ([0-9.]+) s", line)
        if match:
            found[match.group(1)] = (float(match.group(2)), float(match.group(3)))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="create .venv with rustuna and exit")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", default="throughput", help="comma-separated row filters for the bench")
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    if not VENV_PYTHON.exists():
        sys.exit(f"no {VENV_PYTHON}: run {sys.argv[0]} --setup first")
    # Built before the first timing, so no run pays for the compile.
    subprocess.run(["cargo", "bench", "--quiet", "--bench", "throughput", "--no-run"], cwd=REPO, check=True)

    rustuna, ours = [], {}
    for _ in range(args.repeat):
        rustuna.append(rustuna_seconds(args.trials))
        for row, seconds in hypersweep_rows(args.trials, args.rows.split(",")).items():
            ours.setdefault(row, []).append(seconds)

    peer = statistics.median(r[0] for r in rustuna)
    peer_cpu = statistics.median(r[1] for r in rustuna)
    print(f"\nmedians of {args.repeat} alternating runs, {args.trials} trials each (wall clock; CPU time):")
    print(f"  rustuna 0.2, random, in memory, sequential: {peer:.3f} s; cpu {peer_cpu:.3f} s")
    for row, runs in ours.items():
        mine = statistics.median(r[0] for r in runs)
        mine_cpu = statistics.median(r[1] for r in runs)
        print(
            f"  hypersweep {row}: {mine:.3f} s ({mine / peer:.2f}x rustuna's); "
            f"cpu {mine_cpu:.3f} s ({mine_cpu / peer_cpu:.2f}x)"
        )


if __name__ == "__main__":
    main()
