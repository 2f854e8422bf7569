//! The shared PostgreSQL ledger (`ledger.postgres_url_env`): the same records, the same protocol
//! ([`super::protocol`]), for teams and CI runners.
//!
//! - **Records.** `records(seq, v, at, kind, line, crier_version)`: `line` is the record's exact
//!   JSON line (the file ledger's format), so reads, exports and imports are byte-identical.
//! - **One durable step = one committed transaction**, written before the step it guards.
//! - **Sequence numbers** come from a counter row updated inside the appending transaction (a
//!   PostgreSQL sequence is neither gapless nor in commit order): gapless, in commit order.
//! - **The writer lock** is a session advisory lock on a dedicated connection (released when the
//!   holder's connection closes, however the holder ends), plus a holder row for `status`.
//! - **Fencing.** Taking the lock increments a fence in the counter row; every append checks the
//!   writer's token in the same transaction, so a holder that lost its lock (its connection was
//!   cut, or another holder took over) can never append again.
//! - **Migrations** are versioned; a database whose schema is newer than this build is refused.
//! - Reads need no lock and see a consistent snapshot (one statement).
//!
//! Not yet: per-app locks (one lock per ledger today), heartbeats and `ledger unlock --force`,
//! PgBouncer detection, a current-state table (reads fold every record).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, NoTls};

use super::jsonl;
use super::lock::{LockHolder, LockState};
use super::protocol::{StoreSession, Writer};
use super::record::Record;
use super::{Ledger, LedgerError, LedgerRead};
use crate::clock::Clock;

/// The schema crier uses in the database.
pub const DEFAULT_SCHEMA: &str = "crier";

/// The migrations, in order; the database records the highest one applied.
const MIGRATIONS: &[&str] = &[
    // 1: records, the counter row with the fence, the holder of the writer lock.
    "CREATE TABLE IF NOT EXISTS {s}.records (
        seq bigint PRIMARY KEY,
        v integer NOT NULL,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        line text NOT NULL,
        crier_version text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS {s}.counter (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        fence bigint NOT NULL
    );
    INSERT INTO {s}.counter VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS {s}.holder (
        id integer PRIMARY KEY CHECK (id = 1),
        fence bigint NOT NULL,
        holder jsonb NOT NULL,
        since timestamptz NOT NULL,
        backend_pid integer NOT NULL
    );",
];

/// The PostgreSQL ledger at `url` (a libpq URL; `sslmode=disable|prefer|require|verify-ca|
/// verify-full`; with TLS the server's certificate is always verified).
#[derive(Clone)]
pub struct PgLedger {
    url: String,
    schema: String,
    /// The variable the URL came from, for messages (never the URL: it may hold a password).
    source: String,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger")
            .field("source", &self.source)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn pg(what: &str) -> impl Fn(tokio_postgres::Error) -> LedgerError + '_ {
    move |e| {
        let detail = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned());
        LedgerError::Backend(format!("PostgreSQL ledger: {what}: {detail}"))
    }
}

