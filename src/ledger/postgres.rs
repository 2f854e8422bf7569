//! The shared PostgreSQL ledger (`ledger.postgres_url_env`): the same records, the same protocol
//! ([`super::protocol`]), for teams and CI runners.
//!
//! - **Records.** `records(seq, v, at, kind, line, crier_version)`: `line` is the record's exact
//!   JSON line (the file ledger's format), so reads, exports and imports are byte-identical.
//! - **One durable step = one committed transaction**, written before the step it guards.
//! - **Sequence numbers** come from a counter row updated inside the appending transaction (a
//!   PostgreSQL sequence is neither gapless nor in commit order): gapless, in commit order.
//! - **Locks per app.** An apply locks each app it sends on, keyed by its sdkappid (the same
//!   app in every repository), in ascending order so two writers cannot deadlock: a session
//!   advisory lock on the writer's dedicated connection (released when that connection closes,
//!   however the holder ends), plus a row in `locks` naming the holder. Every app writer also
//!   holds the ledger's key in shared mode; a writer of the whole ledger (`ledger resolve`)
//!   holds it exclusively (row 0). Writers of different apps append side by side: the counter
//!   row orders them, and a writer that finds its sequence number taken reads the other
//!   writers' records and tries again ([`super::protocol::Appended::Behind`]).
//! - **Leases.** A holder's connection updates its rows' heartbeat (database time) every
//!   quarter of the lease (`ledger.lease`, default 2m). A holder whose heartbeat is older than
//!   the lease hangs: the next writer that needs its lock ends its session and takes over.
//! - **Fencing.** Taking a lock increments that row's fence; every append checks all of the
//!   writer's fences in the same statement (the rows locked `FOR SHARE`), so a holder whose lock
//!   was taken over or forced can never append again.
//! - **Migrations** are versioned; a database whose schema is newer than this build is refused.
//! - **Checkpoints.** `checkpoints` holds one row: the last [`Checkpoint`] a writer stored
//!   (every [`super::checkpoint::EVERY`] records, and after an import). Reads fold it with the
//!   records after it, so their cost stays what the last weeks hold.
//! - Reads need no lock and see a consistent snapshot (one read-only repeatable-read
//!   transaction).
//! - A transaction-pooling proxy (PgBouncer in transaction mode) is refused: session advisory
//!   locks need a session of their own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, NoTls};

use super::checkpoint::Checkpoint;
use super::jsonl;
use super::lock::{HeldLock, LockHolder};
use super::protocol::{Appended, Folded, StoreSession, Writer};
use super::record::Record;
use super::{AppScope, Ledger, LedgerError, LedgerRead, LedgerWarning};
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
    // 2: one lock row per app (sdkappid; 0 is the whole ledger) with its fence and heartbeat;
    // the ledger-wide holder row and the counter's fence are no longer used.
    "CREATE TABLE IF NOT EXISTS {s}.locks (
        sdkappid bigint PRIMARY KEY,
        fence bigint NOT NULL DEFAULT 0,
        holder jsonb,
        heartbeat timestamptz,
        backend_pid integer
    );
    INSERT INTO {s}.locks (sdkappid, fence) SELECT 0, fence FROM {s}.counter WHERE id = 1
        ON CONFLICT DO NOTHING;
    DROP TABLE IF EXISTS {s}.holder;",
    // 3: the last checkpoint (one row; written with INSERT or UPDATE, never DELETE, so the
    // usual runtime role may write it).
    "CREATE TABLE IF NOT EXISTS {s}.checkpoints (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        record_hash text NOT NULL,
        crier_version text NOT NULL,
        body text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now()
    );",
];

/// `text` with `{s}` naming the (quoted) schema crier's tables are in.
fn in_schema(schema: &str, text: &str) -> String {
    text.replace("{s}", &format!("\"{schema}\""))
}

