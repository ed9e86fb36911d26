#!/usr/bin/env python3
"""The hypersweep quality suite: hypersweep's searchers against Optuna and Hyperopt.

    run.py suite     [--budget 100] [--seeds 10] [--problems a,b] [--methods a,b] ...
    run.py report    (tables again from results/runs.jsonl, e.g. of a run still going)
    run.py overhead  [--trials 1000] [--dims 40] [--methods hs-tpe,optuna-tpe]
    run.py check     (known optima of the problems; every adapter yields valid configurations)

See README.md beside this file for what the columns mean and how regret is scored.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimizers  # noqa: E402
from problems import Problem, build_problems, overhead_problem  # noqa: E402

HERE = Path(__file__).resolve().parent
REGRET_FLOOR = 1e-12
DEFAULT_METHODS = "hs-tpe,hs-gp,hs-random,optuna-tpe,optuna-gp,hyperopt-tpe,hyperopt-random"


def log_regret(r: float) -> float:
    return math.log10(max(r, REGRET_FLOOR))


def obs_rng(problem: str, seed: int) -> np.random.Generator:
    """The observation noise of a (problem, seed): the same for every method, so trial t of
    every optimiser draws the same table run (common random numbers)."""
    return np.random.default_rng([seed, sum(map(ord, problem)), 20261122])


def score_run(problem: Problem, run: optimizers.Run) -> dict:
    """Regret after each trial of the configuration the optimiser would return then: the best
    one observed so far, scored by its true (noise-free or run-averaged) value."""
    curve = []
    best_obs, best_score = math.inf, math.inf
    for cfg, value, _ in run:
        if value < best_obs:
            best_obs, best_score = value, problem.score(cfg)
        curve.append(best_score - problem.optimum)
    ms = [m for _, _, m in run if math.isfinite(m)]
    best_cfg = min(run, key=lambda r: r[1])[0]
    return {
        "regret": curve[-1],
        "curve": [float(f"{c:.6g}") for c in curve],
        "suggest_ms": statistics.fmean(ms) if ms else float("nan"),
        "suggest_ms_total": sum(ms),
        "best_config": best_cfg,
    }


def load_runs(path: Path) -> list[dict]:
    """The runs in `path` (`runs.jsonl`), or in its gzipped archive beside it when it is absent
    (the results directory keeps only `runs.jsonl.gz` under version control)."""
    if path.exists():
        text = path.read_text()
    elif archive_of(path).exists():
        text = gzip.decompress(archive_of(path).read_bytes()).decode()
    else:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def archive_of(path: Path) -> Path:
    return path.with_name(path.name + ".gz")


def archive_runs(path: Path) -> None:
    """Writes `runs.jsonl.gz` from `runs.jsonl` (deterministically: no name or time in it)."""
    if path.exists():
        archive_of(path).write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def seeds_for(args, problem: Problem, method: str) -> int:
    """Seeds of one (problem, method): `--seeds`, `--tabular-seeds` for the methods in
    `--tabular-methods` on tabular problems, never more than `--gp-seeds` for optuna-gp."""
    n = args.seeds
    if problem.kind == "tabular" and method in args.tabular_methods.split(","):
        n = max(n, args.tabular_seeds or 0)
    return min(n, args.gp_seeds) if method == "optuna-gp" else n


def cmd_suite(args) -> None:
    builders = build_problems()
    problems = args.problems.split(",") if args.problems else list(builders)
    methods = args.methods.split(",")
    for name in problems + methods:
        if name not in builders and name not in optimizers.METHODS:
            sys.exit(f"unknown problem or method `{name}`: problems {list(builders)}, methods {list(optimizers.METHODS)}")
    if any(m.startswith("hs-") for m in methods) and not args.no_build:
        optimizers.build_worker()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_path = out_dir / "runs.jsonl"
    if not args.resume:
        for p in (runs_path, archive_of(runs_path)):
            p.unlink(missing_ok=True)
    kept = load_runs(runs_path)
    if args.redo:
        kept = [r for r in kept if r["method"] not in methods]
    if args.redo or not runs_path.exists():
        runs_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    done = {(r["problem"], r["method"], r["seed"], r["budget"]) for r in kept}
    with runs_path.open("a") as sink:
        for pname in problems:
            problem = builders[pname]()
            print(f"== {pname} (optimum {problem.optimum:.6g}) {problem.note}", file=sys.stderr, flush=True)
            for method in methods:
                n_seeds = seeds_for(args, problem, method)
                failed = False
                for seed in range(n_seeds):
                    if failed or (pname, method, seed, args.budget) in done:
                        continue
                    t0 = time.perf_counter()
                    rec = {"problem": pname, "method": method, "seed": seed, "budget": args.budget}
                    try:
                        run = optimizers.METHODS[method](problem, args.budget, seed, obs_rng(pname, seed))
                        rec.update(score_run(problem, run))
                    except Exception as e:  # reported in the tables, the suite goes on
                        rec["error"] = f"{type(e).__name__}: {e}"
                        traceback.print_exc()
                        failed = True
                    rec["wall_s"] = time.perf_counter() - t0
                    sink.write(json.dumps(rec) + "\n")
                    sink.flush()
                    print(
                        f"  {method:16} seed {seed:2}  log10 regret {log_regret(rec.get('regret', math.inf)):7.2f}"
                        f"  {rec.get('suggest_ms', float('nan')):8.2f} ms/suggest  {rec['wall_s']:6.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    report(out_dir, args)


# --- tables --------------------------------------------------------------------------------


def ranks(values: list[float]) -> list[float]:
    """Ranks 1..n, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def mean_ranks(by_seed: dict[int, dict[str, float]], methods: list[str]) -> dict[str, float]:
    """Mean rank of each of `methods` over the seeds where all of them ran."""
    lists: dict[str, list[float]] = {m: [] for m in methods}
    for scores in by_seed.values():
        if all(m in scores for m in methods):
            for m, rk in zip(methods, ranks([scores[m] for m in methods])):
                lists[m].append(rk)
    return {m: statistics.fmean(v) for m, v in lists.items() if v}


