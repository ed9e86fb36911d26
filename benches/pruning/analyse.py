"""Why a pruner does or does not reach the no-pruning best early: statistics of a traced run.

    benches/pruning/.venv/bin/python benches/pruning/run.py --seeds 10 --trace
    benches/pruning/.venv/bin/python benches/pruning/analyse.py [--false-prunes]

Reads `results/runs.json` (or `--runs FILE`, written with `--trace`) and prints, per problem and method, medians
over seeds of:

- `trials`: trials asked within the budget; `complete`: the share of them run to the end;
- `pruned epochs`: the share of the budget spent on trials that were pruned;
- `hit trial`: the number of the first complete trial as good as the target (the best of the
  same searcher's 60-trial sweep without pruning: `hs-none` for TPE and Optuna, `hs-auto-none`
  for `hs-auto-*`; `run.reference`), `-` when the median seed never reached it;
- `diverges at`: for hypersweep's pruners, the first trial whose parameters differ from those
  the same searcher without pruning was given (same seed, same trial number): until then
  pruning changed no suggestion;
- `GP suggestions` (runs of `method: auto` only): how many of the run's suggestions were the
  GP's, the rest being TPE's;
- with `--false-prunes`: pruned trials, before the hit, whose full curve would have reached the
  target (the curves are deterministic, so they are run to the end here).

With `--pruned-targets`, per problem and hypersweep pruner, how well the value a pruned trial is
fitted to stands for its final value (its curve run to the end), when the trial first enters the
model (the history up to it): `last` is its last value (the GP's `pruned_value: last`), `linear`
the final value predicted by a least-squares line fit on the complete trials before it that
reported its last step (`pruned_value: linear`; its last value with fewer than 5 of them).
Printed, medians over seeds: the mean error of those targets (target minus final value) in
units of the standard deviation of the run's complete final values, and the rank correlation
(Spearman) of every pruned and complete trial's target with its final value.

With `--replay`, a bound for pruning that leaves the suggestions as they are, for any searcher:
each no-pruning sweep's trials (`hs-none`, `hs-auto-none`), in their order and with their
parameters, are run again through the worker with the real ASHA and Hyperband pruners (so the
GP, which changes its suggestions when it sees a pruned trial, is held to the sequence it asked
without pruning); printed, the share of the budget spent when that sweep's best trial completes,
"never" when the pruner stops it (medians over seeds; seeds within 1/3, and on how many seeds
the pruner stopped that best trial).

With `--noiseless` (synthetic problems only), run.py's table again with every complete trial
judged by its noise-free final value (the curve without its noise term) instead of the value
observed: the target is the noise-free value of the best configuration the no-pruning sweep
completed, so that reaching it means finding as good a configuration, not also drawing as
lucky a noise (the noise, sd 0.003 on `curves` and 0.005 on the Hartmann functions, is about
the size of the gaps between the best trials of a converged searcher).

With `--oracle`, per problem and no-pruning sweep (`hs-none`, `hs-auto-none`), what a sweep that
runs the best configuration in every trial, from its first, and spends no epoch on anything
else, needs to reach that sweep's target: the share of the budget when its first final value is
as good (trial k, numbered as the worker numbers trials, draws the same noise as every method's
trial k), the seeds within 1/3, and for the synthetic problems how far the trial holding the target is from
the minimum (noise-free) and how lucky its noise was (in standard deviations; medians over
seeds), and the expected number of seeds within 1/3, sum over seeds of 1 - (1 - p)^20 with p = P(minimum + noise <= target). On the
synthetic problems the noise is added to the value and does not depend on the parameters, so no
method's complete trial is better than the minimum plus its noise, and whether a trial runs to
the end cannot depend on the noise of its last step: in distribution no searcher or pruner does
better than this sweep. On `sgd-logreg` there is no known minimum and the noise (the order of
the minibatches) depends on the parameters: the configuration taken is the one with the lowest
mean final value over `--reps` runs (seeds no sweep uses) among the 40 best complete ones
observed (the target trial's regret and noise are then those of its mean over as many runs),
so the figure is an estimate of what a searcher that has found the best region gets,
not a bound. With `--each` (minutes), each of those 40 configurations in turn is the repeated
one, for the spread of that estimate.

Then, per problem, a bound for pruning that leaves the searcher's sequence of trials as it is:
TPE ranks a pruned trial below every complete one, so only its good set (the best
ceil(0.15 n), at most 25, of the n trials before each suggestion) decides the next suggestion;
pruning the other trials after one epoch leaves every suggestion unchanged. An oracle that
completes exactly the trials some good set up to `hs-none`'s best trial needs, and stops every
other after one epoch, spends `sum` epochs before that best trial completes: the share no pruner
can beat unless pruning changes what the searcher asks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import run


def median_or_none(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def oracle_share(values: list[float], gamma: float = 0.15, cap: int = 25, startup: int = 10):
    """The oracle's share for a no-pruning sweep whose complete values are `values`."""
    target = min(values)
    hit = values.index(target)
    needed = {hit}
    for n in range(startup, hit + 1):
        k = min(max(math.ceil(gamma * n), 1), cap)
        needed |= set(sorted(range(n), key=lambda i: (values[i], i))[:k])
    return sum(run.E if i in needed else 1 for i in range(hit + 1)) / run.BUDGET


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def line_prediction(pairs, x):
    """final_prediction.rs's least-squares line at `x`; None with fewer than 5 pairs."""
    if len(pairs) < 5:
        return None
    xs, ys = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    sxx = float(np.sum((xs - xs.mean()) ** 2))
    if not sxx > 0:
        return None
    slope = float(np.sum((xs - xs.mean()) * (ys - ys.mean()))) / sxx
    return float(ys.mean() + slope * (x - xs.mean()))


