//! `hypersweep worker`: joins an existing study and runs its trials.
//!
//! The study's sweep file lives in the store (written by the `run` or `ask
//! --spec` that created it), so a worker needs only the store and the study's
//! name: it runs the stored command, draws from the stored space, and stops
//! when the study's budget is spent by all its processes together. Workers
//! are how a sweep grows past one machine (a SLURM array, a Kubernetes Job:
//! see `examples/cluster/`), which needs a store every machine reaches
//! (PostgreSQL).

use std::path::PathBuf;

use hypersweep_search::sweep::Devices;
use hypersweep_trials::device;

use super::EXIT_BAD_INPUT;
use super::common::{StudyArgs, open_existing, open_spec_file, study_name};
use super::drive::drive;
use hypersweep::Study;

/// Arguments of `worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// Trials at once in this process (default: the study's `run.parallel`).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Devices of this machine: `cpu`, `auto` (every GPU `nvidia-smi`
    /// lists) or GPU indices such as `0,1` (default: the study's).
    #[arg(long)]
    pub devices: Option<String>,
    /// Sweep file that creates the study if no process has yet, so that every
    /// task of a job array can run the same command (a file that changes an
    /// existing study is refused, as with `run`).
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

/// Runs `worker`.
pub fn worker(args: WorkerArgs) -> anyhow::Result<i32> {
    let max = hypersweep_search::sweep::MAX_PARALLEL;
    if let Some(k) = args.parallel.filter(|&k| k == 0 || k as u64 > max) {
        errln!("error: --parallel must be from 1 to {max}, got {k}");
        return Ok(EXIT_BAD_INPUT);
    }
    let devices = match args.devices.as_deref().map(parse_devices).transpose() {
        Ok(d) => d,
        Err(message) => {
            errln!("error: --devices: {message}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let mut study = match &args.spec {
        Some(path) => match open_spec_file(path, &args.study, false)? {
            Ok(study) => study,
            Err(code) => return Ok(code),
        },
        None => {
            let storage = open_existing(&args.study.storage)?;
            let name = study_name(storage.as_ref(), &args.study)?;
            Study::load(&name, storage)?
        }
    };
    let name = study.name().to_owned();
    let run = &study.spec().run;
    let parallel = args.parallel.unwrap_or(run.parallel);
    let devices = devices.unwrap_or_else(|| run.devices.clone());
    let per_trial = run.gpus_per_trial;
    match device::slots(&devices, parallel, run.trials_per_device, per_trial) {
        Ok(slots) => study.config_mut().slots = slots,
        Err(err) => {
            errln!("error: {err}");
            return Ok(EXIT_BAD_INPUT);
        }
    }
    drive(study, &args.study.storage, &format!("study `{name}`"), None)
}

/// `cpu`, `auto`, or a comma-separated list of GPU indices.
fn parse_devices(text: &str) -> Result<Devices, String> {
    match text.trim() {
        "cpu" => Ok(Devices::Cpu),
        "auto" => Ok(Devices::Auto),
        list => {
            let mut ids = Vec::new();
            for part in list.split(',') {
                let id: u32 = part.trim().parse().map_err(|_| {
                    format!("expected cpu, auto or GPU indices such as 0,1; got `{text}`")
                })?;
                if ids.contains(&id) {
                    return Err(format!("GPU {id} is listed twice"));
                }
                ids.push(id);
            }
            Ok(Devices::List(ids))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!(parse_devices("cpu"), Ok(Devices::Cpu));
        assert_eq!(parse_devices("0, 2"), Ok(Devices::List(vec![0, 2])));
        assert!(parse_devices("0,0").is_err());
        assert!(parse_devices("gpu").is_err());
    }
}
