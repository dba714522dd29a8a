//! The `whatsapi` command line. Every command lives in `cli/`; the server itself is built by the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