def pruned_targets(runs, problems, only):
    rows = {}
    for r in runs:
        if not r["method"].startswith("hs-") or run.hs_parse(r["method"])[1] == "none":
            continue
        if only and r["problem"] not in only.split(","):
            continue
        curve = lambda i: list(problems[r["problem"]].curve(r["trials"][i][3], r["seed"], i))
        curves, finals, last_t, lin_t = {}, [], [], []
        errors = {"last": [], "linear": []}
        for i, (steps, pruned, last, params, *_) in enumerate(r["trials"]):
            if not pruned and steps == run.E:
                curves[i] = curve(i)
                finals.append(last)
                last_t.append(last)
                lin_t.append(last)
            elif pruned:
                final = curve(i)[-1]
                pairs = [(c[steps - 1], c[-1]) for c in curves.values()]
                predicted = line_prediction(pairs, last)
                linear = predicted if predicted is not None else last
                errors["last"].append(last - final)
                errors["linear"].append(linear - final)
                finals.append(final)
                last_t.append(last)
                lin_t.append(linear)
        complete = [c[-1] for c in curves.values()]
        if not errors["last"] or len(complete) < 2:
            continue
        sd = statistics.pstdev(complete) or 1.0
        rows.setdefault((r["problem"], r["method"]), []).append({
            "err_last": statistics.mean(errors["last"]) / sd,
            "err_linear": statistics.mean(errors["linear"]) / sd,
            "rho_last": spearman(last_t, finals),
            "rho_linear": spearman(lin_t, finals),
        })
    print("| problem | method | error, last value (sd of finals) | error, linear | "
          "rank correlation with final, last value | rank correlation, linear |")
    print("|---|---|---|---|---|---|")
    for (pname, m), rs in sorted(rows.items(), key=lambda kv: (kv[0][0],
                                                                 run.method_order(kv[0][1]))):
        med = lambda k: statistics.median(x[k] for x in rs)
        print(f"| {pname} | {m} | {med('err_last'):+.2f} | {med('err_linear'):+.2f} | "
              f"{med('rho_last'):.2f} | {med('rho_linear'):.2f} |")


