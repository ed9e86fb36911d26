"""Trials as an Optuna objective sees them.

A ``Trial`` is a running define-by-run trial. When it is claimed, the Rust
study proposes values for the params of the space discovered so far, drawn
jointly group by group (params that appear in the same trials are searched
together on those trials); a ``suggest_*`` call takes the proposal for its
name when it asks in the same domain, and otherwise asks the study to draw
that param alone (from the trials that asked for that name in that domain).
The params drawn so far, their domains and the user attributes are stored
before every report and at the end, so pruners, other processes and a later
``load_study`` see them. A ``FrozenTrial`` is a finished (or listed) trial,
read from the store.
"""

import enum
import json
import math
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence

from .distributions import (BaseDistribution, _categorical_domain, _float_domain,
                            _from_domain, _int_domain)


class TrialState(enum.IntEnum):
    """Life cycle of a trial, with Optuna's names and values."""

    RUNNING = 0
    COMPLETE = 1
    PRUNED = 2
    FAIL = 3
    WAITING = 4

    def is_finished(self) -> bool:
        return self not in (TrialState.RUNNING, TrialState.WAITING)


_STATES = {
    "running": TrialState.RUNNING,
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "failed": TrialState.FAIL,
}


class TrialPruned(Exception):
    """Raised by an objective to end its trial as pruned."""


def _datetime(ms: Optional[int]) -> Optional[datetime]:
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0)


class FrozenTrial:
    """A trial as stored: number, params, state, value, intermediate values."""

    def __init__(self, record: Dict[str, Any]):
        self.number: int = record["number"]
        self._trial_id: int = record["number"]
        self.params: Dict[str, Any] = dict(record.get("params") or {})
        self.state: TrialState = _STATES[record["state"]]
        value = record.get("value")
        self.value: Optional[float] = None if value is None else float(value)
        self.intermediate_values: Dict[int, float] = {
            int(step): float(v) for step, v in (record.get("intermediate") or [])
        }
        self.datetime_start = _datetime(record.get("started_ms"))
        self.datetime_complete = _datetime(record.get("finished_ms"))
        self.user_attrs: Dict[str, Any] = dict(record.get("user_attrs") or {})
        self._domains: Dict[str, Dict[str, Any]] = dict(record.get("distributions") or {})
        self.system_attrs: Dict[str, Any] = {}
        self.error: Optional[str] = record.get("error")
        seeds = record.get("seeds") or []
        # The seed the objective got as `trial.seed` (None for a record
        # written before trials had seeds).
        self.seed: Optional[int] = seeds[0] if seeds else None

    @property
    def distributions(self) -> Dict[str, BaseDistribution]:
        """The domain each param was drawn from (params of a declared space,
        a grid or a sweep file, have none)."""
        return {name: _from_domain(self._domains[name]) for name in self.params
                if name in self._domains}

    @property
    def values(self) -> Optional[List[float]]:
        return None if self.value is None else [self.value]

    @property
    def duration(self):
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def last_step(self) -> Optional[int]:
        return max(self.intermediate_values) if self.intermediate_values else None

    def __repr__(self) -> str:
        return (f"FrozenTrial(number={self.number}, state={self.state.name}, "
                f"value={self.value}, params={self.params})")


class Trial:
    """A running trial: the object an Optuna objective receives."""

    def __init__(self, study: "Any", number: int, drawn: Dict[str, Any],
                 fixed: Optional[Dict[str, Any]] = None,
                 proposals: Optional[Dict[str, Any]] = None,
                 seed: Optional[int] = None):
        self.study = study
        # The trial's seed, derived from the study's seed and the trial's
        # number (the same on a re-run): seed the objective's own RNGs with
        # it (`torch.manual_seed(trial.seed)`). None for a trial told by
        # number without being asked here.
        self.seed = seed
        self._core = study._core
        self.number = number
        self._trial_id = number
        # Params drawn when the trial was claimed (a declared space: a grid,
        # a sweep file) are its params from the start; enqueued ones are
        # what a suggest of that name returns.
        self._fixed = dict(fixed or {})
        # name -> (domain, value) drawn jointly when the trial was claimed.
        self._proposals: Dict[str, Any] = proposals or {}
        self._params: Dict[str, Any] = dict(drawn)
        self._domains: Dict[str, Dict[str, Any]] = {}
        self._stored = True
        self.user_attrs: Dict[str, Any] = {}
        self.state = TrialState.RUNNING

    @property
    def params(self) -> Dict[str, Any]:
        return dict(self._params)

    @property
    def distributions(self) -> Dict[str, BaseDistribution]:
        """The domain of each param drawn so far."""
        return {name: _from_domain(d) for name, d in self._domains.items()}

    def _take(self, name: str, domain: Dict[str, Any], draw: Callable[[], Any]) -> Any:
        if name in self._params:
            return self._params[name]
        if name in self._fixed:
            value = self._fixed[name]
        else:
            proposal = self._proposals.get(name)
            if proposal is not None and proposal[0] == domain:
                value = proposal[1]
            else:
                value = draw()
        self._params[name] = value
        self._domains[name] = domain
        self._stored = False
        return value

    def suggest_float(self, name: str, low: float, high: float, *,
                      step: Optional[float] = None, log: bool = False) -> float:
        if step is not None and log:
            raise ValueError(f"`{name}`: step and log cannot be used together")
        low, high, log = float(low), float(high), bool(log)
        step = None if step is None else float(step)
        value = self._take(name, _float_domain(low, high, step, log),
                           lambda: self._core.suggest_float(self.number, name, low, high, step,
                                                            log))
        return float(value)

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        return self.suggest_float(name, low, high, step=q)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        if step != 1 and log:
            raise ValueError(f"`{name}`: step and log cannot be used together")
        low, high, step, log = int(low), int(high), int(step), bool(log)
        value = self._take(name, _int_domain(low, high, step, log),
                           lambda: self._core.suggest_int(self.number, name, low, high, step,
                                                          log))
        return int(value)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        choices = list(choices)
        if not choices:
            raise ValueError(f"`{name}`: expected at least one choice")
        domain = _categorical_domain(choices)
        value = self._take(name, domain, lambda: self._core.suggest_categorical(
            self.number, name, json.dumps(domain["choices"])))
        # JSON has one list type: give back the caller's own object.
        for choice in choices:
            if choice == value and type(choice) is type(value):
                return choice
        for choice in choices:
            if choice == value:
                return choice
        return value

    def _store_params(self) -> None:
        if not self._stored:
            self._core.set_params(self.number, json.dumps(self._params),
                                  json.dumps(self._domains), json.dumps(self.user_attrs))
            self._stored = True

    def report(self, value: float, step: int) -> None:
        """Records an intermediate value; ``should_prune`` then answers for it."""
        value = float(value)
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if not math.isfinite(value):
            return
        self._store_params()
        self._last_value = value
        self._prune = self._core.report(self.number, int(step), value)

    def should_prune(self) -> bool:
        """True when the study's pruner stopped this trial at its last report."""
        return bool(getattr(self, "_prune", False))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Stores ``value`` (anything JSON can hold) with the trial, from its
        next report or its end on."""
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"user attribute `{key}`: {exc}") from exc
        self.user_attrs[key] = value
        self._stored = False

    def set_system_attr(self, key: str, value: Any) -> None:
        pass

    def _finish(self, state: str, value: Optional[float] = None,
                error: Optional[str] = None) -> FrozenTrial:
        self._store_params()
        record = json.loads(self._core.tell(self.number, state, value, error))
        self.state = _STATES[record["state"]]
        return FrozenTrial(record)
