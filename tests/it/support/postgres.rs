//! The PostgreSQL tests' server: on when `CRIER_TEST_DATABASE_URL` is set (`.ci/run` sets it),
//! each test in a database of its own.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server's URL, or `None` (and a line saying the test was skipped) when it is not set.
pub fn server() -> Option<String> {
    match std::env::var("CRIER_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "skipped: CRIER_TEST_DATABASE_URL is not set (the PostgreSQL tests need a server)"
            );
            None
        }
    }
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A fresh database on the server; returns its URL. Panics when the server is unreachable:
/// a test that was asked to run must not pass by skipping.
pub async fn database(server: &str) -> String {
    let name = format!(
        "crier_t_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let (client, conn) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .expect("CRIER_TEST_DATABASE_URL is set but the server is unreachable");
    tokio::spawn(conn);
    // Databases of earlier runs whose process is gone are dropped, so runs do not pile up.
    let old = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'crier\\_t\\_%'",
            &[],
        )
        .await
        .unwrap();
    for row in old {
        let db: String = row.get(0);
        let pid = db.split('_').nth(2).unwrap_or_default();
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = client
                .simple_query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .await;
        }
    }
    client
        .simple_query(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    client
        .simple_query(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    // Replace the database name (the path of the URL).
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    let mut url = format!("{base}/{name}");
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    if !url.contains("sslmode=") {
        url.push_str(if url.contains('?') { "&" } else { "?" });
        url.push_str("sslmode=disable");
    }
    url
}
