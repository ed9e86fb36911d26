"""An unchanged Optuna program runs with `import hypersweep as optuna`."""

import optuna_program
from hypersweep import TrialState


def test_the_optuna_program_runs_unchanged(capsys):
    study = optuna_program.main(seed=0, n_trials=40)
    out = capsys.readouterr().out
    assert "Number of finished trials: 40" in out
    assert len(study.trials) == 40
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    assert study.get_trials(states=(TrialState.PRUNED,)), "the median pruner pruned some"
    best = study.best_trial
    assert best.state == TrialState.COMPLETE
    if best.params["classifier"] == "SVC":
        assert set(best.params) == {"classifier", "svc_c"}
    else:
        assert set(best.params) == {"classifier", "rf_max_depth", "rf_n_estimators"}
