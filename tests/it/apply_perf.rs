//! Dispatch overhead per push (render, sign, durable ledger write, HTTP) with the emulator's
//! interval rule off. A benchmark: `cargo test --release --test apply_perf -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use crate::support::apply::{Repo, emulator_config, options, start_emulator};
use crier::dispatch::RecordingReporter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn dispatch_overhead_per_push() {
    const N: usize = 200;
    let emu = start_emulator(emulator_config(Duration::ZERO, 100_000)).await;
    let repo = Repo::for_emulator(&emu.base_url(), "0ms", 100_000);
    repo.campaigns(N);
    let start = Instant::now();
    let report = repo
        .apply(&options(), None, &RecordingReporter::default())
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(report.counts().sent, N);
    eprintln!(
        "{N} pushes in {elapsed:?}: {:.2} ms per push (plan and lock included)",
        elapsed.as_secs_f64() * 1000.0 / N as f64
    );
}