def replay_share(r, problem, pruner):
    """Epochs share at which `r`'s best trial completes when `r`'s trials are replayed, in
    order, through `pruner` (a hypersweep method name); inf when the pruner stops it."""
    values = [v for _, v in r["complete"]]
    best = values.index(min(values))
    proc, call, space = run.start_worker(problem)
    try:
        call({"op": "init", "space": space, "method": "random", "seed": r["seed"],
              "study": f"{problem.name}-{r['seed']}", "early_terminate": run.hs_pruner(pruner)})
        spent = 0
        for i, (_, _, _, params, *_) in enumerate(r["trials"][:best + 1]):
            call({"op": "ask", "params": params})
            pruned = False
            for t, v in enumerate(problem.curve(params, r["seed"], i), start=1):
                spent += 1
                if call({"op": "report", "step": t, "value": v})["prune"]:
                    pruned = True
                    break
            call({"op": "tell", "value": v, "pruned": pruned})
            if i == best:
                return math.inf if pruned else spent / run.BUDGET
    finally:
        proc.stdin.close()
        proc.wait()


def replay(runs, problems, only):
    fmt = lambda x: "never" if x == math.inf else f"{x:.3f}"
    print("| problem | sweep replayed | its own share | ASHA, same suggestions | "
          "Hyperband, same suggestions |")
    print("|---|---|---|---|---|")
    nones = [r for r in runs if r["method"].startswith("hs-") and run.hs_parse(r["method"])[1]
             == "none" and (not only or r["problem"] in only.split(","))]
    for pname, m in sorted({(r["problem"], r["method"]) for r in nones},
                           key=lambda k: (k[0], run.method_order(k[1]))):
        rs = [r for r in nones if r["problem"] == pname and r["method"] == m]
        own = [run.share_and_regret(r, r)[0] for r in rs]
        cells = [f"{fmt(statistics.median(own))} ({sum(x <= 1 / 3 for x in own)}/{len(own)})"]
        searcher = run.hs_parse(m)[0]
        for pruner in ("asha", "hyperband"):
            name = f"hs-{pruner}" if searcher == "tpe" else f"hs-{searcher}-{pruner}"
            got = [replay_share(r, problems[pname], name) for r in rs]
            cells.append(f"{fmt(statistics.median(got))} ({sum(x <= 1 / 3 for x in got)}/"
                         f"{len(got)}; stopped on {sum(x == math.inf for x in got)})")
        print(f"| {pname} | {m} | " + " | ".join(cells) + " |")


def noiseless(runs, problems, only):
    clean = []
    for r in runs:
        if r["problem"] not in OPTIMUM_STARTS or (only and r["problem"] not in only.split(",")):
            continue
        spent, complete = 0, []
        for steps, pruned, last, params, *_ in r["trials"]:
            spent += steps
            if not pruned and steps == run.E:
                complete.append((spent, noise_free_final(problems[r["problem"]], params)))
        clean.append(dict(r, complete=complete))
    print(run.markdown(*run.summarise(clean)))


# The configurations that minimise the noise-free final value (step E) of the synthetic problems,
# refined from these starts by `best_configuration`: Hartmann's published minimisers (the
# fidelity is 1 at step E) and, for `curves`, its best region (x0 near 0.7, x1 = 0.3, x2 = 0,
# x3 = 0 for the fastest learning).
OPTIMUM_STARTS = {
    "curves": [0.7, 0.3, 0.0, 0.0],
    "mf-hartmann3": [0.114614, 0.555649, 0.852547],
    "mf-hartmann6": [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573],
}


def noise_free_final(problem, params):
    """The final value (step E) of `params`' curve without its noise."""
    noisy = run.noise
    run.noise = lambda *_: 0.0  # the problems' curves read it at call time
    try:
        return list(problem.curve(params, 0, 0))[-1]
    finally:
        run.noise = noisy


