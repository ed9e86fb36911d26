"""The optimisers under comparison, each behind one function:

    run(problem, budget, seed, obs_rng) -> list of (config, observed value, suggest ms)

Suggestion time is measured around each optimiser's own suggestion call only, never the
objective: hypersweep's `Searcher::suggest` (timed inside the Rust worker), Optuna's
`study.ask()` plus the `trial.suggest_*` calls that sample the configuration, and Hyperopt's
`algo(...)` call inside `fmin`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from problems import Param, Problem, arch_string, cell_edges

REPO = Path(__file__).resolve().parents[2]

Run = list[tuple[dict[str, Any], float, float]]


# --- hypersweep, through the Rust worker -----------------------------------------------------


def worker_path() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "release" / "examples" / "quality_worker"


def build_worker() -> None:
    subprocess.run(
        ["cargo", "build", "--release", "--example", "quality_worker"], cwd=REPO, check=True
    )


class Worker:
    """One long-lived `quality_worker` process; each run starts a fresh study in it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(worker_path())], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"quality_worker exited with {self.proc.wait()}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


_WORKER: Worker | None = None


def worker() -> Worker:
    global _WORKER
    if _WORKER is None:
        _WORKER = Worker()
    return _WORKER


def hypersweep(method: str, options: dict[str, Any] | None = None):
    def run(problem: Problem, budget: int, seed: int, obs_rng: np.random.Generator) -> Run:
        w = worker()
        w.call(
            {
                "op": "init",
                "space": problem.space_json(),
                "method": method,
                "options": options or {},
                "seed": seed,
                "direction": "minimize",
            }
        )
        out = []
        for _ in range(budget):
            answer = w.call({"op": "ask"})
            cfg = answer["params"]
            value = problem.observe(cfg, obs_rng)
            w.call({"op": "tell", "value": value if math.isfinite(value) else None})
            out.append((cfg, value, answer["suggest_ms"]))
        return out

    return run


# --- Optuna --------------------------------------------------------------------------------


