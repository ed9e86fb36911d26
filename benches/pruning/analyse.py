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
    synthetic = {"curves", "mf-hartmann3", "mf-hartmann6"}
    noisy = run.noise
    run.noise = lambda *_: 0.0  # the problems' curves read it at call time
    try:
        clean = []
        for r in runs:
            if r["problem"] not in synthetic or (only and r["problem"] not in only.split(",")):
                continue
            spent, complete = 0, []
            for steps, pruned, last, params, *_ in r["trials"]:
                spent += steps
                if not pruned and steps == run.E:
                    final = list(problems[r["problem"]].curve(params, r["seed"], 0))[-1]
                    complete.append((spent, final))
            clean.append(dict(r, complete=complete))
    finally:
        run.noise = noisy
    print(run.markdown(*run.summarise(clean)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default=os.path.join(run.HERE, "results", "runs.json"))
    ap.add_argument("--false-prunes", action="store_true")
    ap.add_argument("--problems", help="comma-separated; default: all in the file")
    ap.add_argument("--replay", action="store_true",
                    help="only the replay of the no-pruning sweeps through the pruners")
    ap.add_argument("--noiseless", action="store_true",
                    help="only run.py's table, complete trials judged by noise-free finals")
    ap.add_argument("--pruned-targets", action="store_true",
                    help="only the table of pruned trials' targets against their final values")
    args = ap.parse_args()
    runs = json.load(open(args.runs))
    if not all("trials" in r for r in runs):
        raise SystemExit(f"{args.runs}: runs without a trace; run run.py with --trace")
    problems = run.problems()
    if args.pruned_targets:
        return pruned_targets(runs, problems, args.problems)
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