def summarise(runs: list[dict]) -> dict:
    """Per (problem, method): seeds, mean/se/median log10 regret, ms per suggestion, and two
    mean ranks: `rank` among the methods that ran every seed the problem has (over all those
    seeds), `rank_common` among all methods over the seeds that every method ran (differs when
    a slow method ran fewer seeds)."""
    problems = list(dict.fromkeys(r["problem"] for r in runs))
    methods = list(dict.fromkeys(r["method"] for r in runs))
    ok = [r for r in runs if "error" not in r]
    errors = {(r["problem"], r["method"]): r["error"] for r in runs if "error" in r}
    table: dict = {}
    for p in problems:
        by_seed: dict[int, dict[str, float]] = {}
        for r in ok:
            if r["problem"] == p:
                by_seed.setdefault(r["seed"], {})[r["method"]] = log_regret(r["regret"])
        present = [m for m in methods if any(m in sc for sc in by_seed.values())]
        full = [m for m in present if all(m in sc for sc in by_seed.values())]
        rank_full = mean_ranks(by_seed, full)
        rank_common = mean_ranks(by_seed, present)
        n_common = sum(all(m in sc for m in present) for sc in by_seed.values())
        for m in present:
            rs = [r for r in ok if r["problem"] == p and r["method"] == m]
            lr = [log_regret(r["regret"]) for r in rs]
            raw = [r["regret"] for r in rs]
            table[(p, m)] = {
                "regret_mean": statistics.fmean(raw),
                "regret_se": statistics.stdev(raw) / math.sqrt(len(raw)) if len(raw) > 1 else float("nan"),
                # Runs that returned an optimal configuration (log10 regret at the clip).
                "hit_rate": sum(r <= REGRET_FLOOR for r in raw) / len(raw),
                # For the bold-best rule, which marks the lowest value.
                "neg_hit_rate": -sum(r <= REGRET_FLOOR for r in raw) / len(raw),
                "seeds": len(rs),
                "mean": statistics.fmean(lr),
                "se": statistics.stdev(lr) / math.sqrt(len(lr)) if len(lr) > 1 else float("nan"),
                "median": statistics.median(lr),
                "rank": rank_full.get(m),
                "rank_common": rank_common.get(m),
                "common_seeds": n_common,
                "ms": statistics.fmean(r["suggest_ms"] for r in rs),
            }
    cut = any(c["seeds"] < max(d["seeds"] for (q, _), d in table.items() if q == p) for (p, _), c in table.items())
    return {"problems": problems, "methods": methods, "cells": table, "errors": errors, "cut": cut}


