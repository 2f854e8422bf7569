//! `crier emulator`: a local stand-in for the Tencent Cloud Chat push API family.
//!
//! Server code: it imports only `crate::api::usersig` and `crate::api::wire` from the API side,
//! never the client, the planner or the dispatcher, so a bug shared by both sides cannot hide.
#![allow(
    clippy::disallowed_methods,
    reason = "the emulator is a server of its own: its clock, randomness (TaskIds, generated users, faults) and files (emulator.yaml, the CA it writes) are its edges"
)]

pub mod attrs;
pub mod checks;
pub mod cli;
pub mod config;
pub mod ctx;
pub mod http;
pub mod recall;
pub mod server;
pub mod service;
pub mod state;
pub mod tls;
pub mod users;

pub use cli::{EmulatorArgs, start_cli};
pub use config::{AppConfig, EmulatorConfig, FaultSettings, SecretKey, UserSeed};
pub use state::{PushRecord, Stats};
pub use users::{UserRecord, UserStore};

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// A running emulator.
pub struct EmulatorHandle {
    addr: SocketAddr,
    tls: bool,
    ca_pem: Option<String>,
    cert_path: Option<PathBuf>,
    shared: Arc<state::Shared>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl EmulatorHandle {
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR` (the certificate names the listen address).
    #[must_use]
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// The CA certificate (PEM) to trust, with `--tls-self-signed`.
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Where the CA certificate was written, if it was.
    #[must_use]
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert_path.as_deref()
    }

    /// Accepted pushes, oldest first.
    #[must_use]
    pub fn pushes(&self) -> Vec<PushRecord> {
        self.shared.pushes()
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Reads an app's users (`None` for an unknown app).
    pub fn with_users<R>(&self, sdkappid: u64, f: impl FnOnce(&UserStore) -> R) -> Option<R> {
        self.shared
            .apps
            .get(&sdkappid)
            .map(|app| f(&state::lock(app).users))
    }

    /// Shifts the emulator's clock (as `POST /emulator/clock`).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.shared.set_offset_seconds(seconds);
    }

    /// Clears pushes, counters, quota, timers and deduplication (as `POST /emulator/reset`).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, lets open requests finish, and waits for the server to stop.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Starts the emulator on an already-bound listener (port 0 in tests).
///
/// # Errors
/// The listener's address is unreadable, TLS setup failed, or the certificate file could not be written.
pub async fn start(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
) -> anyhow::Result<EmulatorHandle> {
    let addr = listener
        .local_addr()
        .context("reading the listener's address")?;
    let (acceptor, ca_pem, cert_path) = if config.tls_self_signed {
        let t = tls::self_signed(addr.ip())?;
        if let Some(path) = &config.cert_out {
            std::fs::write(path, &t.ca_pem).with_context(|| {
                format!(
                    "writing the emulator's CA certificate to {}",
                    path.display()
                )
            })?;
        }
        (Some(t.acceptor), Some(t.ca_pem), config.cert_out.clone())
    } else {
        (None, None, None)
    };
    let shared = Arc::new(state::Shared::new(&config));
    let router = http::router(Arc::clone(&shared));
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, acceptor, router, rx));
    Ok(EmulatorHandle {
        addr,
        tls: config.tls_self_signed,
        ca_pem,
        cert_path,
        shared,
        shutdown: tx,
        task,
    })
}

#[cfg(test)]
mod tests {
    /// What the emulator may use from the rest of crier: the API's wire format and UserSig (the
    /// server side of the same protocol), the clock and secret traits, and the duration
    /// grammar. Never the client, the planner, the dispatcher, the renderer or the ledger.
    const ALLOWED: [&str; 5] = ["api::usersig", "api::wire", "clock", "secrets", "duration"];

    /// Every `crate::…` path in every file of this folder (read from disk, not a list).
    #[test]
    fn the_emulator_imports_only_the_protocol_and_small_utilities() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/emulator");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // This test names the forbidden modules itself; skip its own file's test module.
            let text = text
                .split("#[cfg(test)]\nmod tests {")
                .next()
                .unwrap_or_default();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(rest.len());
                let used = rest[..end].trim_end_matches(':');
                assert!(
                    ALLOWED
                        .iter()
                        .any(|a| used == *a || used.starts_with(&format!("{a}::"))),
                    "{} uses crate::{used}, which the emulator may not import (allowed: {ALLOWED:?})",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(
            checked > 10,
            "the scan found the emulator's imports ({checked})"
        );
    }
}
