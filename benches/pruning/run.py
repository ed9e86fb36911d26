"""Learning-curve benchmark: hypersweep's pruners against Optuna's, on the same curves.

Every run is a sequential sweep with TPE under a budget of epochs: 60 trials of `E` epochs
each (the cost of a 60-trial sweep without pruning). A pruner's run asks trials until that
many epochs are spent. For each (problem, seed), the target is the best value of
hypersweep's 60-trial sweep without pruning with the same searcher (`hs-none` for TPE and for
Optuna's methods, `hs-auto-none` for `hs-auto-*`); for every method we record

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
  and L2 on a generated data set (numpy), validation log-loss per epoch. Each trial shuffles
  the minibatches with its own seed, so its final value carries that draw's luck;
- `sgd-logreg-one-order` (run only when named in `--problems`): the same, with one order of
  the minibatches per sweep (as when the training script fixes its seed), so that a
  configuration's curve does not depend on the trial that runs it.

Methods: `hs-none`, `hs-asha`, `hs-hyperband` (hypersweep's TPE and pruners through
`pruning_worker`), `optuna-none`, `optuna-sha`, `optuna-hyperband` (Optuna's TPESampler with
SuccessiveHalvingPruner / HyperbandPruner); not run unless named in `--methods`:
`hs-asha-lin`, `hs-hyperband-lin` (hypersweep's TPE with `pruned_rank: linear`, which ranks
pruned trials by a predicted final value), and the same pruners behind another searcher, named
`hs-<searcher>-<pruner>`: `hs-auto-none`, `hs-auto-asha`, `hs-auto-hyperband` (`method: auto`,
the default: the GP while affordable, then TPE; the worker records no durations, so `auto`
switches at about 200 trials) and `hs-gp-...` (the GP throughout, as `auto` does for long
trials; slow here past a few hundred trials, seconds per suggestion); a further `-<rule>` suffix
sets an option of the searcher (`-lin`: TPE's `pruned_rank: linear`; `-gplin`: the GP's
`pruned_value: linear`, which fits a pruned trial to a predicted final value, e.g.
`hs-auto-asha-gplin`; `-uni`: TPE's `multivariate: false`). A pruner is judged against the same searcher without pruning: the
target of `hs-auto-asha` is the best of `hs-auto-none`; when another searcher than TPE is in
the run, the table also gives the share against `hs-none`'s target (TPE without pruning), what
a user gains by switching on the defaults. Both sides use min_resource 1, max_resource 27,
eta (reduction factor) 3; `--min-resource` and `--eta` change them on both sides at once.
`--trace` also stores every trial (epochs run, pruned or not, last value, parameters), which
`analyse.py` reads to say where the epochs went.

    benches/pruning/setup.sh
    benches/pruning/.venv/bin/python benches/pruning/run.py --seeds 10

`--summarise FILE,...` prints the table of stored runs (e.g. seeds 0-9 and, from a run with
`--first-seed 10`, seeds 10-29) without running anything.

`--reuse FILE` takes the runs of methods not named in `--methods` (same problems and seeds) from
an earlier `--trace` file instead of running them again (the runs are deterministic), so that
new methods are compared with recorded ones; `--runs-name` names the file written (default
`runs.json`), which then holds the reused runs too, marked `"reused"`.
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
    noise_sd = 0.003  # of every reported value
    params = [("x0", 0.0, 1.0, False), ("x1", 0.0, 1.0, False), ("x2", 0.0, 1.0, False),
              ("x3", 0.0, 1.0, False)]

    def curve(self, p, seed, number):
        final = 1.2 * ((p["x0"] - 0.7) ** 2 + (p["x1"] - 0.3) ** 2) + 0.1 * p["x2"]
        # The best region (x0 near 0.7) learns slowly: curves cross.
        tau = 0.5 + 6.0 * p["x0"] + 4.0 * p["x3"]
        for t in range(1, E + 1):
            yield final + math.exp(-t / tau) + noise(seed, number, t, self.noise_sd)


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
    noise_sd = 0.005  # of every reported value

    def __init__(self, dims):
        self.name = f"mf-hartmann{dims}"
        self.a, self.p = (HARTMANN3_A, HARTMANN3_P) if dims == 3 else (HARTMANN6_A, HARTMANN6_P)
        self.params = [(f"x{i}", 0.0, 1.0, False) for i in range(dims)]

    def curve(self, p, seed, number):
        x = np.array([p[n] for n, *_ in self.params])
        inner = np.exp(-np.sum(self.a * (x - self.p) ** 2, axis=1))
        for t in range(1, E + 1):
            alpha = HARTMANN_ALPHA - 0.1 * (1.0 - t / E)
            yield float(-np.dot(alpha, inner)) + noise(seed, number, t, self.noise_sd)


class SgdLogReg:
    name = "sgd-logreg"
    params = [("lr", 1e-4, 3.0, True), ("l2", 1e-6, 1e-1, True), ("batch", 8.0, 512.0, True),
              ("momentum", 0.0, 0.99, False)]

    def __init__(self, one_order=False):
        # `one_order`: every trial of a sweep sees the minibatches in the same order (the sweep
        # seed's), as when a training script fixes its seed; otherwise each trial draws its own.
        self.one_order = one_order
        if one_order:
            self.name = "sgd-logreg-one-order"
        rng = np.random.default_rng(0)
        n, d = 2000, 20
        x = rng.normal(size=(n, d))
        w = rng.normal(size=d) * (rng.random(d) < 0.5)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ w + 0.5 * rng.normal(size=n))))).astype(float)
        self.xt, self.yt, self.xv, self.yv = x[:1500], y[:1500], x[1500:], y[1500:]

    def curve(self, p, seed, number):
        rng = np.random.default_rng([seed] if self.one_order else [seed, number])
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
    return {p.name: p for p in [Curves(), MfHartmann(3), MfHartmann(6), SgdLogReg(),
                                SgdLogReg(one_order=True)]}


# The problems run unless `--problems` names others (`sgd-logreg-one-order` only when named).
DEFAULT_PROBLEMS = ["curves", "mf-hartmann3", "mf-hartmann6", "sgd-logreg"]


# ---------------------------------------------------------------- methods

# The pruners' settings, the same on both sides (`--min-resource`, `--eta` change both).
MIN_RESOURCE = int(os.environ.get("PRUNING_MIN_RESOURCE", "1"))
ETA = int(os.environ.get("PRUNING_ETA", "3"))


# hypersweep methods: `hs-[<searcher>-]<pruner>[-<rule>]`. No searcher means TPE (the names
# of the first runs); a rule sets an option of the searcher: `lin` is TPE's
# `pruned_rank: linear` (pruned trials ranked by a predicted final value), `gplin` the GP's
# `pruned_value: linear` (pruned trials fitted to a predicted final value), `uni` TPE's
# `multivariate: false`.
HS_SEARCHERS = ("auto", "gp")
HS_PRUNERS = ("none", "asha", "hyperband")
HS_RULES = {"lin": {"tpe": {"pruned_rank": "linear"}}, "gplin": {"gp": {"pruned_value": "linear"}},
            "uni": {"tpe": {"multivariate": False}}}


def hs_parse(method):
    """(searcher, pruner, searcher options) of a hypersweep method name."""
    parts = method.split("-")
    if parts[0] != "hs" or len(parts) < 2:
        raise ValueError(f"{method}: not a hypersweep method (hs-[searcher-]pruner[-rule])")
    parts = parts[1:]
    searcher = parts.pop(0) if parts[0] in HS_SEARCHERS else "tpe"
    if not parts or parts[0] not in HS_PRUNERS:
        raise ValueError(f"{method}: expected a pruner among {', '.join(HS_PRUNERS)}")
    pruner = parts.pop(0)
    options = {}
    for rule in parts:
        if rule not in HS_RULES:
            raise ValueError(f"{method}: unknown rule {rule!r}; known: {', '.join(HS_RULES)}")
        for block, opts in HS_RULES[rule].items():
            options.setdefault(block, {}).update(opts)
    return searcher, pruner, options


def hs_pruner(method):
    return {
        "none": None,
        "asha": {"type": "asha", "min_resource": MIN_RESOURCE, "max_resource": E, "eta": ETA},
        "hyperband": {"type": "hyperband", "min_resource": MIN_RESOURCE, "max_resource": E,
                      "eta": ETA},
    }[hs_parse(method)[1]]


def reference(method):
    """The no-pruning method whose best is `method`'s target: the same searcher's."""
    if not method.startswith("hs-"):
        return "hs-none"
    searcher = hs_parse(method)[0]
    return "hs-none" if searcher == "tpe" else f"hs-{searcher}-none"


METHODS = ["hs-none", "hs-asha", "hs-hyperband", "optuna-none", "optuna-sha", "optuna-hyperband"]
VARIANTS = [f"hs-{m}-lin" for m in ("asha", "hyperband")] + [
    f"hs-{s}-{p}{r}" for s in HS_SEARCHERS for p in HS_PRUNERS for r in ("", "-gplin")
    if p != "none" or not r]


def method_order(method):
    """Sort key: the known methods in their order, then any other (rules on other searchers)."""
    known = METHODS + VARIANTS
    if method in known:
        return (known.index(method), method)
    base = "-".join(method.split("-")[:3 if hs_parse(method)[0] != "tpe" else 2])
    return (known.index(base) if base in known else len(known), method)


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


def start_worker(problem):
    """A `pruning_worker` process, a function that sends it one request and returns its
    answer (raising its error), and `problem`'s search space as the worker takes it."""
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
    return proc, call, space