def best_configuration(problem):
    """(params, value): a pattern search on the noise-free final value from OPTIMUM_STARTS,
    inside the unit cube, down to steps of 1e-9."""
    names = [n for n, *_ in problem.params]
    final = lambda x: noise_free_final(problem, dict(zip(names, x)))
    x = list(OPTIMUM_STARTS[problem.name])
    fx = final(x)
    step = 0.05
    while step > 1e-9:
        improved = False
        for i in range(len(x)):
            for sign in (1.0, -1.0):
                y = list(x)
                y[i] = min(1.0, max(0.0, y[i] + sign * step))
                fy = final(y)
                if fy < fx:
                    x, fx, improved = y, fy, True
        if not improved:
            step /= 2
    return dict(zip(names, x)), fx


def normal_cdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def best_observed(runs, pname, count):
    """The `count` complete configurations of `pname` with the lowest observed final values,
    over every run, best first."""
    seen = {}
    for r in runs:
        if r["problem"] != pname:
            continue
        for steps, pruned, last, params, *_ in r["trials"]:
            key = tuple(sorted(params.items()))
            if steps == run.E and not pruned and (key not in seen or last < seen[key][0]):
                seen[key] = (last, params)
    return [p for _, p in sorted(seen.values(), key=lambda c: c[0])[:count]]


def repeated_share(problem, params, seed, target):
    """The share spent when a sweep that runs `params` as every trial first completes a trial
    as good as `target`; inf when 60 trials do not."""
    for k in range(run.TRIALS):
        if list(problem.curve(params, seed, k))[-1] <= target:
            return (k + 1) * run.E / run.BUDGET
    return math.inf


def repeated_finals(job):
    """{seed: final values of trials 0..count-1} of a sweep that runs `params` as every trial."""
    pname, params, seeds, count = job
    problem = run.problems()[pname]
    return {s: [list(problem.curve(params, s, k))[-1] for k in range(count)] for s in seeds}


