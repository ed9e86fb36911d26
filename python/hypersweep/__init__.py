"""hypersweep: hyperparameter optimisation in Rust, with Optuna's API.

``import hypersweep as optuna`` runs common Optuna programs unchanged:
``create_study``/``load_study``, ``optimize``, ``ask``/``tell``,
define-by-run ``trial.suggest_*`` (the space is whatever the objective asks
for, conditional on its own ``if``s), ``report``/``should_prune``/
``TrialPruned``, Optuna's sampler and pruner classes mapped onto ours. The
searchers, pruners and stores are the Rust ones, called with the GIL
released. ``storage`` is a directory (a sled store, one process at a time)
or a ``postgres://`` URL (many processes and machines on one study).
"""

import uuid
from typing import Any, Optional, Union

from . import distributions, logging, pruners, samplers
from . import _trial as trial
from . import _study as study
from ._core import CoreStudy as _CoreStudy
from ._core import HypersweepError
from ._study import Study, StudyDirection
from ._trial import FrozenTrial, Trial, TrialPruned, TrialState
from . import exceptions

__version__ = "0.1.0"


def _direction(direction: Union[str, StudyDirection, None]) -> str:
    if direction is None:
        return "minimize"
    if isinstance(direction, StudyDirection):
        direction = direction.name
    text = str(direction).lower()
    if text not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    return text


def create_study(storage: Optional[str] = None, sampler: Optional[samplers.BaseSampler] = None,
                 pruner: Optional[pruners.BasePruner] = None, study_name: Optional[str] = None,
                 direction: Union[str, StudyDirection, None] = None,
                 load_if_exists: bool = False, *, directions: Any = None) -> Study:
    """A new study (or, with ``load_if_exists``, the existing one of that
    name, which keeps the sampler, pruner and seed it was created with)."""
    if directions is not None:
        if len(directions) != 1:
            raise ValueError("hypersweep studies have one objective (multi-objective is not "
                             "supported)")
        direction = directions[0]
    if pruner is None:
        pruner = pruners.MedianPruner()
    # Optuna's default is TPE; ours is `auto`, GP then TPE (issue 17).
    sampler = sampler or samplers.AutoSampler()
    spec = study._spec_text(_direction(direction), sampler, pruner)
    name = study_name or f"no-name-{uuid.uuid4()}"
    mode = "open" if load_if_exists else "create"
    return Study(_CoreStudy.open(name, _storage_url(storage), spec, mode))


def load_study(study_name: Optional[str] = None, storage: Optional[str] = None,
               sampler: Optional[samplers.BaseSampler] = None,
               pruner: Optional[pruners.BasePruner] = None) -> Study:
    """An existing study of ``storage``, with the spec it was created with."""
    if study_name is None:
        raise ValueError("load_study needs study_name")
    return Study(_CoreStudy.open(study_name, _storage_url(storage), "{\"parameters\": {}}",
                                 "load"))


def _storage_url(storage: Any) -> Optional[str]:
    if storage is None:
        return None
    return str(storage)


__all__ = ["create_study", "load_study", "Study", "Trial", "FrozenTrial", "TrialState",
           "TrialPruned", "StudyDirection", "HypersweepError", "samplers", "pruners",
           "trial", "study", "exceptions", "logging", "distributions"]
