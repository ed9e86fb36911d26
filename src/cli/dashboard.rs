//! `hypersweep dashboard` and `run --dashboard`: the live dashboard
//! ([`hypersweep::dashboard`]) over a store.
//!
//! A sled store that a sweep owns is read through the sweep's live socket,
//! as `status` reads it. A sled store nobody owns is opened by the
//! dashboard itself, which then owns it until it stops (sled allows one
//! process): it serves the live socket in turn, so `status` and `report`
//! still work, but a sweep on that store must wait; `run --dashboard`
//! avoids that by serving the dashboard from the sweep.

use std::net::IpAddr;

use super::common::StudyArgs;

/// Arguments of `dashboard`.
#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// Store, and the study `/` shows (default: the list of studies, or the
    /// only one).
    #[command(flatten)]
    pub study: StudyArgs,
    /// Address to listen on. Anything but a loopback address shows the
    /// studies, without a login, to whoever reaches it.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[cfg(feature = "dashboard")]
pub use served::{run, start_for_sweep};

#[cfg(feature = "dashboard")]
mod served {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::{Arc, Mutex};

    use anyhow::Context;
    use hypersweep::dashboard::Dashboard;
    use hypersweep_trials::Storage;

    use super::DashboardArgs;
    use crate::cli::common::{open_existing, serve_live, study_name};

    /// Runs `dashboard` until Ctrl-C.
    pub fn run(args: DashboardArgs) -> anyhow::Result<i32> {
        let storage = open_existing(&args.study.storage)?;
        let default_study = match &args.study.study {
            Some(_) => Some(study_name(storage.as_ref(), &args.study)?),
            None => None,
        };
        // Opened directly, the store is this process's now: let `status`
        // and `report` read it through us meanwhile.
        let _live = if storage.is_exclusive() {
            serve_live(&args.study.storage, &storage)
        } else {
            None
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        // When the sweep we read through ends, read the store anew (then
        // directly, serving the live socket in turn, as at the start).
        let location = args.study.storage.clone();
        let owner = Mutex::new(None);
        let reopen = move || {
            let storage = open_existing(&location).map_err(|e| format!("{e:#}"))?;
            if storage.is_exclusive()
                && let Ok(mut owner) = owner.lock()
            {
                *owner = serve_live(&location, &storage);
            }
            Ok(storage)
        };
        runtime.block_on(async {
            let dashboard = Dashboard::bind(args.host, args.port, storage, default_study)
                .await?
                .reopen_with(reopen);
            let addr = dashboard.local_addr()?;
            outln!(
                "dashboard of {} on http://{addr}/ (Ctrl-C stops it)",
                args.study.storage
            );
            if !args.host.is_loopback() {
                errln!(
                    "note: listening on {}: anyone who reaches it sees the studies (there is no login)",
                    args.host
                );
            }
            dashboard
                .serve(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            anyhow::Ok(0)
        })
    }

    /// Serves the dashboard of `study` on 127.0.0.1:`port` from a sweep's
    /// runtime, for as long as the runtime runs.
    pub fn start_for_sweep(
        runtime: &tokio::runtime::Runtime,
        port: u16,
        storage: &Arc<dyn Storage>,
        study: &str,
    ) -> anyhow::Result<()> {
        let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let dashboard = runtime.block_on(Dashboard::bind(
            host,
            port,
            Arc::clone(storage),
            Some(study.to_owned()),
        ))?;
        let addr = dashboard.local_addr()?;
        errln!("dashboard on http://{addr}/");
        runtime.spawn(async move {
            if let Err(err) = dashboard.serve(std::future::pending()).await {
                tracing::warn!(%err, "the dashboard stopped");
            }
        });
        Ok(())
    }
}

#[cfg(not(feature = "dashboard"))]
const NO_FEATURE: &str = "this hypersweep was built without the `dashboard` feature";

/// Without the `dashboard` feature: an error saying so.
#[cfg(not(feature = "dashboard"))]
pub fn run(_args: DashboardArgs) -> anyhow::Result<i32> {
    anyhow::bail!(NO_FEATURE)
}

/// Without the `dashboard` feature: an error saying so.
#[cfg(not(feature = "dashboard"))]
pub fn start_for_sweep(
    _runtime: &tokio::runtime::Runtime,
    _port: u16,
    _storage: &std::sync::Arc<dyn hypersweep_trials::Storage>,
    _study: &str,
) -> anyhow::Result<()> {
    anyhow::bail!(NO_FEATURE)
}
