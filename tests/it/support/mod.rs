//! The tests' one harness: the temporary repository ([`repo::Repo`]), the in-process emulator
//! fixtures ([`apply`] for the library flows, [`emulator`] for raw API calls) and the output
//! helpers ([`cli`]), and the PostgreSQL test server ([`postgres`]).

pub mod apply;
pub mod cli;
pub mod emulator;
pub mod postgres;
pub mod repo;
