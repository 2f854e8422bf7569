//! The `crier` binary: everything lives in the library; see `crier::cli::main`.

/// mimalloc instead of the system allocator: parsing, rendering and planning make many small,
/// short-lived allocations from two threads; at 10,000 campaigns it took `validate` from 297 to
/// 227 ms and `plan` from 1.01 to 0.72 s. The `v2` series (Cargo.toml): v3 keeps freed memory
/// for a second, longer than a command runs (ARCHITECTURE.md, "Crate choices").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    crier::cli::main()
}