impl PgLedger {
    /// The ledger at `url`, named in messages by `source` (e.g. `CRIER_LEDGER_URL`).
    #[must_use]
    pub fn new(url: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            source: source.into(),
        }
    }

    /// The same ledger in another schema (tests give each their own).
    #[must_use]
    pub fn with_schema(mut self, schema: &str) -> Self {
        schema.clone_into(&mut self.schema);
        self
    }

    fn sql(&self, text: &str) -> String {
        text.replace("{s}", &format!("\"{}\"", self.schema))
    }

    /// A new connection (its driver runs on the current runtime).
    async fn connect(&self) -> Result<Client, LedgerError> {
        let (url, tls) = tls_of(&self.url);
        let fail = |e: tokio_postgres::Error| {
            LedgerError::Backend(format!(
                "cannot connect to the PostgreSQL ledger ({}): {e}{}",
                self.source,
                e.as_db_error()
                    .map(|d| format!(": {}", d.message()))
                    .unwrap_or_default()
            ))
        };
        let client = match tls {
            Tls::Off => {
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await.map_err(fail)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            }
            Tls::Verified => {
                let (client, conn) = tokio_postgres::connect(&url, rustls_connector()?)
                    .await
                    .map_err(fail)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            }
        };
        Ok(client)
    }

    /// The schema version the database has (0: no crier schema yet).
    async fn schema_version(&self, client: &Client) -> Result<usize, LedgerError> {
        let exists = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("\"{}\".migrations", self.schema)],
            )
            .await
            .map_err(pg("reading the schema version"))?
            .get::<_, bool>(0);
        if !exists {
            return Ok(0);
        }
        let v: Option<i32> = client
            .query_one(&self.sql("SELECT max(version) FROM {s}.migrations"), &[])
            .await
            .map_err(pg("reading the schema version"))?
            .get(0);
        Ok(usize::try_from(v.unwrap_or(0)).unwrap_or(0))
    }

    /// Creates or upgrades the schema; returns (from, to). Refuses a newer schema.
    ///
    /// # Errors
    /// A newer schema than this build knows, database errors.
    pub async fn migrate(&self) -> Result<(usize, usize), LedgerError> {
        let mut client = self.connect().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the migration"))?;
        // One migrator at a time.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("crier-migrate:{}", self.schema)],
        )
        .await
        .map_err(pg("locking the migration"))?;
        tx.batch_execute(&self.sql(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.migrations (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now(),
                crier_version text NOT NULL
             );",
        ))
        .await
        .map_err(pg("creating the schema"))?;
        let from: i32 = tx
            .query_one(
                &self.sql("SELECT coalesce(max(version), 0) FROM {s}.migrations"),
                &[],
            )
            .await
            .map_err(pg("reading the schema version"))?
            .get(0);
        let from = usize::try_from(from).unwrap_or(0);
        newer_check(&tx, &self.schema, from).await?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.batch_execute(&self.sql(m))
                .await
                .map_err(pg("migrating"))?;
            tx.execute(
                &self.sql("INSERT INTO {s}.migrations (version, crier_version) VALUES ($1, $2)"),
                &[
                    &i32::try_from(i + 1).unwrap_or(i32::MAX),
                    &env!("CARGO_PKG_VERSION"),
                ],
            )
            .await
            .map_err(pg("migrating"))?;
        }
        tx.commit().await.map_err(pg("committing the migration"))?;
        Ok((from, MIGRATIONS.len()))
    }

    async fn records(&self, client: &Client) -> Result<Vec<Record>, LedgerError> {
        let rows = client
            .query(&self.sql("SELECT line FROM {s}.records ORDER BY seq"), &[])
            .await
            .map_err(pg("reading the records"))?;
        let mut bytes = Vec::new();
        for row in rows {
            let line: String = row.get(0);
            bytes.extend(line.as_bytes());
        }
        jsonl::parse(&bytes)
            .map(|t| t.records)
            .map_err(|source| LedgerError::Parse {
                path: format!("PostgreSQL ledger ({})", self.source).into(),
                source,
            })
    }

    /// The records as JSON lines (for `ledger export`).
    ///
    /// # Errors
    /// Database errors.
    pub async fn export_bytes(&self) -> Result<Vec<u8>, LedgerError> {
        let client = self.connect().await?;
        if self.schema_version(&client).await? == 0 {
            return Ok(Vec::new());
        }
        let rows = client
            .query(&self.sql("SELECT line FROM {s}.records ORDER BY seq"), &[])
            .await
            .map_err(pg("reading the records"))?;
        Ok(rows
            .into_iter()
            .flat_map(|r| r.get::<_, String>(0).into_bytes())
            .collect())
    }

    /// Writes the records of an export into an empty ledger, in one transaction.
    ///
    /// # Errors
    /// A ledger that is not empty, database errors.
    pub async fn import_records(&self, records: &[Record]) -> Result<(), LedgerError> {
        self.migrate().await?;
        let mut client = self.connect().await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg("starting the import"))?;
        let seq: i64 = tx
            .query_one(
                &self.sql("SELECT seq FROM {s}.counter WHERE id = 1 FOR UPDATE"),
                &[],
            )
            .await
            .map_err(pg("locking the counter"))?
            .get(0);
        if seq != 0 {
            return Err(LedgerError::Backend(format!(
                "the PostgreSQL ledger ({}) is not empty ({seq} records): import only into an empty ledger",
                self.source
            )));
        }
        for r in records {
            insert(&tx, &self.sql(INSERT_RECORD), r).await?;
        }
        let last = records.last().map_or(0, |r| r.seq);
        tx.execute(
            &self.sql("UPDATE {s}.counter SET seq = $1 WHERE id = 1"),
            &[&i64::try_from(last).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(pg("updating the counter"))?;
        tx.commit().await.map_err(pg("committing the import"))
    }

    /// `ledger unlock --force`: ends the holder's session (its advisory lock goes with it) and
    /// moves the fence, so the old holder can never append again. Returns the holder, if any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn force_unlock(&self) -> Result<Option<LockHolder>, LedgerError> {
        let client = self.connect().await?;
        if self.schema_version(&client).await? == 0 {
            return Ok(None);
        }
        let row = client
            .query_opt(
                &self.sql("SELECT holder, backend_pid FROM {s}.holder WHERE id = 1"),
                &[],
            )
            .await
            .map_err(pg("reading the lock holder"))?;
        let Some(row) = row else { return Ok(None) };
        let holder: Option<LockHolder> =
            serde_json::from_value(row.get::<_, serde_json::Value>(0)).ok();
        let pid: i32 = row.get(1);
        client
            .execute(
                &self.sql("UPDATE {s}.counter SET fence = fence + 1 WHERE id = 1"),
                &[],
            )
            .await
            .map_err(pg("moving the fence"))?;
        client
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .map_err(pg("ending the holder's session"))?;
        client
            .execute(&self.sql("DELETE FROM {s}.holder WHERE id = 1"), &[])
            .await
            .map_err(pg("clearing the lock holder"))?;
        Ok(holder)
    }

    fn lock_key(&self) -> String {
        format!("crier-ledger:{}", self.schema)
    }
}