/// Stores a checkpoint unless a newer one is there.
const SAVE_CHECKPOINT: &str =
    "INSERT INTO {s}.checkpoints AS c (id, seq, record_hash, crier_version, body)
    VALUES (1, $1, $2, $3, $4)
    ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, record_hash = EXCLUDED.record_hash,
        crier_version = EXCLUDED.crier_version, body = EXCLUDED.body, written_at = now()
    WHERE c.seq < EXCLUDED.seq";

/// The schema version from which `checkpoints` exists.
const CHECKPOINTS_SINCE: usize = 3;

/// How long a holder may stay silent before another writer takes its lock over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// The rows of `locks` held now: the row's backend holds the row's advisory key. `$1` is the
/// ledger key's text, `$2` the prefix of an app key's text.
const HELD_LOCKS: &str = "SELECT l.sdkappid, l.holder, l.backend_pid,
        extract(epoch FROM now() - l.heartbeat)::float8
    FROM {s}.locks l
    WHERE l.holder IS NOT NULL AND EXISTS (
        SELECT 1 FROM pg_locks p
        WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 1
          AND p.pid = l.backend_pid
          AND (l.sdkappid <> 0 OR p.mode = 'ExclusiveLock')
          AND ((p.classid::bigint << 32) | p.objid::bigint) = hashtextextended(
              CASE WHEN l.sdkappid = 0 THEN $1::text ELSE $2::text || l.sdkappid::text END, 0))
    ORDER BY l.sdkappid";

/// The rows whose backend holds the advisory key `hashtextextended($1, 0)` in a mode that
/// blocks this writer (`$2`: the writer wants it shared, so only an exclusive holder blocks).
const BLOCKERS: &str = "SELECT l.sdkappid, l.holder, l.backend_pid,
        extract(epoch FROM now() - l.heartbeat)::float8
    FROM {s}.locks l JOIN pg_locks p ON p.pid = l.backend_pid
    WHERE l.holder IS NOT NULL AND p.locktype = 'advisory' AND p.granted AND p.objsubid = 1
      AND (NOT $2::bool OR p.mode = 'ExclusiveLock')
      AND ((p.classid::bigint << 32) | p.objid::bigint) = hashtextextended($1::text, 0)
    ORDER BY l.sdkappid";

/// The PostgreSQL ledger at `url` (a libpq URL; `sslmode=disable|prefer|require|verify-ca|
/// verify-full`; with TLS the server's certificate is always verified).
#[derive(Clone)]
pub struct PgLedger {
    url: String,
    schema: String,
    lease: Duration,
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

/// A lock row held now (see [`HELD_LOCKS`]).
struct HeldRow {
    row: i64,
    holder: Option<LockHolder>,
    backend_pid: i32,
    silent: Duration,
}

impl HeldRow {
    fn of(r: &tokio_postgres::Row) -> Self {
        Self {
            row: r.get(0),
            holder: r
                .get::<_, Option<serde_json::Value>>(1)
                .and_then(|v| serde_json::from_value(v).ok()),
            backend_pid: r.get::<_, Option<i32>>(2).unwrap_or(0),
            silent: Duration::from_secs_f64(r.get::<_, Option<f64>>(3).unwrap_or(0.0).max(0.0)),
        }
    }
}

fn pg(what: &str) -> impl Fn(tokio_postgres::Error) -> LedgerError + '_ {
    move |e| {
        let denied = e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE);
        LedgerError::Store {
            ledger: "PostgreSQL ledger".to_owned(),
            what: if denied {
                format!(
                    "{what} (the role lacks a privilege: apply, resolve and import write to the ledger's tables and `ledger migrate` creates them; plan and status only read)"
                )
            } else {
                what.to_owned()
            },
            source: Box::new(e),
        }
    }
}

