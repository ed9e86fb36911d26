"""Optuna's distribution classes, as ``trial.distributions`` returns them.

Each trial stores the domain of every param it drew (the JSON object of our
sweep format, ``{"type": "float", "low": ..., "high": ..., "log": ...}``),
which is what lets the study group params by the trials that asked for
them; these classes are the Optuna-shaped view of those objects.
"""

import json
from typing import Any, Dict, Optional, Sequence


class BaseDistribution:
    """A param's domain."""

    def _domain(self) -> Dict[str, Any]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseDistribution) and self._domain() == other._domain()

    def __hash__(self) -> int:
        return hash(json.dumps(self._domain(), sort_keys=True))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class FloatDistribution(BaseDistribution):
    """A float in ``[low, high]``, log-uniform when ``log``, on a grid of
    ``step`` from ``low`` when given."""

    def __init__(self, low: float, high: float, log: bool = False,
                 step: Optional[float] = None) -> None:
        self.low = float(low)
        self.high = float(high)
        self.log = bool(log)
        self.step = None if step is None else float(step)

    def _domain(self) -> Dict[str, Any]:
        return _float_domain(self.low, self.high, self.step, self.log)


class IntDistribution(BaseDistribution):
    """An integer in ``[low, high]``, log-uniform when ``log``, every
    ``step`` from ``low``."""

    def __init__(self, low: int, high: int, log: bool = False, step: int = 1) -> None:
        self.low = int(low)
        self.high = int(high)
        self.log = bool(log)
        self.step = int(step)

    def _domain(self) -> Dict[str, Any]:
        return _int_domain(self.low, self.high, self.step, self.log)


class CategoricalDistribution(BaseDistribution):
    """One of ``choices``."""

    def __init__(self, choices: Sequence[Any]) -> None:
        self.choices = tuple(choices)

    def _domain(self) -> Dict[str, Any]:
        return _categorical_domain(self.choices)


def _float_domain(low: float, high: float, step: Optional[float], log: bool) -> Dict[str, Any]:
    domain: Dict[str, Any] = {"type": "float", "low": low, "high": high, "log": log}
    if step is not None:
        domain["step"] = step
    return domain


def _int_domain(low: int, high: int, step: int, log: bool) -> Dict[str, Any]:
    domain: Dict[str, Any] = {"type": "int", "low": low, "high": high, "log": log}
    if step != 1:
        domain["step"] = step
    return domain


def _categorical_domain(choices: Sequence[Any]) -> Dict[str, Any]:
    # Through JSON, as the store keeps them: a tuple choice is a list there.
    return {"type": "categorical", "choices": json.loads(json.dumps(list(choices)))}


def _from_domain(domain: Dict[str, Any]) -> BaseDistribution:
    """The distribution of a stored domain."""
    kind = domain.get("type")
    if kind == "float":
        return FloatDistribution(domain["low"], domain["high"], domain.get("log", False),
                                 domain.get("step"))
    if kind == "int":
        return IntDistribution(domain["low"], domain["high"], domain.get("log", False),
                               domain.get("step") or 1)
    if kind == "categorical":
        return CategoricalDistribution(domain["choices"])
    raise ValueError(f"a domain of type {kind!r} has no Optuna distribution")


__all__ = ["BaseDistribution", "FloatDistribution", "IntDistribution",
           "CategoricalDistribution"]
