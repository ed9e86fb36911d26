#!/usr/bin/env python3
"""TPE from Python on a 40-param objective of trivial cost: hypersweep
against Optuna 5.0 and rustuna 0.2, side by side in one invocation.

Each library runs the same program in a fresh interpreter of this
directory's .venv: ``create_study(sampler=TPESampler(seed=S))`` in memory,
then ``optimize(objective, n_trials=N)`` of a define-by-run objective that
asks for 40 floats ``x0..x39`` in [-10, 10] and returns the sum of
``(x_i - 1)^2`` (a sphere whose minimum, 0, is at all ones). Only
``optimize`` is timed (not the import or the study's creation). The
libraries alternate, ``--repeat`` runs each, so the machine's load falls on
all of them alike; every run's seconds and best value are printed, then the
medians.

    python3 benches/python/tpe40.py --setup      # .venv: Optuna, rustuna, hypersweep (./python)
    benches/python/.venv/bin/python benches/python/tpe40.py            # 1000 trials, 3 runs each
    benches/python/.venv/bin/python benches/python/tpe40.py --libs hypersweep --profile
                                                 # one run under py-spy (a flame graph in /tmp)

``--setup`` builds hypersweep from this checkout (``pip install ./python``),
so rerun it after changing the Rust or Python sources. ``--venv DIR`` runs
another virtual environment's packages (an older hypersweep wheel, to
compare before and after a change under the same load).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV = HERE / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
PEERS = ["optuna==5.0.*", "rustuna==0.2.*", "py-spy"]
LIBS = ("hypersweep", "optuna", "rustuna")

# The program each library runs, with its module name substituted for LIB.
PROGRAM = r"""
import json, sys, time
import LIB as lib
if "LIB" == "optuna":
    lib.logging.set_verbosity(lib.logging.WARNING)
n_trials, dims, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
names = [f"x{i}" for i in range(dims)]

def objective(trial):
    return sum((trial.suggest_float(n, -10.0, 10.0) - 1.0) ** 2 for n in names)

study = lib.create_study(sampler=lib.samplers.TPESampler(seed=seed))
start = time.perf_counter()
study.optimize(objective, n_trials=n_trials)
seconds = time.perf_counter() - start
assert len(study.trials) == n_trials, len(study.trials)
# rustuna's Study has no best_value.
best = min(t.value for t in study.trials if t.value is not None)
print(json.dumps({"seconds": seconds, "best": best}))
"""


def setup() -> None:
    if not VENV_PYTHON.exists():
        venv.create(VENV, with_pip=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip", "maturin"], check=True)
    subprocess.run(pip + PEERS, check=True)
    subprocess.run(pip + ["--force-reinstall", "--no-deps", str(REPO / "python")], check=True)


def run_once(venv_dir: Path, lib: str, trials: int, dims: int, seed: int,
             profile: bool) -> dict:
    program = PROGRAM.replace("LIB", lib)
    cmd = [str(venv_dir / "bin" / "python"), "-c", program, str(trials), str(dims), str(seed)]
    if profile:
        svg = Path("/tmp") / f"tpe40-{lib}.svg"
        cmd = [str(VENV / "bin" / "py-spy"), "record", "--native", "-o", str(svg), "--"] + cmd
        print(f"{lib}: flame graph in {svg}", flush=True)
    # From /tmp: in the repository root, `import hypersweep` could find
    # python/'s sources rather than the installed package.
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd="/tmp").stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true",
                        help="create .venv with Optuna, rustuna and this checkout's hypersweep")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--libs", default=",".join(LIBS))
    parser.add_argument("--profile", action="store_true", help="one run each under py-spy")
    parser.add_argument("--venv", type=Path, default=VENV,
                        help="the virtual environment whose packages run (default: .venv)")
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    args.venv = args.venv.absolute()
    if not (args.venv / "bin" / "python").exists():
        sys.exit(f"no {args.venv / 'bin' / 'python'}: run {sys.argv[0]} --setup first")
    libs = [lib for lib in args.libs.split(",") if lib]
    for lib in libs:
        if lib not in LIBS:
            sys.exit(f"--libs: `{lib}` is not one of {', '.join(LIBS)}")
    repeat = 1 if args.profile else args.repeat
    runs = {lib: [] for lib in libs}
    print(f"{args.trials} trials of TPE, {args.dims} floats, seed {args.seed}, "
          f"{repeat} run(s) each, load average {os.getloadavg()[0]:.1f}", flush=True)
    for i in range(repeat):
        for lib in libs:
            result = run_once(args.venv, lib, args.trials, args.dims, args.seed + i,
                              args.profile)
            runs[lib].append(result)
            print(f"  {lib:<10} run {i + 1}: {result['seconds']:7.2f} s, "
                  f"best {result['best']:.2f}", flush=True)
    print("median seconds (best value):")
    for lib in libs:
        seconds = statistics.median(r["seconds"] for r in runs[lib])
        best = statistics.median(r["best"] for r in runs[lib])
        print(f"  {lib:<10} {seconds:7.2f} s   ({best:.2f})")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
