"""The Optuna-shaped API, end to end through the Rust core."""

import pytest

import hypersweep
import hypersweep as optuna
from hypersweep import TrialState


def quadratic(trial):
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


def test_optimize_finds_the_minimum_with_tpe():
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    study.optimize(quadratic, n_trials=60)
    assert len(study.trials) == 60
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert abs(study.best_params["x"] - 2) < 0.5
    assert study.best_value == min(t.value for t in study.trials)
    assert study.best_trial.params == study.best_params
    assert study.direction == optuna.study.StudyDirection.MINIMIZE


def test_maximize_picks_the_largest():
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(lambda t: t.suggest_int("n", 0, 100), n_trials=20)
    assert study.best_value == max(t.value for t in study.trials)
    assert isinstance(study.best_params["n"], int)


def conditional(trial):
    kind = trial.suggest_categorical("kind", ["linear", "tree"])
    if kind == "linear":
        alpha = trial.suggest_float("alpha", 1e-4, 1.0, log=True)
        return alpha
    depth = trial.suggest_int("depth", 1, 10)
    width = trial.suggest_int("width", 8, 64, step=8)
    return 1.0 + depth / 10 + width / 640


def test_conditional_trials_carry_exactly_their_branch():
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=5))
    study.optimize(conditional, n_trials=40)
    for t in study.trials:
        if t.params["kind"] == "linear":
            assert set(t.params) == {"kind", "alpha"}
            assert 1e-4 <= t.params["alpha"] <= 1.0
        else:
            assert set(t.params) == {"kind", "depth", "width"}
            assert 1 <= t.params["depth"] <= 10
            assert t.params["width"] % 8 == 0
    # TPE learns the better branch (every linear value is below 1, every
    # tree value above): most trials after the startup take it.
    late = [t.params["kind"] for t in study.trials[20:]]
    assert late.count("linear") >= 14


def test_the_same_seed_gives_the_same_trials():
    def run(seed):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(conditional, n_trials=25)
        return [(t.params, t.value) for t in study.trials]

    assert run(11) == run(11)
    assert run(11) != run(12)


def learning_curve(trial):
    slope = trial.suggest_float("slope", 0.0, 1.0)
    value = 0.0
    for step in range(10):
        value = slope * (10 - step)
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def test_median_pruner_prunes_through_report_and_should_prune():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2),
                                pruner=optuna.pruners.MedianPruner(n_warmup_steps=2))
    study.optimize(learning_curve, n_trials=30)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert pruned and complete
    for t in pruned:
        last = max(t.intermediate_values)
        assert last >= 2, "no trial is pruned inside its warm-up"
        assert t.value == t.intermediate_values[last]
        # Pruned at a step where it was worse than the median of the
        # earlier trials that reached it.
        earlier = [o.intermediate_values[last] for o in study.trials
                   if o.number < t.number and last in o.intermediate_values]
        earlier.sort()
        assert earlier and t.intermediate_values[last] > earlier[(len(earlier) - 1) // 2]
    assert len(pruned) + len(complete) == 30


def test_nop_pruner_never_prunes():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2),
                                pruner=optuna.pruners.NopPruner())
    study.optimize(learning_curve, n_trials=15)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_ask_tell_with_a_store_reopened_by_load_study(tmp_path):
    store = str(tmp_path / "store")
    study = optuna.create_study(study_name="s", storage=store,
                                sampler=optuna.samplers.TPESampler(seed=4))
    numbers = []
    for _ in range(3):
        trial = study.ask()
        x = trial.suggest_float("x", 0, 1)
        study.tell(trial, x * 2)
        numbers.append(trial.number)
    pending = study.ask()
    pending.suggest_int("k", 1, 3)
    pending.report(0.5, 0)
    del study

    again = optuna.load_study(study_name="s", storage=store)
    assert [t.number for t in again.trials[:3]] == numbers
    assert [t.state for t in again.trials] == [TrialState.COMPLETE] * 3 + [TrialState.RUNNING]
    assert set(again.trials[3].params) == {"k"}
    frozen = again.tell(pending.number, 7.0)
    assert frozen.state == TrialState.COMPLETE and frozen.value == 7.0
    assert again.best_value == min(t.value for t in again.trials[:3])
    with pytest.raises(ValueError, match="already exists"):
        optuna.create_study(study_name="s", storage=store)
    same = optuna.create_study(study_name="s", storage=store, load_if_exists=True)
    assert len(same.trials) == 4


def test_tell_states_and_errors():
    study = optuna.create_study()
    t = study.ask()
    t.suggest_float("x", 0, 1)
    assert study.tell(t, state=TrialState.FAIL).state == TrialState.FAIL
    t = study.ask()
    t.report(3.0, 1)
    assert study.tell(t, state=TrialState.PRUNED).value == 3.0
    t = study.ask()
    assert study.tell(t, float("nan")).state == TrialState.FAIL
    with pytest.raises(hypersweep.HypersweepError, match="finished"):
        study.tell(t, 1.0)
    with pytest.raises(ValueError, match="no study named"):
        optuna.load_study(study_name="nope", storage=None)