const INSERT_RECORD: &str = "INSERT INTO {s}.records (seq, v, at, kind, line, crier_version) VALUES ($1, $2, $3, $4, $5, $6)";

async fn insert(
    tx: &tokio_postgres::Transaction<'_>,
    sql: &str,
    r: &Record,
) -> Result<(), LedgerError> {
    let line = jsonl::encode(r).map_err(|e| LedgerError::Backend(e.to_string()))?;
    let line = String::from_utf8(line).map_err(|e| LedgerError::Backend(e.to_string()))?;
    tx.execute(
        sql,
        &[
            &i64::try_from(r.seq).unwrap_or(i64::MAX),
            &i32::try_from(r.v).unwrap_or(i32::MAX),
            &r.at,
            &r.body.kind(),
            &line,
            &env!("CARGO_PKG_VERSION"),
        ],
    )
    .await
    .map_err(pg("appending a record"))?;
    Ok(())
}

/// Refuses a schema newer than this build knows, naming the crier that created it.
async fn newer_check(
    client: &impl tokio_postgres::GenericClient,
    schema: &str,
    version: usize,
) -> Result<(), LedgerError> {
    if version <= MIGRATIONS.len() {
        return Ok(());
    }
    let by: String = client
        .query_one(
            &format!(
                "SELECT crier_version FROM \"{schema}\".migrations ORDER BY version DESC LIMIT 1"
            ),
            &[],
        )
        .await
        .map_or_else(
            |_| "a newer crier".to_owned(),
            |r| format!("crier {}", r.get::<_, String>(0)),
        );
    Err(LedgerError::Backend(format!(
        "the PostgreSQL ledger's schema is version {version}, newer than this crier ({}) knows ({}): it was migrated by {by}; install that version or newer",
        env!("CARGO_PKG_VERSION"),
        MIGRATIONS.len()
    )))
}

