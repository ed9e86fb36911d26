//! The PostgreSQL side of the storage tests: a database per store on the
//! server named by `HYPERSWEEP_TEST_POSTGRES`, and the properties only a
//! networked store has (schema versions, concurrent connects, dropped
//! connections, being called from every kind of thread and runtime).
//!
//! Without the variable each test prints why it skipped and passes, unless
//! `CI` is set: CI must start PostgreSQL (`scripts/pg-test-server.sh`).

use super::*;
use hypersweep_trials::PostgresStorage;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const URL_ENV: &str = "HYPERSWEEP_TEST_POSTGRES";

/// The server's URL, or `None` (after saying why) when there is none.
fn server_url() -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{URL_ENV} is unset: CI must start PostgreSQL (scripts/pg-test-server.sh)"
            );
            eprintln!(
                "skipped: {URL_ENV} is unset (start a server with scripts/pg-test-server.sh)"
            );
            None
        }
    }
}

/// A database of its own for one test, dropped with this value.
pub struct PgDatabase {
    server: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// A fresh database, or `None` when no server is configured.
    pub fn create() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let server = server_url()?;
        let name = format!(
            "hypersweep_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(
            &server,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        admin(&server, &format!("CREATE DATABASE {name}"));
        let url = with_database(&server, &name);
        Some(PgDatabase { server, name, url })
    }

    /// A new handle on this database: another process, as far as the
    /// database can tell.
    pub fn connect(&self) -> PostgresStorage {
        PostgresStorage::connect(&self.url).expect("connect")
    }

    /// Runs `sql` in this database.
    pub fn execute(&self, sql: &str) {
        admin(&self.url, sql);
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        admin(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// `server`'s URL (URL or `key=value` form) naming database `name`.
fn with_database(server: &str, name: &str) -> String {
    let Some(scheme_end) = server.find("://") else {
        return format!("{server} dbname={name}");
    };
    let (base, query) = match server.find('?') {
        Some(q) => server.split_at(q),
        None => (server, ""),
    };
    let authority_end = base[scheme_end + 3..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + 3 + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Runs `sql` on a connection of its own, from a thread of its own (so it
/// works whatever runtime the test runs in).
fn admin(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("admin connection");
            let driver = tokio::spawn(connection);
            client.batch_execute(&sql).await.expect("admin statement");
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .expect("admin thread");
}

/// The conformance suite's fixture.
pub fn pg_store() -> Option<(PgDatabase, PostgresStorage)> {
    let db = PgDatabase::create()?;
    let store = db.connect();
    Some((db, store))
}

impl Handles for PgDatabase {
    fn second_handle(&self) -> Option<Box<dyn Storage>> {
        Some(Box::new(self.connect()))
    }
}

#[test]
fn postgres_refuses_a_newer_schema() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    drop(db.connect());
    db.execute("UPDATE hypersweep_meta SET value = '99' WHERE key = 'schema_version'");
    match PostgresStorage::connect(&db.url) {
        Err(StorageError::SchemaVersion {
            found, expected, ..
        }) => {
            assert_eq!(found, "99");
            assert_eq!(expected, PostgresStorage::SCHEMA_VERSION);
        }
        other => panic!("expected SchemaVersion, got {other:?}"),
    }
}

#[test]
fn postgres_processes_connecting_at_once_create_the_schema_once() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    let stores: Vec<PostgresStorage> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6).map(|_| scope.spawn(|| db.connect())).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    stores[0]
        .create_study("s", &spec(Method::Random))
        .expect("study");
    assert_eq!(
        stores[5].list_studies().expect("names"),
        vec!["s".to_owned()]
    );
}

#[test]
fn postgres_survives_dropped_connections() {
    let Some((db, s)) = pg_store() else {
        return;
    };
    s.create_study("s", &spec(Method::Random)).expect("study");
    s.create_trial("s", new_trial(0.1)).expect("trial");
    // The server ends every connection of the store, as a restart or a
    // network cut would; the pool still holds them.
    db.execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name
    ));
    s.report("s", 0, 1, 0.5)
        .expect("report on a fresh connection");
    assert_eq!(s.trial("s", 0).expect("read").intermediate, vec![(1, 0.5)]);
}

#[test]
fn postgres_url_gets_the_test_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5433/postgres", "x"),
        "postgres://postgres@127.0.0.1:5433/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    assert_eq!(
        with_database("host=h user=u", "x"),
        "host=h user=u dbname=x"
    );
}

/// Called directly on a current-thread runtime (where `block_on` would
/// panic), then dropped there.
#[tokio::test]
async fn postgres_works_on_a_current_thread_runtime() {
    let Some((_db, s)) = pg_store() else {
        return;
    };
    s.create_study("s", &spec(Method::Random)).expect("study");
    let t = s.create_trial("s", new_trial(0.1)).expect("trial");
    s.report("s", t.number, 0, 1.5).expect("report");
    let done = s
        .finish_trial("s", t.number, outcome(TrialState::Complete, Some(1.5)))
        .expect("finish");
    assert_eq!(done.intermediate, vec![(0, 1.5)]);
    drop(s);
}

/// Through `blocking` (block_in_place) on a multi-thread runtime, and from
/// spawn_blocking threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_works_from_runtime_workers_and_blocking_threads() {
    let Some((_db, s)) = pg_store() else {
        return;
    };
    let s = Arc::new(s);
    hypersweep_trials::blocking(|| s.create_study("s", &spec(Method::Random))).expect("study");
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::task::spawn_blocking(move || s.create_trial("s", new_trial(0.1)))
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("join").expect("trial").number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, vec![0, 1, 2, 3]);
    let listed = hypersweep_trials::blocking(|| s.trials("s")).expect("list");
    assert_eq!(listed.len(), 4);
}
