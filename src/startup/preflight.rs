//! What `serve` checks before it creates anything (the data directory, the master key, the database): a
//! refusal here leaves the machine as it was, and its message names what to change.

use crate::config::Config;
use anyhow::{Result, anyhow, bail};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};

/// The checks of `serve`, in order: the address and port can be listened on, and the TLS certificate and
/// key (when set) parse and belong together. The configuration itself (the public URL among it) was
/// checked when it was loaded.
pub fn preflight(config: &Config) -> Result<()> {
    check_port(config)?;
    check_tls(config)
}

/// Binds the address and lets it go again, so a busy port is found before anything is created; the server
/// binds it for good once the store is open.
fn check_port(config: &Config) -> Result<()> {
    let address = SocketAddr::from((config.server.address, config.server.port));
    match TcpListener::bind(address) {
        Ok(_) => Ok(()),
        Err(e) => Err(cannot_listen(address, &e)),
    }
}

/// Why the server cannot listen on `address`, in words that say what to change (here and when the
/// server binds it for good).
pub fn cannot_listen(address: SocketAddr, error: &std::io::Error) -> anyhow::Error {
    match error.kind() {
        ErrorKind::AddrInUse => anyhow!(
            "cannot listen on {address}: another program (perhaps another whatsapi) is using it; \
             stop it or set server.port to a free port"
        ),
        ErrorKind::PermissionDenied => anyhow!(
            "cannot listen on {address}: ports below 1024 need privileges; set server.port to 1024 or above \
             (behind a reverse proxy), or give the service CAP_NET_BIND_SERVICE"
        ),
        ErrorKind::AddrNotAvailable => anyhow!(
            "cannot listen on {address}: {} is not an address of this machine; set server.address to one \
             of its addresses (or 0.0.0.0 for all)",
            address.ip()
        ),
        _ => anyhow!("cannot listen on {address} (server.address, server.port): {error}"),
    }
}

/// The TLS certificate and key (when set) parse and belong together; `config check` runs this too.
pub fn check_tls(config: &Config) -> Result<()> {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(());
    };
    if let Err(e) = rocket::check_tls_pair(cert, key) {
        bail!("cannot serve HTTPS with server.tls_cert and server.tls_key: {e}");
    }
    Ok(())
}
