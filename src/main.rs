//! The `cachecheck` binary: parses arguments and calls the library.
fn main() -> std::process::ExitCode {
    cachecheck::cli::main()
}