def _optuna_sample(trial, problem: Problem) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for p in problem.params:
        if not problem.is_active(p, cfg):
            continue
        if p.kind == "float":
            cfg[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif p.kind == "int":
            cfg[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        elif p.kind == "cell":
            # As a cell is written for Optuna: one categorical per edge, joined into the
            # architecture string. Optuna has no notion of a disconnected cell, so it searches
            # them all.
            edge_ops = [trial.suggest_categorical(f"{p.name}_{j}_{i}", list(p.choices)) for i, j in cell_edges(p.nodes)]
            cfg[p.name] = arch_string(p.nodes, edge_ops)
        else:
            cfg[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return cfg


def optuna_sampler(make_sampler: Callable[[int], Any]):
    def run(problem: Problem, budget: int, seed: int, obs_rng: np.random.Generator) -> Run:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(sampler=make_sampler(seed), direction="minimize")
        out = []
        for _ in range(budget):
            t0 = time.perf_counter()
            trial = study.ask()
            cfg = _optuna_sample(trial, problem)
            ms = (time.perf_counter() - t0) * 1e3
            value = problem.observe(cfg, obs_rng)
            study.tell(trial, value)
            out.append((cfg, value, ms))
        return out

    return run


def optuna_tpe(seed: int):
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def optuna_gp(seed: int):
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def rustuna_tpe():
    """rustuna 0.2 (the Optuna team's Rust port; Optuna's ask/tell API) with its TPESampler."""

    def run(problem: Problem, budget: int, seed: int, obs_rng: np.random.Generator) -> Run:
        import rustuna
        from rustuna import samplers

        study = rustuna.create_study(sampler=samplers.TPESampler(seed=seed), direction="minimize")
        out = []
        for _ in range(budget):
            t0 = time.perf_counter()
            trial = study.ask()
            cfg = _optuna_sample(trial, problem)
            ms = (time.perf_counter() - t0) * 1e3
            value = problem.observe(cfg, obs_rng)
            study.tell(trial.number, value)
            out.append((cfg, value, ms))
        return out

    return run


# --- Hyperopt ------------------------------------------------------------------------------

_VALUE_KEY = "__value"


def _hp_space(problem: Problem) -> dict[str, Any]:
    """Hyperopt's nested space: a categorical parent with conditional children becomes an
    `hp.choice` over one dict per value, holding the children active under that value."""
    from hyperopt import hp

    children: dict[str, list[Param]] = {}
    for p in problem.params:
        if p.parent is not None:
            children.setdefault(p.parent, []).append(p)
    cache: dict[str, Any] = {}

    def expr(p: Param):
        if p.name in cache:
            return cache[p.name]
        if p.kind == "cell":
            e = [hp.choice(f"{p.name}_{j}_{i}", list(p.choices)) for i, j in cell_edges(p.nodes)]
        elif p.kind == "float":
            e = hp.loguniform(p.name, math.log(p.low), math.log(p.high)) if p.log else hp.uniform(p.name, p.low, p.high)
        elif p.kind == "int":
            if p.log:
                e = hp.qloguniform(p.name, math.log(p.low), math.log(p.high), 1)
            else:
                e = hp.uniformint(p.name, int(p.low), int(p.high))
        elif p.name in children:
            e = hp.choice(
                p.name,
                [
                    {_VALUE_KEY: v, **{c.name: expr(c) for c in children[p.name] if v in c.parent_values}}
                    for v in p.choices
                ],
            )
        else:
            e = hp.choice(p.name, list(p.choices))
        cache[p.name] = e
        return e

    return {p.name: expr(p) for p in problem.params if p.parent is None}


def _hp_flatten(problem: Problem, sample: dict[str, Any]) -> dict[str, Any]:
    by_name = {p.name: p for p in problem.params}
    cfg: dict[str, Any] = {}

    def visit(d: dict[str, Any]) -> None:
        for name, v in d.items():
            p = by_name[name]
            if isinstance(v, dict) and _VALUE_KEY in v:
                cfg[name] = v[_VALUE_KEY]
                visit({k: x for k, x in v.items() if k != _VALUE_KEY})
            elif p.kind == "cell":
                cfg[name] = arch_string(p.nodes, list(v))
            elif p.kind == "int":
                cfg[name] = int(min(max(round(float(v)), p.low), p.high))
            elif p.kind == "float":
                cfg[name] = float(v)
            else:
                cfg[name] = v

    visit(sample)
    return cfg


def hyperopt_algo(name: str):
    def run(problem: Problem, budget: int, seed: int, obs_rng: np.random.Generator) -> Run:
        from hyperopt import Trials, fmin, rand, tpe

        suggest = {"tpe": tpe.suggest, "random": rand.suggest}[name]
        times: list[float] = []
        out: Run = []

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            r = suggest(*args, **kwargs)
            times.append((time.perf_counter() - t0) * 1e3)
            return r

        def objective(sample):
            cfg = _hp_flatten(problem, sample)
            value = problem.observe(cfg, obs_rng)
            out.append((cfg, value, times[-1] if times else float("nan")))
            return value

        fmin(
            objective,
            _hp_space(problem),
            algo=timed,
            max_evals=budget,
            trials=Trials(),
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
        )
        return out

    return run


METHODS: dict[str, Callable[..., Run]] = {
    "hs-tpe": hypersweep("tpe"),
    "hs-gp": hypersweep("gp"),
    "hs-auto": hypersweep("auto"),
    # Screening variants of hs-tpe (issue 17).
    "hs-tpe-uni": hypersweep("tpe", {"tpe": {"multivariate": False}}),
    "hs-tpe-ord": hypersweep("tpe", {"tpe": {"ordinal_choices": True}}),
    "hs-random": hypersweep("random"),
    "hs-evolution": hypersweep("evolution"),
    # Screening variant (issue 13): the tournament takes the whole population,
    # so the best of the newest 20 trials is always the parent.
    "hs-evolution-s20": hypersweep("evolution", {"evolution": {"population": 20, "sample_size": 20}}),
    "optuna-tpe": optuna_sampler(optuna_tpe),
    "optuna-gp": optuna_sampler(optuna_gp),
    "rustuna-tpe": rustuna_tpe(),
    "hyperopt-tpe": hyperopt_algo("tpe"),
    "hyperopt-random": hyperopt_algo("random"),
}