/// How to talk TLS, from the URL's `sslmode`.
enum Tls {
    Off,
    Verified,
}

/// The URL tokio-postgres understands, and whether to use (always verified) TLS. libpq's
/// `verify-ca`/`verify-full` become `require` with rustls's verification; `disable` is plain.
fn tls_of(url: &str) -> (String, Tls) {
    let lower = url.to_ascii_lowercase();
    for strict in ["sslmode=verify-full", "sslmode=verify-ca"] {
        if let Some(i) = lower.find(strict) {
            let mut out = url.to_owned();
            out.replace_range(i..i + strict.len(), "sslmode=require");
            return (out, Tls::Verified);
        }
    }
    if lower.contains("sslmode=disable") {
        (url.to_owned(), Tls::Off)
    } else if lower.contains("sslmode=require") || lower.contains("sslmode=prefer") {
        (url.to_owned(), Tls::Verified)
    } else {
        // libpq's default is `prefer`; crier asks for TLS and verifies it.
        (url.to_owned(), Tls::Verified)
    }
}

fn rustls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, LedgerError> {
    crate::api::client::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The writer's hold on a PostgreSQL ledger: the connection that owns the advisory lock, and
/// the fence token every append must still match.
pub struct PgSession {
    client: Client,
    schema: String,
    fence: i64,
    source: String,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSession")
            .field("fence", &self.fence)
            .finish_non_exhaustive()
    }
}

impl StoreSession for PgSession {
    async fn append(&mut self, record: &Record, line: &[u8]) -> Result<(), LedgerError> {
        let sql = |t: &str| t.replace("{s}", &format!("\"{}\"", self.schema));
        let line = std::str::from_utf8(line).map_err(|e| LedgerError::Backend(e.to_string()))?;
        let seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
        // One statement, one transaction, one round trip: the counter moves from seq - 1 to seq
        // only while this writer's fence is current, and the record is inserted with it.
        let inserted = self
            .client
            .execute(
                &sql(
                    "WITH c AS (
                        UPDATE {s}.counter SET seq = $1::bigint
                        WHERE id = 1 AND seq = $1::bigint - 1 AND fence = $2::bigint
                        RETURNING seq
                     )
                     INSERT INTO {s}.records (seq, v, at, kind, line, crier_version)
                     SELECT c.seq, $3::integer, $4::timestamptz, $5::text, $6::text, $7::text FROM c",
                ),
                &[
                    &seq,
                    &self.fence,
                    &i32::try_from(record.v).unwrap_or(i32::MAX),
                    &record.at,
                    &record.body.kind(),
                    &line,
                    &env!("CARGO_PKG_VERSION"),
                ],
            )
            .await
            .map_err(pg("appending a record"))?;
        if inserted == 1 {
            return Ok(());
        }
        // Nothing was written: say why.
        let row = self
            .client
            .query_one(&sql("SELECT seq, fence FROM {s}.counter WHERE id = 1"), &[])
            .await
            .map_err(pg("reading the counter"))?;
        let (now_seq, fence): (i64, i64) = (row.get(0), row.get(1));
        if fence != self.fence {
            return Err(LedgerError::LockLost {
                path: format!(
                    "PostgreSQL ledger ({}): another writer took the lock (fence {fence}, this writer {})",
                    self.source, self.fence
                )
                .into(),
            });
        }
        Err(LedgerError::Backend(format!(
            "PostgreSQL ledger ({}): the ledger is at seq {now_seq}, this writer expected {}; take the lock again",
            self.source,
            seq - 1
        )))
    }

    fn describe(&self) -> String {
        format!("PostgreSQL ledger ({})", self.source)
    }
}

/// The writer of a [`PgLedger`].
pub type PgWriter = Writer<PgSession>;

impl Ledger for PgLedger {
    type Writer = PgWriter;

    fn describe(&self) -> String {
        format!("PostgreSQL ledger ({})", self.source)
    }

    fn ephemeral(&self) -> bool {
        false
    }

