"""rustuna's side of the overhead bench: the study benches/throughput.rs runs.

Random sampler (seed 1), in-memory storage, objective x * x + y with x in
[-5, 5] and y log-uniform in [1e-3, 1], n_trials trials in one process.
Prints one line: `rustuna: N trials in S s, cpu C s` (wall clock, and the
process's CPU time, every thread).
"""

import sys
import time

import rustuna
from rustuna import samplers


def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", 1e-3, 1.0, log=True)
    return x * x + y


def main():
    n_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    study = rustuna.create_study(sampler=samplers.RandomSampler(seed=1))
    start = time.perf_counter()
    cpu = time.process_time()
    study.optimize(objective, n_trials=n_trials)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    assert len(study.trials) == n_trials
    print(f"rustuna: {n_trials} trials in {seconds:.3f} s, cpu {cpu:.3f} s", flush=True)


if __name__ == "__main__":
    main()