def markdown(s: dict, meta: dict) -> str:
    ms = s["methods"]

    def cell_with_best(key, fmt):
        def render(p, m):
            c = s["cells"].get((p, m))
            if not c or c[key] is None:
                return "error" if (p, m) in s["errors"] else "—"
            text = fmt(c)
            best = min(d[key] for (q, _), d in s["cells"].items() if q == p and d[key] is not None)
            return f"**{text}**" if c[key] == best else text

        return render

    def table(title, render, overall=None):
        lines = [f"### {title}", "", "| problem | " + " | ".join(ms) + " |", "|---" * (len(ms) + 1) + "|"]
        for p in s["problems"]:
            lines.append(f"| {p} | " + " | ".join(render(p, m) for m in ms) + " |")
        if overall:
            lines.append(overall)
        return "\n".join(lines) + "\n"

    def overall(key):
        cells = []
        for m in ms:
            rs = [s["cells"][(p, m)][key] for p in s["problems"] if s["cells"].get((p, m), {}).get(key) is not None]
            cells.append(f"{statistics.fmean(rs):.2f} ({len(rs)})" if rs else "—")
        return "| **overall mean rank** (problems) | " + " | ".join(cells) + " |"

    seeds_note = ", ".join(
        f"{m}: {sorted({s['cells'][(p, m)]['seeds'] for p in s['problems'] if (p, m) in s['cells']})}" for m in ms
    )
    parts = [
        "## hypersweep quality suite",
        "",
        f"Budget {meta['budget']} trials per run. Seeds per problem and method: {seeds_note}.",
        f"Command: `{meta['command']}`",
        f"Machine: {meta['machine']}. Generated {meta['date']}.",
        "",
        "Regret = true score of the best configuration observed - best possible score; "
        f"log10 after clipping at {REGRET_FLOOR:g}. Lower is better everywhere; best per row in bold.",
        "",
        table("Mean log10 regret (± standard error)", cell_with_best("mean", lambda c: f"{c['mean']:.2f} ± {c['se']:.2f}")),
        table("Median log10 regret", cell_with_best("median", lambda c: f"{c['median']:.2f}")),
        table(
            "Mean regret in the problem's units (± standard error); on a table, e.g. accuracy points",
            cell_with_best("regret_mean", lambda c: f"{c['regret_mean']:.3g} ± {c['regret_se']:.2g}"),
        ),
        table(
            "Share of runs that found an optimal configuration (regret 0; higher is better)",
            cell_with_best("neg_hit_rate", lambda c: f"{c['hit_rate']:.3f}"),
        ),
        table(
            "Mean rank (1 = best; among the methods that ran every seed, over all seeds)",
            cell_with_best("rank", lambda c: f"{c['rank']:.2f}"),
            overall("rank"),
        ),
    ]
    if s["cut"]:
        parts.append(
            table(
                "Mean rank among all methods, over the seeds every method ran (seeds in brackets)",
                cell_with_best("rank_common", lambda c: f"{c['rank_common']:.2f} [{c['common_seeds']}]"),
                overall("rank_common"),
            )
        )
    parts += [
        table("Time per suggestion (ms, mean over all trials)", cell_with_best("ms", lambda c: f"{c['ms']:.2f}")),
    ]
    if s["errors"]:
        parts.append("Errors:\n")
        parts += [f"- {p} / {m}: {e}" for (p, m), e in s["errors"].items()]
    return "\n".join(parts) + "\n"


