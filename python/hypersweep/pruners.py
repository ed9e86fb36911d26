"""Optuna's pruner classes, mapped onto hypersweep's pruners.

Each becomes the ``early_terminate`` section of the study's sweep spec and
runs in Rust as a pure function of the trial and the study's history, so
every process (and every resume) decides alike.
"""

from typing import Any, Dict, Optional, Union


class BasePruner:
    """The ``early_terminate`` section a pruner contributes."""

    def _spec(self) -> Optional[Dict[str, Any]]:
        return None


class NopPruner(BasePruner):
    """Never prunes."""


class MedianPruner(BasePruner):
    """Prunes a trial whose value is worse than the median of the others at
    the same step."""

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0,
                 interval_steps: int = 1, *, n_min_trials: int = 1) -> None:
        self.n_warmup_steps = n_warmup_steps

    def _spec(self) -> Optional[Dict[str, Any]]:
        return {"type": "median", "warmup_steps": int(self.n_warmup_steps)}


class PercentilePruner(BasePruner):
    """Prunes a trial outside the best ``percentile`` of the others."""

    def __init__(self, percentile: float, n_startup_trials: int = 5,
                 n_warmup_steps: int = 0, interval_steps: int = 1, *,
                 n_min_trials: int = 1) -> None:
        self.percentile = percentile
        self.n_warmup_steps = n_warmup_steps

    def _spec(self) -> Optional[Dict[str, Any]]:
        return {"type": "percentile", "percentile": float(self.percentile),
                "warmup_steps": int(self.n_warmup_steps)}


class SuccessiveHalvingPruner(BasePruner):
    """Asynchronous successive halving (ASHA)."""

    def __init__(self, min_resource: Union[str, int] = "auto", reduction_factor: int = 4,
                 min_early_stopping_rate: int = 0, bootstrap_count: int = 0) -> None:
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor

    def _spec(self) -> Optional[Dict[str, Any]]:
        return {"type": "asha", "min_resource": self.min_resource,
                "eta": int(self.reduction_factor)}


class HyperbandPruner(BasePruner):
    """Hyperband over ASHA brackets."""

    def __init__(self, min_resource: int = 1, max_resource: Union[str, int] = "auto",
                 reduction_factor: int = 3, bootstrap_count: int = 0) -> None:
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.reduction_factor = reduction_factor

    def _spec(self) -> Optional[Dict[str, Any]]:
        spec: Dict[str, Any] = {"type": "hyperband", "min_resource": self.min_resource,
                                "eta": int(self.reduction_factor)}
        if self.max_resource != "auto":
            spec["max_resource"] = int(self.max_resource)
        return spec


__all__ = ["BasePruner", "NopPruner", "MedianPruner", "PercentilePruner",
           "SuccessiveHalvingPruner", "HyperbandPruner"]
