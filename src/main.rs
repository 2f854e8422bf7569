//! The `crier` binary: everything lives in the library; see `crier::cli::main`.

fn main() -> std::process::ExitCode {
    crier::cli::main()
}