def run_hs(method, problem, seed, trace=None, searchers=None):
    proc, call, space = start_worker(problem)
    searcher, _, options = hs_parse(method)
    call({"op": "init", "space": space, "method": searcher, "seed": seed,
          "study": f"{problem.name}-{seed}", "early_terminate": hs_pruner(method), **options})

    def ask():
        a = call({"op": "ask"})
        if searchers is not None and "searcher" in a:
            searchers.append(a["searcher"])
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
    trace = [] if traced else None
    searchers = []
    if method.startswith("hs-"):
        complete = run_hs(method, problem, seed, trace, searchers)
    else:
        complete = run_optuna(method, problem, seed, trace)
    run = {"method": method, "problem": pname, "seed": seed, "complete": complete,
           "seconds": time.time() - start}
    if searchers:
        # `method: auto`: which searcher made each suggestion, "g" (GP) or "t" (TPE).
        run["searchers"] = "".join(x[0] for x in searchers)
    if traced:
        run["trials"] = trace
    return run


# ---------------------------------------------------------------- report


def share_and_regret(ref, run):
    """(share of the budget to reach `ref`'s best, final regret) of `run`, or None."""
    if not ref or not run or not ref["complete"] or not run["complete"]:
        return None
    target = min(v for _, v in ref["complete"])
    reached = [e for e, v in run["complete"] if v <= target]
    share = reached[0] / BUDGET if reached else math.inf
    return share, min(v for _, v in run["complete"]) - target