def test_catch_records_failures_and_other_errors_are_raised():
    def flaky(trial):
        x = trial.suggest_int("x", 0, 9)
        if x % 2:
            raise ArithmeticError(f"odd {x}")
        return x

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=8))
    study.optimize(flaky, n_trials=20, catch=(ArithmeticError,))
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert failed and len(study.trials) == 20
    for t in failed:
        assert t.params["x"] % 2 == 1
        assert "ArithmeticError: odd" in t.error

    other = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=8))
    with pytest.raises(ArithmeticError):
        other.optimize(flaky, n_trials=20)
    assert other.trials[-1].state == TrialState.FAIL


def test_a_bad_range_names_the_param():
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(ValueError, match="lr"):
        trial.suggest_float("lr", 1.0, 0.1)
    with pytest.raises(ValueError, match="lr"):
        trial.suggest_float("lr", 0.0, 1.0, log=True)


def test_callbacks_timeout_and_n_jobs():
    seen = []
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(quadratic, n_trials=12, callbacks=[lambda s, t: seen.append(t.number)])
    assert sorted(seen) == list(range(12))

    def stop_at_five(s, t):
        if len(s.trials) >= 5:
            s.stop()

    study = optuna.create_study()
    study.optimize(quadratic, timeout=60, callbacks=[stop_at_five])
    assert len(study.trials) == 5

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    study.optimize(quadratic, n_trials=24, n_jobs=4)
    assert sorted(t.number for t in study.trials) == list(range(24))
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_enqueue_trial_fixes_the_given_params():
    study = optuna.create_study()
    study.enqueue_trial({"x": 2.0})
    study.optimize(quadratic, n_trials=3)
    assert study.trials[0].params == {"x": 2.0}
    assert study.best_value == 0.0


def test_grid_and_other_samplers():
    grid = optuna.samplers.GridSampler({"a": [1, 2], "b": ["u", "v", "w"]})
    study = optuna.create_study(sampler=grid)
    study.optimize(lambda t: t.suggest_int("a", 1, 2) + len(t.suggest_categorical(
        "b", ["u", "v", "w"])), n_trials=6)
    assert sorted((t.params["a"], t.params["b"]) for t in study.trials) == sorted(
        (a, b) for a in (1, 2) for b in "uvw")
    for sampler in (optuna.samplers.QMCSampler(seed=1), optuna.samplers.GPSampler(seed=1)):
        study = optuna.create_study(sampler=sampler)
        study.optimize(quadratic, n_trials=12)
        assert all(-10 <= t.params["x"] <= 10 for t in study.trials)


def test_from_sweep_runs_a_sweep_file_with_a_callable(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "method: random\nmetric: {name: loss, goal: minimize}\n"
        "parameters:\n  lr: {min: 0.001, max: 0.1, distribution: log_uniform_values}\n"
        "  layers: {values: [1, 2, 3]}\nrun: {seed: 1}\n")
    study = hypersweep.Study.from_sweep(str(sweep))
    study.optimize(lambda t: t.params["lr"] * t.params["layers"], n_trials=8)
    assert len(study.trials) == 8
    for t in study.trials:
        assert set(t.params) == {"lr", "layers"}
        assert 0.001 <= t.params["lr"] <= 0.1


def test_set_user_attr_and_frozen_fields():
    study = optuna.create_study()

    def objective(trial):
        trial.set_user_attr("note", "hi")
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=2)
    t = study.trials[0]
    assert t.user_attrs == {"note": "hi"}
    assert t.datetime_start is not None and t.datetime_complete is not None
    assert t.duration is not None


def test_postgres_study_through_a_url():
    import os

    url = os.environ.get("HYPERSWEEP_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL test (HYPERSWEEP_TEST_POSTGRES unset)")
        pytest.skip("HYPERSWEEP_TEST_POSTGRES is not set")
    import uuid

    name = f"py-{uuid.uuid4()}"
    study = optuna.create_study(study_name=name, storage=url,
                                sampler=optuna.samplers.TPESampler(seed=1))
    study.optimize(conditional, n_trials=12)
    again = optuna.load_study(study_name=name, storage=url)
    assert [t.params for t in again.trials] == [t.params for t in study.trials]
    assert len(again.trials) == 12


def test_each_trial_has_a_seed_from_the_study_seed_and_its_number():
    def seeds(seed):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        got = []

        def objective(trial):
            got.append(trial.seed)
            return trial.suggest_float("x", 0.0, 1.0)

        study.optimize(objective, n_trials=4)
        assert [t.seed for t in study.trials] == got
        return got

    first = seeds(3)
    assert all(isinstance(s, int) for s in first)
    assert len(set(first)) == 4, first
    assert seeds(3) == first
    assert seeds(4) != first
