"""Optuna's ``optuna.exceptions`` names that hypersweep raises."""

from ._core import HypersweepError
from ._trial import TrialPruned

__all__ = ["TrialPruned", "HypersweepError"]
