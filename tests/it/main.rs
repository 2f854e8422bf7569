//! The integration tests: one binary, one harness ([`support`]). The module list is the test
//! map. Two tests that install a process-wide logger live in binaries of their own
//! (`tests/client_logs.rs`, `tests/emulator_log.rs`).
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    reason = "tests read files, the clock and the environment, start processes and print"
)]

mod support;

// the command line, as a user runs it
mod cli_bad_input;
mod cli_commands;
mod cli_demo;
mod cli_doctor;
mod cli_ledger;
mod cli_operator;
mod cli_plan;
mod cli_plan_base;
mod cli_policy;
mod cli_preview;
mod cli_usersig_emulator;
mod proptest_inputs;
mod proptest_scale;
mod schema_parity;
mod validate_cases;

// apply: the send loop, its faults and its safety promises
mod apply_cli;
mod apply_flow;
mod apply_perf;
mod cli_stop;
mod cli_translations;
mod reliability_faults;
mod reliability_kill;
mod safety_cli;

// the CI recipes
mod examples;

// against the real provider, opt-in (CRIER_LIVE_*): skipped here and in CI
mod live_contract;

// the ledger: the same conformance suite against both stores, then each store's own
mod ledger_conformance;
mod ledger_file;
mod ledger_postgres;

// the API client
mod client_http;
mod client_tls;
mod e2e_client_emulator;

// the emulator
mod emulator_attrs;
mod emulator_auth;
mod emulator_faults;
mod emulator_perf;
mod emulator_push;
