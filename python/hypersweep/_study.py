"""The Optuna-shaped ``Study`` over the Rust core.

``optimize`` is a Python loop around ``ask``/``tell`` (the objective is
Python, so a Rust scheduler would only call back into it); everything else
(claims, draws, pruning decisions, storage) runs in Rust with the GIL
released, which is what lets ``n_jobs`` threads overlap.
"""

import enum
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union

from . import _core
from ._trial import FrozenTrial, Trial, TrialPruned, TrialState
from .pruners import BasePruner, MedianPruner
from .samplers import BaseSampler, TPESampler



class StudyDirection(enum.IntEnum):
    """Optuna's names for the goal."""

    NOT_SET = 0
    MINIMIZE = 1
    MAXIMIZE = 2


def _spec_text(direction: str, sampler: BaseSampler, pruner: Optional[BasePruner]) -> str:
    spec: Dict[str, Any] = {"metric": {"name": "value", "goal": direction}, "parameters": {}}
    spec.update(sampler._spec())
    seed = sampler.seed
    if seed is None:
        seed = int.from_bytes(os.urandom(6), "little")
    spec["run"] = {"seed": int(seed)}
    early = pruner._spec() if pruner is not None else None
    if early is not None:
        spec["early_terminate"] = early
    return json.dumps(spec)


