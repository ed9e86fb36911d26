//! The live dashboard: the report's views of a study, kept up to date in
//! the browser while trials run (feature `dashboard`).
//!
//! The page is the report itself ([`crate::report::page`] with
//! [`Page::Live`]): the same template, style and drawing script, plus
//! `dashboard.js`, which polls and merges. Polling asks for what changed
//! since a cursor ([`feed`]): `GET /api/changes?study=S&since=V` answers the
//! new version, the trials that are new or changed after `V` and, when
//! anything changed, the study's head (counts, best, importance). A page
//! open on a 50,000-trial study therefore moves a few trials per poll, not
//! the study. Routes: `/` (the study list, or the only study's page),
//! `/study?name=S`, `/api/studies`, `/api/changes`.
//!
//! The server is axum on the tokio runtime hypersweep already runs: axum is
//! maintained by the tokio project, builds on hyper and tower (which tokio
//! users already have), and needs no runtime of its own. It sits behind the
//! `dashboard` feature so that an embedder of the library need not compile
//! a web stack.
//!
//! The dashboard reads the store through any [`Storage`]: a sled store
//! directly or through its owner's live socket (as `status` does), or
//! PostgreSQL; `run --dashboard` serves it from the sweep's own process. It
//! binds 127.0.0.1 unless told otherwise, and answers only requests whose
//! `Host` names that address or `localhost` while bound to loopback, so a
//! web page elsewhere cannot read the studies through DNS rebinding. It has
//! no login: binding another address shows the studies to whoever reaches
//! that address.

pub mod feed;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hypersweep_trials::{Storage, StorageError};
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;

use crate::report::{self, Page};
use feed::StudyFeed;

/// The script that polls for changes and merges them into the report.
const SCRIPT: &str = include_str!("dashboard.js");

/// How often a page asks for changes.
pub const POLL_MS: u64 = 2000;

/// Why the dashboard could not serve.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The address could not be bound (in use, or not this machine's).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped on an I/O error.
    #[error("the dashboard stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// A bound dashboard, ready to [`Dashboard::serve`].
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
}

/// Opens the store again when the one the dashboard reads fails.
pub type Reopen = Box<dyn Fn() -> Result<Arc<dyn Storage>, String> + Send + Sync>;

struct Shared {
    storage: Mutex<Arc<dyn Storage>>,
    reopen: Option<Reopen>,
    /// The study `/` shows when the store holds several (`run --dashboard`).
    default_study: Option<String>,
    feeds: Mutex<HashMap<String, Arc<Mutex<StudyFeed>>>>,
    /// Hosts a request may name while bound to loopback; `None`: any.
    allowed_hosts: Option<Vec<String>>,
}

impl Dashboard {
    /// Binds `host:port` (port 0: any free port) for the studies of
    /// `storage`; `default_study` is the one `/` shows when the store holds
    /// several.
    pub async fn bind(
        host: IpAddr,
        port: u16,
        storage: Arc<dyn Storage>,
        default_study: Option<String>,
    ) -> Result<Dashboard, DashboardError> {
        let addr = SocketAddr::new(host, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DashboardError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| DashboardError::Bind { addr, source })?;
        let allowed_hosts = host.is_loopback().then(|| {
            let port = local.port();
            let ip = match local.ip() {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            };
            vec![
                format!("{ip}:{port}"),
                format!("localhost:{port}"),
                ip,
                "localhost".to_owned(),
            ]
        });
        Ok(Dashboard {
            listener,
            shared: Arc::new(Shared {
                storage: Mutex::new(storage),
                reopen: None,
                default_study,
                feeds: Mutex::new(HashMap::new()),
                allowed_hosts,
            }),
        })
    }

    /// Opens the store again with `reopen` when reading it fails: a sweep
    /// that owned a sled store (read through its live socket) has ended,
    /// and the store is to be read some other way.
    pub fn reopen_with(
        mut self,
        reopen: impl Fn() -> Result<Arc<dyn Storage>, String> + Send + Sync + 'static,
    ) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.reopen = Some(Box::new(reopen));
        }
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DashboardError> {
        let app = Router::new()
            .route("/", get(index))
            .route("/study", get(study_page))
            .route("/api/studies", get(api_studies))
            .route("/api/changes", get(api_changes))
            // Browsers ask for it; an empty answer keeps a 404 out of the
            // page's console.
            .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
            .layer(middleware::from_fn_with_state(
                Arc::clone(&self.shared),
                check_host,
            ))
            .with_state(self.shared);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(DashboardError::Serve)
    }
}

