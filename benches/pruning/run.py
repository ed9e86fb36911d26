"""Learning-curve benchmark: hypersweep's pruners against Optuna's, on the same curves.

Every run is a sequential sweep with TPE under a budget of epochs: 60 trials of `E` epochs
each (the cost of a 60-trial sweep without pruning). A pruner's run asks trials until that
many epochs are spent. For each (problem, seed), the target is the best value of
hypersweep's 60-trial sweep without pruning (`hs-none`); for every method we record

- any-time cost: epochs spent until the sweep first holds a *complete* trial as good as the
  target, as a share of the 60-trial sweep's epochs (inf when it never does);
- final regret at equal epochs: the best complete value at the end of the budget minus the
  target (negative: better than the 60-trial sweep without pruning).

Problems (minimised, steps = epochs, E = 27):
- `curves`: a synthetic family with crossing curves and slow starters: loss(t) = final(x) +
  exp(-t / tau(x)) + noise, where the parameters with the best final value learn slowly;
- `mf-hartmann3`, `mf-hartmann6`: the multi-fidelity Hartmann functions (as BoTorch's
  AugmentedHartmann: alpha - 0.1 (1 - z), fidelity z = t / E);
- `sgd-logreg`: a real training run: logistic regression fit by minibatch SGD with momentum
  and L2 on a generated data set (numpy), validation log-loss per epoch.

Methods: `hs-none`, `hs-asha`, `hs-hyperband` (hypersweep's TPE and pruners through
`pruning_worker`), `optuna-none`, `optuna-sha`, `optuna-hyperband` (Optuna's TPESampler with
SuccessiveHalvingPruner / HyperbandPruner); not run unless named in `--methods`:
`hs-asha-lin`, `hs-hyperband-lin` (hypersweep's TPE with `pruned_rank: linear`, which ranks
pruned trials by a predicted final value). Both sides use min_resource 1, max_resource 27,
eta (reduction factor) 3; `--min-resource` and `--eta` change them on both sides at once.
`--trace` also stores every trial (epochs run, pruned or not, last value, parameters), which
`analyse.py` reads to say where the epochs went.

    benches/pruning/setup.sh
    benches/pruning/.venv/bin/python benches/pruning/run.py --seeds 10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

E = 27
TRIALS = 60
BUDGET = TRIALS * E
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORKER = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")),
                      "release", "examples", "pruning_worker")

# ---------------------------------------------------------------- problems


def noise(seed: int, number: int, t: int, scale: float) -> float:
    rng = np.random.default_rng([seed, number, t])
    return float(rng.normal(0.0, scale))


class Curves:
    name = "curves"
    params = [("x0", 0.0, 1.0, False), ("x1", 0.0, 1.0, False), ("x2", 0.0, 1.0, False),
              ("x3", 0.0, 1.0, False)]

    def curve(self, p, seed, number):
        final = 1.2 * ((p["x0"] - 0.7) ** 2 + (p["x1"] - 0.3) ** 2) + 0.1 * p["x2"]
        # The best region (x0 near 0.7) learns slowly: curves cross.
        tau = 0.5 + 6.0 * p["x0"] + 4.0 * p["x3"]
        for t in range(1, E + 1):
            yield final + math.exp(-t / tau) + noise(seed, number, t, 0.003)


HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
HARTMANN3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547],
                               [381, 5743, 8828]])
HARTMANN6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                        [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
HARTMANN6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                               [2329, 4135, 8307, 3736, 1004, 9991],
                               [2348, 1451, 3522, 2883, 3047, 6650],
                               [4047, 8828, 8732, 5743, 1091, 381]])


class MfHartmann:
    def __init__(self, dims):
        self.name = f"mf-hartmann{dims}"
        self.a, self.p = (HARTMANN3_A, HARTMANN3_P) if dims == 3 else (HARTMANN6_A, HARTMANN6_P)
        self.params = [(f"x{i}", 0.0, 1.0, False) for i in range(dims)]

    def curve(self, p, seed, number):
        x = np.array([p[n] for n, *_ in self.params])
        inner = np.exp(-np.sum(self.a * (x - self.p) ** 2, axis=1))
        for t in range(1, E + 1):
            alpha = HARTMANN_ALPHA - 0.1 * (1.0 - t / E)
            yield float(-np.dot(alpha, inner)) + noise(seed, number, t, 0.005)


class SgdLogReg:
    name = "sgd-logreg"
    params = [("lr", 1e-4, 3.0, True), ("l2", 1e-6, 1e-1, True), ("batch", 8.0, 512.0, True),
              ("momentum", 0.0, 0.99, False)]

    def __init__(self):
        rng = np.random.default_rng(0)
        n, d = 2000, 20
        x = rng.normal(size=(n, d))
        w = rng.normal(size=d) * (rng.random(d) < 0.5)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ w + 0.5 * rng.normal(size=n))))).astype(float)
        self.xt, self.yt, self.xv, self.yv = x[:1500], y[:1500], x[1500:], y[1500:]

    def curve(self, p, seed, number):
        rng = np.random.default_rng([seed, number])
        d = self.xt.shape[1]
        w, b, vw, vb = np.zeros(d), 0.0, np.zeros(d), 0.0
        lr, l2, mom = p["lr"], p["l2"], p["momentum"]
        batch = int(round(p["batch"]))
        n = len(self.yt)
        for _ in range(E):
            order = rng.permutation(n)
            for s in range(0, n, batch):
                i = order[s:s + batch]
                z = np.clip(self.xt[i] @ w + b, -30, 30)
                g = 1.0 / (1.0 + np.exp(-z)) - self.yt[i]
                gw = self.xt[i].T @ g / len(i) + l2 * w
                gb = float(g.mean())
                vw = mom * vw - lr * gw
                vb = mom * vb - lr * gb
                w, b = w + vw, b + vb
            z = np.clip(self.xv @ w + b, -30, 30)
            q = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-12, 1 - 1e-12)
            loss = float(-np.mean(self.yv * np.log(q) + (1 - self.yv) * np.log(1 - q)))
            yield loss if math.isfinite(loss) else 30.0


def problems():
    return {p.name: p for p in [Curves(), MfHartmann(3), MfHartmann(6), SgdLogReg()]}


# ---------------------------------------------------------------- methods

# The pruners' settings, the same on both sides (`--min-resource`, `--eta` change both).
MIN_RESOURCE = int(os.environ.get("PRUNING_MIN_RESOURCE", "1"))
ETA = int(os.environ.get("PRUNING_ETA", "3"))


# hypersweep variants: `<method>-<rule>` is `<method>` with TPE's `pruned_rank: <rule>`
# (pruned trials ranked by a predicted final value, `hs-asha-lin`, `hs-hyperband-lin`).
HS_RANKS = {"lin": "linear"}


def hs_split(method):
    """(base method, TPE options) of a hypersweep method name."""
    base, _, rule = method.rpartition("-")
    if rule in HS_RANKS:
        return base, {"pruned_rank": HS_RANKS[rule]}
    return method, {}


def hs_pruner(method):
    method = hs_split(method)[0]
    return {
        "hs-none": None,
        "hs-asha": {"type": "asha", "min_resource": MIN_RESOURCE, "max_resource": E, "eta": ETA},
        "hs-hyperband": {"type": "hyperband", "min_resource": MIN_RESOURCE, "max_resource": E,
                         "eta": ETA},
    }[method]


METHODS = ["hs-none", "hs-asha", "hs-hyperband", "optuna-none", "optuna-sha", "optuna-hyperband"]
VARIANTS = [f"hs-{m}-{r}" for m in ("asha", "hyperband") for r in HS_RANKS]


def sweep(ask, report, tell, curve, trace=None):
    """Runs trials until BUDGET epochs are spent; returns (epochs, value) of complete trials.

    With `trace` (a list), appends one `[epochs run, pruned, last value, params]` per trial."""
    spent, complete = 0, []
    while spent < BUDGET:
        handle, params = ask()
        last, pruned, steps = None, False, 0
        for t, value in enumerate(curve(params, handle), start=1):
            spent += 1
            steps = t
            last = value
            if report(handle, t, value):
                pruned = True
                break
            if spent >= BUDGET:
                break
        if trace is not None:
            trace.append([steps, pruned, last, params])
        if pruned:
            tell(handle, last, True)
        elif steps == E:
            tell(handle, last, False)
            complete.append((spent, last))
        else:
            break  # the budget ran out mid-trial
    return complete


def run_hs(method, problem, seed, trace=None):
    proc = subprocess.Popen([WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(msg):
        proc.stdin.write(json.dumps(msg) + "\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    space = {"params": [{"name": n, "domain": {"type": "float", "low": lo, "high": hi, "log": log}}
                        for n, lo, hi, log in problem.params]}
    call({"op": "init", "space": space, "method": "tpe", "seed": seed,
          "study": f"{problem.name}-{seed}", "early_terminate": hs_pruner(method),
          "tpe": hs_split(method)[1]})

    def ask():
        a = call({"op": "ask"})
        return a["number"], a["params"]

    try:
        return sweep(ask,
                     lambda n, t, v: call({"op": "report", "step": t, "value": v})["prune"],
                     lambda n, v, pruned: call({"op": "tell", "value": v, "pruned": pruned}),
                     lambda params, n: problem.curve(params, seed, n), trace)
    finally:
        proc.stdin.close()
        proc.wait()


def run_optuna(method, problem, seed, trace=None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = {
        "optuna-none": optuna.pruners.NopPruner(),
        "optuna-sha": optuna.pruners.SuccessiveHalvingPruner(min_resource=MIN_RESOURCE,
                                                             reduction_factor=ETA),
        "optuna-hyperband": optuna.pruners.HyperbandPruner(min_resource=MIN_RESOURCE,
                                                           max_resource=E, reduction_factor=ETA),
    }[method]
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner,
                                study_name=f"{problem.name}-{seed}")

    def ask():
        trial = study.ask()
        params = {n: trial.suggest_float(n, lo, hi, log=log) for n, lo, hi, log in problem.params}
        return trial, params

    def report(trial, t, v):
        trial.report(v, t)
        return trial.should_prune()

    def tell(trial, v, pruned):
        state = optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE
        study.tell(trial, v if not pruned else None, state=state)

    return sweep(ask, report, tell, lambda params, trial: problem.curve(params, seed, trial.number),
                 trace)


def one(job):
    method, pname, seed, traced = job
    problem = problems()[pname]
    start = time.time()
    runner = run_hs if method.startswith("hs-") else run_optuna
    trace = [] if traced else None
    complete = runner(method, problem, seed, trace)
    run = {"method": method, "problem": pname, "seed": seed, "complete": complete,
           "seconds": time.time() - start}
    if traced:
        run["trials"] = trace
    return run


# ---------------------------------------------------------------- report


def summarise(runs):
    by = {(r["problem"], r["seed"], r["method"]): r for r in runs}
    names = sorted({r["problem"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    methods = [m for m in METHODS + VARIANTS if any(r["method"] == m for r in runs)]
    table = {}
    for pname in names:
        for m in methods:
            shares, regrets, hits = [], [], 0
            for s in seeds:
                ref, run = by.get((pname, s, "hs-none")), by.get((pname, s, m))
                if not ref or not run or not ref["complete"] or not run["complete"]:
                    continue
                target = min(v for _, v in ref["complete"])
                reached = [e for e, v in run["complete"] if v <= target]
                share = reached[0] / BUDGET if reached else math.inf
                hits += share <= 1 / 3
                shares.append(share)
                regrets.append(min(v for _, v in run["complete"]) - target)
            if shares:
                table[(pname, m)] = {
                    "median_share": statistics.median(shares),
                    "within_third": hits,
                    "seeds": len(shares),
                    "median_regret": statistics.median(regrets),
                }
    return names, methods, table


def markdown(names, methods, table):
    fmt = lambda x: "never" if x == math.inf else f"{x:.3f}"
    lines = ["| problem | method | median share of epochs to reach the no-pruning best | "
             "seeds within 1/3 | median final regret vs no-pruning best |",
             "|---|---|---|---|---|"]
    for pname in names:
        for m in methods:
            row = table.get((pname, m))
            if row:
                lines.append(f"| {pname} | {m} | {fmt(row['median_share'])} | "
                             f"{row['within_third']}/{row['seeds']} | {row['median_regret']:+.4f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--problems", default=",".join(problems()))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--min-resource", type=int, default=MIN_RESOURCE,
                    help="first rung of ASHA and of Hyperband's first bracket (both sides)")
    ap.add_argument("--eta", type=int, default=ETA, help="reduction factor (both sides)")
    ap.add_argument("--trace", action="store_true",
                    help="store each trial's [epochs run, pruned, last value, params]")
    args = ap.parse_args()
    # Also through the environment, so that pool workers that re-import see them.
    globals().update(MIN_RESOURCE=args.min_resource, ETA=args.eta)
    os.environ["PRUNING_MIN_RESOURCE"] = str(args.min_resource)
    os.environ["PRUNING_ETA"] = str(args.eta)
    if not os.path.exists(WORKER):
        subprocess.run(["cargo", "build", "--release", "--example", "pruning_worker"],
                       cwd=REPO, check=True)
    jobs = [(m, p, s, args.trace) for p in args.problems.split(",") for s in range(args.seeds)
            for m in args.methods.split(",")]
    runs = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(one, jobs):
            runs.append(r)
            print(f"{r['problem']:>13} seed {r['seed']:>2} {r['method']:>16}: "
                  f"{len(r['complete'])} complete, {r['seconds']:.1f}s", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "runs.json"), "w") as f:
        json.dump(runs, f)
    text = markdown(*summarise(runs))
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
