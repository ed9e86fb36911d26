//! Confirmation and ablation rounds of a study (see [`crate::evidence`]):
//! planned from its trials, run through the same scheduler as `optimize`.

use std::sync::Arc;

use hypersweep_search::Params;
use hypersweep_trials::scheduler::Plan;
use hypersweep_trials::{NoPruner, Runner, Scheduler, SweepSummary, TrialContext};

use super::{IntoOutcome, Study, StudyError};
use crate::evidence::{
    AblationTable, ConfirmTable, ablation_plan, ablation_table, baseline_of, confirm_plan,
    confirm_table,
};

impl Study {
    /// The confirmation round `confirm` would run now: the latest one if it
    /// is unfinished, else a new one of the `top` best configurations on
    /// `repeats` fresh seeds.
    pub fn confirm_plan(&self, top: usize, repeats: u32) -> Result<Plan, StudyError> {
        Ok(confirm_plan(
            self.config.seed,
            self.spec.metric.goal,
            &self.trials()?,
            top,
            repeats,
        )?)
    }

    /// The ablation round `ablate` would run now, from the best trial, with
    /// params reset to `baseline` (where it names them) or their defaults.
    pub fn ablation_plan(
        &self,
        baseline: Option<&Params>,
        repeats: u32,
    ) -> Result<Plan, StudyError> {
        let baseline = baseline_of(&self.spec.space, baseline)?;
        Ok(ablation_plan(
            self.config.seed,
            &self.spec,
            &self.trials()?,
            &baseline,
            repeats,
        )?)
    }

    /// Runs `plan`'s variants with `runner` (no pruning: a re-run is
    /// evaluated to its end), through the study's store, slots and devices;
    /// resumes whatever part of the round ran before.
    pub async fn run_plan(
        &self,
        plan: Plan,
        runner: Arc<dyn Runner>,
    ) -> Result<SweepSummary, StudyError> {
        let mut config = self.config.clone();
        config.plan = Some(Arc::new(plan));
        self.stop.reset();
        let mut scheduler = Scheduler::new(
            config,
            Arc::clone(&self.storage),
            Arc::clone(&self.searcher),
            Arc::new(NoPruner),
            runner,
        )
        .with_stop(self.stop.clone());
        if let Some(observer) = &self.observer {
            scheduler = scheduler.with_observer(Arc::clone(observer));
        }
        Ok(scheduler.run().await?)
    }

    /// Re-runs the `top` best configurations on `repeats` shared fresh seeds
    /// with a synchronous objective (as [`Study::optimize`] runs it) and
    /// returns the round's table: each mean with its 95% interval, and
    /// whether the winner is distinguishable from the runner-up.
    pub fn confirm<F, R>(
        &self,
        top: usize,
        repeats: u32,
        objective: F,
    ) -> Result<ConfirmTable, StudyError>
    where
        F: Fn(&TrialContext) -> R + Send + Sync + 'static,
        R: IntoOutcome + Send + 'static,
    {
        let plan = self.confirm_plan(top, repeats)?;
        let round = plan.round.1;
        self.block_on_plan(plan, objective)?;
        Ok(confirm_table(&self.spec, &self.trials()?, round))
    }

    /// One-at-a-time ablation of the best configuration on `repeats` shared
    /// seeds with a synchronous objective; returns each param's effect with
    /// its interval, the most harmful reset first.
    pub fn ablate<F, R>(
        &self,
        baseline: Option<&Params>,
        repeats: u32,
        objective: F,
    ) -> Result<AblationTable, StudyError>
    where
        F: Fn(&TrialContext) -> R + Send + Sync + 'static,
        R: IntoOutcome + Send + 'static,
    {
        let plan = self.ablation_plan(baseline, repeats)?;
        let round = plan.round.1;
        self.block_on_plan(plan, objective)?;
        Ok(ablation_table(&self.spec, &self.trials()?, round))
    }

    fn block_on_plan<F, R>(&self, plan: Plan, objective: F) -> Result<SweepSummary, StudyError>
    where
        F: Fn(&TrialContext) -> R + Send + Sync + 'static,
        R: IntoOutcome + Send + 'static,
    {
        super::objective::block_on_objective(
            "confirm() and ablate() block and",
            "run_plan()",
            objective,
            |runner| self.run_plan(plan, runner),
        )
    }
}