impl PgLedger {
    /// The ledger at `url`, named in messages by `source` (e.g. `CRIER_LEDGER_URL`).
    #[must_use]
    pub fn new(url: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            lease: DEFAULT_LEASE,
            source: source.into(),
        }
    }

    /// How long a silent holder keeps its locks (`ledger.lease`).
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same ledger in another schema (tests give each their own).
    #[must_use]
    pub fn with_schema(mut self, schema: &str) -> Self {
        schema.clone_into(&mut self.schema);
        self
    }

    fn sql(&self, text: &str) -> String {
        in_schema(&self.schema, text)
    }

    /// A new connection (its driver runs on the current runtime).
    async fn connect(&self) -> Result<Client, LedgerError> {
        let (url, tls) = tls_of(&self.url);
        let fail = |e: tokio_postgres::Error| {
            // Without `sslmode` crier asks for TLS; a local server often has none.
            let hint = if matches!(tls, Tls::Verified) && e.to_string().contains("TLS") {
                "\nhint: a server without TLS (a local one) needs `?sslmode=disable` in the URL"
            } else {
                ""
            };
            LedgerError::Backend(format!(
                "cannot connect to the PostgreSQL ledger ({}): {e}{}{hint}",
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

    /// The database's schema version and the newest this build knows (for `crier doctor`).
    ///
    /// # Errors
    /// An unreachable database.
    pub async fn schema_state(&self) -> Result<(usize, usize), LedgerError> {
        let client = self.connect().await?;
        Ok((self.schema_version(&client).await?, MIGRATIONS.len()))
    }

    /// Migrates only when the schema is older than this build's: a role allowed to read and
    /// write the tables but not to create anything (the usual runtime role) can apply.
    async fn ensure_schema(&self) -> Result<(), LedgerError> {
        let client = self.connect().await?;
        let version = self.schema_version(&client).await?;
        newer_check(&client, &self.schema, version).await?;
        if version < MIGRATIONS.len() {
            self.migrate().await?;
        }
        Ok(())
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

    fn parse_error(&self) -> impl Fn(jsonl::ParseError) -> LedgerError + '_ {
        move |source| LedgerError::Parse {
            path: format!("PostgreSQL ledger ({})", self.source).into(),
            source,
        }
    }

    /// The ledger folded: from the stored checkpoint when `checkpoint` and it covers the
    /// record at its number, else the whole history. `version` is the schema's.
    async fn folded(
        &self,
        client: &impl tokio_postgres::GenericClient,
        version: usize,
        checkpoint: bool,
    ) -> Result<Folded, LedgerError> {
        let mut start = None;
        if checkpoint && version >= CHECKPOINTS_SINCE {
            let row = client
                .query_opt(
                    &self.sql(
                        "SELECT c.body, r.line FROM {s}.checkpoints c
                         JOIN {s}.records r ON r.seq = c.seq WHERE c.id = 1",
                    ),
                    &[],
                )
                .await
                .map_err(pg("reading the checkpoint"))?;
            if let Some(row) = row {
                let (body, line): (String, String) = (row.get(0), row.get(1));
                start = Checkpoint::verified(body.as_bytes(), line.as_bytes());
            }
        }
        let after = start.as_ref().map_or(0, |cp| cp.seq);
        let rows = client
            .query(
                &self.sql("SELECT line FROM {s}.records WHERE seq > $1 ORDER BY seq"),
                &[&i64::try_from(after).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(pg("reading the records"))?;
        let mut bytes = Vec::new();
        for row in rows {
            let line: String = row.get(0);
            bytes.extend(line.as_bytes());
        }
        let records = jsonl::parse_after(&bytes, after)
            .map(|t| t.records)
            .map_err(self.parse_error())?;
        Ok(Folded::of(start, records))
    }

    /// [`Ledger::read`] (through the checkpoint) or [`Ledger::read_history`], in one read-only
    /// repeatable-read transaction.
    async fn read_with(&self, checkpoint: bool) -> Result<LedgerRead, LedgerError> {
        let mut client = self.connect().await?;
        let version = self.schema_version(&client).await?;
        newer_check(&client, &self.schema, version).await?;
        if version == 0 {
            return Ok(LedgerRead::default());
        }
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg("starting the read"))?;
        let folded = self.folded(&tx, version, checkpoint).await?;
        tx.commit().await.map_err(pg("ending the read"))?;
        Ok(LedgerRead {
            snapshot: folded.snapshot,
            warnings: Vec::new(),
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
        self.ensure_schema().await?;
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
        // COPY: one stream for the whole export (row-by-row INSERTs take minutes at 300,000).
        let sink = tx
            .copy_in(
                &self.sql(
                    "COPY {s}.records (seq, v, at, kind, line, crier_version) FROM STDIN BINARY",
                ),
            )
            .await
            .map_err(pg("starting the import"))?;
        let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(
            sink,
            &[
                tokio_postgres::types::Type::INT8,
                tokio_postgres::types::Type::INT4,
                tokio_postgres::types::Type::TIMESTAMPTZ,
                tokio_postgres::types::Type::TEXT,
                tokio_postgres::types::Type::TEXT,
                tokio_postgres::types::Type::TEXT,
            ],
        );
        let mut writer = std::pin::pin!(writer);
        for r in records {
            let line = jsonl::encode(r).map_err(|e| LedgerError::Backend(e.to_string()))?;
            let line = String::from_utf8(line).map_err(|e| LedgerError::Backend(e.to_string()))?;
            writer
                .as_mut()
                .write(&[
                    &i64::try_from(r.seq).unwrap_or(i64::MAX),
                    &i32::try_from(r.v).unwrap_or(i32::MAX),
                    &r.at,
                    &r.body.kind(),
                    &line,
                    &env!("CARGO_PKG_VERSION"),
                ])
                .await
                .map_err(pg("importing a record"))?;
        }
        writer.finish().await.map_err(pg("finishing the import"))?;
        let last = records.last().map_or(0, |r| r.seq);
        tx.execute(
            &self.sql("UPDATE {s}.counter SET seq = $1 WHERE id = 1"),
            &[&i64::try_from(last).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(pg("updating the counter"))?;
        // A long history gets its checkpoint now, so the first plan need not fold it all.
        if let Some(cp) = super::protocol::import_checkpoint(records) {
            save_checkpoint(&tx, &self.sql(SAVE_CHECKPOINT), &cp).await?;
        }
        tx.commit().await.map_err(pg("committing the import"))
    }

    /// `ledger unlock APP --force`: takes the lock of app `sdkappid` (or, when no writer holds
    /// it, the whole-ledger lock) from its holder: moves the fences of every row that holder's
    /// session holds, so it can never append again, and ends that session (its advisory locks go
    /// with it). Returns the lock it took, if one was held.
    ///
    /// # Errors
    /// Database errors.
    pub async fn force_unlock(&self, sdkappid: u64) -> Result<Option<HeldLock>, LedgerError> {
        let client = self.connect().await?;
        if self.schema_version(&client).await? < 2 {
            return Ok(None);
        }
        let held = self.held_rows(&client).await?;
        let app = i64::try_from(sdkappid).unwrap_or(i64::MAX);
        let Some(row) = held
            .iter()
            .find(|h| h.row == app)
            .or_else(|| held.iter().find(|h| h.row == 0))
        else {
            return Ok(None);
        };
        self.end_holder(&client, row.backend_pid).await?;
        Ok(Some(self.held_lock(row)))
    }

    /// Moves the fences of every row the session `pid` holds, clears them, and ends the
    /// session.
    async fn end_holder(&self, client: &Client, pid: i32) -> Result<(), LedgerError> {
        client
            .execute(
                &self.sql(
                    "UPDATE {s}.locks SET fence = fence + 1, holder = NULL, heartbeat = NULL
                     WHERE backend_pid = $1",
                ),
                &[&pid],
            )
            .await
            .map_err(pg("moving the fence"))?;
        client
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .map_err(pg("ending the holder's session"))?;
        Ok(())
    }

    async fn held_rows(&self, client: &Client) -> Result<Vec<HeldRow>, LedgerError> {
        let rows = client
            .query(
                &self.sql(HELD_LOCKS),
                &[&self.ledger_key(), &self.app_key_prefix()],
            )
            .await
            .map_err(pg("reading the lock holders"))?;
        Ok(rows.iter().map(HeldRow::of).collect())
    }

    fn held_lock(&self, row: &HeldRow) -> HeldLock {
        HeldLock {
            sdkappid: u64::try_from(row.row).ok().filter(|a| *a != 0),
            holder: row.holder.clone(),
            heartbeat_age_secs: Some(row.silent.as_secs()),
            stale: row.silent > self.lease,
        }
    }

    /// The advisory key text of the whole ledger (writers of apps hold it shared).
    fn ledger_key(&self) -> String {
        format!("crier-ledger:{}", self.schema)
    }

    fn app_key_prefix(&self) -> String {
        format!("crier-app:{}:", self.schema)
    }

    /// The advisory key text of a lock row (0: the whole ledger).
    fn key_of(&self, row: i64) -> String {
        if row == 0 {
            self.ledger_key()
        } else {
            format!("{}{row}", self.app_key_prefix())
        }
    }

    fn lock_name(&self, row: i64, apps: &AppScope) -> String {
        if row == 0 {
            self.describe()
        } else {
            let name = u64::try_from(row)
                .ok()
                .and_then(|a| apps.get(&a))
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            format!("{}, app {row}{name}", self.describe())
        }
    }

    /// Takes one advisory lock (shared or exclusive) on `client`, waiting until `deadline`;
    /// a blocker whose heartbeat is older than the lease is ended and its lock taken over.
    #[allow(clippy::too_many_arguments)]
    async fn acquire(
        &self,
        client: &Client,
        row: i64,
        shared: bool,
        name: &str,
        start: tokio::time::Instant,
        timeout: Duration,
        warnings: &mut Vec<LedgerWarning>,
    ) -> Result<(), LedgerError> {
        let key = self.key_of(row);
        let try_sql = if shared {
            "SELECT pg_try_advisory_lock_shared(hashtextextended($1, 0))"
        } else {
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
        };
        loop {
            let got: bool = client
                .query_one(try_sql, &[&key])
                .await
                .map_err(pg("taking the lock"))?
                .get(0);
            if got {
                return Ok(());
            }
            let blockers: Vec<HeldRow> = client
                .query(&self.sql(BLOCKERS), &[&key, &shared])
                .await
                .map_err(pg("reading the lock holders"))?
                .iter()
                .map(HeldRow::of)
                .collect();
            let mut took_over = false;
            for b in blockers.iter().filter(|b| b.silent > self.lease) {
                self.end_holder(client, b.backend_pid).await?;
                warnings.push(LedgerWarning::StaleLockTaken {
                    lock: name.to_owned(),
                    holder: b.holder.clone(),
                    silent_secs: b.silent.as_secs(),
                    lease_secs: self.lease.as_secs(),
                });
                took_over = true;
            }
            if took_over {
                // The ended session's locks go a moment after pg_terminate_backend returns.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LedgerError::Lock(super::lock::LockError::Timeout {
                    path: name.into(),
                    holder: blockers.into_iter().find_map(|b| b.holder).map(Box::new),
                    waited,
                }));
            }
            tokio::time::sleep(Duration::from_millis(50).min(timeout - waited)).await;
        }
    }

    /// Refuses a connection whose statements may run on different server sessions.
    async fn check_session(&self, client: &Client) -> Result<(), LedgerError> {
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
        if pids[0] != pids[1] {
            return Err(LedgerError::Backend(format!(
                "the PostgreSQL ledger ({}) is reached through a transaction-pooling proxy (PgBouncer in transaction mode?): two statements ran on two server sessions, so its writer lock would not be safe; connect directly or through a session-pooled port",
                self.source
            )));
        }
        Ok(())
    }

    /// Takes the locks of `apps` (`None`: the whole ledger) and opens a writer.
    async fn take(
        &self,
        apps: Option<&AppScope>,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<PgWriter, LedgerError> {
        self.ensure_schema().await?;
        let client = self.connect().await?;
        self.check_session(&client).await?;
        let none = AppScope::new();
        let names = apps.unwrap_or(&none);
        let rows: Vec<i64> = match apps {
            None => vec![0],
            Some(apps) => apps
                .keys()
                .map(|a| i64::try_from(*a).unwrap_or(i64::MAX))
                .collect(),
        };
        client
            .execute(
                &self.sql(
                    "INSERT INTO {s}.locks (sdkappid) SELECT unnest($1::bigint[])
                     ON CONFLICT DO NOTHING",
                ),
                &[&rows],
            )
            .await
            .map_err(pg("creating the lock rows"))?;
        let start = tokio::time::Instant::now();
        let mut warnings = Vec::new();
        // The ledger's key first (shared for app writers), then each app in ascending order.
        let ledger_name = self.describe();
        self.acquire(
            &client,
            0,
            apps.is_some(),
            &ledger_name,
            start,
            timeout,
            &mut warnings,
        )
        .await?;
        for row in rows.iter().filter(|r| **r != 0) {
            let name = self.lock_name(*row, names);
            self.acquire(&client, *row, false, &name, start, timeout, &mut warnings)
                .await?;
        }
        let now: DateTime<Utc> = clock.now();
        let holder_json =
            serde_json::to_value(&holder).map_err(|e| LedgerError::Backend(e.to_string()))?;
        // New fences: every earlier holder's appends are refused from now on.
        let fences: Vec<(i64, i64)> = client
            .query(
                &self.sql(
                    "UPDATE {s}.locks SET fence = fence + 1, holder = $2, heartbeat = now(),
                        backend_pid = pg_backend_pid()
                     WHERE sdkappid = ANY($1::bigint[]) RETURNING sdkappid, fence",
                ),
                &[&rows, &holder_json],
            )
            .await
            .map_err(pg("recording the lock holder"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        self.ensure_header(&client, now).await?;
        let folded = self.folded(&client, MIGRATIONS.len(), true).await?;
        let append = client
            .prepare(&self.sql(APPEND))
            .await
            .map_err(pg("preparing the append"))?;
        let since = client
            .prepare(&self.sql("SELECT line FROM {s}.records WHERE seq > $1 ORDER BY seq"))
            .await
            .map_err(pg("preparing the reads"))?;
        let client = std::sync::Arc::new(client);
        let heartbeat = self.heartbeat(std::sync::Arc::clone(&client), rows);
        let session = PgSession {
            client,
            append,
            since,
            schema: self.schema.clone(),
            apps: fences.iter().map(|f| f.0).collect(),
            fences: fences.iter().map(|f| f.1).collect(),
            source: self.source.clone(),
            _heartbeat: AbortOnDrop(heartbeat),
        };
        let scope = apps.map(|a| a.keys().copied().collect());
        Writer::open(session, folded, None, warnings, now, scope).await
    }

    /// Writes the header of an empty ledger (the first writer to get here wins).
    async fn ensure_header(&self, client: &Client, now: DateTime<Utc>) -> Result<(), LedgerError> {
        let header = super::protocol::header(now);
        let line = jsonl::encode(&header).map_err(|e| LedgerError::Backend(e.to_string()))?;
        let line = String::from_utf8(line).map_err(|e| LedgerError::Backend(e.to_string()))?;
        client
            .execute(
                &self.sql(
                    "WITH c AS (UPDATE {s}.counter SET seq = 1 WHERE id = 1 AND seq = 0 RETURNING seq)
                     INSERT INTO {s}.records (seq, v, at, kind, line, crier_version)
                     SELECT c.seq, $1::integer, $2::timestamptz, $3::text, $4::text, $5::text FROM c",
                ),
                &[
                    &i32::try_from(header.v).unwrap_or(i32::MAX),
                    &header.at,
                    &header.body.kind(),
                    &line,
                    &env!("CARGO_PKG_VERSION"),
                ],
            )
            .await
            .map_err(pg("writing the header"))?;
        Ok(())
    }

    /// Keeps the holder's rows alive: every quarter of the lease, on the lock's own connection
    /// (so a live heartbeat means the lock is still held), in database time.
    fn heartbeat(
        &self,
        client: std::sync::Arc<Client>,
        rows: Vec<i64>,
    ) -> tokio::task::JoinHandle<()> {
        let every = (self.lease / 4).max(Duration::from_millis(100));
        let sql = self.sql(
            "UPDATE {s}.locks SET heartbeat = now()
             WHERE sdkappid = ANY($1::bigint[]) AND backend_pid = pg_backend_pid()",
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if client.execute(&sql, &[&rows]).await.is_err() {
                    break;
                }
            }
        })
    }
}

/// Aborts a task when dropped (the heartbeat ends with its writer).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
    } else {
        // `require`, `prefer` and libpq's default (`prefer`): crier asks for TLS and verifies it.
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

/// The writer's hold on a PostgreSQL ledger: the connection that owns the advisory locks, and
/// the fence tokens (one per lock row) every append must still match.
pub struct PgSession {
    client: std::sync::Arc<Client>,
    /// The append statement, prepared once (one round trip per record).
    append: tokio_postgres::Statement,
    /// Records after a sequence number (other writers'), prepared once.
    since: tokio_postgres::Statement,
    schema: String,
    apps: Vec<i64>,
    fences: Vec<i64>,
    source: String,
    _heartbeat: AbortOnDrop,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSession")
            .field("apps", &self.apps)
            .field("fences", &self.fences)
            .finish_non_exhaustive()
    }
}

impl PgSession {
    /// The records after `seq`, in order.
    async fn since(&self, seq: i64) -> Result<Vec<Record>, LedgerError> {
        let rows = self
            .client
            .query(&self.since, &[&seq])
            .await
            .map_err(pg("reading other writers' records"))?;
        let mut bytes = Vec::new();
        for row in rows {
            bytes.extend(row.get::<_, String>(0).into_bytes());
        }
        jsonl::parse_from(&bytes).map_err(|source| LedgerError::Parse {
            path: format!("PostgreSQL ledger ({})", self.source).into(),
            source,
        })
    }
}

impl StoreSession for PgSession {
    async fn append(&mut self, record: &Record, line: &[u8]) -> Result<Appended, LedgerError> {
        let sql = |t: &str| in_schema(&self.schema, t);
        let line = std::str::from_utf8(line).map_err(|e| LedgerError::Backend(e.to_string()))?;
        let seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
        // One statement, one transaction, one round trip ([`APPEND`]).
        let inserted = self
            .client
            .execute(
                &self.append,
                &[
                    &seq,
                    &self.fences,
                    &i32::try_from(record.v).unwrap_or(i32::MAX),
                    &record.at,
                    &record.body.kind(),
                    &line,
                    &env!("CARGO_PKG_VERSION"),
                    &self.apps,
                ],
            )
            .await
            .map_err(pg("appending a record"))?;
        if inserted == 1 {
            return Ok(Appended::Durable);
        }
        // Nothing was written: say why.
        let row = self
            .client
            .query_one(
                &sql(
                    "SELECT (SELECT seq FROM {s}.counter WHERE id = 1),
                        (SELECT count(*) FROM {s}.locks l
                         JOIN unnest($1::bigint[], $2::bigint[]) AS w(app, fence)
                           ON l.sdkappid = w.app AND l.fence = w.fence) = cardinality($1::bigint[])",
                ),
                &[&self.apps, &self.fences],
            )
            .await
            .map_err(pg("reading the counter"))?;
        let (now_seq, fenced_ok): (i64, bool) = (row.get(0), row.get(1));
        if !fenced_ok {
            return Err(LedgerError::Fenced {
                ledger: self.describe(),
                detail: "another writer took it over (forced, or this writer's heartbeat was older than the lease)".to_owned(),
            });
        }
        if now_seq < seq {
            return Err(LedgerError::Backend(format!(
                "PostgreSQL ledger ({}): the ledger is at seq {now_seq}, this writer expected {}; take the lock again",
                self.source,
                seq - 1
            )));
        }
        // Writers of other apps appended first: their records, for the protocol to catch up.
        Ok(Appended::Behind(self.since(seq - 1).await?))
    }

    async fn incoming(&mut self, seq: u64) -> Result<Vec<Record>, LedgerError> {
        self.since(i64::try_from(seq).unwrap_or(i64::MAX)).await
    }

    async fn save_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), LedgerError> {
        save_checkpoint(
            &*self.client,
            &in_schema(&self.schema, SAVE_CHECKPOINT),
            checkpoint,
        )
        .await
    }

    fn describe(&self) -> String {
        format!("PostgreSQL ledger ({})", self.source)
    }
}

/// One record appended: the writer's lock rows are read `FOR SHARE` (a takeover waits for this
/// statement, or this statement sees its new fence), the counter moves from seq - 1 to seq only
/// while every fence is this writer's, and the record is inserted with it.
const APPEND: &str = "WITH f AS (
    SELECT sdkappid, fence FROM {s}.locks
    WHERE sdkappid = ANY($8::bigint[]) FOR SHARE
    ), ok AS (
    SELECT count(*) = cardinality($8::bigint[]) AS ok
    FROM f JOIN unnest($8::bigint[], $2::bigint[]) AS w(app, fence)
    ON f.sdkappid = w.app AND f.fence = w.fence
    ), c AS (
    UPDATE {s}.counter SET seq = $1::bigint
    WHERE id = 1 AND seq = $1::bigint - 1 AND (SELECT ok FROM ok)
    RETURNING seq
    )
    INSERT INTO {s}.records (seq, v, at, kind, line, crier_version)
    SELECT c.seq, $3::integer, $4::timestamptz, $5::text, $6::text, $7::text FROM c";

/// The writer of a [`PgLedger`].
pub type PgWriter = Writer<PgSession>;

/// Runs [`SAVE_CHECKPOINT`] (`sql`, the schema filled in) for `cp`.
async fn save_checkpoint(
    client: &impl tokio_postgres::GenericClient,
    sql: &str,
    cp: &Checkpoint,
) -> Result<(), LedgerError> {
    let body = String::from_utf8(cp.encode()).map_err(|e| LedgerError::Backend(e.to_string()))?;
    client
        .execute(
            sql,
            &[
                &i64::try_from(cp.seq).unwrap_or(i64::MAX),
                &cp.record_hash,
                &cp.crier_version,
                &body,
            ],
        )
        .await
        .map_err(pg("storing a checkpoint"))?;
    Ok(())
}

impl Ledger for PgLedger {
    type Writer = PgWriter;

    fn describe(&self) -> String {
        format!("PostgreSQL ledger ({})", self.source)
    }

    fn ephemeral(&self) -> bool {
        false
    }

    async fn read(&self) -> Result<LedgerRead, LedgerError> {
        self.read_with(true).await
    }

    async fn read_history(&self) -> Result<LedgerRead, LedgerError> {
        self.read_with(false).await
    }

    async fn current_seq(&self) -> Result<u64, LedgerError> {
        let client = self.connect().await?;
        let version = self.schema_version(&client).await?;
        newer_check(&client, &self.schema, version).await?;
        if version == 0 {
            return Ok(0);
        }
        let seq: i64 = client
            .query_one(&self.sql("SELECT seq FROM {s}.counter WHERE id = 1"), &[])
            .await
            .map_err(pg("reading the counter"))?
            .get(0);
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    async fn locks(&self) -> Result<Vec<HeldLock>, LedgerError> {
        let client = self.connect().await?;
        if self.schema_version(&client).await? < 2 {
            return Ok(Vec::new());
        }
        Ok(self
            .held_rows(&client)
            .await?
            .iter()
            .map(|r| self.held_lock(r))
            .collect())
    }

    async fn lock(
        &self,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<PgWriter, LedgerError> {
        self.take(None, holder, timeout, clock).await
    }

    async fn lock_apps(
        &self,
        apps: &AppScope,
        holder: LockHolder,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<PgWriter, LedgerError> {
        self.take(Some(apps), holder, timeout, clock).await
    }
}