def oracle(runs, problems, only, reps, each):
    """The share of a sweep that runs the best configuration in every trial; see the module's
    docstring."""
    refs = sorted({r["method"] for r in runs if r["method"] in ("hs-none", "hs-auto-none")},
                  key=run.method_order)
    targets = {(r["problem"], r["method"], r["seed"]): min(v for _, v in r["complete"])
               for r in runs if r["method"] in refs}
    fmt = lambda x: "never" if x == math.inf else f"{x:.3f}"
    third = run.TRIALS // 3  # complete trials that fit in 1/3 of the budget
    print("| problem | target: best of | target trial's noise-free regret | its noise (sd) | "
          "best configuration's final value | its share, median over seeds | seeds within 1/3 "
          "| expected seeds within 1/3 |")
    print("|---|---|---|---|---|---|---|---|")
    noisy = []
    for pname in sorted({r["problem"] for r in runs}):
        if only and pname not in only.split(","):
            continue
        problem = problems[pname]
        if pname in OPTIMUM_STARTS:
            best, value = best_configuration(problem)
            sd = problem.noise_sd
            label = f"{value:.5f} (noise-free minimum)"
        else:
            # No known optimum, and the noise (the minibatches' order) depends on the
            # parameters: the configuration with the lowest mean final value over `reps` runs
            # on seeds no sweep uses, among the 40 best observed.
            noisy.append(pname)
            means = [(statistics.mean(list(problem.curve(p, 10_000 + i, 0))[-1]
                                      for i in range(reps)), p)
                     for p in best_observed(runs, pname, 40)]
            value, best = min(means, key=lambda m: m[0])
            sd = None
            label = f"{value:.4f} (mean of {reps} runs)"
        for ref in refs:
            seeds = sorted(s for p, m, s in targets if p == pname and m == ref)
            shares = [repeated_share(problem, best, s, targets[(pname, ref, s)]) for s in seeds]
            within = sum(s <= 1 / 3 for s in shares)
            expected = ""
            if sd is not None:
                hit = [normal_cdf((targets[(pname, ref, s)] - value) / sd) for s in seeds]
                expected = f"{sum(1.0 - (1.0 - p) ** third for p in hit):.1f}"
            # The trial holding the target: how far its configuration is from the best one
            # (noise-free; a mean over `reps` runs on sgd-logreg), and how lucky its draw was, in
            # standard deviations of the noise (of its own `reps` runs on sgd-logreg).
            gaps, draws = [], []
            for r in runs:
                if r["problem"] == pname and r["method"] == ref:
                    _, _, last, params, *_ = min(
                        (t for t in r["trials"] if t[0] == run.E and not t[1]),
                        key=lambda t: t[2])
                    if sd is None:
                        again = [list(problem.curve(params, 10_000 + i, 0))[-1]
                                 for i in range(reps)]
                        centre, spread = statistics.mean(again), statistics.pstdev(again)
                    else:
                        centre = noise_free_final(problem, params)
                        spread = sd
                    gaps.append(centre - value)
                    draws.append((last - centre) / spread)
            regret = f"{statistics.median(gaps):.4f}"
            luck = f"{statistics.median(draws):+.2f}"
            print(f"| {pname} | {ref} | {regret} | {luck} | {label} | "
                  f"{fmt(statistics.median(shares))} | {within}/{len(shares)} | {expected} |")
    if not each:
        return
    # Every one of the 40 best observed configurations in turn as the repeated one: on how many
    # seeds it reaches each target within 1/3 (20 complete trials).
    for pname in noisy:
        problem = problems[pname]
        configs = best_observed(runs, pname, 40)
        counts = {ref: [] for ref in refs}
        seeds = sorted({s for p, _, s in targets if p == pname})
        jobs = [(pname, params, seeds, third) for params in configs]
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            all_finals = list(pool.map(repeated_finals, jobs))
        for finals in all_finals:
            for ref in refs:
                counts[ref].append(sum(min(finals[s]) <= targets[(pname, ref, s)]
                                       for s in seeds if (pname, ref, s) in targets))
        print()
        print(f"{pname}: seeds within 1/3 when one of the {len(configs)} best observed "
              f"configurations runs as every trial (of {len(seeds)})")
        print()
        print("| target: best of | fewest | median | most | configurations within 1/3 on more "
              "than half the seeds |")
        print("|---|---|---|---|---|")
        for ref, c in counts.items():
            print(f"| {ref} | {min(c)} | {statistics.median(c)} | {max(c)} | "
                  f"{sum(2 * x > len(seeds) for x in c)} of {len(c)} |")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default=os.path.join(run.HERE, "results", "runs.json"))
    ap.add_argument("--false-prunes", action="store_true")
    ap.add_argument("--problems", help="comma-separated; default: all in the file")
    ap.add_argument("--replay", action="store_true",
                    help="only the replay of the no-pruning sweeps through the pruners")
    ap.add_argument("--noiseless", action="store_true",
                    help="only run.py's table, complete trials judged by noise-free finals")
    ap.add_argument("--oracle", action="store_true",
                    help="only the table of a sweep that completes the best configuration in "
                         "every trial")
    ap.add_argument("--reps", type=int, default=16,
                    help="--oracle on sgd-logreg: runs per configuration for its mean")
    ap.add_argument("--each", action="store_true",
                    help="--oracle on sgd-logreg: also each of the 40 best observed "
                         "configurations as the repeated one (minutes)")
    ap.add_argument("--pruned-targets", action="store_true",
                    help="only the table of pruned trials' targets against their final values")
    args = ap.parse_args()
    runs = [r for name in args.runs.split(",") for r in json.load(open(name))]
    if not all("trials" in r for r in runs):
        raise SystemExit(f"{args.runs}: runs without a trace; run run.py with --trace")
    problems = run.problems()
    if args.pruned_targets:
        return pruned_targets(runs, problems, args.problems)
    if args.oracle:
        return oracle(runs, problems, args.problems, args.reps, args.each)
    if args.noiseless:
        return noiseless(runs, problems, args.problems)
    if args.replay:
        return replay(runs, problems, args.problems)
    # Each method against its own searcher's no-pruning sweep (run.reference).
    nones = {(r["problem"], r["seed"], r["method"]): r for r in runs
             if r["method"] in {run.reference(x["method"]) for x in runs}}
    rows = {}
    for r in runs:
        ref = nones.get((r["problem"], r["seed"], run.reference(r["method"])))
        if not ref or (args.problems and r["problem"] not in args.problems.split(",")):
            continue
        target = min(v for _, v in ref["complete"])
        unpruned = [t[3] for t in ref["trials"]]
        hs_pruned = r["method"].startswith("hs-") and run.hs_parse(r["method"])[1] != "none"
        trials = r["trials"]
        spent, hit, false_prunes = 0, None, 0
        for i, (steps, pruned, last, params, *_) in enumerate(trials):
            spent += steps
            if not pruned and steps == run.E and last <= target:
                hit = i
                break
            if pruned and args.false_prunes and hs_pruned:
                # The worker's trial number is the trial's index in the trace.
                final = list(problems[r["problem"]].curve(params, r["seed"], i))[-1]
                false_prunes += final <= target
        rows.setdefault((r["problem"], r["method"]), []).append({
            "trials": len(trials),
            "complete": sum(not p and s == run.E for s, p, *_ in trials) / len(trials),
            "pruned_epochs": sum(s for s, p, *_ in trials if p) / run.BUDGET,
            "hit": hit if hit is not None else math.inf,
            "false_prunes": false_prunes,
            "diverges": next((i for i, (t, p) in enumerate(zip(trials, unpruned))
                              if t[3] != p), min(len(trials), len(unpruned))),
            "gp": r["searchers"].count("g") if "searchers" in r else None,
        })
    gp = any(x["gp"] is not None for rs in rows.values() for x in rs)
    print("| problem | method | trials | complete | pruned epochs | hit trial | diverges at |"
          + (" false prunes before the hit |" if args.false_prunes else "")
          + (" GP suggestions |" if gp else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if args.false_prunes else "")
          + ("---|" if gp else ""))
    order = lambda kv: (kv[0][0], run.method_order(kv[0][1]))
    for (pname, m), rs in sorted(rows.items(), key=order):
        hit = statistics.median(x["hit"] for x in rs)
        line = (f"| {pname} | {m} | {statistics.median(x['trials'] for x in rs):.0f} | "
                f"{statistics.median(x['complete'] for x in rs):.2f} | "
                f"{statistics.median(x['pruned_epochs'] for x in rs):.2f} | "
                f"{'-' if hit == math.inf else f'{hit:.0f}'} |")
        hs_pruner = m.startswith("hs-") and run.hs_parse(m)[1] != "none"
        line += f" {statistics.median(x['diverges'] for x in rs):.0f} |" if hs_pruner else " |"
        if args.false_prunes and hs_pruner:
            line += f" {statistics.median(x['false_prunes'] for x in rs):.1f} |"
        elif args.false_prunes:
            line += " |"
        if gp:
            counts = [x["gp"] for x in rs if x["gp"] is not None]
            line += f" {statistics.median(counts):.0f} |" if counts else " |"
        print(line)
    print()
    print("| problem | hs-none's share | oracle bound (same suggestions) |")
    print("|---|---|---|")
    for pname in sorted({p for p, _ in rows}):
        nones = [r for r in runs if r["problem"] == pname and r["method"] == "hs-none"]
        if not nones:
            continue
        shares = [oracle_share([v for _, v in r["complete"]]) for r in nones]
        own = [([v for _, v in r["complete"]].index(min(v for _, v in r["complete"])) + 1)
               * run.E / run.BUDGET for r in nones]
        print(f"| {pname} | {statistics.median(own):.3f} | {statistics.median(shares):.3f} |")


if __name__ == "__main__":
    main()