class Study:
    """A study: its trials, how to run more, and the best so far."""

    def __init__(self, core: Any):
        self._core = core
        self._enqueued: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = False
        self.user_attrs: Dict[str, Any] = {}

    # -- Optuna's attributes ------------------------------------------------
    @property
    def study_name(self) -> str:
        return self._core.name

    @property
    def direction(self) -> "StudyDirection":
        return StudyDirection[self._core.direction.upper()]

    @property
    def directions(self) -> List["StudyDirection"]:
        return [self.direction]

    @property
    def trials(self) -> List[FrozenTrial]:
        return self.get_trials()

    def get_trials(self, deepcopy: bool = True,
                   states: Optional[Iterable[TrialState]] = None) -> List[FrozenTrial]:
        records = json.loads(self._core.trials())
        trials = [FrozenTrial(r) for r in records]
        if states is not None:
            wanted = set(states)
            trials = [t for t in trials if t.state in wanted]
        return trials

    @property
    def best_trial(self) -> FrozenTrial:
        complete = [t for t in self.get_trials(states=(TrialState.COMPLETE,))
                    if t.value is not None]
        if not complete:
            raise ValueError("no trial has completed yet")
        pick = min if self._core.direction == "minimize" else max
        return pick(complete, key=lambda t: t.value)

    @property
    def best_params(self) -> Dict[str, Any]:
        return self.best_trial.params

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value

    # -- ask / tell -----------------------------------------------------------
    def enqueue_trial(self, params: Dict[str, Any], user_attrs: Optional[Dict[str, Any]] = None,
                      skip_if_exists: bool = False) -> None:
        """The next trial asked by this process takes these params as given
        (others are drawn as usual)."""
        with self._lock:
            if skip_if_exists:
                for t in self.get_trials():
                    if t.params == params:
                        return
            self._enqueued.append(dict(params))

    def ask(self, fixed_distributions: Optional[Dict[str, Any]] = None) -> Trial:
        number, drawn, proposals, seed = self._core.ask_open()
        with self._lock:
            fixed = self._enqueued.pop(0) if self._enqueued else {}
        return Trial(self, number, drawn, fixed, proposals, seed)

    def tell(self, trial: Union[Trial, int], values: Optional[Union[float, Sequence[float]]] = None,
             state: Optional[TrialState] = None, skip_if_finished: bool = False) -> FrozenTrial:
        if isinstance(trial, Trial):
            live = trial
        else:
            live = Trial(self, int(trial), {})
            live._stored = True
        if isinstance(values, (list, tuple)):
            if len(values) != 1:
                raise ValueError("hypersweep studies have one objective; got "
                                 f"{len(values)} values")
            values = values[0]
        if state is None:
            state = TrialState.COMPLETE if values is not None else TrialState.FAIL
        if state == TrialState.COMPLETE:
            if values is None:
                raise ValueError("a COMPLETE trial needs a value")
            return live._finish("complete", float(values))
        if state == TrialState.PRUNED:
            last = _last_value(live) if values is None else float(values)
            return live._finish("pruned", last)
        if state == TrialState.FAIL:
            return live._finish("failed", None, "told FAIL")
        raise ValueError(f"tell takes COMPLETE, PRUNED or FAIL, not {state!r}")

    # -- optimize -------------------------------------------------------------
    def stop(self) -> None:
        """Ends ``optimize`` after the running trials."""
        self._stop = True

    def _run_one(self, func: Callable[[Trial], Any], catch: Tuple[Type[BaseException], ...],
                 callbacks: Sequence[Callable[["Study", FrozenTrial], None]]) -> None:
        trial = self.ask()
        try:
            value = func(trial)
        except TrialPruned:
            frozen = trial._finish("pruned", _last_value(trial))
        except Exception as exc:  # noqa: BLE001 - the trial's failure, reported below
            frozen = trial._finish("failed", None, f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, catch):
                raise
        except BaseException as exc:
            trial._finish("failed", None, f"{type(exc).__name__}: {exc}")
            raise
        else:
            if isinstance(value, (list, tuple)) and len(value) == 1:
                value = value[0]
            try:
                number = None if value is None else float(value)
            except (TypeError, ValueError):
                number = None
            if number is None:
                frozen = trial._finish("failed", None,
                                       f"the objective returned {value!r}, not a number")
            else:
                frozen = trial._finish("complete", number)
        for callback in callbacks:
            callback(self, frozen)

    def optimize(self, func: Callable[[Trial], Any], n_trials: Optional[int] = None,
                 timeout: Optional[float] = None, n_jobs: int = 1,
                 catch: Union[Iterable[Type[Exception]], Type[Exception]] = (),
                 callbacks: Optional[List[Callable[["Study", FrozenTrial], None]]] = None,
                 gc_after_trial: bool = False, show_progress_bar: bool = False) -> None:
        """Runs ``n_trials`` trials (or until ``timeout`` seconds pass, or
        ``stop()``); an exception of a type in ``catch`` fails its trial and
        the run goes on, any other fails its trial and is re-raised."""
        catch = tuple(catch) if isinstance(catch, Iterable) else (catch,)
        callbacks = list(callbacks or [])
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        self._stop = False
        counter = iter(range(n_trials)) if n_trials is not None else None
        counter_lock = threading.Lock()

        def next_slot() -> bool:
            if self._stop or (deadline is not None and time.monotonic() >= deadline):
                return False
            if counter is None:
                return True
            with counter_lock:
                return next(counter, None) is not None

        def worker() -> None:
            while next_slot():
                self._run_one(func, catch, callbacks)

        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        if n_jobs <= 1:
            worker()
            return
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(worker) for _ in range(n_jobs)]
            for f in futures:
                f.result()

    def trials_dataframe(self, attrs: Sequence[str] = ("number", "value", "datetime_start",
                                                       "datetime_complete", "duration",
                                                       "params", "state")):
        """The trials as a pandas DataFrame (requires pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the env
            raise ImportError("trials_dataframe() needs pandas: pip install pandas") from exc
        rows = []
        for t in self.trials:
            row: Dict[str, Any] = {}
            for attr in attrs:
                if attr == "params":
                    for k, v in t.params.items():
                        row[f"params_{k}"] = v
                elif attr == "state":
                    row["state"] = t.state.name
                else:
                    row[attr] = getattr(t, attr, None)
            rows.append(row)
        return pd.DataFrame(rows)

    # -- ours -------------------------------------------------------------
    def report_html(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the study's report (one self-contained HTML file, as
        ``hypersweep report`` makes) to ``path``."""
        self._core.report_html(os.fspath(path))

    @classmethod
    def from_sweep(cls, path: str, storage: Optional[str] = None,
                   study_name: Optional[str] = None) -> "Study":
        """A study of a sweep file (JSON or YAML, W&B's format with our
        additions); ``optimize`` then runs it with a Python callable, whose
        trials hold the file's params drawn when each trial starts."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        name = study_name or os.path.splitext(os.path.basename(path))[0]
        return cls(_core.CoreStudy.open(name, storage, text, "open", path))


def _last_value(trial: Trial) -> Optional[float]:
    return getattr(trial, "_last_value", None)