def summarise(runs):
    """Per (problem, method): medians against the method's own no-pruning target and, for
    searchers other than TPE, against TPE's (`hs-none`)."""
    by = {(r["problem"], r["seed"], r["method"]): r for r in runs}
    names = sorted({r["problem"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    methods = sorted({r["method"] for r in runs}, key=method_order)
    table = {}
    for pname in names:
        for m in methods:
            row = {}
            for col, ref_method in (("own", reference(m)), ("tpe", "hs-none")):
                got = [share_and_regret(by.get((pname, s, ref_method)), by.get((pname, s, m)))
                       for s in seeds]
                got = [g for g in got if g]
                if got:
                    row[col] = {
                        "median_share": statistics.median(g[0] for g in got),
                        "within_third": sum(g[0] <= 1 / 3 for g in got),
                        "seeds": len(got),
                        "median_regret": statistics.median(g[1] for g in got),
                    }
            if "own" in row:
                table[(pname, m)] = row
    return names, methods, table


def markdown(names, methods, table):
    fmt = lambda x: "never" if x == math.inf else f"{x:.3f}"
    other = any(reference(m) != "hs-none" for m in methods)
    head = ("| problem | method | median share of epochs to reach the no-pruning best | "
            "seeds within 1/3 | median final regret vs no-pruning best |")
    rule = "|---|---|---|---|---|"
    if other:
        head = ("| problem | method | target | median share of epochs to reach the target | "
                "seeds within 1/3 | median final regret | share to reach TPE's no-pruning best "
                "(hs-none) | seeds within 1/3 | median final regret vs hs-none |")
        rule = "|---|---|---|---|---|---|---|---|---|"
    lines = [head, rule]
    for pname in names:
        for m in methods:
            row = table.get((pname, m))
            if not row:
                continue
            own = row["own"]
            cells = [pname, m]
            if other:
                cells.append(f"{reference(m)}'s best")
            cells += [fmt(own["median_share"]), f"{own['within_third']}/{own['seeds']}",
                      f"{own['median_regret']:+.4f}"]
            if other:
                tpe = row.get("tpe")
                cells += ([fmt(tpe["median_share"]), f"{tpe['within_third']}/{tpe['seeds']}",
                           f"{tpe['median_regret']:+.4f}"] if tpe else ["", "", ""])
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="run seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--summarise", metavar="FILE[,FILE...]",
                    help="run nothing: print the table of runs stored in these files "
                         "(e.g. two seed ranges of the same methods)")
    ap.add_argument("--problems", default=",".join(DEFAULT_PROBLEMS),
                    help=f"comma-separated, among {', '.join(problems())}")
    ap.add_argument("--methods", help=f"default: {','.join(METHODS)}; with --summarise, "
                    "the stored methods to show (default: all)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--min-resource", type=int, default=MIN_RESOURCE,
                    help="first rung of ASHA and of Hyperband's first bracket (both sides)")
    ap.add_argument("--eta", type=int, default=ETA, help="reduction factor (both sides)")
    ap.add_argument("--trace", action="store_true",
                    help="store each trial's [epochs run, pruned, last value, params]")
    ap.add_argument("--reuse", help="an earlier runs file: take the runs of methods not in "
                    "--methods from it (same problems and seeds) instead of running them")
    ap.add_argument("--runs-name", default="runs.json",
                    help="file name of the runs written under --out")
    args = ap.parse_args()
    if args.summarise:
        runs = [r for f in args.summarise.split(",") for r in json.load(open(f))]
        if args.methods:
            runs = [r for r in runs if r["method"] in args.methods.split(",")]
        seen = set()
        for r in runs:
            key = (r["problem"], r["seed"], r["method"])
            if key in seen:
                raise SystemExit(f"{args.summarise}: {key} is stored twice")
            seen.add(key)
        print(markdown(*summarise(runs)))
        return
    methods = (args.methods or ",".join(METHODS)).split(",")
    for m in methods:
        if m.startswith("hs-"):
            try:
                hs_parse(m)
            except ValueError as e:
                ap.error(str(e))
        elif m not in METHODS:
            ap.error(f"{m}: unknown method")
    # Also through the environment, so that pool workers that re-import see them.
    globals().update(MIN_RESOURCE=args.min_resource, ETA=args.eta)
    os.environ["PRUNING_MIN_RESOURCE"] = str(args.min_resource)
    os.environ["PRUNING_ETA"] = str(args.eta)
    if not os.path.exists(WORKER):
        subprocess.run(["cargo", "build", "--release", "--example", "pruning_worker"],
                       cwd=REPO, check=True)
    names = args.problems.split(",")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(m, p, s, args.trace) for p in names for s in seeds for m in methods]
    reused = []
    if args.reuse:
        reused = [dict(r, reused=r.get("reused", os.path.basename(args.reuse))) for r in json.load(open(args.reuse))
                  if r["method"] not in methods and r["problem"] in names
                  and r["seed"] in seeds and (not args.trace or "trials" in r)]
    # The targets: each method's own no-pruning sweep, and TPE's for the second column.
    needed = {reference(m) for m in methods}
    if any(reference(m) != "hs-none" for m in methods):
        needed.add("hs-none")
    missing = needed - set(methods) - {r["method"] for r in reused}
    if missing:
        ap.error(f"no runs of {', '.join(sorted(missing))}, the targets of the methods asked: "
                 "add them to --methods" + (f" (not in {args.reuse})" if args.reuse else
                                              " or take them from an earlier run with --reuse"))
    runs = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(one, jobs):
            runs.append(r)
            print(f"{r['problem']:>13} seed {r['seed']:>2} {r['method']:>16}: "
                  f"{len(r['complete'])} complete, {r['seconds']:.1f}s", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    runs += reused
    with open(os.path.join(args.out, args.runs_name), "w") as f:
        json.dump(runs, f)
    text = markdown(*summarise(runs))
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