    async fn read(&self) -> Result<LedgerRead, LedgerError> {
        let client = self.connect().await?;
        let version = self.schema_version(&client).await?;
        newer_check(&client, &self.schema, version).await?;
        if version == 0 {
            return Ok(LedgerRead::default());
        }
        let records = self.records(&client).await?;
        Ok(LedgerRead {
            snapshot: super::LedgerSnapshot::fold_owned(records),
            warnings: Vec::new(),
        })
    }

    async fn current_seq(&self) -> Result<u64, LedgerError> {
        Ok(self.read().await?.snapshot.seq)
    }

    async fn lock_state(&self) -> Result<LockState, LedgerError> {
        let client = self.connect().await?;
        if self.schema_version(&client).await? == 0 {
            return Ok(LockState::Free);
        }
        let free: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&self.lock_key()],
            )
            .await
            .map_err(pg("probing the lock"))?
            .get(0);
        if free {
            let _ = client
                .execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                    &[&self.lock_key()],
                )
                .await;
            return Ok(LockState::Free);
        }
        let holder = client
            .query_opt(&self.sql("SELECT holder FROM {s}.holder WHERE id = 1"), &[])
            .await
            .map_err(pg("reading the lock holder"))?
            .and_then(|r| serde_json::from_value(r.get::<_, serde_json::Value>(0)).ok());
        Ok(LockState::Held(holder))
    }

    async fn lock(
        &self,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<PgWriter, LedgerError> {
        self.migrate().await?;
        let client = self.connect().await?;
        let start = tokio::time::Instant::now();
        loop {
            let got: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                    &[&self.lock_key()],
                )
                .await
                .map_err(pg("taking the lock"))?
                .get(0);
            if got {
                break;
            }
            let waited = start.elapsed();
            if waited >= timeout {
                let current = self.lock_state().await.ok().and_then(|s| match s {
                    LockState::Held(h) => h,
                    LockState::Free => None,
                });
                return Err(LedgerError::Lock(super::lock::LockError::Timeout {
                    path: self.describe().into(),
                    holder: current.map(Box::new),
                    waited,
                }));
            }
            tokio::time::sleep(Duration::from_millis(50).min(timeout - waited)).await;
        }
        // Session advisory locks need a session of our own: behind a transaction-pooling proxy
        // (PgBouncer in transaction mode) two statements may run on two server backends, and
        // the lock would be held by a connection crier does not own.
        let mut pids = Vec::with_capacity(2);
        for _ in 0..2 {
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .map_err(pg("checking the session"))?
                .get(0);
            pids.push(pid);
        }
        let (first, second) = (pids[0], pids[1]);
        if first != second {
            return Err(LedgerError::Backend(format!(
                "the PostgreSQL ledger ({}) is reached through a transaction-pooling proxy (PgBouncer in transaction mode?): two statements ran on two server sessions, so its writer lock would not be safe; connect directly or through a session-pooled port",
                self.source
            )));
        }
        // A new fence: every earlier holder's appends are refused from now on.
        let fence: i64 = client
            .query_one(
                &self.sql("UPDATE {s}.counter SET fence = fence + 1 WHERE id = 1 RETURNING fence"),
                &[],
            )
            .await
            .map_err(pg("fencing"))?
            .get(0);
        let now: DateTime<Utc> = clock.now();
        let holder_json =
            serde_json::to_value(&holder).map_err(|e| LedgerError::Backend(e.to_string()))?;
        client
            .execute(
                &self.sql(
                    "INSERT INTO {s}.holder (id, fence, holder, since, backend_pid)
                     VALUES (1, $1, $2, $3, pg_backend_pid())
                     ON CONFLICT (id) DO UPDATE SET fence = $1, holder = $2, since = $3, backend_pid = pg_backend_pid()",
                ),
                &[&fence, &holder_json, &now],
            )
            .await
            .map_err(pg("recording the lock holder"))?;
        let records = self.records(&client).await?;
        let session = PgSession {
            client,
            schema: self.schema.clone(),
            fence,
            source: self.source.clone(),
        };
        Writer::open(session, &records, None, Vec::new(), now).await
    }
}