def machine() -> str:
    import os

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def report(out_dir: Path, args=None) -> str:
    archive_runs(out_dir / "runs.jsonl")
    runs = load_runs(out_dir / "runs.jsonl")
    if not runs:
        sys.exit(f"no runs in {out_dir / 'runs.jsonl'}")
    s = summarise(runs)
    meta = {
        "budget": sorted({r["budget"] for r in runs}),
        "command": getattr(args, "command", None)
        or " ".join(["benches/quality/.venv/bin/python", "benches/quality/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    md = markdown(s, meta)
    (out_dir / "latest.md").write_text(md)
    summary = {
        "meta": meta,
        "cells": [{"problem": p, "method": m, **c} for (p, m), c in s["cells"].items()],
        "errors": [{"problem": p, "method": m, "error": e} for (p, m), e in s["errors"].items()],
    }
    (out_dir / "latest.json").write_text(json.dumps(summary, indent=1))
    print(md)
    return md


def cmd_report(args) -> None:
    report(Path(args.out_dir), args)


# --- overhead ------------------------------------------------------------------------------


def cmd_overhead(args) -> None:
    methods = args.methods.split(",")
    if any(m.startswith("hs-") for m in methods) and not args.no_build:
        optimizers.build_worker()
    problem = overhead_problem(args.dims)
    rows = []
    for m in methods:
        n = args.gp_trials if m.endswith("-gp") else args.trials
        print(f"overhead: {m}, {n} trials on {args.dims} params", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        run = optimizers.METHODS[m](problem, n, 0, obs_rng(problem.name, 0))
        wall = time.perf_counter() - t0
        ms = [x for _, _, x in run]
        rows.append(
            {
                "method": m,
                "trials": n,
                "total_s": sum(ms) / 1e3,
                "mean_ms": statistics.fmean(ms),
                "last100_ms": statistics.fmean(ms[-100:]),
                "wall_s": wall,
                "best": min(v for _, v, _ in run),
            }
        )
    # Each foreign optimiser is compared with hypersweep's searcher of the same family
    # (optuna-tpe with hs-tpe, optuna-gp with hs-gp) at the same number of trials.
    ours = {(r["method"].split("-", 1)[1], r["trials"]): r for r in rows if r["method"].startswith("hs-")}
    lines = [
        f"### Suggestion overhead: {args.dims} parameters ({problem.name}: floats, ints, categoricals)",
        "",
        f"Machine: {machine()}. Command: `benches/quality/.venv/bin/python benches/quality/run.py {' '.join(sys.argv[1:])}`",
        "",
        "| method | trials | total suggest time (s) | mean ms / suggestion | mean ms, last 100 | best value |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['trials']} | {r['total_s']:.2f} | {r['mean_ms']:.2f} | {r['last100_ms']:.2f} | {r['best']:.3g} |"
        )
    for r in rows:
        base = ours.get((r["method"].split("-", 1)[-1], r["trials"]))
        if base is not None and base is not r:
            lines.append(
                f"\n{r['method']} / {base['method']} total suggest time over {r['trials']} trials: "
                f"**{r['total_s'] / base['total_s']:.1f}x**"
            )
    md = "\n".join(lines) + "\n"
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.md").write_text(md)
    (out / "overhead.json").write_text(json.dumps(rows, indent=1))
    print(md)


def cmd_check(args) -> None:
    """Checks the problem definitions against their known optima, and that each adapter maps
    the spaces faithfully (every configuration it produces holds exactly the active
    parameters, within their domains). Quick; no results written."""
    from problems import ackley, branin, hartmann, mixed_value, rastrigin, rosenbrock, shifted_sphere
    from problems import _H3_A, _H3_P, _H6_A, _H6_P, SPHERE_SHIFT, arch_string, cell_connected, parse_arch

    # The cell helpers against NAS-Bench-201's own notation.
    best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    edge_ops = ["nor_conv_3x3"] * 3 + ["skip_connect", "nor_conv_3x3", "nor_conv_3x3"]
    assert arch_string(4, edge_ops) == best and parse_arch(best, 4, tuple(set(edge_ops))) == edge_ops
    assert not cell_connected(4, ["skip_connect", "none", "skip_connect", "none", "none", "none"])
    assert cell_connected(4, ["skip_connect", "none", "none", "none", "skip_connect", "none"])

    known = [
        (branin([math.pi, 2.275]), 0.397887357729738),
        (hartmann(_H3_A, _H3_P, [0.114614, 0.555649, 0.852547]), -3.86277978733277),
        (hartmann(_H6_A, _H6_P, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]), -3.322368011391339),
        (rosenbrock([1.0] * 5), 0.0),
        (ackley([0.0] * 5), 0.0),
        (rastrigin([0.0] * 4), 0.0),
        (shifted_sphere([SPHERE_SHIFT] * 20), 0.0),
        (mixed_value({"family": "net", "lr": 10**-2.5, "reg": 0.2, "width": 128, "act": "relu"}), 0.0),
    ]
    for got, want in known:
        assert abs(got - want) < 1e-5, (got, want)
    problems = build_problems()
    for name in args.problems.split(","):
        problem = problems[name]()
        by_name = {p.name: p for p in problem.params}
        for method in args.methods.split(","):
            for cfg, value, _ in optimizers.METHODS[method](problem, 12, 0, obs_rng(name, 0)):
                active = [p.name for p in problem.params if problem.is_active(p, cfg)]
                assert sorted(cfg) == sorted(active), (method, cfg)
                for k, v in cfg.items():
                    p = by_name[k]
                    if p.kind == "cell":
                        edge_ops = parse_arch(v, p.nodes, p.choices)  # raises on a malformed string
                        ok = p.run_disconnected or cell_connected(p.nodes, edge_ops) or not method.startswith("hs-")
                    else:
                        ok = v in p.choices if p.kind == "cat" else p.low <= v <= p.high
                    assert ok and (p.kind != "int" or isinstance(v, int)), (method, k, v)
                assert math.isfinite(value) and value >= problem.optimum - 1e-9, (method, cfg, value)
        print(f"check: {name} ok ({len(problem.params)} params)")
    print("check: all problem optima and adapters ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out-dir", default=str(HERE / "results"))
    common.add_argument("--no-build", action="store_true", help="use the already built quality_worker")

    s = sub.add_parser("suite", parents=[common], help="the quality comparison")
    s.add_argument("--budget", type=int, default=100)
    s.add_argument("--seeds", type=int, default=10)
    s.add_argument("--gp-seeds", type=int, default=10, help="cap on seeds for optuna-gp (slow)")
    s.add_argument(
        "--tabular-seeds",
        type=int,
        default=0,
        help="seeds on the tabular problems for --tabular-methods (their means hang on how often a run "
        "finds the table's best row, which takes hundreds of seeds to pin down)",
    )
    s.add_argument("--tabular-methods", default="hs-tpe,optuna-tpe,hs-random,hyperopt-random")
    s.add_argument("--problems", default="", help="comma-separated; default all")
    s.add_argument("--methods", default=DEFAULT_METHODS)
    s.add_argument("--resume", action="store_true", help="keep runs.jsonl and skip runs already in it")
    s.add_argument("--redo", action="store_true", help="with --resume: run the named methods again")
    s.set_defaults(func=cmd_suite)

    r = sub.add_parser("report", parents=[common], help="tables from runs.jsonl")
    r.add_argument("--command", help="the command to name in the tables (when runs.jsonl was made in pieces)")
    r.set_defaults(func=cmd_report)

    o = sub.add_parser("overhead", parents=[common], help="suggestion overhead on a large space")
    o.add_argument("--trials", type=int, default=1000)
    o.add_argument("--gp-trials", type=int, default=200, help="trials for *-gp methods")
    o.add_argument("--dims", type=int, default=40)
    o.add_argument("--methods", default="hs-tpe,optuna-tpe")
    o.set_defaults(func=cmd_overhead)

    c = sub.add_parser("check", parents=[common], help="sanity checks of problems and adapters")
    c.add_argument("--problems", default="mixed,branin,fcnet-naval,nb201-cifar10,nb201-cifar10-cell,nb201-cifar10-cell-skip")
    c.add_argument("--methods", default="hs-random,hs-tpe,hs-evolution,optuna-tpe,hyperopt-tpe,hyperopt-random")
    c.set_defaults(func=cmd_check)

    args = ap.parse_args()
    args.func(args)
    if optimizers._WORKER is not None:
        optimizers._WORKER.close()


if __name__ == "__main__":
    main()
