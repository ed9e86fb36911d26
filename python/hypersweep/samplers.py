"""Optuna's sampler classes, mapped onto hypersweep's searchers.

A sampler here is a description: the searcher itself runs in Rust, named by
the study's stored sweep spec (``method``, the searcher's options section,
``run.seed``). Options without a counterpart are accepted and ignored, so
Optuna programs construct them unchanged.
"""

from typing import Any, Dict, Mapping, Optional, Sequence


class BaseSampler:
    """The spec fragment a sampler contributes to a study."""

    method = "tpe"

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed
        self._options: Dict[str, Any] = {}

    def _spec(self) -> Dict[str, Any]:
        spec: Dict[str, Any] = {"method": self.method}
        if self._options:
            spec[self.method] = dict(self._options)
        return spec


class AutoSampler(BaseSampler):
    """hypersweep's default (``method: auto``): the GP while its estimated
    cost per suggestion is small next to a trial's, TPE from then on. Not an
    Optuna class; ``create_study`` uses it when no sampler is given."""

    method = "auto"


class TPESampler(BaseSampler):
    """Tree-structured Parzen estimator (``method: tpe``).

    Unlike Optuna's default, params are always modelled jointly: the
    define-by-run space is split into groups of params that appear in the
    same trials (Optuna's ``multivariate=True, group=True``), each group
    searched with multivariate kernels on the trials that hold it; a group
    of more than 16 params gets one kernel per param (``tpe.max_joint_params``
    in a sweep file), which searches many dimensions better.
    """

    method = "tpe"

    def __init__(
        self,
        consider_prior: bool = True,
        prior_weight: float = 1.0,
        consider_magic_clip: bool = True,
        consider_endpoints: bool = False,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: Any = None,
        weights: Any = None,
        seed: Optional[int] = None,
        *,
        multivariate: bool = False,
        group: bool = False,
        **_ignored: Any,
    ) -> None:
        super().__init__(seed)
        self._options = {
            "n_startup_trials": int(n_startup_trials),
            "n_candidates": int(n_ei_candidates),
            "prior_weight": float(prior_weight),
            "consider_endpoints": bool(consider_endpoints),
        }
        if multivariate:
            self._options["multivariate"] = True
        if group:
            self._options["group"] = True


class RandomSampler(BaseSampler):
    """Uniform random search (``method: random``)."""

    method = "random"

    def __init__(self, seed: Optional[int] = None) -> None:
        super().__init__(seed)


class QMCSampler(BaseSampler):
    """Scrambled Sobol points (``method: sobol``)."""

    method = "sobol"

    def __init__(self, *, qmc_type: str = "sobol", scramble: bool = True,
                 seed: Optional[int] = None, **_ignored: Any) -> None:
        super().__init__(seed)


class GPSampler(BaseSampler):
    """Gaussian-process Bayesian optimisation (``method: gp``)."""

    method = "gp"

    def __init__(self, *, seed: Optional[int] = None, n_startup_trials: int = 10,
                 deterministic_objective: bool = False, **_ignored: Any) -> None:
        super().__init__(seed)
        self._options = {"n_startup_trials": int(n_startup_trials),
                         "deterministic_objective": bool(deterministic_objective)}


class GridSampler(BaseSampler):
    """Exhaustive grid over ``search_space`` (``method: grid``).

    The grid is declared up front, as in Optuna, so it becomes the study's
    space and each trial draws its point jointly when it starts.
    """

    method = "grid"

    def __init__(self, search_space: Mapping[str, Sequence[Any]],
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.search_space = {k: list(v) for k, v in search_space.items()}

    def _spec(self) -> Dict[str, Any]:
        spec = super()._spec()
        spec["parameters"] = {k: {"values": v} for k, v in self.search_space.items()}
        return spec


__all__ = ["BaseSampler", "AutoSampler", "TPESampler", "RandomSampler", "QMCSampler", "GPSampler", "GridSampler"]
