# A small Optuna program, unchanged but for its import line (the README's
# two-line change); the tests run it with `import hypersweep as optuna`.
import hypersweep as optuna


def objective(trial):
    classifier = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier == "SVC":
        c = trial.suggest_float("svc_c", 1e-10, 1e10, log=True)
        score = abs(c - 1.0) / (1.0 + c)
    else:
        max_depth = trial.suggest_int("rf_max_depth", 2, 32, log=True)
        n_estimators = trial.suggest_int("rf_n_estimators", 10, 100, step=10)
        score = 0.3 + abs(max_depth - 8) / 32.0 + n_estimators / 1000.0
    for step in range(3):
        trial.report(score * (3 - step), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return score


def main(seed=0, n_trials=40):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_warmup_steps=1),
    )
    study.optimize(objective, n_trials=n_trials)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    print("Number of finished trials:", len(study.trials))
    print("Complete:", len(complete), "pruned:", len(pruned))
    print("Best trial:", study.best_trial.number, study.best_value)
    for key, value in study.best_params.items():
        print(f"    {key}: {value}")
    return study


if __name__ == "__main__":
    main()
