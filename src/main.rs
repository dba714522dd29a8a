//! The `whatsapi` command line. Every command lives in `cli/`; the server itself is built by the library.

mod cli;

fn main() -> std::process::ExitCode {
    // Everything this program writes (the database and its -wal/-shm files, the outbox, exports, keys)
    // is private to its user, whatever umask the shell or service manager that started it had. First,
    // before any thread or file exists.
    #[allow(unsafe_code)]
    // SAFETY: umask(2) only replaces the process's file creation mask; it cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
    // SIGTERM, SIGINT and SIGHUP from the first instruction: a stop during start-up is then a clean one.
    if let Err(e) = whatsapi::signals::install() {
        eprintln!("error: cannot handle signals: {e}");
        return std::process::ExitCode::FAILURE;
    }
    cli::main()
}
