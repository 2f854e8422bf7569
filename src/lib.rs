//! crier: declarative push campaigns for Tencent Cloud Chat.
//!
//! The pipeline, in module order (see ARCHITECTURE.md):
//! `spec` (YAML → typed campaigns) → `validate` → `render` → `plan` → `dispatch`,
//! with `api`, `ledger` and `clock` at the edges, `emulator` as the server side of the API,
//! and `cli` the only place that prints.
#![cfg_attr(
    test,
    allow(
        clippy::disallowed_methods,
        clippy::disallowed_macros,
        reason = "tests may read files, the clock and the environment, and print"
    )
)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod diag;
pub mod dispatch;
pub mod duration;
pub mod emulator;
pub mod git;
pub mod ledger;
pub mod load;
pub mod occurrence;
pub mod plan;
pub mod policy;
pub mod preview;
pub mod render;
pub mod schedule;
pub mod schema;
pub mod secrets;
pub mod settings;
pub mod spec;
pub mod usersig_cmd;
pub mod validate;