/// Refuses a request whose `Host` is not the loopback address the
/// dashboard is bound to (DNS rebinding).
async fn check_host(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(allowed) = &shared.allowed_hosts {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
            return (
                StatusCode::FORBIDDEN,
                format!("the dashboard answers only requests to {}", allowed[0]),
            )
                .into_response();
        }
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct StudyQuery {
    name: String,
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    study: String,
    #[serde(default)]
    since: u64,
}

/// A failed request: the status and a message for people.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

impl Shared {
    fn storage(&self) -> Result<Arc<dyn Storage>, Failure> {
        Ok(Arc::clone(&*self.storage.lock().map_err(internal)?))
    }

    /// `read` on the store; when it fails the way a vanished owner makes
    /// it fail (I/O, a backend error) and the store can be reopened, once
    /// more on the reopened store.
    fn read<R>(
        &self,
        mut read: impl FnMut(&dyn Storage) -> Result<R, StorageError>,
    ) -> Result<R, Failure> {
        let storage = self.storage()?;
        match read(storage.as_ref()) {
            Err(StorageError::Io(_) | StorageError::Backend(_)) if self.reopen.is_some() => {
                let reopen = self.reopen.as_ref().ok_or_else(|| internal("no reopen"))?;
                let fresh = reopen().map_err(internal)?;
                *self.storage.lock().map_err(internal)? = Arc::clone(&fresh);
                read(fresh.as_ref()).map_err(internal)
            }
            other => other.map_err(internal),
        }
    }
}

/// Runs `f` on the study's feed (opened on first use, refreshed when due),
/// off the async threads: the store's calls block.
async fn with_feed<R: Send + 'static>(
    shared: Arc<Shared>,
    name: String,
    f: impl FnOnce(&StudyFeed) -> R + Send + 'static,
) -> Result<R, Failure> {
    tokio::task::spawn_blocking(move || {
        let existing = shared.feeds.lock().map_err(internal)?.get(&name).cloned();
        let feed = match existing {
            Some(feed) => {
                let mut guard = feed.lock().map_err(internal)?;
                shared.read(|storage| guard.refresh_if_due(storage))?;
                return Ok(f(&guard));
            }
            None => shared.read(|storage| StudyFeed::open(storage, &name))?,
        };
        let Some(feed) = feed else {
            return Err(Failure(
                StatusCode::NOT_FOUND,
                format!("no study named `{name}`"),
            ));
        };
        let out = f(&feed);
        // Only studies that exist get a feed, so the map is bounded by the
        // store, not by what clients ask for.
        shared
            .feeds
            .lock()
            .map_err(internal)?
            .entry(name)
            .or_insert_with(|| Arc::new(Mutex::new(feed)));
        Ok(out)
    })
    .await
    .map_err(internal)?
}

async fn study_names(shared: &Arc<Shared>) -> Result<Vec<String>, Failure> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || shared.read(|storage| storage.list_studies()))
        .await
        .map_err(internal)?
}

async fn study_page(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<StudyQuery>,
) -> Result<Html<String>, Failure> {
    page_of(shared, q.name).await
}

async fn page_of(shared: Arc<Shared>, name: String) -> Result<Html<String>, Failure> {
    with_feed(shared, name, |feed| {
        let data = feed.page_data(POLL_MS);
        Html(report::page(
            feed.name(),
            &data,
            Page::Live { script: SCRIPT },
            // Confirmation and ablation tables are the report's; the live
            // page follows the search.
            "<p>Seed repeats, confirmation and ablation tables: <code>hypersweep \
             report</code>.</p>",
        ))
    })
    .await
}

/// The only study's page (or the default study's); else the list.
async fn index(State(shared): State<Arc<Shared>>) -> Result<Html<String>, Failure> {
    if let Some(name) = shared.default_study.clone() {
        return page_of(shared, name).await;
    }
    let names = study_names(&shared).await?;
    if let [one] = names.as_slice() {
        return page_of(Arc::clone(&shared), one.clone()).await;
    }
    Ok(Html(study_list(&names)))
}

/// The page that lists a store's studies.
fn study_list(names: &[String]) -> String {
    let items: String = if names.is_empty() {
        "<p>The store holds no study yet; this page shows the studies once a sweep starts (reload it).</p>".to_owned()
    } else {
        let links: String = names
            .iter()
            .map(|n| {
                format!(
                    "<li><a href=\"/study?name={}\">{}</a></li>",
                    url_component(n),
                    report::escape_html(n)
                )
            })
            .collect();
        format!("<ul>{links}</ul>")
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>hypersweep dashboard</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:20px}}</style></head>\
         <body><h1>hypersweep dashboard</h1><h2>Studies</h2>{items}</body></html>"
    )
}

async fn api_studies(State(shared): State<Arc<Shared>>) -> Result<Response, Failure> {
    let names = study_names(&shared).await?;
    Ok(axum::Json(json!({ "studies": names })).into_response())
}

async fn api_changes(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, Failure> {
    let since = q.since;
    let delta = with_feed(shared, q.study, move |feed| feed.since(since).to_json()).await?;
    Ok(axum::Json(delta).into_response())
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn url_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
