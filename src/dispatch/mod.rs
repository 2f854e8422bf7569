//! `apply`'s engine: executes a [`Plan`](crate::plan::Plan) against the provider, at most once
//! per occurrence, recording every step in the ledger before it is taken.
//!
//! - [`executor`]: the send loop (pacing, grace re-check, quota, error classes, retries).
//! - [`apply`](mod@apply): the whole flow as a library call (lock, plan or plan file,
//!   confirmation, missed/skipped records, dispatch, applied snapshot); `crier apply` and
//!   `crier demo` call it.
//! - [`stale`]: when a plan file may no longer be executed (pure).
//! - [`retry`]: turning in-doubt ledger entries into resends with the same MsgRandom (pure).
//! - [`report`]: per-occurrence outcomes, counts and the §3 exit status.
//! - [`reporter`]: the events the library emits instead of printing.
//! - [`timer`]: monotonic time, waits and cancellation, fakeable in tests.
//!
//! # Invariants
//!
//! - An `intent` record is durable before its request leaves; a request's outcome is recorded
//!   before the next request starts. A crash between the two leaves an intent that the next
//!   lock turns into `in_doubt`.
//! - A retry (in this run, a later run, or `--retry-in-doubt`) always carries the MsgRandom
//!   already recorded for the occurrence; the ledger's transition table refuses anything else.
//! - Only the holder of the ledger's writer lock dispatches, and the plan it executes is built
//!   from (or checked against) the ledger as read under that lock.
//! - No printing, no environment reads: events go to a [`reporter::Reporter`], secrets come
//!   from a [`crate::secrets::SecretProvider`], time from a [`crate::clock::Clock`] and a
//!   [`timer::Timer`].

pub mod apply;
pub mod executor;
pub mod report;
pub mod reporter;
pub mod retry;
pub mod stale;
#[cfg(test)]
pub(crate) mod testing;
pub mod timer;

pub use apply::{
    ApplyError, ApplyInput, ApplyOptions, RETRY_IN_DOUBT_WARNING, apply, apply_with_ledger,
};
pub use executor::{DispatchOptions, Executor, Lane, PushApi};
pub use report::{ApplyReport, Counts, ExitStatus, OccurrenceOutcome, Outcome};
pub use reporter::{Confirmation, Event, NullReporter, RecordingReporter, Reporter, WaitReason};
pub use timer::{Cancel, FakeTimer, Timer, TokioTimer};
